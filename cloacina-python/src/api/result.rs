//! `cloacina.ExecutionResult`, `cloacina.TaskResult` and `cloacina.ExecutionSummary`.

use chrono::{DateTime, Utc};
use cloacina::{ExecutionResult, ExecutionStatus, ExecutionSummary, TaskResult, TaskStatus};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::api::context::PyContext;
use crate::api::logs::{self, PyLogEntry};
use crate::api::timeline::{self, PyTaskAttempt};
use crate::exceptions::{ErrorKind, class};
use crate::running::python_task::TRACEBACK_SEPARATOR;
use crate::values::{Reading, quoted};

/// `cloacina.ExecutionStatus(value)`: the Python `str` enum.
pub fn execution_status(py: Python<'_>, status: ExecutionStatus) -> PyResult<Bound<'_, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CLASS.import(py, "cloacina._enums", "ExecutionStatus")?.call1((status.as_str(),))
}

/// `cloacina.TaskStatus(value)`: the Python `str` enum.
pub fn task_status(py: Python<'_>, status: TaskStatus) -> PyResult<Bound<'_, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CLASS.import(py, "cloacina._enums", "TaskStatus")?.call1((status.as_str(),))
}

fn seconds_between(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<f64> {
    let elapsed = end? - start?;
    elapsed.to_std().ok().map(|duration| duration.as_secs_f64())
}

/// What an execution became (or is, for a snapshot of a running one).
#[pyclass(module = "cloacina", name = "ExecutionResult", frozen)]
pub struct PyExecutionResult {
    pub(crate) inner: ExecutionResult,
    /// How the context's values are read back (as the executor that returned it reads them).
    reading: Reading,
}

impl PyExecutionResult {
    /// The result of an execution, whose context reads values back as `reading` says (see
    /// [`Reading::of_executor`]).
    pub fn new(inner: ExecutionResult, reading: Reading) -> Self {
        Self { inner, reading }
    }
}

#[pymethods]
impl PyExecutionResult {
    /// The execution's id.
    #[getter]
    fn execution_id(&self) -> String {
        self.inner.execution_id.to_string()
    }

    /// The workflow it ran.
    #[getter]
    fn workflow_name(&self) -> &str {
        &self.inner.workflow_name
    }

    /// The workflow's content version when the execution was created.
    #[getter]
    fn workflow_version(&self) -> &str {
        &self.inner.workflow_version
    }

    /// `ExecutionStatus`: a `str` enum, equal to `"Completed"`, `"Failed"` or `"Cancelled"` once
    /// finished (`"Pending"` or `"Running"` before).
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        execution_status(py, self.inner.status)
    }

    /// The final context: the initial one with every completed task's writes.
    #[getter]
    fn context(&self) -> PyContext {
        PyContext::wrap(self.inner.context.clone(), self.reading)
    }

    /// The context the execution was started with.
    #[getter]
    fn initial_context(&self) -> PyContext {
        PyContext::wrap(self.inner.initial_context.clone(), self.reading)
    }

    /// One `TaskResult` per task, in the order the tasks run.
    #[getter]
    fn task_results(&self) -> Vec<PyTaskResult> {
        self.inner.task_results.iter().cloned().map(|inner| PyTaskResult { inner, reading: self.reading }).collect()
    }

    /// The first error that failed the execution, or why it was cancelled.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    /// The key it was started under (`execute(..., key=...)`), if any.
    #[getter]
    fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }

    /// For a re-run (`UnifiedExecutor.rerun`), the id of the execution it came from.
    #[getter]
    fn rerun_of(&self) -> Option<String> {
        self.inner.rerun_of.map(|id| id.to_string())
    }

    /// Seconds from creation to the end, once finished.
    #[getter]
    fn duration(&self) -> Option<f64> {
        seconds_between(Some(self.inner.created_at), self.inner.finished_at)
    }

    /// When it was created (UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.created_at
    }

    /// When its first task started (UTC).
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.inner.started_at
    }

    /// When it finished (UTC).
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.inner.finished_at
    }

    /// Writes the execution's timeline to `path` as a Chrome trace (JSON), for the timeline view
    /// of Perfetto (ui.perfetto.dev) or `chrome://tracing`: one row per worker, one slice per
    /// attempt, named after its task, with its number, status, wait and error.
    ///
    /// Raises:
    ///     OSError: The file cannot be written.
    fn write_trace(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        timeline::write_trace(py, &self.inner, path)
    }

    /// The result of one task, or `None` if the workflow has no such task.
    fn task(&self, task_id: &str) -> Option<PyTaskResult> {
        self.inner.task(task_id).cloned().map(|inner| PyTaskResult { inner, reading: self.reading })
    }

    /// Returns the result if the execution completed.
    ///
    /// Raises:
    ///     ExecutionFailedError: It failed; the exception's `result` is this result.
    ///     ExecutionCancelledError: It was cancelled.
    fn raise_for_status<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let (kind, status) = match slf.get().inner.status {
            ExecutionStatus::Failed => (ErrorKind::ExecutionFailed, "failed"),
            ExecutionStatus::Cancelled => (ErrorKind::ExecutionCancelled, "was cancelled"),
            _ => return Ok(slf),
        };
        let inner = &slf.get().inner;
        let detail = inner.error.as_deref().map(|error| format!(": {error}")).unwrap_or_default();
        let message = format!("execution `{}` of `{}` {status}{detail}", inner.execution_id, inner.workflow_name);
        let exception = class(py, kind)?.call1((message,))?;
        exception.setattr("result", &slf)?;
        Err(PyErr::from_value(exception))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ExecutionResult(execution_id='{}', workflow_name={}, status={}, tasks={})",
            self.inner.execution_id,
            quoted(py, &self.inner.workflow_name)?,
            quoted(py, self.inner.status.as_str())?,
            self.inner.task_results.len()
        ))
    }
}

