//! `cloacina.UnifiedExecutor`.

use std::time::Duration;

use std::sync::{Arc, Mutex};

use cloacina::{
    ExecutionFilter, ExecutionStatus, ExecutorConfig, NewSchedule, SqliteSynchronous, UnifiedExecutor, WeakExecutor,
    WorkflowRef,
};
use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use uuid::Uuid;

use crate::api::context::PyContext;
use crate::api::events::PyEvent;
use crate::api::handle::PyExecutionHandle;
use crate::api::logs::{self, PyLogEntry, log_level_from_python};
use crate::api::result::{PyExecutionResult, PyExecutionSummary};
use crate::api::retry::seconds;
use crate::api::schedule::{self, PySchedule};
use crate::api::workflow::PyWorkflow;
use crate::bridge::awaitable::awaitable;
use crate::bridge::awaiting;
use crate::bridge::loops;
use crate::exceptions::{BindingError, BindingResult, ErrorKind, error};
use crate::running::calls;
use crate::running::exit;
use crate::running::runtime::{block_on, block_on_interruptibly, runtime};
use crate::running::spans;
use crate::running::task_logs;
use crate::values::{Reading, quoted, type_name};

// `serve_ui`'s signature writes the page's default port as a literal.
const _: () = assert!(cloacina_ui::DEFAULT_PORT == 8490);

/// The configuration keywords, as the engine names its fields.
const OPTIONS: [&str; 15] = [
    "max_concurrent_tasks",
    "run_tasks",
    "run_schedules",
    "task_timeout",
    "poll_interval",
    "lease_duration",
    "max_recoveries",
    "pool_size",
    "sqlite_synchronous",
    "sqlite_busy_timeout",
    "shutdown_timeout",
    "schema",
    "task_log_level",
    "allow_pickle",
    "log_prints",
];

/// Runs workflows and keeps every execution in a database.
///
/// Args:
///     url: `"sqlite:///:memory:"`, `"sqlite:///relative.db"`, `"sqlite:////absolute.db"` or
///         `"postgresql://user:password@host:port/database"`.
///     max_concurrent_tasks: Tasks run at once (default 64).
///     run_tasks: `False` for a submit-only executor that leaves every task to workers
///         (`python -m cloacina worker`) sharing its database.
///     run_schedules: `False` for an executor that never starts the due ticks of schedules.
///     task_timeout: Seconds an attempt may take when its task sets no timeout (default none).
///     poll_interval: Seconds between looks for work when nothing wakes the executor
///         (a fallback; default 1.0).
///     lease_duration: Seconds a claimed task stays owned without renewal (default 30); leases
///         are renewed every third of it, and a task whose lease expires runs again elsewhere.
///     max_recoveries: Times a task may be taken back from a worker that stopped before it
///         fails as abandoned (default 3).
///     pool_size: Database connections (default 8).
///     sqlite_synchronous: `"normal"` (survives a process crash, the default) or `"full"`
///         (survives power loss).
///     sqlite_busy_timeout: Seconds SQLite waits for another process's lock (default 5).
///     shutdown_timeout: Seconds `shutdown` lets running tasks finish (default 30).
///     schema: PostgreSQL only: the schema for the tables (like `?schema=` in the URL).
///     task_log_level: The least severe `logging` records a task attempt keeps (a level name,
///         `"OFF"`, or a number; default `"INFO"`), unless the task sets its own `log_level`.
///     allow_pickle: Read values stored with `cloacina.Pickled` (default `False`: reading one
///         raises `SerializationError`). Unpickling runs code the stored bytes name: allow it
///         only when everyone who can write the database is trusted.
///     log_prints: Keep what task functions `print` with their logs (default `False`), unless
///         a task sets its own `log_prints`.
///
/// Raises:
///     TypeError: An unknown keyword.
///     ValidationError: A malformed URL or an out-of-range value.
///     DatabaseError: The database cannot be reached.
#[pyclass(module = "cloacina", name = "UnifiedExecutor", frozen)]
pub struct PyUnifiedExecutor {
    inner: UnifiedExecutor,
}

