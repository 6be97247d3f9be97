//! Cloacina: a durable, event-driven workflow engine.
//!
//! A [`Workflow`] is a DAG of [`Task`]s. Running one creates an *execution*, kept in a database
//! (SQLite by default, PostgreSQL to share work between processes) so that it survives a crash.
//! When a task finishes, its dependents are decided in the same transaction and workers are
//! woken at once; polling is only a slow fallback.
//!
//! ```no_run
//! use cloacina::{Context, FunctionTask, UnifiedExecutor, Workflow};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let workflow = Workflow::builder("greet")
//!     .task(FunctionTask::new("hello", |mut context: Context| async move {
//!         context.insert("greeting", "hello")?;
//!         Ok(context)
//!     }))
//!     .build()?;
//! let executor = UnifiedExecutor::new("sqlite:///:memory:").await?;
//! let result = executor.execute(workflow, Context::new()).await?;
//! assert_eq!(result.context.get("greeting").unwrap(), "hello");
//! executor.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Tasks can also be written as functions with [`macro@task`], and listed with [`workflow!`],
//! which checks their dependencies at compile time:
//!
//! ```
//! use cloacina::{task, workflow, Context, TaskError};
//!
//! #[task]
//! async fn extract(context: &mut Context) -> Result<(), TaskError> {
//!     context.insert("rows", 3)?;
//!     Ok(())
//! }
//!
//! #[task(dependencies = ["extract"], retry_attempts = 3)]
//! async fn load(context: &mut Context) -> Result<(), TaskError> {
//!     let rows = context.get("rows").cloned();
//!     context.insert("loaded", rows)?;
//!     Ok(())
//! }
//!
//! fn main() {
//!     let etl = workflow! { name: "macro_doc_etl", tasks: [extract, load] };
//!     assert_eq!(etl.name(), "macro_doc_etl");
//! }
//! ```

pub mod abi;
pub mod blobs;
pub mod concurrency;
pub mod context;
pub mod error;
pub mod executor;
pub mod limits;
pub mod logs;
pub mod mapping;
pub mod result;
pub mod retry;
pub mod schedules;
pub mod stop;
pub mod store;
pub mod task;
pub mod timeline;
pub mod trigger;
pub mod values;
pub mod workflow;

/// Exports `#[task]` functions from a Python extension module (the `python-export` feature):
/// `cloacina::python_tasks!(module_name, [task_a, task_b])`; see [`abi::export`].
#[cfg(feature = "python-export")]
pub use cloacina_macros::python_tasks;
pub use cloacina_macros::{task, workflow};
pub use concurrency::ConcurrencyLimit;
pub use context::{Attempt, Context, ContextDelta};
pub use error::{ConfigError, ContextError, ExecutorError, ScheduleError, StoreError, TaskError, WorkflowError};
pub use executor::{
    Event, EventKind, EventStream, ExecutionHandle, ExecutorConfig, StartOptions, TaskSlot, UnifiedExecutor,
    WeakExecutor, WorkflowRef,
};
pub use logs::{AttemptLog, LogEntry, LogLevel, LogRecord, TaskEvents, TaskLogLayer};
pub use mapping::Mapping;
pub use result::{ExecutionResult, ExecutionStatus, ExecutionSummary, TaskResult, TaskStatus, WorkflowVersion};
pub use retry::{Backoff, RetryPolicy};
pub use schedules::{Catchup, NewSchedule, Schedule};
pub use stop::StopSignal;
pub use store::{DatabaseUrl, ExecutionCursor, ExecutionFilter, InvalidCursor, SqliteSynchronous};
pub use task::{Canceller, Completion, Declined, FunctionTask, Task};
pub use timeline::{AttemptStatus, TaskAttempt};
pub use trigger::{ConditionOperator, ContextCondition, DependencyOutcomes, TriggerRule};
pub use values::ContextValue;
pub use workflow::{Workflow, WorkflowBuilder, WorkflowRegistry};
/// The Arrow crates the `arrow` feature reads and writes record batches with, for tasks to build
/// them with the same versions.
#[cfg(feature = "arrow")]
pub use {arrow_array, arrow_schema};

// What the macros' expansions name: not part of the API.
#[doc(hidden)]
pub use async_trait::async_trait;
#[doc(hidden)]
pub use cloacina_macros::__workflow_collect;
