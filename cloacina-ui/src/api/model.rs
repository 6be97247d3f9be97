//! The JSON the API answers with, and how the engine's values become it. Every type here is in
//! the OpenAPI description, derived from these definitions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cloacina::{
    Context, Event, ExecutionResult, ExecutionSummary, LogEntry, Schedule, TaskAttempt, TaskResult, WorkflowVersion,
};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// An execution in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SummaryJson {
    /// Its id.
    pub id: Uuid,
    /// The workflow it runs.
    pub workflow: String,
    /// Pending, Running, Completed, Failed or Cancelled.
    pub status: String,
    /// The first error, if it failed, or why it was cancelled.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&ExecutionSummary> for SummaryJson {
    fn from(summary: &ExecutionSummary) -> Self {
        Self {
            id: summary.execution_id,
            workflow: summary.workflow_name.clone(),
            status: summary.status.to_string(),
            error: summary.error.clone(),
            created_at: summary.created_at,
            finished_at: summary.finished_at,
        }
    }
}

/// A page of executions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageJson {
    /// The executions of this page.
    pub executions: Vec<SummaryJson>,
    /// Pass as `cursor` to get the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// An execution, whole.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExecutionJson {
    /// Its id.
    pub id: Uuid,
    /// The workflow it runs.
    pub workflow: String,
    /// The workflow's content version when it was created.
    pub workflow_version: String,
    /// Pending, Running, Completed, Failed or Cancelled.
    pub status: String,
    /// The first error, if it failed, or why it was cancelled.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its first task started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The key it was started under.
    pub key: Option<String>,
    /// The execution it re-runs.
    pub rerun_of: Option<Uuid>,
    /// The context it was started with.
    #[schema(value_type = Object)]
    pub initial_context: Value,
    /// The initial context with every completed task's writes.
    #[schema(value_type = Object)]
    pub context: Value,
    /// Its tasks in the order they run; a mapped task's instances (`name[0]`, ...) follow it.
    pub tasks: Vec<TaskJson>,
}

impl From<&ExecutionResult> for ExecutionJson {
    fn from(result: &ExecutionResult) -> Self {
        Self {
            id: result.execution_id,
            workflow: result.workflow_name.clone(),
            workflow_version: result.workflow_version.clone(),
            status: result.status.to_string(),
            error: result.error.clone(),
            created_at: result.created_at,
            started_at: result.started_at,
            finished_at: result.finished_at,
            key: result.key.clone(),
            rerun_of: result.rerun_of,
            initial_context: context_json(&result.initial_context),
            context: context_json(&result.context),
            tasks: result.task_results.iter().map(TaskJson::from).collect(),
        }
    }
}

/// A task of an execution.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaskJson {
    /// Its id (`name[index]` for an instance of a mapped task).
    pub id: String,
    /// The ids of the tasks it depends on.
    pub dependencies: Vec<String>,
    /// Pending, Ready, Running, Completed, Failed, Skipped or Cancelled.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Starts abandoned by a worker that stopped, and run again.
    pub recoveries: u32,
    /// When it first became ready.
    pub ready_at: Option<DateTime<Utc>>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// The error of its latest failed attempt, with the traceback where there is one.
    pub error: Option<String>,
    /// For an instance of a mapped task, its index.
    pub map_index: Option<u32>,
    /// Every start, in order.
    pub attempt_history: Vec<AttemptJson>,
    /// What it wrote to the context, once it has completed.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
}

impl From<&TaskResult> for TaskJson {
    fn from(task: &TaskResult) -> Self {
        Self {
            id: task.task_id.clone(),
            dependencies: task.dependencies.clone(),
            status: task.status.to_string(),
            attempts: task.attempts,
            recoveries: task.recoveries,
            ready_at: task.ready_at,
            started_at: task.started_at,
            finished_at: task.finished_at,
            error: task.error.clone(),
            map_index: task.map_index,
            attempt_history: task.attempt_history.iter().map(AttemptJson::from).collect(),
            output: task.output.as_ref().map(context_json),
        }
    }
}

/// One start of a task.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptJson {
    /// The attempt's number, from 1.
    pub number: u32,
    /// When the task became ready for it.
    pub ready_at: Option<DateTime<Utc>>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// Running, Completed, Failed, Abandoned or Cancelled.
    pub status: String,
    /// Its error, if it failed.
    pub error: Option<String>,
}

impl From<&TaskAttempt> for AttemptJson {
    fn from(attempt: &TaskAttempt) -> Self {
        Self {
            number: attempt.number,
            ready_at: attempt.ready_at,
            started_at: attempt.started_at,
            finished_at: attempt.finished_at,
            worker: attempt.worker.clone(),
            status: attempt.status.to_string(),
            error: attempt.error.clone(),
        }
    }
}

/// A task, with what it was given and what it logged.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TaskDetailJson {
    /// The task.
    pub task: TaskJson,
    /// Its input: the initial context with its ancestors' writes (for an instance of a mapped
    /// task, the mapped task's input, whose list holds the instance's element at `map_index`).
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// What its attempts logged.
    pub logs: Vec<LogJson>,
}

/// A record a task logged.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LogJson {
    /// The task that logged it.
    pub task_id: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// When.
    pub time: DateTime<Utc>,
    /// How severe, on Python's scale (INFO is 20).
    pub level: u32,
    /// The level's name.
    pub level_name: String,
    /// The logger's name.
    pub logger: String,
    /// The message.
    pub message: String,
}

impl From<&LogEntry> for LogJson {
    fn from(entry: &LogEntry) -> Self {
        Self {
            task_id: entry.task_id.clone(),
            attempt: entry.attempt,
            time: entry.record.time,
            level: entry.record.level.0,
            level_name: entry.record.level_name.clone(),
            logger: entry.record.logger.clone(),
            message: entry.record.message.clone(),
        }
    }
}