/// Every executor made in this process, without keeping any alive.
static LIVE: Mutex<Vec<WeakExecutor>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<WeakExecutor>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops every executor still running, and makes sure no task function is left in a thread as
/// the interpreter finalizes (see `exit.rs`). Registered with `atexit` by the package.
#[pyfunction]
#[pyo3(name = "_shutdown_at_exit")]
pub fn shutdown_at_exit(py: Python<'_>) {
    let running: Vec<UnifiedExecutor> = live().drain(..).filter_map(|weak| weak.upgrade()).collect();
    exit::at_exit(py, running);
}

impl PyUnifiedExecutor {
    /// How this executor reads values back.
    fn reading(&self) -> Reading {
        Reading::of_executor(self.inner.owner_id())
    }

    fn workflow_ref(workflow: &Bound<'_, PyAny>) -> PyResult<WorkflowRef> {
        if let Ok(workflow) = workflow.cast::<PyWorkflow>() {
            return Ok(WorkflowRef::from(&workflow.get().inner));
        }
        if let Ok(name) = workflow.extract::<String>() {
            return Ok(WorkflowRef::Name(name));
        }
        Err(error(
            ErrorKind::Validation,
            format!("expected a workflow name or a cloacina.Workflow, not `{}`", type_name(workflow)),
        ))
    }

    /// Runs an execution to its end on this thread, answering Ctrl-C.
    fn run_blocking(&self, py: Python<'_>, request: awaiting::Request) -> BindingResult<Py<PyAny>> {
        let (executor, execution_id) = (self.inner.clone(), request.execution_id);
        match block_on_interruptibly(py, awaiting::run(executor, request)) {
            Ok(result) => Ok(Py::new(py, PyExecutionResult::new(result?, self.reading()))?.into_any()),
            Err(interrupted) => {
                // Ctrl-C: the caller gave up on this execution; it is cancelled before the
                // interrupt goes on (the process may be about to exit), and its task functions
                // get the shutdown timeout to return.
                let executor = self.inner.clone();
                let _ = block_on(py, async move { executor.cancel(execution_id).await });
                exit::wait_for_cancelled(py, execution_id, self.inner.config().shutdown_timeout);
                Err(interrupted.into())
            }
        }
    }

    /// Runs an execution to its end as an awaitable, its `async def` tasks on the loop of
    /// `locals` (and its plain functions too, `here`).
    fn run_awaitable<'py>(
        &self,
        py: Python<'py>,
        locals: pyo3_async_runtimes::TaskLocals,
        request: awaiting::Request,
        here: bool,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let (executor, execution_id) = (self.inner.clone(), request.execution_id);
        if here {
            loops::bind_here(py, execution_id, locals);
        } else {
            loops::bind(py, execution_id, locals);
        }
        let reading = self.reading();
        Ok(awaitable(py, async move {
            let result = awaiting::run(executor, request).await?;
            Ok::<_, BindingError>(PyExecutionResult::new(result, reading))
        })?)
    }
}

/// Parses an execution id given as `str` or `uuid.UUID`.
pub fn parse_execution_id(value: &Bound<'_, PyAny>) -> PyResult<Uuid> {
    let text = value.str()?.to_string();
    Uuid::parse_str(&text)
        .map_err(|_| error(ErrorKind::Validation, format!("`{text}` is not an execution id (a UUID)")))
}

fn config_from_keywords(options: Option<&Bound<'_, PyDict>>) -> PyResult<ExecutorConfig> {
    let mut config = ExecutorConfig::default();
    let Some(options) = options else {
        return Ok(config);
    };
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        let optional_seconds = |value: &Bound<'_, PyAny>| -> PyResult<Option<Duration>> {
            if value.is_none() { Ok(None) } else { seconds(&key, option(&key, value)?).map(Some) }
        };
        let required_seconds = |value: &Bound<'_, PyAny>| -> PyResult<Duration> { seconds(&key, option(&key, value)?) };
        match key.as_str() {
            "max_concurrent_tasks" => config.max_concurrent_tasks = option(&key, &value)?,
            "run_tasks" => config.run_tasks = option(&key, &value)?,
            "run_schedules" => config.run_schedules = option(&key, &value)?,
            "task_timeout" => config.task_timeout = optional_seconds(&value)?,
            "poll_interval" => config.poll_interval = required_seconds(&value)?,
            "lease_duration" => config.lease_duration = required_seconds(&value)?,
            "pool_size" => config.pool_size = option(&key, &value)?,
            "max_recoveries" => config.max_recoveries = option(&key, &value)?,
            "schema" => config.schema = option(&key, &value)?,
            "task_log_level" => config.task_log_level = log_level_from_python("task_log_level", &value)?,
            "sqlite_busy_timeout" => config.sqlite_busy_timeout = required_seconds(&value)?,
            "shutdown_timeout" => config.shutdown_timeout = required_seconds(&value)?,
            "sqlite_synchronous" => {
                config.sqlite_synchronous = match option::<String>(&key, &value)?.to_ascii_lowercase().as_str() {
                    "normal" => SqliteSynchronous::Normal,
                    "full" => SqliteSynchronous::Full,
                    other => {
                        return Err(error(
                            ErrorKind::Validation,
                            format!("sqlite_synchronous is `{other}`; use \"normal\" or \"full\""),
                        ));
                    }
                }
            }
            unknown => {
                return Err(PyTypeError::new_err(format!(
                    "UnifiedExecutor got an unknown option `{unknown}`; valid options: {}",
                    OPTIONS.join(", ")
                )));
            }
        }
    }
    Ok(config)
}

