//! `engine-bench ui-list URL COUNT`: the web page's execution listing over a large database.
//!
//! Stores COUNT finished executions in one statement (the listing reads only the executions
//! table; making them by running workflows would take hours on PostgreSQL), then asks the page's
//! API, in process, for the first page and the page after it, unfiltered and filtered by status
//! and by workflow, 20 times each, and prints the median times as a JSON line.

use std::io::Write as _;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cloacina::{ExecutorConfig, UnifiedExecutor};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Requests timed per figure.
const REQUESTS: usize = 20;

/// The columns every stored execution gets.
const COLUMNS: &str = "id, workflow_name, workflow_version, status, context, error, remaining_tasks, created_at, \
                       started_at, finished_at, workflow_shape, event_count, workflow_graph";

/// Stores COUNT executions in the database at URL and times the listing.
pub async fn main(url: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    // Opening an executor makes the tables.
    let config = ExecutorConfig { run_tasks: false, ..ExecutorConfig::default() };
    let executor = UnifiedExecutor::with_config(url, config).await?;
    let started = Instant::now();
    store(url, count)?;
    let stored_in = started.elapsed();
    let stopping = cloacina_ui::CancellationToken::new();
    let router = cloacina_ui::router(executor.clone(), &cloacina_ui::UiOptions::default(), stopping);
    let mut figures = serde_json::Map::new();
    for (name, query) in [("all", ""), ("failed", "&status=Failed"), ("workflow", "&workflow=workflow_3")] {
        let (first, cursor) = time_page(&router, &format!("/api/executions?limit=50{query}")).await?;
        let cursor = cursor.ok_or("the first page has no next page")?;
        let (next, _) = time_page(&router, &format!("/api/executions?limit=50{query}&cursor={cursor}")).await?;
        figures.insert(format!("{name}_first_ms"), first.into());
        figures.insert(format!("{name}_next_ms"), next.into());
    }
    figures.insert("executions".into(), count.into());
    figures.insert("stored_in_s".into(), stored_in.as_secs_f64().into());
    writeln!(std::io::stdout().lock(), "{}", serde_json::Value::Object(figures))?;
    executor.shutdown().await;
    Ok(())
}

/// Stores `count` finished executions of five workflows, one a millisecond, every tenth failed.
fn store(url: &str, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let base = chrono::Utc::now().timestamp_micros() - i64::try_from(count)? * 1000;
    if let Some(path) = url.strip_prefix("sqlite:///") {
        let mut connection = SqliteConnection::establish(path)?;
        let statement = format!(
            "INSERT INTO executions ({COLUMNS}) \
             WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < {count}) \
             SELECT printf('%08x-0000-4000-8000-%012x', n, n), 'workflow_' || (n % 5), 'v1', \
                    CASE n % 10 WHEN 0 THEN 'Failed' ELSE 'Completed' END, '{{}}', \
                    CASE n % 10 WHEN 0 THEN 'task `a` failed: no' END, 0, {base} + n * 1000, \
                    {base} + n * 1000 + 10, {base} + n * 1000 + 500, '', 4, '' FROM numbers"
        );
        diesel::sql_query(statement).execute(&mut connection)?;
    } else {
        let mut connection = PgConnection::establish(url)?;
        let statement = format!(
            "INSERT INTO executions ({COLUMNS}) \
             SELECT lpad(to_hex(n), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(n), 12, '0'), \
                    'workflow_' || (n % 5), 'v1', CASE n % 10 WHEN 0 THEN 'Failed' ELSE 'Completed' END, '{{}}', \
                    CASE n % 10 WHEN 0 THEN 'task `a` failed: no' END, 0, {base} + n * 1000, \
                    {base} + n * 1000 + 10, {base} + n * 1000 + 500, '', 4, '' \
             FROM generate_series(1, {count}) AS n"
        );
        diesel::sql_query(statement).execute(&mut connection)?;
        diesel::sql_query("ANALYZE executions").execute(&mut connection)?;
    }
    Ok(())
}

/// The median time of answering `path` (in milliseconds), and the page's next cursor.
async fn time_page(router: &axum::Router, path: &str) -> Result<(f64, Option<String>), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(REQUESTS);
    let mut cursor = None;
    for _ in 0..REQUESTS {
        let request = Request::get(path).header("host", "127.0.0.1").body(Body::empty())?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        times.push(started.elapsed());
        if status != StatusCode::OK {
            return Err(format!("{path}: {status}: {}", String::from_utf8_lossy(&body)).into());
        }
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        if page["executions"].as_array().map_or(0, Vec::len) != 50 {
            return Err(format!("{path}: not a full page").into());
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    times.sort();
    Ok((milliseconds(times[REQUESTS / 2]), cursor))
}

fn milliseconds(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}
