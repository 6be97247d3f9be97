//! [`UnifiedExecutor`]: runs workflows and keeps every execution in the database.

mod capacity;
mod claiming;
mod config;
mod definitions;
mod elsewhere;
mod engine;
mod events;
mod handle;
mod handover;
mod inputs;
mod keys;
mod listener;
mod maintenance;
mod mapping;
mod owner;
mod recording;
mod rerun;
mod results;
mod running;
mod scheduler;
mod schedules;
mod stored_blobs;
mod stream;
mod waiters;
mod worker;
mod workflow_versions;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

pub use capacity::TaskSlot;
pub use config::ExecutorConfig;
pub use events::{Event, EventKind};
pub use handle::ExecutionHandle;
pub use stream::EventStream;

use crate::context::Context;
use crate::error::ExecutorError;
use crate::logs::LogEntry;
use crate::result::{ExecutionResult, ExecutionStatus, ExecutionSummary};
use crate::store::{self, DatabaseUrl, ExecutionFilter, Store};
use crate::workflow::{Workflow, WorkflowRegistry};
use engine::{Engine, lock};

/// How long shutdown waits, after telling the attempts still running to stop, for those blocked
/// in a call that cannot be dropped.
const BLOCKED_ATTEMPT_GRACE: Duration = Duration::from_secs(1);

/// Which workflow to run: a registered name, or a workflow (registered on the way).
#[derive(Debug, Clone)]
pub enum WorkflowRef {
    /// A workflow registered under this name.
    Name(String),
    /// This workflow; it is registered under its name, replacing any earlier one.
    Workflow(Arc<Workflow>),
}

impl From<&str> for WorkflowRef {
    fn from(name: &str) -> Self {
        Self::Name(name.to_owned())
    }
}

impl From<String> for WorkflowRef {
    fn from(name: String) -> Self {
        Self::Name(name)
    }
}

impl From<Workflow> for WorkflowRef {
    fn from(workflow: Workflow) -> Self {
        Self::Workflow(Arc::new(workflow))
    }
}

impl From<Arc<Workflow>> for WorkflowRef {
    fn from(workflow: Arc<Workflow>) -> Self {
        Self::Workflow(workflow)
    }
}

impl From<&Arc<Workflow>> for WorkflowRef {
    fn from(workflow: &Arc<Workflow>) -> Self {
        Self::Workflow(Arc::clone(workflow))
    }
}

/// How to start an execution, besides its workflow and context.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The trace context of the span the execution is started in (W3C `traceparent` and
    /// `tracestate` as a JSON object), stored with it so that its attempts, whichever process
    /// runs them, can join that trace (see [`Attempt::trace_context`](crate::Attempt)).
    pub trace_context: Option<String>,
    /// A key that makes the start idempotent: a workflow has one execution per key, so a start
    /// with a key already used (from any process, also while that execution runs) gets that
    /// execution ([`ExecutionHandle::is_new`] is false) instead of starting another. Its
    /// initial context must be the one given then, or the start fails with
    /// [`ExecutorError::KeyInUse`]. 1 to 255 printable characters.
    pub key: Option<String>,
    /// When its first tasks may start, if later than now: a delayed start. It is stored, so it
    /// survives restarts, and whichever executor (with the workflow registered) is running at
    /// that time starts it; until then the execution is `Pending`.
    pub start_at: Option<chrono::DateTime<Utc>>,
}

/// Runs workflows on SQLite or PostgreSQL.
///
/// Creating an executor opens the database (creating its tables if needed) and starts its
/// background work on the current tokio runtime: a dispatcher that claims ready tasks when woken
/// (and at least every `poll_interval`); tasks that finish record their results and claim the work
/// they made ready in the same transaction. Clones share the same executor. Call [`shutdown`](Self::shutdown) to stop it cleanly; dropping the
/// last clone stops it too, without waiting.
#[derive(Clone)]
pub struct UnifiedExecutor {
    engine: Arc<Engine>,
    lifecycle: Arc<Lifecycle>,
}

/// A reference to an executor that does not keep it alive.
#[derive(Clone)]
pub struct WeakExecutor {
    engine: std::sync::Weak<Engine>,
    lifecycle: std::sync::Weak<Lifecycle>,
}

impl WeakExecutor {
    /// The executor, if some clone of it is still alive.
    pub fn upgrade(&self) -> Option<UnifiedExecutor> {
        Some(UnifiedExecutor { engine: self.engine.upgrade()?, lifecycle: self.lifecycle.upgrade()? })
    }
}