/// The value of an executor option: an int out of range is a `ValidationError`, a value of the
/// wrong type a `TypeError`, each naming the option.
fn option<'py, T: FromPyObjectOwned<'py>>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<T> {
    value.extract::<T>().map_err(Into::into).map_err(|problem: PyErr| {
        let py = value.py();
        if problem.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) {
            error(ErrorKind::Validation, format!("{name} is {value}, which is out of range"))
        } else {
            PyTypeError::new_err(format!("{name} cannot be `{}`: {problem}", type_name(value)))
        }
    })
}

#[pymethods]
impl PyUnifiedExecutor {
    #[new]
    #[pyo3(signature = (url, *, allow_pickle = false, log_prints = false, **options))]
    fn new(
        py: Python<'_>,
        url: &str,
        allow_pickle: bool,
        log_prints: bool,
        options: Option<&Bound<'_, PyDict>>,
    ) -> BindingResult<Self> {
        let config = config_from_keywords(options)?;
        crate::logging::follow_logger_level(py);
        let url = url.to_owned();
        let inner = block_on(py, async move { UnifiedExecutor::with_config(&url, config).await })?;
        if allow_pickle {
            Reading::allow_pickle_for(inner.owner_id());
        }
        if log_prints {
            task_logs::keep_prints_for(inner.owner_id());
        }
        let mut live = live();
        live.retain(|weak| weak.upgrade().is_some());
        live.push(inner.downgrade());
        Ok(Self { inner })
    }

    /// Runs a workflow to its end and returns the result.
    ///
    /// Where an asyncio event loop runs in the calling thread, this returns an awaitable
    /// (`result = await executor.execute(...)`) and the workflow's `async def` tasks run on that
    /// loop; elsewhere it blocks until the end and returns the result. `execute_async` is always
    /// awaitable.
    ///
    /// A failed or cancelled execution is not an exception here: look at `result.status`, or
    /// call `result.raise_for_status()`. Interrupting the wait (Ctrl-C, or cancelling the
    /// awaiting asyncio task) cancels the execution; after Ctrl-C, its plain task functions get
    /// up to `shutdown_timeout` to return (stderr says which it waits for; a second Ctrl-C stops
    /// the wait) before `KeyboardInterrupt` goes on.
    ///
    /// Args:
    ///     workflow: A workflow name, or a `Workflow`.
    ///     context: The initial context: a `dict`, a `Context` or `None`.
    ///     timeout: Seconds the whole execution may take; past that it is cancelled and
    ///         `ExecutionTimeoutError` raised.
    ///     on_event: Called with each `Event` of the execution, in order (a coroutine function
    ///         is awaited on the execution's loop).
    ///
    /// Returns:
    ///     The `ExecutionResult` (or an awaitable of it).
    ///
    /// Raises:
    ///     WorkflowNotFoundError: No workflow has that name.
    ///     SerializationError: A context value is not JSON.
    ///     ExecutionTimeoutError: The timeout passed.
    ///     DatabaseError: The database failed.
    #[pyo3(signature = (workflow, context = None, *, timeout = None, on_event = None, key = None))]
    fn execute(
        &self,
        py: Python<'_>,
        workflow: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        on_event: Option<Py<PyAny>>,
        key: Option<String>,
    ) -> BindingResult<Py<PyAny>> {
        if awaiting::running_loop(py).is_some() {
            return Ok(self.execute_async(py, workflow, context, timeout, on_event, key)?.unbind());
        }
        self.run_blocking(py, request(workflow, context, timeout, on_event, key)?)
    }

