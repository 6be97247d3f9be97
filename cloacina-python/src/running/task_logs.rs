//! Keeping what a Python task logs: each attempt's log (`cloacina::logs`) handed to the hooks in
//! `cloacina._logs` through a context variable set while the task's code runs.
//!
//! A coroutine runs in a copy of its loop's context with the variable set, so what it logs is
//! kept whichever loop runs it, and the caller's own context variables are left alone. A plain
//! function's call costs less: what its capture needs is noted on its thread for the length of
//! the call, and the capture is made only if the function logs (or prints) anything; the hooks
//! ask `_task_log_capture`, which looks on the thread first, then in the variable.

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
    if attempt.log.level() == LogLevel::OFF {
        return Ok(None);
    }
    current(py)?; // Installs the hooks of `cloacina._logs` on first use.
    Pending::of(spec, attempt).make(py).map(Some)
}

/// What a capture is made of, noted for a plain function's call until it logs.
struct Pending {
    log: AttemptLog,
    log_prints: Option<bool>,
    owner_id: std::sync::Arc<str>,
    execution_id: uuid::Uuid,
    workflow: String,
    task_id: String,
    attempt: u32,
    /// The capture, once made.
    made: Option<Py<PyAny>>,
}

impl Pending {
    fn of(spec: &TaskSpec, attempt: &Attempt) -> Self {
        Self {
            log: attempt.log.clone(),
            log_prints: spec.log_prints,
            owner_id: std::sync::Arc::clone(&attempt.owner_id),
            execution_id: attempt.execution_id,
            workflow: attempt.workflow.clone(),
            task_id: attempt.task_id.clone(),
            attempt: attempt.number,
            made: None,
        }
    }

    fn make<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let capture = TaskLogCapture {
            log: self.log.clone(),
            level: self.log.level().0,
            log_prints: self.log_prints.unwrap_or_else(|| PRINT_KEEPERS.contains(&self.owner_id)),
            execution_id: self.execution_id.to_string(),
            workflow: self.workflow.clone(),
            task_id: self.task_id.clone(),
            attempt: self.attempt,
        };
        Ok(Bound::new(py, capture)?.into_any())
    }

    fn capture(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(made) = &self.made {
            return Ok(made.clone_ref(py));
        }
        let made = self.make(py)?.unbind();
        self.made = Some(made.clone_ref(py));
        Ok(made)
    }
}

thread_local! {
    /// The attempts whose plain functions run on this thread, innermost last (a function may
    /// run another execution's task in place).
    static CALLS: std::cell::RefCell<Vec<Pending>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes, for the length of a plain function's call on this thread, the attempt whose capture
/// the hooks make if it logs; `None` (nothing noted) when its log keeps nothing.
pub fn enter_call(py: Python<'_>, spec: &TaskSpec, attempt: &Attempt) -> PyResult<Option<CallNoted>> {
    if attempt.log.level() == LogLevel::OFF {
        return Ok(None);
    }
    current(py)?; // Installs the hooks of `cloacina._logs` on first use.
    CALLS.with(|calls| calls.borrow_mut().push(Pending::of(spec, attempt)));
    Ok(Some(CallNoted { _not_send: std::marker::PhantomData }))
}

/// Ends what [`enter_call`] noted when dropped (on the same thread).
pub struct CallNoted {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl CallNoted {
    /// The capture of the noted attempt, made now if it was not yet.
    pub fn capture<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        CALLS.with(|calls| match calls.borrow_mut().last_mut() {
            Some(pending) => pending.capture(py).map(|made| made.into_bound(py)),
            None => Err(pyo3::exceptions::PyRuntimeError::new_err("no task call is noted on this thread")),
        })
    }
}

impl Drop for CallNoted {
    fn drop(&mut self) {
        // The capture made, if any, is dropped with it; that takes the GIL, which the call's
        // thread holds here.
        let pending = CALLS.with(|calls| calls.borrow_mut().pop());
        drop(pending);
    }
}

/// `cloacina._native._task_log_capture()`: the capture of the attempt whose code runs here (a
/// plain function's call on this thread, else the coroutine whose context this is), or `None`.
#[pyfunction]
#[pyo3(name = "_task_log_capture")]
pub fn task_log_capture(py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
    let noted = CALLS.with(|calls| calls.borrow_mut().last_mut().map(|pending| pending.capture(py)));
    if let Some(capture) = noted {
        return capture.map(Some);
    }
    let value = current(py)?.call_method0("get")?;
    Ok((!value.is_none()).then(|| value.unbind()))
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
