//! The workflow shapes measured, made of no-op tasks.

use std::time::{Duration, Instant};

use std::sync::Arc;

use cloacina::{Context, ExecutionStatus, UnifiedExecutor, Workflow};

use crate::workflows;

/// A workflow shape and how many times one run executes it.
pub enum Shape {
    /// `executions` sequential executions of `first -> second`: per-execution overhead.
    RoundTrip { executions: usize },
    /// One execution of `length` tasks, each depending on the previous one: per-hop latency.
    Chain { length: usize },
    /// One execution of a root, `width` independent tasks, and a join: throughput.
    FanOut { width: usize },
}

impl Shape {
    /// The workflow's name.
    pub fn name(&self) -> String {
        match self {
            Self::RoundTrip { .. } => "bench_round_trip".to_owned(),
            Self::Chain { length } => format!("bench_chain_{length}"),
            Self::FanOut { width } => format!("bench_fan_out_{width}"),
        }
    }

    /// A line for the table.
    pub fn describe(&self) -> String {
        match self {
            Self::RoundTrip { executions } => format!("2-task round trip (x{executions})"),
            Self::Chain { length } => format!("chain of {length}"),
            Self::FanOut { width } => format!("fan-out {width} + join"),
        }
    }

    /// The workflow, as written with `#[task]` and `workflow!` in `build.rs`.
    pub fn workflow(&self) -> Result<Arc<Workflow>, String> {
        match self {
            Self::RoundTrip { .. } => Ok(workflows::round_trip::workflow()),
            Self::Chain { length: 200 } => Ok(workflows::chain_200::workflow()),
            Self::FanOut { width: 1000 } => Ok(workflows::fan_out_1000::workflow()),
            Self::FanOut { width: 2000 } => Ok(workflows::fan_out_2000::workflow()),
            _ => Err(format!("no workflow is generated for {}: add it to benchmarks/build.rs", self.describe())),
        }
    }

    /// Executions in one run.
    pub fn executions_per_run(&self) -> usize {
        match self {
            Self::RoundTrip { executions } => *executions,
            _ => 1,
        }
    }

    /// Tasks executed in one run.
    pub fn tasks_per_run(&self) -> usize {
        match self {
            Self::RoundTrip { executions } => 2 * executions,
            Self::Chain { length } => *length,
            Self::FanOut { width } => width + 2,
        }
    }

    /// Runs the shape once and returns the wall time.
    pub async fn run(&self, executor: &UnifiedExecutor) -> Result<Duration, Box<dyn std::error::Error>> {
        let name = self.name();
        let started = Instant::now();
        for _ in 0..self.executions_per_run() {
            let result = executor.execute(name.as_str(), Context::new()).await?;
            if result.status != ExecutionStatus::Completed {
                return Err(format!("{name} ended {}: {:?}", result.status, result.error).into());
            }
        }
        Ok(started.elapsed())
    }
}