    /// Runs a workflow to its end; always returns an awaitable of the `ExecutionResult`.
    ///
    /// The workflow's `async def` tasks run on the calling event loop. Arguments, results and
    /// exceptions are those of `execute`.
    #[pyo3(signature = (workflow, context = None, *, timeout = None, on_event = None, key = None))]
    fn execute_async<'py>(
        &self,
        py: Python<'py>,
        workflow: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
        on_event: Option<Py<PyAny>>,
        key: Option<String>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let locals = awaiting::running_loop(py).ok_or_else(|| awaiting::needs_loop("execute_async"))?;
        self.run_awaitable(py, locals, request(workflow, context, timeout, on_event, key)?, false)
    }

    /// Runs a workflow to its end with all of it on the event loop running in this thread,
    /// plain functions included (where the loop can watch a socket): what `cloacina.testing`
    /// runs. Returns an awaitable of the `ExecutionResult`.
    #[pyo3(signature = (workflow, context = None, *, timeout = None))]
    fn _execute_here<'py>(
        &self,
        py: Python<'py>,
        workflow: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let locals = awaiting::running_loop(py).ok_or_else(|| awaiting::needs_loop("_execute_here"))?;
        self.run_awaitable(py, locals, request(workflow, context, timeout, None, None)?, true)
    }

    /// Re-runs a finished execution from where it failed, like `execute`: blocks and returns the
    /// new execution's `ExecutionResult` where no asyncio event loop runs in this thread, and
    /// returns an awaitable of it where one does.
    ///
    /// The new execution runs the same workflow version with the same initial context. It keeps
    /// the outputs of the tasks that completed (they are `Completed` with no attempt) and runs
    /// only the others (failed, skipped, cancelled) and the tasks downstream of them. Its
    /// `rerun_of` names the execution it came from.
    #[pyo3(signature = (execution_id, *, timeout = None, on_event = None))]
    fn rerun(
        &self,
        py: Python<'_>,
        execution_id: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        on_event: Option<Py<PyAny>>,
    ) -> BindingResult<Py<PyAny>> {
        let request = rerun_request(execution_id, timeout, on_event)?;
        match awaiting::running_loop(py) {
            Some(locals) => Ok(self.run_awaitable(py, locals, request, false)?.unbind()),
            None => self.run_blocking(py, request),
        }
    }

    /// Re-runs a finished execution from where it failed, like `rerun`; always returns an
    /// awaitable of the new execution's `ExecutionResult`.
    #[pyo3(signature = (execution_id, *, timeout = None, on_event = None))]
    fn rerun_async<'py>(
        &self,
        py: Python<'py>,
        execution_id: &Bound<'py, PyAny>,
        timeout: Option<f64>,
        on_event: Option<Py<PyAny>>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let locals = awaiting::running_loop(py).ok_or_else(|| awaiting::needs_loop("rerun_async"))?;
        self.run_awaitable(py, locals, rerun_request(execution_id, timeout, on_event)?, false)
    }

    /// Starts a workflow and returns at once with an `ExecutionHandle`.
    ///
    /// Started while an asyncio event loop runs in this thread, the workflow's `async def` tasks
    /// run on that loop (and `await handle` waits for the result).
    ///
    /// Args:
    ///     workflow: A workflow name, or a `Workflow`.
    ///     context: The initial context: a `dict`, a `Context` or `None`.
    ///     on_event: Called with each `Event` of the execution, in order.
    ///
    /// Returns:
    ///     An `ExecutionHandle` to wait for, look at, stream the events of, or cancel.
    #[pyo3(signature = (workflow, context = None, *, on_event = None, key = None, at = None, delay = None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        py: Python<'_>,
        workflow: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        on_event: Option<Py<PyAny>>,
        key: Option<String>,
        at: Option<&Bound<'_, PyAny>>,
        delay: Option<f64>,
    ) -> BindingResult<PyExecutionHandle> {
        let mut request = request(workflow, context, None, on_event, key)?;
        if let awaiting::Origin::Start { start_at, .. } = &mut request.origin {
            *start_at = start_time(at, delay)?;
        }
        let (executor, execution_id) = (self.inner.clone(), request.execution_id);
        if let Some(locals) = awaiting::running_loop(py) {
            loops::bind(py, execution_id, locals);
        }
        let awaiting::Request { origin, on_event, span, .. } = request;
        let trace_context = span.as_ref().map(|span| span.trace_context.clone());
        let started = block_on(py, async move { origin.begin(&executor, execution_id, trace_context).await });
        let handle = match started {
            Ok(handle) => handle,
            Err(error) => {
                loops::unbind(execution_id);
                if let Some(span) = span {
                    let message = error.to_string();
                    block_on(py, span.end(Err(message)));
                }
                return Err(error.into());
            }
        };
        if !handle.is_new() {
            // Started before under its key: the caller gets a handle on that execution, whose
            // tasks run where it was started.
            loops::unbind(execution_id);
            if let Some(span) = span {
                block_on(py, span.end(Err("started before under its key".to_owned())));
            }
            let existing = handle.execution_id();
            if let Some(callback) = on_event {
                awaiting::deliver_in_background(self.inner.event_stream(existing), callback);
            }
            return Ok(PyExecutionHandle::new(self.inner.clone(), existing));
        }
        if let Some(span) = span {
            // Its span ends when it does: seen by a wait for it, or else by this watch.
            spans::hold(execution_id, span);
            runtime().spawn(end_when_finished(self.inner.downgrade(), execution_id));
        }
        if loops::is_bound(execution_id) {
            // The caller's loop (and a copy of its context variables) is kept only while the
            // execution runs.
            runtime().spawn(unbind_when_finished(self.inner.downgrade(), execution_id));
        }
        if let Some(callback) = on_event {
            awaiting::deliver_in_background(self.inner.event_stream(execution_id), callback);
        }
        Ok(PyExecutionHandle::new(self.inner.clone(), execution_id))
    }

    /// Waits for an execution to finish (one started here, by another process, or before a
    /// restart) and returns its result. Ctrl-C stops waiting; the execution goes on.
    ///
    /// Args:
    ///     execution_id: The execution's id (`str` or `uuid.UUID`).
    ///     timeout: Seconds to wait at most; `None` waits as long as it takes.
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    ///     ExecutionTimeoutError: It did not finish in time (it goes on).
    #[pyo3(signature = (execution_id, timeout = None))]
    fn wait(
        &self,
        py: Python<'_>,
        execution_id: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> BindingResult<PyExecutionResult> {
        let execution_id = parse_execution_id(execution_id)?;
        PyExecutionHandle::new(self.inner.clone(), execution_id).wait_for_result(py, timeout)
    }

    /// Waits for an execution to finish; always returns an awaitable of its result.
    ///
    /// Args:
    ///     execution_id: The execution's id (`str` or `uuid.UUID`).
    ///     timeout: Seconds to wait at most; `None` waits as long as it takes.
    #[pyo3(signature = (execution_id, timeout = None))]
    fn wait_async<'py>(
        &self,
        py: Python<'py>,
        execution_id: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let execution_id = parse_execution_id(execution_id)?;
        PyExecutionHandle::new(self.inner.clone(), execution_id).wait_awaitable(py, timeout)
    }

    /// The execution as stored now: final once finished, a snapshot of a running one.
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    #[pyo3(signature = (execution_id))]
    fn get_execution(&self, py: Python<'_>, execution_id: &Bound<'_, PyAny>) -> BindingResult<PyExecutionResult> {
        let execution_id = parse_execution_id(execution_id)?;
        let executor = self.inner.clone();
        let result = block_on(py, async move { executor.get_execution(execution_id).await })?;
        Ok(PyExecutionResult::new(result, self.reading()))
    }

    /// A handle on an execution started anywhere (here, by another process, or before a
    /// restart), to wait for, follow the events of, or cancel.
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    #[pyo3(signature = (execution_id))]
    fn handle(&self, py: Python<'_>, execution_id: &Bound<'_, PyAny>) -> BindingResult<PyExecutionHandle> {
        let execution_id = parse_execution_id(execution_id)?;
        let executor = self.inner.clone();
        block_on(py, async move { executor.status(execution_id).await })?;
        Ok(PyExecutionHandle::new(self.inner.clone(), execution_id))
    }

    /// The events of an execution stored so far, in order (`ExecutionHandle.events` follows
    /// them as they come).
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    #[pyo3(signature = (execution_id))]
    fn events(&self, py: Python<'_>, execution_id: &Bound<'_, PyAny>) -> BindingResult<Vec<PyEvent>> {
        let execution_id = parse_execution_id(execution_id)?;
        let executor = self.inner.clone();
        let events = block_on(py, async move {
            executor.status(execution_id).await?;
            executor.events(execution_id).await
        })?;
        Ok(events.into_iter().map(PyEvent::wrap).collect())
    }

    /// What an execution's tasks logged while they ran (one task's, when named): `LogEntry`
    /// objects by task, attempt and time. An attempt's records are stored when it ends.
    ///
    /// Args:
    ///     execution_id: The execution's id (`str` or `uuid.UUID`).
    ///     task_id: Only this task's records.
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    #[pyo3(signature = (execution_id, task_id = None))]
    fn logs(
        &self,
        py: Python<'_>,
        execution_id: &Bound<'_, PyAny>,
        task_id: Option<String>,
    ) -> BindingResult<Vec<PyLogEntry>> {
        let execution_id = parse_execution_id(execution_id)?;
        let executor = self.inner.clone();
        let logs = block_on(py, async move { executor.logs(execution_id, task_id.as_deref()).await })?;
        Ok(logs::entries(&logs))
    }

    /// Executions, newest first.
    ///
    /// Args:
    ///     workflow: Only executions of this workflow (a name or a `Workflow`).
    ///     status: Only executions in this status (an `ExecutionStatus` or its value).
    ///     limit: At most this many.
    #[pyo3(signature = (workflow = None, status = None, limit = 100))]
    fn list_executions(
        &self,
        py: Python<'_>,
        workflow: Option<&Bound<'_, PyAny>>,
        status: Option<&Bound<'_, PyAny>>,
        limit: usize,
    ) -> BindingResult<Vec<PyExecutionSummary>> {
        let mut filter = ExecutionFilter::new().limit(limit);
        if let Some(workflow) = workflow.filter(|value| !value.is_none()) {
            filter = match Self::workflow_ref(workflow)? {
                WorkflowRef::Name(name) => filter.workflow(name),
                WorkflowRef::Workflow(workflow) => filter.workflow(workflow.name()),
            };
        }
        if let Some(status) = status.filter(|value| !value.is_none()) {
            let text = status.str()?.to_string();
            let parsed: ExecutionStatus =
                text.parse().map_err(|message: String| error(ErrorKind::Validation, message))?;
            filter = filter.status(parsed);
        }
        let executor = self.inner.clone();
        let summaries = block_on(py, async move { executor.list_executions(filter).await })?;
        Ok(summaries.into_iter().map(|inner| PyExecutionSummary { inner }).collect())
    }

    /// Cancels an execution; returns its final status (`"Cancelled"`, or the status it had
    /// already reached).
    ///
    /// Raises:
    ///     ExecutionNotFoundError: No execution has that id.
    #[pyo3(signature = (execution_id))]
    fn cancel<'py>(&self, py: Python<'py>, execution_id: &Bound<'py, PyAny>) -> BindingResult<Bound<'py, PyAny>> {
        let execution_id = parse_execution_id(execution_id)?;
        let executor = self.inner.clone();
        let status = block_on(py, async move { executor.cancel(execution_id).await })?;
        Ok(crate::api::result::execution_status(py, status)?)
    }

    /// Stores a cron schedule that starts `workflow` at each tick (see the stub's docstring).
    #[pyo3(signature = (workflow, cron, *, context = None, timezone = "UTC", catchup = "skip", name = None))]
    #[allow(clippy::too_many_arguments)]
    fn schedule(
        &self,
        py: Python<'_>,
        workflow: &Bound<'_, PyAny>,
        cron: String,
        context: Option<&Bound<'_, PyAny>>,
        timezone: &str,
        catchup: &str,
        name: Option<String>,
    ) -> BindingResult<PySchedule> {
        let workflow = Self::workflow_ref(workflow)?;
        let mut declared = NewSchedule::new(cron)
            .timezone(timezone)
            .context(PyContext::from_argument(context)?)
            .catchup(schedule::catchup(catchup)?);
        declared.name = name;
        schedule::schedule(py, &self.inner, workflow, declared, self.reading())
    }

    /// Every schedule in the database, by name.
    fn list_schedules(&self, py: Python<'_>) -> BindingResult<Vec<PySchedule>> {
        schedule::list(py, &self.inner, self.reading())
    }

    /// The schedule named `name`.
    fn get_schedule(&self, py: Python<'_>, name: String) -> BindingResult<PySchedule> {
        schedule::get(py, &self.inner, name, self.reading())
    }

    /// The id this executor's attempts are recorded under as their worker (see
    /// `TaskAttempt.worker`): host, machine, process id, process start and a random part.
    #[getter]
    fn owner_id(&self) -> &str {
        self.inner.owner_id()
    }

    /// Runs tasks of the registered workflows, for executions started anywhere, until the
    /// executor is shut down (from another thread, or a signal handler) or Ctrl-C, which
    /// shuts it down gracefully and re-raises `KeyboardInterrupt`.
    ///
    /// This is the worker-only mode: `python -m cloacina worker` runs it.
    fn serve(&self, py: Python<'_>) -> PyResult<()> {
        let executor = self.inner.clone();
        if let Err(interrupted) = block_on_interruptibly(py, async move { executor.closed().await }) {
            self.shutdown(py)?;
            return Err(interrupted);
        }
        Ok(())
    }

    /// Serves the web page for executions (and its JSON API) over this executor's database
    /// until Ctrl-C, which stops it and re-raises `KeyboardInterrupt`, or until the executor
    /// shuts down. `ready` is called with the page's address once it listens.
    // The port is written as a literal so that Python's signature shows it (the assertion at the top
    // keeps it the page's default).
    #[pyo3(signature = (*, host = "127.0.0.1", port = 8490, read_only = false, token = None, ready = None))]
    fn serve_ui(
        &self,
        py: Python<'_>,
        host: &str,
        port: u16,
        read_only: bool,
        token: Option<String>,
        ready: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let serving = crate::api::ui::Serving { host: host.to_owned(), port, read_only, token, ready };
        crate::api::ui::serve(py, self.inner.clone(), serving)
    }

    /// Stops the executor: no new task starts, running tasks may finish (up to
    /// `shutdown_timeout`), what they did is recorded, and tasks still running then are handed
    /// back to other workers. Calling it again does nothing. Ctrl-C stops the wait: running
    /// tasks are handed back at once, and `KeyboardInterrupt` raised.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let started = std::time::Instant::now();
        let executor = self.inner.clone();
        if let Err(interrupted) = block_on_interruptibly(py, async move { executor.shutdown().await }) {
            exit::hurry();
            let executor = self.inner.clone();
            block_on(py, async move { executor.shutdown_now().await });
            return Err(interrupted);
        }
        // Stopped attempts of plain functions go on in their threads until they return: they
        // get what is left of the same time (they see `context.cancelled`).
        let grace = self.inner.config().shutdown_timeout.saturating_sub(started.elapsed());
        if calls::wait_interruptibly(py, |_| true, grace).is_err() {
            exit::hurry();
        }
        Ok(())
    }

    /// Stops the executor like `shutdown`; returns an awaitable.
    fn shutdown_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let executor = self.inner.clone();
        awaitable(py, async move {
            executor.shutdown().await;
            let grace = executor.config().shutdown_timeout;
            let _ = tokio::task::spawn_blocking(move || calls::wait_until_none(grace)).await;
            Ok::<_, PyErr>(())
        })
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let executor = slf.clone().unbind();
        awaitable(slf.py(), async move { Ok::<_, PyErr>(executor) })
    }

    #[pyo3(signature = (_exception_type = None, _exception = None, _traceback = None))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exception_type: Option<&Bound<'py, PyAny>>,
        _exception: Option<&Bound<'py, PyAny>>,
        _traceback: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.shutdown_async(py)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (_exception_type = None, _exception = None, _traceback = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exception_type: Option<&Bound<'_, PyAny>>,
        _exception: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.shutdown(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (database, owner) = (quoted(py, self.inner.database())?, quoted(py, self.inner.owner_id())?);
        Ok(format!("UnifiedExecutor({database}, owner={owner})"))
    }
}

