//! The workflow shapes measured, built from no-op tasks.

use std::time::{Duration, Instant};

use cloacina::{Context, ExecutionStatus, FunctionTask, UnifiedExecutor, Workflow, WorkflowError};

/// A workflow shape and how many times one run executes it.
pub enum Shape {
    /// `executions` sequential executions of `first -> second`: per-execution overhead.
    RoundTrip { executions: usize },
    /// One execution of `length` tasks, each depending on the previous one: per-hop latency.
    Chain { length: usize },
    /// One execution of a root, `width` independent tasks, and a join: throughput.
    FanOut { width: usize },
}

fn noop(id: String, dependencies: Vec<String>) -> FunctionTask {
    FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies)
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

    /// Builds the workflow.
    pub fn workflow(&self) -> Result<Workflow, WorkflowError> {
        let builder = Workflow::builder(self.name());
        match self {
            Self::RoundTrip { .. } => {
                builder.task(noop("first".into(), vec![])).task(noop("second".into(), vec!["first".into()])).build()
            }
            Self::Chain { length } => (0..*length)
                .fold(builder, |builder, index| {
                    let dependencies = if index == 0 { vec![] } else { vec![format!("step_{}", index - 1)] };
                    builder.task(noop(format!("step_{index}"), dependencies))
                })
                .build(),
            Self::FanOut { width } => {
                let workers: Vec<String> = (0..*width).map(|index| format!("worker_{index}")).collect();
                workers
                    .iter()
                    .fold(builder.task(noop("root".into(), vec![])), |builder, worker| {
                        builder.task(noop(worker.clone(), vec!["root".into()]))
                    })
                    .task(noop("join".into(), workers))
                    .build()
            }
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
