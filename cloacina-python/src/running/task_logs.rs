//! Keeping what a Python task logs: each attempt's log (`cloacina::logs`) handed to the hooks in
//! `cloacina._logs` through a context variable set while the task's code runs.
//!
//! A plain function runs with the variable set on its thread for the length of the call; a
//! coroutine runs in a copy of its loop's context with the variable set, so what it logs is
//! kept whichever loop runs it, and the caller's own context variables are left alone.

use chrono::{TimeZone, Utc};
use cloacina::{Attempt, AttemptLog, LogLevel, LogRecord};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::api::task::TaskSpec;
use crate::executor_set::ExecutorSet;

/// This process's executors made with `log_prints=True`.
static PRINT_KEEPERS: ExecutorSet = ExecutorSet::new();

/// Makes the executor with id `owner_id` keep its tasks' `print`s (unless a task says not to).
pub fn keep_prints_for(owner_id: &str) {
    PRINT_KEEPERS.insert(owner_id);
}

/// What the hooks of `cloacina._logs` get for an attempt: where its records go, and the
/// attributes records made in the task carry.
#[pyclass(module = "cloacina", name = "_TaskLogCapture", frozen)]
pub struct TaskLogCapture {
    log: AttemptLog,
    /// The least severe level kept.
    #[pyo3(get)]
    level: u32,
    /// Whether `print`s are kept.
    #[pyo3(get)]
    log_prints: bool,
    /// The execution's id.
    #[pyo3(get)]
    execution_id: String,
    /// The workflow's name.
    #[pyo3(get)]
    workflow: String,
    /// The task's id.
    #[pyo3(get)]
    task_id: String,
    /// The attempt, counting from 1.
    #[pyo3(get)]
    attempt: u32,
}

#[pymethods]
impl TaskLogCapture {
    /// Keeps a record (`time` in seconds since the epoch, as `LogRecord.created`).
    fn keep(&self, time: f64, level: u32, level_name: String, logger: String, message: String) {
        let micros = (time * 1_000_000.0).round() as i64;
        let time = Utc.timestamp_micros(micros).single().unwrap_or_else(Utc::now);
        self.log.push(LogRecord { time, level: LogLevel(level), level_name, logger, message });
    }
}

/// The capture of the attempt `attempt` runs, or `None` when its log keeps nothing.
pub fn capture<'py>(py: Python<'py>, spec: &TaskSpec, attempt: &Attempt) -> PyResult<Option<Bound<'py, PyAny>>> {
    let level = attempt.log.level();
    if level == LogLevel::OFF {
        return Ok(None);
    }
    current(py)?; // Installs the hooks of `cloacina._logs` on first use.
    let log_prints = spec.log_prints.unwrap_or_else(|| PRINT_KEEPERS.contains(&attempt.owner_id));
    let capture = TaskLogCapture {
        log: attempt.log.clone(),
        level: level.0,
        log_prints,
        execution_id: attempt.execution_id.to_string(),
        workflow: attempt.workflow.clone(),
        task_id: attempt.task_id.clone(),
        attempt: attempt.number,
    };
    Ok(Some(Bound::new(py, capture)?.into_any()))
}

/// The context variable `cloacina._logs.CURRENT`, which holds the running attempt's capture;
/// the hooks are installed the first time it is asked for.
fn current(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static CURRENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CURRENT
        .get_or_try_init(py, || {
            let module = py.import("cloacina._logs")?;
            module.call_method0("install")?;
            Ok::<_, PyErr>(module.getattr("CURRENT")?.unbind())
        })
        .map(|current| current.bind(py))
}

/// Makes `capture` the current one on this thread until [`leave`] with the returned token.
pub fn enter<'py>(py: Python<'py>, capture: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    current(py)?.call_method1("set", (capture,))
}

/// Restores what was current before [`enter`].
pub fn leave<'py>(py: Python<'py>, token: &Bound<'py, PyAny>) -> PyResult<()> {
    current(py)?.call_method1("reset", (token,)).map(|_| ())
}

/// A copy of `context` (a `contextvars.Context`) in which `capture` is current, for a coroutine.
pub fn context_with<'py>(
    py: Python<'py>,
    context: &Bound<'py, PyAny>,
    capture: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let copy = context.call_method0("copy")?;
    let set = current(py)?.getattr("set")?;
    copy.call_method1("run", (set, capture))?;
    Ok(copy)
}