/// How long the task that unbinds a started execution's loop keeps its executor alive at a time.
const UNBIND_CHECK: Duration = Duration::from_secs(5);

/// Forgets a started execution's loop once the execution has finished, or once its executor is
/// gone (without keeping the executor alive meanwhile for longer than [`UNBIND_CHECK`]).
async fn unbind_when_finished(executor: WeakExecutor, execution_id: Uuid) {
    while let Some(executor) = executor.upgrade() {
        tokio::select! {
            finished = executor.finished(execution_id, Some(UNBIND_CHECK)) => {
                if !matches!(finished, Err(cloacina::ExecutorError::WaitTimeout { .. })) {
                    break;
                }
            }
            _ = executor.closed() => break,
        }
    }
    loops::unbind(execution_id);
}

/// Ends the span of a started execution once the execution has finished (or once its executor
/// is gone, without its outcome).
async fn end_when_finished(executor: WeakExecutor, execution_id: Uuid) {
    while let Some(executor) = executor.upgrade() {
        tokio::select! {
            finished = executor.finished(execution_id, Some(UNBIND_CHECK)) => {
                if matches!(finished, Err(cloacina::ExecutorError::WaitTimeout { .. })) {
                    continue;
                }
                match executor.get_execution(execution_id).await {
                    Ok(result) => spans::finish(execution_id, Ok(&result)).await,
                    Err(error) => spans::finish(execution_id, Err(error.to_string())).await,
                }
                return;
            }
            _ = executor.closed() => break,
        }
    }
    let stopped = "the executor stopped before the execution finished".to_owned();
    spans::finish(execution_id, Err(stopped)).await;
}

