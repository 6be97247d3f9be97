//! Engine benchmarks: per-execution overhead and throughput on a SQLite file and PostgreSQL.
//!
//! Run with `make bench` (a release build). Each shape runs once to warm up, then `RUNS` times;
//! the table shows the median. PostgreSQL runs when `CLOACINA_BENCH_POSTGRES_URL` (or
//! `CLOACINA_TEST_POSTGRES_URL`) names a server; the benchmark creates and drops its own database.

// `workflow!` takes two macro expansion levels per task; the widest fan-out lists 2002 tasks.
#![recursion_limit = "4200"]

mod databases;
mod processes;
mod shapes;
mod workflows;

use std::time::Duration;

use cloacina::{ExecutorConfig, UnifiedExecutor};

use databases::BenchDatabase;
use shapes::Shape;

/// Measured runs per shape, after one warm-up run.
const RUNS: usize = 7;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    if let [_, command, url] = arguments.as_slice()
        && command == "worker"
    {
        return processes::work(url).await;
    }
    let mut databases = vec![BenchDatabase::sqlite_file()?];
    match BenchDatabase::postgres().await? {
        Some(database) => databases.push(database),
        None => eprintln!("note: set CLOACINA_BENCH_POSTGRES_URL to include PostgreSQL"),
    }
    let shapes = [Shape::RoundTrip { executions: 200 }, Shape::Chain { length: 200 }, Shape::FanOut { width: 1000 }];

    let mut output = std::io::stdout().lock();
    use std::io::Write;
    writeln!(output, "{:<14} {:<26} {:>12} {:>12} {:>12}", "backend", "shape", "median", "per task", "tasks/s")?;
    for database in &databases {
        let config = ExecutorConfig { max_concurrent_tasks: 256, ..ExecutorConfig::default() };
        let executor = UnifiedExecutor::with_config(&database.url, config).await?;
        for shape in &shapes {
            let workflow = shape.workflow()?;
            executor.register(workflow);
            shape.run(&executor).await?; // warm-up
            let mut timings = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                timings.push(shape.run(&executor).await?);
            }
            timings.sort();
            let median = timings[RUNS / 2];
            let tasks = shape.tasks_per_run();
            let per_execution = median / shape.executions_per_run() as u32;
            writeln!(
                output,
                "{:<14} {:<26} {:>12} {:>12} {:>12.0}",
                database.name,
                shape.describe(),
                format_duration(per_execution),
                format_duration(median / tasks as u32),
                tasks as f64 / median.as_secs_f64(),
            )?;
        }
        executor.shutdown().await;
    }
    if let Some(postgres) = databases.iter().find(|database| database.name == "postgresql") {
        writeln!(
            output,
            "\nPostgreSQL, {} ({} tasks), worker processes sharing it:",
            processes::FAN_OUT.describe(),
            processes::FAN_OUT.tasks_per_run()
        )?;
        writeln!(output, "{:<10} {:>12} {:>12}", "workers", "median", "tasks/s")?;
        let submitter = processes::submitter(&postgres.url).await?;
        for count in [1, 2, 4] {
            let _workers = processes::Workers::start(&postgres.url, count)?;
            processes::run_fan_out(&submitter).await?; // warm-up
            let mut timings = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                timings.push(processes::run_fan_out(&submitter).await?);
            }
            timings.sort();
            let median = timings[RUNS / 2];
            let tasks = processes::FAN_OUT.tasks_per_run() as f64;
            writeln!(output, "{:<10} {:>12} {:>12.0}", count, format_duration(median), tasks / median.as_secs_f64())?;
        }
        submitter.shutdown().await;
    }
    Ok(())
}

fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_millis(1) {
        format!("{:.1} us", duration.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", duration.as_secs_f64() * 1e3)
    }
}