/// What happened to one task of an execution.
#[pyclass(module = "cloacina", name = "TaskResult", frozen)]
pub struct PyTaskResult {
    inner: TaskResult,
    /// How its output's values are read back (as its execution result's context is).
    reading: Reading,
}

impl PyTaskResult {
    fn headline(&self) -> Option<&str> {
        let error = self.inner.error.as_deref()?;
        Some(error.split(TRACEBACK_SEPARATOR).next().unwrap_or(error))
    }

    /// The headline split into the exception's class and its message. A failure that was not an
    /// exception (a timeout, a bad return value: `task timed out after 2s`) has no class, and
    /// the whole headline is its message.
    fn headline_parts(&self) -> Option<(Option<&str>, &str)> {
        let headline = self.headline()?;
        Some(match headline.split_once(": ") {
            Some((class, message)) if is_class_name(class) => (Some(class), message),
            _ if is_class_name(headline) => (Some(headline), ""),
            _ => (None, headline),
        })
    }
}

/// Whether `text` reads as a (dotted) Python class name, as an exception's headline starts.
fn is_class_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            part.chars().next().is_some_and(|first| first.is_alphabetic() || first == '_')
                && part.chars().all(|character| character.is_alphanumeric() || character == '_')
        })
}

#[pymethods]
impl PyTaskResult {
    /// The task's id.
    #[getter]
    fn task_id(&self) -> &str {
        &self.inner.task_id
    }

    /// The ids of the tasks it depends on.
    #[getter]
    fn dependencies(&self) -> Vec<String> {
        self.inner.dependencies.clone()
    }