/// The parts of an execution request, checked.
fn request(
    workflow: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
    on_event: Option<Py<PyAny>>,
    key: Option<String>,
) -> BindingResult<awaiting::Request> {
    let origin = awaiting::Origin::Start {
        workflow: PyUnifiedExecutor::workflow_ref(workflow)?,
        context: Box::new(PyContext::from_argument(context)?),
        key,
        start_at: None,
    };
    finish_request(workflow.py(), origin, timeout, on_event)
}

/// When a started execution's first tasks may start: at `at` (an aware `datetime`), or
/// `delay` seconds from now; `None` for now.
fn start_time(
    at: Option<&Bound<'_, PyAny>>,
    delay: Option<f64>,
) -> BindingResult<Option<chrono::DateTime<chrono::Utc>>> {
    let at = at.filter(|value| !value.is_none());
    match (at, delay) {
        (Some(_), Some(_)) => Err(error(ErrorKind::Validation, "give `at` or `delay`, not both").into()),
        (Some(at), None) => {
            // Any aware datetime (a `zoneinfo` zone too), as the instant it names.
            let aware = at.is_instance_of::<pyo3::types::PyDateTime>()
                && at.call_method0("utcoffset").is_ok_and(|offset| !offset.is_none());
            let utc = at.py().import("datetime")?.getattr("timezone")?.getattr("utc")?;
            let time: Option<chrono::DateTime<chrono::Utc>> =
                if aware { at.call_method1("astimezone", (utc,))?.extract().ok() } else { None };
            match time {
                Some(time) => Ok(Some(time)),
                None => Err(error(
                    ErrorKind::Validation,
                    format!(
                        "`at` is {}; give a timezone-aware datetime, such as \
                         `datetime.now(timezone.utc) + timedelta(hours=1)`",
                        at.repr().map_or_else(|_| "not a datetime".to_owned(), |text| text.to_string())
                    ),
                )
                .into()),
            }
        }
        (None, Some(delay)) => {
            let delay = seconds("delay", delay)?;
            let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            Ok(Some(chrono::Utc::now() + delay))
        }
        (None, None) => Ok(None),
    }
}

/// The parts of a re-run request, checked.
fn rerun_request(
    execution_id: &Bound<'_, PyAny>,
    timeout: Option<f64>,
    on_event: Option<Py<PyAny>>,
) -> BindingResult<awaiting::Request> {
    let origin = awaiting::Origin::Rerun { source: parse_execution_id(execution_id)? };
    finish_request(execution_id.py(), origin, timeout, on_event)
}

/// A request from its origin, with its timeout and event callback checked.
fn finish_request(
    py: Python<'_>,
    origin: awaiting::Origin,
    timeout: Option<f64>,
    on_event: Option<Py<PyAny>>,
) -> BindingResult<awaiting::Request> {
    if let Some(callback) = &on_event
        && !callback.bind(py).is_callable()
    {
        return Err(error(ErrorKind::Validation, "on_event must be callable").into());
    }
    let timeout = timeout.map(|value| seconds("timeout", value)).transpose()?;
    Ok(awaiting::Request::new(py, origin, timeout, on_event.map(Arc::new)))
}