/// An execution's logs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LogsJson {
    /// The records, by task, attempt and time.
    pub logs: Vec<LogJson>,
}

/// A stored event of an execution.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventJson {
    /// Its place in the execution's log: 1, 2, 3, ...
    pub sequence: Option<i64>,
    /// What changed: ExecutionCreated, TaskStarted, TaskCompleted, ...
    pub kind: String,
    /// The task, for task events.
    pub task_id: Option<String>,
    /// The attempt, for events about one.
    pub attempt: Option<u32>,
    /// An error or a reason; for TaskStarted, the worker.
    pub message: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl From<&Event> for EventJson {
    fn from(event: &Event) -> Self {
        Self {
            sequence: event.sequence,
            kind: event.kind.to_string(),
            task_id: event.task_id.clone(),
            attempt: event.attempt,
            message: event.message.clone(),
            at: event.at,
        }
    }
}

/// Events of an execution, in order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventsJson {
    /// The events.
    pub events: Vec<EventJson>,
}

/// The state of an execution after an action.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusJson {
    /// Pending, Running, Completed, Failed or Cancelled.
    pub status: String,
}

/// The execution an action created.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedJson {
    /// Its id.
    pub id: Uuid,
}

/// A version of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionJson {
    /// The content version.
    pub version: String,
    /// How many stored executions ran it.
    pub executions: u64,
    /// When the first of them was created.
    pub first_created_at: Option<DateTime<Utc>>,
    /// When the latest was.
    pub last_created_at: Option<DateTime<Utc>>,
    /// Each task id, in the order the tasks run, with its dependencies (on a workflow's own
    /// page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub graph: Option<Map<String, Value>>,
}

impl From<&WorkflowVersion> for VersionJson {
    fn from(version: &WorkflowVersion) -> Self {
        Self {
            version: version.version.clone(),
            executions: version.executions,
            first_created_at: Some(version.first_created_at),
            last_created_at: Some(version.last_created_at),
            graph: None,
        }
    }
}

/// A workflow: registered in the serving process, or seen in stored executions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowJson {
    /// Its name.
    pub name: String,
    /// Whether the serving process has its definition (and can re-run its executions).
    pub registered: bool,
    /// Its description, from the registered definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its versions, the most recently run first.
    pub versions: Vec<VersionJson>,
    /// Its latest executions (on a workflow's own page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent: Option<Vec<SummaryJson>>,
}

/// The workflows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowsJson {
    /// By name.
    pub workflows: Vec<WorkflowJson>,
}

/// A schedule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleJson {
    /// Its name.
    pub name: String,
    /// The workflow it starts.
    pub workflow: String,
    /// Its cron expression.
    pub cron: String,
    /// The time zone the expression is read in.
    pub timezone: String,
    /// Whether it is paused.
    pub paused: bool,
    /// When it fires next.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// When it last fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The execution it last started.
    pub last_execution_id: Option<Uuid>,
    /// The context each execution starts with.
    #[schema(value_type = Object)]
    pub context: Value,
}

impl From<&Schedule> for ScheduleJson {
    fn from(schedule: &Schedule) -> Self {
        Self {
            name: schedule.name.clone(),
            workflow: schedule.workflow_name.clone(),
            cron: schedule.cron.clone(),
            timezone: schedule.timezone.clone(),
            paused: schedule.paused,
            next_fire_at: schedule.next_fire_at,
            last_fired_at: schedule.last_fired_at,
            last_execution_id: schedule.last_execution_id,
            context: context_json(&schedule.context),
        }
    }
}

/// The schedules.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SchedulesJson {
    /// By name.
    pub schedules: Vec<ScheduleJson>,
}

/// What the server is.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InfoJson {
    /// The package's version.
    pub version: String,
    /// Whether actions are turned off.
    pub read_only: bool,
    /// The database, without any password.
    pub database: String,
    /// The workflows the serving process has definitions of.
    pub registered_workflows: Vec<String>,
}

/// A context as a JSON object.
pub(crate) fn context_json(context: &Context) -> Value {
    Value::Object(context.as_map().clone())
}

/// The input a task of `result` was given: the initial context with the writes of its
/// ancestors applied in the order the tasks ran (an instance of a mapped task: its mapped
/// task's). `None` for a task the execution does not have.
pub(crate) fn task_input(result: &ExecutionResult, task_id: &str) -> Option<Value> {
    let task = result.task(task_id)?;
    let task_id = match task.map_index {
        Some(_) => task_id.rsplit_once('[').map_or(task_id, |(parent, _)| parent),
        None => task_id,
    };
    let dependencies: HashMap<&str, &[String]> =
        result.task_results.iter().map(|task| (task.task_id.as_str(), task.dependencies.as_slice())).collect();
    let mut ancestors = std::collections::HashSet::new();
    let mut waiting: Vec<&str> = dependencies.get(task_id).map(|found| found.iter().map(String::as_str).collect())?;
    while let Some(next) = waiting.pop() {
        if ancestors.insert(next) {
            waiting.extend(dependencies.get(next).into_iter().flat_map(|found| found.iter().map(String::as_str)));
        }
    }
    let mut input = result.initial_context.as_map().clone();
    for ancestor in result.task_results.iter().filter(|task| task.map_index.is_none()) {
        if let (true, Some(output)) = (ancestors.contains(ancestor.task_id.as_str()), &ancestor.output) {
            input.extend(output.as_map().clone());
        }
    }
    Some(Value::Object(input))
}
