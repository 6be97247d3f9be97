//! What an execution and its tasks became: statuses and results.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::context::Context;
use crate::logs::LogEntry;
use crate::timeline::TaskAttempt;

/// The state of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExecutionStatus {
    /// Created; no task has started yet.
    Pending,
    /// At least one task has started and some task is not finished.
    Running,
    /// Every task finished and none failed.
    Completed,
    /// Every task finished and at least one failed.
    Failed,
    /// Cancelled before it finished.
    Cancelled,
}

/// The state of one task of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Waiting for its dependencies.
    Pending,
    /// May be claimed by a worker (possibly not before its retry time).
    Ready,
    /// Claimed by a worker and running.
    Running,
    /// Finished successfully.
    Completed,
    /// Failed for good (its retries, if any, are spent).
    Failed,
    /// Not run, because its trigger rule did not hold.
    Skipped,
    /// Not run, or stopped, because its execution was cancelled.
    Cancelled,
}

macro_rules! status_names {
    ($type:ident { $($variant:ident),* $(,)? }) => {
        impl $type {
            /// The status as stored and displayed.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant),)* }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $(stringify!($variant) => Ok(Self::$variant),)*
                    other => Err(format!(
                        "unknown {} `{other}`; expected one of: {}",
                        stringify!($type),
                        [$(stringify!($variant)),*].join(", ")
                    )),
                }
            }
        }
    };
}

status_names!(ExecutionStatus { Pending, Running, Completed, Failed, Cancelled });
status_names!(TaskStatus { Pending, Ready, Running, Completed, Failed, Skipped, Cancelled });

impl ExecutionStatus {
    /// True for `Completed`, `Failed` and `Cancelled`.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl TaskStatus {
    /// True for `Completed`, `Failed`, `Skipped` and `Cancelled`.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Skipped | Self::Cancelled)
    }
}

/// What happened to one task of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task's id.
    pub task_id: String,
    /// The ids of the tasks it depends on, as its execution's workflow had them (empty for an
    /// execution stored by a release that kept no graph).
    pub dependencies: Vec<String>,
    /// Its state.
    pub status: TaskStatus,
    /// Attempts so far, not counting starts abandoned by a worker that stopped.
    pub attempts: u32,
    /// Starts abandoned by a worker that stopped renewing its lease (and run again).
    pub recoveries: u32,
    /// When it first became ready to run (its dependencies finished and its trigger rule held).
    pub ready_at: Option<DateTime<Utc>>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// The error of its latest failed attempt.
    pub error: Option<String>,
    /// Every start, in order: when, on which worker, how it ended (see [`crate::timeline`]).
    pub attempt_history: Vec<TaskAttempt>,
    /// The keys it wrote to the context, with their values, once it has completed (for a task
    /// a re-run kept, what it wrote in the execution the re-run came from).
    pub output: Option<Context>,
    /// What its attempts logged, attempt by attempt (see [`crate::logs`]).
    pub logs: Vec<LogEntry>,
    /// For an instance of a mapped task (whose id is `task[index]`), its index (see
    /// [`crate::mapping`]).
    #[serde(default)]
    pub map_index: Option<u32>,
}

impl TaskResult {
    /// Time from the start of the latest attempt to the end, once both are known.
    pub fn duration(&self) -> Option<Duration> {
        elapsed(self.started_at, self.finished_at)
    }

    /// Time from when it first became ready to when its first attempt started: how long it
    /// waited for a worker.
    pub fn wait(&self) -> Option<Duration> {
        elapsed(self.ready_at, self.attempt_history.first().map(|attempt| attempt.started_at))
    }

    /// The worker that ran its latest attempt.
    pub fn worker(&self) -> Option<&str> {
        self.attempt_history.last().and_then(|attempt| attempt.worker.as_deref())
    }
}

/// An execution: its state, its tasks and its context, final once the execution has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionResult {
    /// The execution's id.
    pub execution_id: Uuid,
    /// The workflow it runs.
    pub workflow_name: String,
    /// The content version of the workflow when the execution was created.
    pub workflow_version: String,
    /// Its state.
    pub status: ExecutionStatus,
    /// The initial context with every completed task's changes applied in topological order.
    pub context: Context,
    /// The context the execution was started with.
    pub initial_context: Context,
    /// One entry per task, in the workflow's topological order.
    pub task_results: Vec<TaskResult>,
    /// The first error that made the execution fail, or why it was cancelled.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its first task started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The key it was started under (see [`StartOptions::key`](crate::StartOptions::key)).
    pub key: Option<String>,
    /// The execution it re-runs, for a re-run (see [`UnifiedExecutor::rerun`]).
    ///
    /// [`UnifiedExecutor::rerun`]: crate::UnifiedExecutor::rerun
    pub rerun_of: Option<Uuid>,
}

impl ExecutionResult {
    /// Time from creation to the end, once it has finished.
    pub fn duration(&self) -> Option<Duration> {
        elapsed(Some(self.created_at), self.finished_at)
    }

    /// The result of one task.
    pub fn task(&self, task_id: &str) -> Option<&TaskResult> {
        self.task_results.iter().find(|result| result.task_id == task_id)
    }
}

/// One line of [`list_executions`](crate::UnifiedExecutor::list_executions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// The execution's id.
    pub execution_id: Uuid,
    /// The workflow it runs.
    pub workflow_name: String,
    /// Its state.
    pub status: ExecutionStatus,
    /// The first error, if it failed.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A version of a workflow that stored executions ran (see
/// [`UnifiedExecutor::workflow_versions`](crate::UnifiedExecutor::workflow_versions)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowVersion {
    /// The workflow's name.
    pub workflow_name: String,
    /// The content version (see [`Workflow::version`](crate::Workflow::version)).
    pub version: String,
    /// How many stored executions ran it.
    pub executions: u64,
    /// When the first of them was created.
    pub first_created_at: DateTime<Utc>,
    /// When the latest of them was created.
    pub last_created_at: DateTime<Utc>,
}

fn elapsed(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Duration> {
    let (start, end) = (start?, end?);
    (end - start).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text() {
        for status in [TaskStatus::Pending, TaskStatus::Skipped, TaskStatus::Cancelled] {
            assert_eq!(status.as_str().parse::<TaskStatus>().unwrap(), status);
        }
        assert_eq!("Failed".parse::<ExecutionStatus>().unwrap(), ExecutionStatus::Failed);
        let error = "Done".parse::<ExecutionStatus>().unwrap_err();
        assert!(error.contains("expected one of: Pending, Running, Completed, Failed, Cancelled"), "{error}");
    }

    #[test]
    fn finished_statuses() {
        assert!(ExecutionStatus::Cancelled.is_finished());
        assert!(!ExecutionStatus::Running.is_finished());
        assert!(TaskStatus::Skipped.is_finished());
        assert!(!TaskStatus::Ready.is_finished());
    }
}
