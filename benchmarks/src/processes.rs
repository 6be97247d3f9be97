//! Several worker processes on one PostgreSQL database: the same binary, run as `worker URL`,
//! runs tasks until its standard input closes; the measuring process only submits, and prints
//! a line of JSON per worker count for `run.py`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloacina::{Context, ExecutionStatus, ExecutorConfig, UnifiedExecutor, WorkflowRegistry};
use serde_json::json;

use crate::shapes::Shape;

/// The fan-out the multi-process runs measure.
const FAN_OUT: Shape = Shape::FanOut { width: 2000 };

/// The worker counts measured.
const WORKER_COUNTS: [usize; 3] = [1, 2, 4];

/// Measures the fan-out with 1, 2 and 4 worker processes on the PostgreSQL database at `url`.
pub async fn main(url: &str, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let submitter = submitter(url).await?;
    for count in WORKER_COUNTS {
        let _workers = Workers::start(url, count)?;
        run_fan_out(&submitter).await?; // warm-up
        let mut walls = Vec::with_capacity(runs);
        for _ in 0..runs {
            walls.push(run_fan_out(&submitter).await?.as_secs_f64());
        }
        let line = json!({ "workers": count, "tasks_per_run": FAN_OUT.tasks_per_run(), "walls_s": walls });
        writeln!(std::io::stdout().lock(), "{line}")?;
    }
    submitter.shutdown().await;
    Ok(())
}

/// Runs as a worker: tasks of the benchmark workflows, until standard input closes.
pub async fn work(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let registry = Arc::new(WorkflowRegistry::new());
    registry.register(FAN_OUT.workflow()?);
    let executor = UnifiedExecutor::open(url, crate::measure::config(), registry).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    drop(stdout);
    // Until the parent closes our standard input.
    tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().count()).await?;
    executor.shutdown().await;
    Ok(())
}

/// Worker processes, stopped when dropped.
struct Workers(Vec<Child>);

impl Workers {
    /// Starts `count` workers on `url` and waits until each is ready.
    fn start(url: &str, count: usize) -> std::io::Result<Self> {
        let program = std::env::current_exe()?;
        let mut children = Vec::with_capacity(count);
        for _ in 0..count {
            let mut child =
                Command::new(&program).args(["worker", url]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
            let stdout = child.stdout.take().expect("stdout is piped");
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            if line.trim() != "ready" {
                return Err(std::io::Error::other(format!("a worker did not start: {line:?}")));
            }
            children.push(child);
        }
        Ok(Self(children))
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            drop(child.stdin.take());
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// Submits the fan-out from a process that runs no task, and times it to the end.
async fn run_fan_out(submitter: &UnifiedExecutor) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let result = submitter.execute(FAN_OUT.name().as_str(), Context::new()).await?;
    if result.status != ExecutionStatus::Completed {
        return Err(format!("the fan-out ended {}: {:?}", result.status, result.error).into());
    }
    Ok(started.elapsed())
}

/// A submit-only executor that knows the benchmark workflows.
async fn submitter(url: &str) -> Result<UnifiedExecutor, Box<dyn std::error::Error>> {
    let registry = Arc::new(WorkflowRegistry::new());
    registry.register(FAN_OUT.workflow()?);
    let config = ExecutorConfig { run_tasks: false, ..ExecutorConfig::default() };
    Ok(UnifiedExecutor::open(url, config, registry).await?)
}
