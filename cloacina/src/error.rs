//! The engine's errors: one enum per concern.
//!
//! Messages name the offending value in backticks and, where there is one, the fix.

use std::time::Duration;

/// A misuse of a [`Context`](crate::Context).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContextError {
    /// `insert` was called with a key that is already present.
    #[error("context key `{key}` already exists; use `set` or `update` to change it")]
    KeyExists {
        /// The key.
        key: String,
    },
    /// `update` was called with a key that is not present.
    #[error("context key `{key}` does not exist; use `insert` or `set` to add it")]
    KeyNotFound {
        /// The key.
        key: String,
    },
    /// `get_as` found a value that is not of the type asked for.
    #[error("context key `{key}`: expected {expected}, found {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What the value must be (see [`ContextValue::EXPECTED`](crate::ContextValue::EXPECTED)).
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// `insert_as` or `set_as` was given a value that cannot be stored.
    #[error("context key `{key}`: the value {reason}")]
    Unstorable {
        /// The key.
        key: String,
        /// Why, and what to do instead, as the predicate of a sentence about the value
        /// (`"is 600000000 bytes long; ..."`).
        reason: String,
    },
    /// `get_as` found a value of the type asked for that cannot be read (its binary data
    /// could not be loaded, say).
    #[error("context key `{key}`: the value cannot be read: {reason}")]
    Unreadable {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// A context was built from JSON that is not an object.
    #[error("a context must be a JSON object, found {found}")]
    NotAnObject {
        /// The JSON type that was found instead.
        found: &'static str,
    },
    /// A value nests lists and objects deeper than [`MAX_NESTING_DEPTH`](crate::limits::MAX_NESTING_DEPTH).
    #[error(
        "context key `{key}`: the value nests deeper than {limit} levels of lists and objects (the limit), which \
         cannot be stored; flatten it"
    )]
    TooDeep {
        /// The key whose value is too deep.
        key: String,
        /// The limit.
        limit: usize,
    },
}

/// Why an attempt of a task failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// The task reported a failure.
    #[error("{message}")]
    Failed {
        /// What went wrong, as the task described it.
        message: String,
        /// Whether another attempt may succeed; a permanent failure is never retried.
        retryable: bool,
    },
    /// The attempt ran longer than the task's timeout and was cancelled.
    #[error("task timed out after {}", format_duration(*.0))]
    Timeout(Duration),
    /// The task panicked.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The task misused its context.
    #[error(transparent)]
    Context(#[from] ContextError),
}

impl TaskError {
    /// A failure that the retry policy may retry.
    pub fn new(message: impl Into<String>) -> Self {
        Self::Failed { message: message.into(), retryable: true }
    }

    /// A failure that is never retried, whatever the retry policy says.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Failed { message: message.into(), retryable: false }
    }

    /// Whether the retry policy may schedule another attempt after this error.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Failed { retryable, .. } => *retryable,
            Self::Timeout(_) | Self::Panicked(_) => true,
            Self::Context(_) => false,
        }
    }
}

/// A workflow definition that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    /// The workflow has no name.
    #[error("a workflow needs a non-empty name")]
    EmptyName,
    /// The workflow has no task.
    #[error("workflow `{workflow}` has no tasks; add at least one task")]
    Empty {
        /// The workflow's name.
        workflow: String,
    },
    /// A task has an empty id.
    #[error("workflow `{workflow}` has a task with an empty id")]
    EmptyTaskId {
        /// The workflow's name.
        workflow: String,
    },
    /// The workflow's name is not allowed (see [`crate::limits::check_name`]).
    #[error("workflow name `{}` {problem}; {NAME_RULE}", crate::limits::shown(name))]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A task id is not allowed (see [`crate::limits::check_name`]).
    #[error("task id `{}` {problem}; {NAME_RULE}", crate::limits::shown(task))]
    InvalidTaskId {
        /// The id as given.
        task: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A task's concurrency limit cannot be used.
    #[error("task `{task}` cannot run: {problem}")]
    InvalidConcurrency {
        /// The task's id.
        task: String,
        /// What is wrong with the limit.
        problem: String,
    },
    /// A task's mapping cannot be used, or another task's id is one of its instances' ids.
    #[error("task `{task}` cannot run: {problem}")]
    InvalidMapping {
        /// The task's id.
        task: String,
        /// What is wrong with the mapping.
        problem: String,
    },
    /// Two tasks share an id.
    #[error("workflow `{workflow}` has two tasks with the id `{task}`; task ids must be unique")]
    DuplicateTask {
        /// The workflow's name.
        workflow: String,
        /// The repeated id.
        task: String,
    },
    /// A task was asked for by an id that no task of the workflow has.
    #[error(
        "workflow `{workflow}` has no task `{task}`{}",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownTask {
        /// The workflow's name.
        workflow: String,
        /// The id asked for.
        task: String,
        /// The closest existing task id, if one is close enough to be a likely typo.
        suggestion: Option<String>,
    },
    /// A task depends on an id that no task of the workflow has.
    #[error(
        "task `{task}` depends on `{dependency}`, which is not a task of workflow `{workflow}`{}",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    MissingDependency {
        /// The workflow's name.
        workflow: String,
        /// The task that declares the dependency.
        task: String,
        /// The id that does not exist.
        dependency: String,
        /// The closest existing task id, if one is close enough to be a likely typo.
        suggestion: Option<String>,
    },
    /// A task depends on itself, directly or through others.
    #[error("workflow `{workflow}` has a dependency cycle: {}", path.join(" -> "))]
    Cycle {
        /// The workflow's name.
        workflow: String,
        /// The cycle, starting and ending with the same task id.
        path: Vec<String>,
    },
}

