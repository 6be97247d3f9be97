//! A unit of work: the [`Task`] trait and [`FunctionTask`], a task made from an async closure.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::concurrency::ConcurrencyLimit;
use crate::context::Context;
use crate::error::TaskError;
use crate::logs::LogLevel;
use crate::mapping::Mapping;
use crate::retry::RetryPolicy;
use crate::trigger::TriggerRule;

/// A unit of work in a workflow.
///
/// `execute` receives the task's input (the execution's initial context plus what its ancestors
/// wrote) and returns the context with the task's own writes. Only those writes are stored.
#[async_trait]
pub trait Task: Send + Sync + 'static {
    /// The task's id, unique within its workflow.
    fn id(&self) -> &str;

    /// Ids of the tasks that must finish before this one is considered.
    fn dependencies(&self) -> &[String];

    /// How often a failing attempt is retried; no retry by default.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::none()
    }

    /// The longest an attempt may run; the executor's default when `None`.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// The least severe log records kept for the task's attempts (see [`crate::logs`]); the
    /// executor's `task_log_level` when `None`.
    fn log_level(&self) -> Option<LogLevel> {
        None
    }

    /// When the task runs once its dependencies have finished; all succeeded by default.
    fn trigger_rule(&self) -> TriggerRule {
        TriggerRule::AllSucceeded
    }

    /// At most how many attempts holding a key run at once, across workflows and processes
    /// (see [`crate::concurrency`]); no limit by default.
    fn concurrency(&self) -> Option<ConcurrencyLimit> {
        None
    }

    /// The list in its input the task runs once per element of (see [`crate::mapping`]); not
    /// mapped by default.
    fn mapping(&self) -> Option<Mapping> {
        None
    }

    /// Runs one attempt of the task.
    async fn execute(&self, context: Context) -> Result<Context, TaskError>;

    /// Whether the task runs outside the engine's threads (on another language's event loop,
    /// say) and can be handed an attempt with [`start`](Task::start). False by default: the
    /// engine awaits [`execute`](Task::execute).
    fn starts_elsewhere(&self) -> bool {
        false
    }

    /// Hands an attempt to whatever runs the task outside the engine's threads, for a task that
    /// [`starts_elsewhere`](Task::starts_elsewhere): `done` is then called once, from any
    /// thread, with the attempt's result (dropping it uncalled fails the attempt), and the
    /// returned [`Canceller`] asks the attempt to stop (the engine then ignores its result). No
    /// runtime thread waits meanwhile, and the result goes straight to the transaction that
    /// records it. A task that cannot take the attempt now gives both back ([`Declined`]), and
    /// the engine awaits [`execute`](Task::execute) instead; that is the default.
    ///
    /// The engine hands over this way only attempts without a timeout whose input it has in
    /// memory.
    fn start(&self, context: Context, done: Completion) -> Result<Canceller, Box<Declined>> {
        Err(Box::new(Declined { context, done }))
    }
}

/// Called once with the result of an attempt handed over by [`Task::start`], from any thread.
pub type Completion = Box<dyn FnOnce(Result<Context, TaskError>) + Send>;

/// An attempt a task did not take in [`Task::start`], given back to the engine.
pub struct Declined {
    /// The attempt's input, as it was handed over.
    pub context: Context,
    /// The completion, not called.
    pub done: Completion,
}

/// Asks an attempt handed over by [`Task::start`] to stop; called at most once, from any thread.
pub type Canceller = Box<dyn FnOnce() + Send>;

type TaskFunction = dyn Fn(Context) -> BoxFuture<'static, Result<Context, TaskError>> + Send + Sync;

/// A task made from an async closure, configured with builder methods.
///
/// ```
/// use cloacina::{Context, FunctionTask, RetryPolicy};
///
/// let load = FunctionTask::new("load", |mut context: Context| async move {
///     context.insert("rows", 3)?;
///     Ok(context)
/// })
/// .depends_on(["extract"])
/// .retry(RetryPolicy::attempts(3));
/// assert_eq!(load.dependencies_list(), ["extract"]);
/// ```
#[derive(Clone)]
pub struct FunctionTask {
    id: String,
    dependencies: Vec<String>,
    retry_policy: RetryPolicy,
    timeout: Option<Duration>,
    trigger_rule: TriggerRule,
    log_level: Option<LogLevel>,
    concurrency: Option<ConcurrencyLimit>,
    mapping: Option<Mapping>,
    function: Arc<TaskFunction>,
}