impl std::fmt::Debug for WeakExecutor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WeakExecutor")
    }
}

/// The background work; stopped when the last executor clone goes away.
struct Lifecycle {
    engine: Arc<Engine>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        self.engine.stopping.cancel();
        self.engine.closed.cancel();
    }
}

impl std::fmt::Debug for UnifiedExecutor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UnifiedExecutor")
            .field("database", &self.engine.store.description())
            .field("owner", &self.engine.owner)
            .finish_non_exhaustive()
    }
}

impl UnifiedExecutor {
    /// Opens an executor on `url` with the default configuration and the global registry.
    ///
    /// Accepted URLs: `sqlite:///:memory:`, `sqlite:///relative.db`, `sqlite:////absolute.db`,
    /// `postgresql://user:password@host:port/database`.
    pub async fn new(url: &str) -> Result<Self, ExecutorError> {
        Self::with_config(url, ExecutorConfig::default()).await
    }

    /// Opens an executor with a configuration, using the global registry.
    pub async fn with_config(url: &str, config: ExecutorConfig) -> Result<Self, ExecutorError> {
        Self::open(url, config, WorkflowRegistry::global()).await
    }

    /// Opens an executor with a configuration and its own registry of workflows.
    pub async fn open(
        url: &str,
        config: ExecutorConfig,
        registry: Arc<WorkflowRegistry>,
    ) -> Result<Self, ExecutorError> {
        config.validate()?;
        let url = config.apply_schema(DatabaseUrl::parse(url)?)?;
        let store = Store::open(&url, &config.store_options()).await?;
        let engine = Arc::new(Engine::new(store, config, registry));
        // Before anything is claimed: other processes must see this executor is alive.
        listener::start(&engine).await?;
        report_unknown_workflows(&engine).await;
        let dispatcher = tokio::spawn(worker::dispatch(Arc::clone(&engine)));
        tokio::spawn(maintenance::maintain(Arc::clone(&engine)));
        if engine.config.run_schedules {
            tokio::spawn(schedules::serve(Arc::clone(&engine)));
        }
        if engine.store.is_sqlite_file() {
            tokio::spawn(maintenance::checkpoint(Arc::clone(&engine)));
        }
        let lifecycle = Arc::new(Lifecycle { engine: Arc::clone(&engine), dispatcher: Mutex::new(Some(dispatcher)) });
        Ok(Self { engine, lifecycle })
    }

    /// The registry this executor resolves workflow names in.
    pub fn registry(&self) -> &Arc<WorkflowRegistry> {
        &self.engine.registry
    }

    /// Registers a workflow so that this executor can run (and resume) its executions.
    pub fn register(&self, workflow: impl Into<Arc<Workflow>>) -> Arc<Workflow> {
        let workflow = workflow.into();
        let revision = self.engine.registry.revision();
        self.engine.registry.register(Arc::clone(&workflow));
        if self.engine.registry.revision() != revision {
            self.engine.workflows_added();
        }
        workflow
    }

    /// A reference that does not keep the executor alive (dropping every clone still stops it).
    pub fn downgrade(&self) -> WeakExecutor {
        WeakExecutor { engine: Arc::downgrade(&self.engine), lifecycle: Arc::downgrade(&self.lifecycle) }
    }

    /// The database, as shown in messages.
    pub fn database(&self) -> &str {
        self.engine.store.description()
    }