/// What workflow names and task ids may be, for messages.
pub const NAME_RULE: &str = "workflow names and task ids are 1 to 255 printable characters";

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid executor configuration: `{field}` {problem}")]
pub struct ConfigError {
    /// The configuration field.
    pub field: &'static str,
    /// What is wrong with its value, and the accepted range.
    pub problem: String,
}

/// A problem reaching or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be understood.
    #[error("invalid database URL {url}: {reason}; accepted forms: {ACCEPTED_URL_FORMS}")]
    InvalidUrl {
        /// The URL as shown: in backticks, or by its scheme only when it could not be parsed
        /// (the rest may hold a password).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database cannot be reached.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// Where the engine tried to connect, e.g. `PostgreSQL at 127.0.0.1:5432` or a file path.
        target: String,
        /// The driver's explanation.
        message: String,
    },
    /// Applying the schema migrations failed.
    #[error("cannot prepare the database schema: {0}")]
    Migration(String),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// No connection could be taken from the pool.
    #[error("no database connection available: {0}")]
    Pool(String),
    /// A stored value could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A call into the database failed inside the engine (it panicked).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The URL forms [`StoreError::InvalidUrl`] lists.
pub const ACCEPTED_URL_FORMS: &str = "`sqlite:///:memory:`, `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, \
     `postgresql://user:password@host:port/database` (or `postgres://...`)";

/// An error from the executor's API.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// No workflow with this name is registered.
    #[error(
        "workflow `{name}` is not registered; registered workflows: {}",
        if registered.is_empty() { "none".to_owned() } else { registered.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ") }
    )]
    WorkflowNotFound {
        /// The name asked for.
        name: String,
        /// The names that are registered, sorted.
        registered: Vec<String>,
    },
    /// No execution with this id exists in the database.
    #[error("execution `{0}` does not exist")]
    ExecutionNotFound(uuid::Uuid),
    /// The executor has been shut down.
    #[error("the executor has been shut down; create a new one")]
    ShutDown,
    /// An execution key is not a valid name.
    #[error("invalid execution key: it {problem}")]
    InvalidKey {
        /// What is wrong with it.
        problem: String,
    },
    /// A key was given with another initial context than the execution already started under it.
    #[error(
        "workflow `{workflow}` already has execution `{execution_id}` under key `{key}`, started with another \
         context; start it with the same context to get that execution, or use another key"
    )]
    KeyInUse {
        /// The workflow.
        workflow: String,
        /// The key.
        key: String,
        /// The execution started under it.
        execution_id: uuid::Uuid,
    },
    /// An execution cannot be re-run (see [`UnifiedExecutor::rerun`](crate::UnifiedExecutor::rerun)).
    #[error("execution `{execution_id}` cannot be re-run: {reason}")]
    CannotRerun {
        /// The execution asked to re-run.
        execution_id: uuid::Uuid,
        /// Why not, and what to do instead.
        reason: String,
    },
    /// Waiting for an execution took longer than allowed.
    #[error("execution `{execution_id}` did not finish within {}", format_duration(*timeout))]
    WaitTimeout {
        /// The execution waited for.
        execution_id: uuid::Uuid,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The workflow definition is invalid.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The context is invalid.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A schedule is invalid or unknown.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A schedule that cannot be made, or is not there (see [`crate::schedules`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression cannot be read.
    #[error("cron expression `{expression}` {problem}")]
    InvalidCron {
        /// The expression.
        expression: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The time zone is not in the zone database.
    #[error("time zone `{0}` is unknown; give an IANA time zone name such as `UTC` or `Europe/Paris`")]
    UnknownTimezone(String),
    /// The catch-up policy is not one of the three.
    #[error("catch-up policy `{0}` is unknown; use \"skip\", \"latest\" or \"all\"")]
    InvalidCatchup(String),
    /// The schedule's name is not a valid name.
    #[error("schedule name {name:?} {problem}; give 1 to 200 printable characters")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The context holds binary data, which schedules do not keep.
    #[error(
        "a schedule's context cannot hold binary data (key `{key}`); store the data elsewhere and put its \
         location in the context"
    )]
    BinaryContext {
        /// The key of the first such value.
        key: String,
    },
    /// No schedule has this name.
    #[error("no schedule is named `{0}`")]
    NotFound(String),
}

/// Formats a duration for messages: `250ms`, `1.5s`.
pub(crate) fn format_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dependency_names_the_fix() {
        let error = WorkflowError::MissingDependency {
            workflow: "etl".into(),
            task: "load".into(),
            dependency: "transfrom".into(),
            suggestion: Some("transform".into()),
        };
        assert_eq!(
            error.to_string(),
            "task `load` depends on `transfrom`, which is not a task of workflow `etl`; did you mean `transform`?"
        );
    }

    #[test]
    fn unknown_workflow_lists_the_registered_ones() {
        let error =
            ExecutorError::WorkflowNotFound { name: "missing".into(), registered: vec!["a".into(), "b".into()] };
        assert_eq!(error.to_string(), "workflow `missing` is not registered; registered workflows: `a`, `b`");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