impl FunctionTask {
    /// A task with this id running `function`; no dependencies, no retry.
    pub fn new<F, Fut>(id: impl Into<String>, function: F) -> Self
    where
        F: Fn(Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Context, TaskError>> + Send + 'static,
    {
        Self {
            id: id.into(),
            dependencies: Vec::new(),
            retry_policy: RetryPolicy::none(),
            timeout: None,
            trigger_rule: TriggerRule::AllSucceeded,
            log_level: None,
            concurrency: None,
            mapping: None,
            function: Arc::new(move |context| Box::pin(function(context))),
        }
    }

    /// Adds dependencies.
    pub fn depends_on<I, S>(mut self, dependencies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dependencies.extend(dependencies.into_iter().map(Into::into));
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Sets the timeout of each attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the trigger rule.
    pub fn trigger(mut self, rule: TriggerRule) -> Self {
        self.trigger_rule = rule;
        self
    }

    /// Sets the least severe log records kept for its attempts (see [`crate::logs`]).
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = Some(level);
        self
    }

    /// Lets at most `limit` attempts holding `key` run at once, across workflows and
    /// processes (see [`crate::concurrency`]).
    pub fn concurrency(mut self, key: impl Into<String>, limit: u32) -> Self {
        self.concurrency = Some(ConcurrencyLimit::new(key, limit));
        self
    }

    /// Runs the task once per element of the list under `key` in its input (see
    /// [`crate::mapping`]); [`mapping`](Self::mapping) sets the other options.
    pub fn map_over(self, key: impl Into<String>) -> Self {
        self.mapping(Mapping::over(key))
    }

    /// Makes the task a mapped task with these options (see [`crate::mapping`]).
    pub fn mapping(mut self, mapping: Mapping) -> Self {
        self.mapping = Some(mapping);
        self
    }

    /// The dependencies declared so far.
    pub fn dependencies_list(&self) -> &[String] {
        &self.dependencies
    }
}

impl fmt::Debug for FunctionTask {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FunctionTask")
            .field("id", &self.id)
            .field("dependencies", &self.dependencies)
            .field("retry_policy", &self.retry_policy)
            .field("timeout", &self.timeout)
            .field("trigger_rule", &self.trigger_rule)
            .field("log_level", &self.log_level)
            .field("concurrency", &self.concurrency)
            .field("mapping", &self.mapping)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Task for FunctionTask {
    fn id(&self) -> &str {
        &self.id
    }

    fn dependencies(&self) -> &[String] {
        &self.dependencies
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry_policy.clone()
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.trigger_rule.clone()
    }

    fn log_level(&self) -> Option<LogLevel> {
        self.log_level
    }

    fn concurrency(&self) -> Option<ConcurrencyLimit> {
        self.concurrency.clone()
    }

    fn mapping(&self) -> Option<Mapping> {
        self.mapping.clone()
    }

    async fn execute(&self, context: Context) -> Result<Context, TaskError> {
        (self.function)(context).await
    }
}

/// The message of a panic's payload (a `&str` or a `String`), for the attempt's error.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_function_task_runs_its_closure() {
        let task = FunctionTask::new("double", |mut context: Context| async move {
            let value = context.get("n").and_then(|v| v.as_i64()).unwrap_or_default();
            context.set("n", value * 2);
            Ok(context)
        })
        .depends_on(["source"])
        .timeout(Duration::from_secs(1));
        assert_eq!(task.id(), "double");
        assert_eq!(task.dependencies(), ["source"]);
        assert_eq!(Task::timeout(&task), Some(Duration::from_secs(1)));

        let output = task.execute([("n", 21)].into_iter().collect()).await.unwrap();
        assert_eq!(output.get("n"), Some(&serde_json::json!(42)));
    }

    #[test]
    fn errors_say_whether_they_may_be_retried() {
        assert!(TaskError::new("flaky").is_retryable());
        assert!(!TaskError::permanent("bad input").is_retryable());
        assert!(TaskError::Timeout(Duration::from_secs(1)).is_retryable());
    }
}