    /// `TaskStatus`: a `str` enum (`"Completed"`, `"Failed"`, `"Skipped"`, `"Cancelled"`, ...).
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        task_status(py, self.inner.status)
    }

    /// Attempts so far, not counting starts abandoned by a worker that stopped.
    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// For an instance of a mapped task (task id `task[index]`), its index; else `None`.
    #[getter]
    fn map_index(&self) -> Option<u32> {
        self.inner.map_index
    }

    /// Starts abandoned by a worker that stopped renewing its lease (and run again).
    #[getter]
    fn recoveries(&self) -> u32 {
        self.inner.recoveries
    }

    /// When it first became ready to run (UTC): its dependencies had finished and its trigger
    /// rule held.
    #[getter]
    fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.inner.ready_at
    }

    /// When its latest attempt started (UTC).
    #[getter]
    fn started_at(&self) -> Option<DateTime<Utc>> {
        self.inner.started_at
    }

    /// When it reached its final state (UTC).
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.inner.finished_at
    }

    /// Seconds from when it became ready to when its first attempt started: how long it waited
    /// for a worker.
    #[getter]
    fn wait(&self) -> Option<f64> {
        self.inner.wait().map(|wait| wait.as_secs_f64())
    }

    /// The worker that ran its latest attempt: its executor's `owner_id`.
    #[getter]
    fn worker(&self) -> Option<&str> {
        self.inner.worker()
    }

    /// Every start, in order, as `TaskAttempt` objects: when, on which worker, how it ended.
    #[getter]
    fn attempt_history(&self) -> Vec<PyTaskAttempt> {
        timeline::attempts(&self.inner.attempt_history)
    }

    /// Seconds its latest attempt took.
    #[getter]
    fn duration(&self) -> Option<f64> {
        seconds_between(self.inner.started_at, self.inner.finished_at)
    }

    /// The error of its latest failed attempt: `"{type}: {message}"`, then its traceback.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    /// The exception's class name, e.g. `"ValueError"`; `None` without an error, or when the
    /// failure was not an exception (a timeout, a bad return value).
    #[getter]
    fn error_type(&self) -> Option<&str> {
        self.headline_parts()?.0
    }

    /// The exception's message, or the whole error of a failure that was not an exception
    /// (`None` without an error).
    #[getter]
    fn error_message(&self) -> Option<&str> {
        Some(self.headline_parts()?.1)
    }

    /// What it wrote, once it has completed: a `Context` of the keys it wrote, with their
    /// values (`None` before, and for a task that did not complete).
    #[getter]
    fn output(&self) -> Option<PyContext> {
        Some(PyContext::wrap(self.inner.output.clone()?, self.reading))
    }

    /// What its attempts logged while they ran: `LogEntry` objects, attempt by attempt (see
    /// the executor's `task_log_level` and the task's `log_level` and `log_prints`).
    #[getter]
    fn logs(&self) -> Vec<PyLogEntry> {
        logs::entries(&self.inner.logs)
    }

    /// The Python traceback of the failed attempt, if it raised.
    #[getter]
    fn traceback(&self) -> Option<String> {
        let error = self.inner.error.as_deref()?;
        let (_, body) = error.split_once(TRACEBACK_SEPARATOR)?;
        Some(format!("Traceback (most recent call last):\n{body}"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TaskResult(task_id={}, status={}, attempts={})",
            quoted(py, &self.inner.task_id)?,
            quoted(py, self.inner.status.as_str())?,
            self.inner.attempts
        ))
    }
}

/// One execution in a listing.
#[pyclass(module = "cloacina", name = "ExecutionSummary", frozen)]
pub struct PyExecutionSummary {
    pub(crate) inner: ExecutionSummary,
}

#[pymethods]
impl PyExecutionSummary {
    /// The execution's id.
    #[getter]
    fn execution_id(&self) -> String {
        self.inner.execution_id.to_string()
    }

    /// The workflow it runs.
    #[getter]
    fn workflow_name(&self) -> &str {
        &self.inner.workflow_name
    }

    /// Its `ExecutionStatus`.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        execution_status(py, self.inner.status)
    }

    /// Its first error, if it failed.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    /// When it was created (UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.created_at
    }

    /// When it finished (UTC).
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.inner.finished_at
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ExecutionSummary(execution_id='{}', workflow_name={}, status={})",
            self.inner.execution_id,
            quoted(py, &self.inner.workflow_name)?,
            quoted(py, self.inner.status.as_str())?
        ))
    }
}