    /// This executor's id as a lease owner.
    pub fn owner_id(&self) -> &str {
        &self.engine.owner
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ExecutorConfig {
        &self.engine.config
    }

    /// Runs a workflow to its end and returns the result.
    ///
    /// A failed or cancelled execution is not an error here: check the result's status.
    pub async fn execute(
        &self,
        workflow: impl Into<WorkflowRef>,
        context: Context,
    ) -> Result<ExecutionResult, ExecutorError> {
        let handle = self.start(workflow, context).await?;
        handle.wait().await
    }

    /// Starts a workflow and returns at once with a handle to it.
    pub async fn start(
        &self,
        workflow: impl Into<WorkflowRef>,
        context: Context,
    ) -> Result<ExecutionHandle, ExecutorError> {
        self.start_as(Self::new_execution_id(), workflow, context).await
    }

    /// A fresh execution id (time-ordered), for [`start_as`](Self::start_as).
    pub fn new_execution_id() -> Uuid {
        Uuid::now_v7()
    }

    /// Starts a workflow under an id chosen by the caller, for callers that must know the id
    /// before the first task runs (to route that execution's work, say). The id must be new.
    pub async fn start_as(
        &self,
        execution_id: Uuid,
        workflow: impl Into<WorkflowRef>,
        context: Context,
    ) -> Result<ExecutionHandle, ExecutorError> {
        self.start_with(execution_id, workflow, context, StartOptions::default()).await
    }

    /// [`start_as`](Self::start_as), with options (a trace context to store with the
    /// execution).
    pub async fn start_with(
        &self,
        execution_id: Uuid,
        workflow: impl Into<WorkflowRef>,
        context: Context,
        options: StartOptions,
    ) -> Result<ExecutionHandle, ExecutorError> {
        self.ensure_running()?;
        let workflow = self.resolve(workflow.into())?;
        context.check_storable()?;
        let StartOptions { trace_context, key, start_at } = options;
        let start_at =
            start_at.map(|start_at| start_at.timestamp_micros()).filter(|&start_at| start_at > store::now_micros());
        if let Some(key) = &key {
            keys::check_key(key)?;
            if let Some(started) = self.keyed(workflow.name(), key, context.as_map()).await? {
                return Ok(started);
            }
        }
        let context_json = serde_json::to_string(context.as_map())
            .map_err(|error| ExecutorError::Store(crate::StoreError::Corrupt(error.to_string())))?;
        let blobs = context.written_blobs();
        let blob_bytes: usize = blobs.iter().map(|(_, data)| data.len()).sum();
        let kept_trace = trace_context.as_deref().map(Arc::from);
        self.engine.inputs.remember_initial(
            execution_id,
            &context,
            blobs.clone(),
            context_json.len() + blob_bytes,
            kept_trace,
        );
        let blobs = Arc::new(blobs);
        let context_json = Arc::new(context_json);
        // A delayed start claims nothing now.
        let wanted = if start_at.is_some() { 0 } else { self.engine.config.max_concurrent_tasks };
        let permits = self.engine.take_permits(wanted);
        let request = self.engine.claim_request(permits.len());
        let created = {
            let (workflow, key) = (Arc::clone(&workflow), key.clone());
            self.engine
                .commit(move |connection| {
                    let creation = scheduler::Creation {
                        execution_id,
                        context_json: context_json.as_str(),
                        blobs: &blobs,
                        trace_context: trace_context.as_deref(),
                        key: key.as_deref(),
                        start_at,
                    };
                    scheduler::create_execution(connection, &workflow, &creation, Utc::now(), &request)
                })
                .await
        };
        match created {
            Ok(claimed) => worker::start_claimed(&self.engine, claimed, permits),
            Err(error) => {
                self.engine.inputs.forget(execution_id);
                // Another process started it under the same key a moment before.
                if let Some(key) = &key
                    && keys::is_duplicate(&error)
                    && let Some(started) = self.keyed(workflow.name(), key, context.as_map()).await?
                {
                    return Ok(started);
                }
                return Err(error.into());
            }
        }
        Ok(ExecutionHandle::new(self.clone(), execution_id))
    }

    /// Waits for an execution to finish (one started here, by another process, or before a
    /// restart) and returns its result. With a timeout, fails with
    /// [`ExecutorError::WaitTimeout`] if it has not finished by then; the execution goes on.
    pub async fn wait(&self, execution_id: Uuid, timeout: Option<Duration>) -> Result<ExecutionResult, ExecutorError> {
        let mut outage = Outage::default();
        self.wait_finished(execution_id, timeout, &mut outage).await?;
        loop {
            match self.get_execution(execution_id).await {
                Err(ExecutorError::Store(error)) if store::is_connection_lost(&error) => {
                    outage.record(&error);
                    tokio::time::sleep(outage.backoff()).await;
                }
                result => return result,
            }
        }
    }

    /// Waits for an execution to finish, like [`wait`](Self::wait), and returns its final
    /// status without reading the rest of the result.
    pub async fn finished(
        &self,
        execution_id: Uuid,
        timeout: Option<Duration>,
    ) -> Result<ExecutionStatus, ExecutorError> {
        self.wait_finished(execution_id, timeout, &mut Outage::default()).await
    }

    async fn wait_finished(
        &self,
        execution_id: Uuid,
        timeout: Option<Duration>,
        outage: &mut Outage,
    ) -> Result<ExecutionStatus, ExecutorError> {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut waiter = self.engine.waiters.register(execution_id);
        loop {
            // The database may be briefly out of reach (a restart, a dropped connection): a
            // waiter outlasts that instead of failing.
            match self.status(execution_id).await {
                Ok(status) if status.is_finished() => return Ok(status),
                Ok(_) => outage.clear(),
                Err(ExecutorError::Store(error)) if store::is_connection_lost(&error) => outage.record(&error),
                Err(error) => return Err(error),
            }
            // Another process may finish it; look again at the poll interval (sooner while the
            // database is out of reach).
            let look_again = if outage.failures > 0 { outage.backoff() } else { self.engine.config.poll_interval };
            let mut wake_at = Instant::now() + look_again.min(self.engine.config.poll_interval);
            if let Some(deadline) = deadline {
                if Instant::now() >= deadline {
                    return Err(ExecutorError::WaitTimeout { execution_id, timeout: timeout.unwrap_or_default() });
                }
                wake_at = wake_at.min(deadline);
            }
            tokio::select! {
                status = &mut waiter.finished => if let Ok(status) = status { return Ok(status) },
                _ = waiter.rechecks.changed() => {}
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// The current status of an execution.
    pub async fn status(&self, execution_id: Uuid) -> Result<ExecutionStatus, ExecutorError> {
        let key = execution_id.to_string();
        let status = self.engine.store.read(move |connection| store::execution_status(connection, &key)).await?;
        let status = status.ok_or(ExecutorError::ExecutionNotFound(execution_id))?;
        Ok(scheduler::parse_status(&status)?)
    }

    /// Cancels an execution: tasks not started become `Cancelled`, running ones are stopped,
    /// and waiters return at once. Returns the final status: `Cancelled`, or the status the
    /// execution had already reached.
    pub async fn cancel(&self, execution_id: Uuid) -> Result<ExecutionStatus, ExecutorError> {
        self.engine
            .stop_execution(execution_id, ExecutionStatus::Cancelled, "the execution was cancelled".to_owned())
            .await?
            .ok_or(ExecutorError::ExecutionNotFound(execution_id))
    }

    /// The execution as stored now: its result if it has finished, a snapshot otherwise.
    pub async fn get_execution(&self, execution_id: Uuid) -> Result<ExecutionResult, ExecutorError> {
        let mut result = self
            .engine
            .store
            .read(move |connection| results::load_result(connection, execution_id))
            .await?
            .ok_or(ExecutorError::ExecutionNotFound(execution_id))?;
        stored_blobs::attach(&self.engine, execution_id, &mut result.context);
        stored_blobs::attach(&self.engine, execution_id, &mut result.initial_context);
        for output in result.task_results.iter_mut().filter_map(|task| task.output.as_mut()) {
            stored_blobs::attach(&self.engine, execution_id, output);
        }
        Ok(result)
    }

    /// Executions matching the filter, newest first.
    pub async fn list_executions(&self, filter: ExecutionFilter) -> Result<Vec<ExecutionSummary>, ExecutorError> {
        let rows = self.engine.store.read(move |connection| store::list_executions(connection, &filter)).await?;
        Ok(rows.into_iter().map(results::to_summary).collect::<Result<_, _>>()?)
    }

    /// The persisted events of an execution, in order.
    pub async fn events(&self, execution_id: Uuid) -> Result<Vec<Event>, ExecutorError> {
        self.events_after(execution_id, 0, i64::MAX).await
    }

    /// Persisted events of an execution after position `after` (an event's `sequence`), in
    /// order, at most `limit`.
    pub async fn events_after(&self, execution_id: Uuid, after: i64, limit: i64) -> Result<Vec<Event>, ExecutorError> {
        let key = execution_id.to_string();
        let rows = self.engine.store.read(move |connection| store::load_events(connection, &key, after, limit)).await?;
        Ok(rows.into_iter().map(Event::from_row).collect::<Result<_, _>>()?)
    }

    /// What an execution's tasks logged (one task's, when named), by task, attempt and time (see
    /// [`crate::logs`]). Records are stored when their attempt ends.
    pub async fn logs(&self, execution_id: Uuid, task_id: Option<&str>) -> Result<Vec<LogEntry>, ExecutorError> {
        let (key, task_id) = (execution_id.to_string(), task_id.map(str::to_owned));
        let logs = self
            .engine
            .store
            .read(move |connection| match store::execution_status(connection, &key)? {
                Some(_) => store::load_logs(connection, &key, task_id.as_deref()).map(Some),
                None => Ok(None),
            })
            .await?;
        logs.ok_or(ExecutorError::ExecutionNotFound(execution_id))
    }

    /// Every event of an execution, past and to come, in order; the stream ends after the
    /// event that ends the execution. Events of other processes arrive too (read from the
    /// database when this process is told, or at the poll interval).
    pub fn event_stream(&self, execution_id: Uuid) -> EventStream {
        EventStream::new(self.clone(), execution_id)
    }

    /// Completes once the executor has been shut down (by any clone). A process that only runs
    /// tasks for other processes' executions waits on this.
    pub async fn closed(&self) {
        self.engine.closed.cancelled().await;
    }

    /// Events as this executor commits them, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.engine.events.subscribe()
    }

    /// Stops the executor: no new task is claimed, running tasks may finish until the
    /// configured `shutdown_timeout`, tasks still running then are stopped and handed back, and
    /// everything finished is recorded. Calls after the first return at once.
    pub async fn shutdown(&self) {
        let Some(dispatcher) = lock(&self.lifecycle.dispatcher).take() else {
            return;
        };
        let engine = &self.engine;
        engine.stopping.cancel();
        let _ = dispatcher.await;
        engine.attempts.close();
        if tokio::time::timeout(engine.config.shutdown_timeout, engine.attempts.wait()).await.is_err() {
            let stopped = engine.running.cancel_all();
            // An attempt blocked in a call (a Python function that ignores `context.cancelled`)
            // cannot be dropped; its lease is released all the same, so that its result, if it
            // ever comes, is refused rather than waited for.
            if tokio::time::timeout(BLOCKED_ATTEMPT_GRACE, engine.attempts.wait()).await.is_err() {
                tracing::warn!(
                    attempts = engine.attempts.len(),
                    "shutdown: attempts still blocked in a call after they were told to stop; releasing their leases"
                );
            }
            worker::release(engine, stopped).await;
        }
        engine.closed.cancel();
    }

    /// Stops the executor at once, for a process about to exit: no new task is claimed, running
    /// attempts are told to stop and their tasks handed back to other workers at once (a result
    /// that comes later is refused), and the executor closes. Unlike [`shutdown`](Self::shutdown)
    /// it waits for nothing but the write that hands the tasks back; it may follow a shutdown
    /// that is still waiting.
    pub async fn shutdown_now(&self) {
        if let Some(dispatcher) = lock(&self.lifecycle.dispatcher).take() {
            dispatcher.abort();
        }
        let engine = &self.engine;
        engine.stopping.cancel();
        engine.attempts.close();
        let stopped = engine.running.cancel_all();
        if !stopped.is_empty() {
            worker::release(engine, stopped).await;
        }
        engine.closed.cancel();
    }

    /// The attempts running in this executor now, as (execution, task id).
    pub fn running_attempts(&self) -> Vec<(Uuid, String)> {
        self.engine.running.list()
    }

    fn ensure_running(&self) -> Result<(), ExecutorError> {
        if self.engine.stopping.is_cancelled() { Err(ExecutorError::ShutDown) } else { Ok(()) }
    }

    fn resolve(&self, workflow: WorkflowRef) -> Result<Arc<Workflow>, ExecutorError> {
        match workflow {
            WorkflowRef::Workflow(workflow) => Ok(self.register(workflow)),
            WorkflowRef::Name(name) => self
                .engine
                .registry
                .get(&name)
                .ok_or_else(|| ExecutorError::WorkflowNotFound { name, registered: self.engine.registry.names() }),
        }
    }
}

/// Logs unfinished executions of workflows this executor does not know: it leaves them alone.
async fn report_unknown_workflows(engine: &Engine) {
    let names = engine.registry.names();
    let unfinished = engine.store.read(store::unfinished_workflows).await;
    match unfinished {
        Ok(unfinished) => {
            for (workflow, count) in unfinished.into_iter().filter(|(workflow, _)| !names.contains(workflow)) {
                tracing::warn!(
                    workflow,
                    count,
                    "unfinished executions of a workflow this executor has not registered are left alone; \
                     register the workflow to resume them"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "could not list unfinished executions"),
    }
}

/// Consecutive failures to reach the database, for logging and backing off.
#[derive(Default)]
struct Outage {
    failures: u32,
}

impl Outage {
    fn record(&mut self, error: &crate::StoreError) {
        self.failures += 1;
        if self.failures == 1 || self.failures.is_power_of_two() {
            tracing::warn!(%error, failures = self.failures, "the database is out of reach; waiting for it");
        }
    }

    fn clear(&mut self) {
        self.failures = 0;
    }

    fn backoff(&self) -> Duration {
        Duration::from_millis(50).saturating_mul(1 << self.failures.min(6))
    }
}
