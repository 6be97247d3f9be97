//! One shape on one database, measured and printed as a line of JSON for `run.py`.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloacina::{Context, ExecutionStatus, ExecutorConfig, UnifiedExecutor, Workflow};
use serde_json::json;

use crate::shapes::Shape;
use crate::{stamps, statements};

/// The executor settings both sides use.
pub fn config() -> ExecutorConfig {
    ExecutorConfig { max_concurrent_tasks: 256, ..ExecutorConfig::default() }
}

/// Measures `key` on `url`: one warm-up run, then `runs` runs.
pub async fn main(key: &str, url: &str, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let shape = Shape::named(key)?;
    let workflow = shape.workflow()?;
    statements::count()?;
    let executor = UnifiedExecutor::with_config(url, config()).await?;
    run(&shape, &executor, &workflow).await?;
    pause(WARMED_UP).await?;
    let mut walls = Vec::with_capacity(runs);
    let mut hops = Vec::new();
    let statements_before = statements::so_far();
    for _ in 0..runs {
        let (wall, run_hops) = run(&shape, &executor, &workflow).await?;
        walls.push(wall.as_secs_f64());
        hops.extend(run_hops.iter().map(|hop| (hop.as_secs_f64() * 1e7).round() / 10.0));
    }
    let statements = statements::so_far() - statements_before;
    pause(MEASURED).await?;
    executor.shutdown().await;
    let line = json!({
        "implementation": "rust",
        "shape": key,
        "tasks_per_run": shape.tasks_per_run(),
        "workflow_version": workflow.version(),
        "walls_s": walls,
        "hops_us": hops,
        "statements_per_task": statements as f64 / (runs * shape.tasks_per_run()).max(1) as f64,
        "peak_rss_bytes": peak_rss_bytes(),
    });
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}

/// The lines printed before and after the measured runs when `CLOACINA_BENCH_RESUME_FILE` names
/// a file: after each, the process waits for that file to exist (and removes it) before it goes
/// on. `make bench-check` turns callgrind's instrumentation on at the first and off at the second
/// (`benchmarks/check.py`), so that it counts the measured runs alone, and what comes before and
/// after (the executor's start, the warm-up, the shutdown) runs uninstrumented, several times
/// faster. `benchmarks/python/measure.py` does the same.
const WARMED_UP: &str = "warmed up";
/// See [`WARMED_UP`].
const MEASURED: &str = "measured";

/// The handshake of [`WARMED_UP`] and [`MEASURED`], when asked for.
async fn pause(line: &str) -> std::io::Result<()> {
    let Some(resume) = std::env::var_os("CLOACINA_BENCH_RESUME_FILE") else {
        return Ok(());
    };
    writeln!(std::io::stdout().lock(), "{line}")?;
    while !std::path::Path::new(&resume).exists() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    std::fs::remove_file(&resume)
}

/// Runs the shape once: the time spent in `execute`, and every dependency-to-dependent hop.
async fn run(
    shape: &Shape,
    executor: &UnifiedExecutor,
    workflow: &Arc<Workflow>,
) -> Result<(Duration, Vec<Duration>), Box<dyn std::error::Error>> {
    let name = workflow.name();
    let mut wall = Duration::ZERO;
    let mut hops = Vec::new();
    for _ in 0..shape.executions_per_run() {
        stamps::clear();
        let started = Instant::now();
        let result = executor.execute(name, Context::new()).await?;
        wall += started.elapsed();
        if result.status != ExecutionStatus::Completed {
            return Err(format!("{name} ended {}: {:?}", result.status, result.error).into());
        }
        hops.extend(stamps::take_hops(workflow)?);
    }
    Ok((wall, hops))
}

/// The most memory this process has held (Linux), in bytes; 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kilobytes| kilobytes * 1024)
}
