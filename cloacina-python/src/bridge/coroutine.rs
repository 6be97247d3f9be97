//! Running a task's coroutine on its event loop and waiting for it from Rust.
//!
//! What to make of the coroutine's outcome is worked out on the loop's thread as the coroutine
//! ends, while that thread holds the GIL anyway: the waiting side gets the finished value and
//! needs no thread of its own to take the GIL again.

use std::sync::Mutex;

use pyo3::prelude::*;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::bridge::inbox::Place;
use crate::bridge::loops;
use crate::running::task_logs;

/// What a coroutine ended with: its return value or its exception.
pub type CoroutineOutcome = PyResult<Py<PyAny>>;

/// Turns an outcome into what the waiting side receives, on the loop's thread.
pub type Finish = Box<dyn FnOnce(Python<'_>, CoroutineOutcome) + Send>;

/// Called by the event loop when the coroutine's task is done; hands the outcome to Rust.
#[pyclass(module = "cloacina", name = "_CoroutineDone", frozen)]
pub struct CoroutineDone {
    finish: Mutex<Option<Finish>>,
}

#[pymethods]
impl CoroutineDone {
    /// `task` is the finished asyncio task, or `None` if it was cancelled before it started.
    fn __call__(&self, py: Python<'_>, task: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let outcome = match task {
            Some(task) if !task.call_method0("cancelled")?.is_truthy()? => {
                let exception = task.call_method0("exception")?;
                if exception.is_none() {
                    Ok(task.call_method0("result")?.unbind())
                } else {
                    Err(PyErr::from_value(exception))
                }
            }
            _ => Err(cancelled_error(py)),
        };
        let finish = self.finish.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(finish) = finish {
            finish(py, outcome);
        }
        Ok(())
    }
}

/// `asyncio.CancelledError()`.
pub fn cancelled_error(py: Python<'_>) -> PyErr {
    match py.import("asyncio").and_then(|asyncio| asyncio.getattr("CancelledError")).and_then(|class| class.call0()) {
        Ok(error) => PyErr::from_value(error),
        Err(error) => error,
    }
}

/// A coroutine handed to its event loop: resolves with its outcome, or is closed if the loop
/// dropped the coroutine unfinished.
pub type Started = oneshot::Receiver<CoroutineOutcome>;

/// Schedules `coroutine` on the loop of `execution_id` (or the executors' own loop), from any
/// thread.
pub fn start<'py>(
    py: Python<'py>,
    execution_id: Option<Uuid>,
    coroutine: &Bound<'py, PyAny>,
    capture: Option<&Bound<'py, PyAny>>,
) -> PyResult<Started> {
    let (sender, outcome) = oneshot::channel();
    let finish: Finish = Box::new(move |_, outcome| {
        // The attempt may have stopped waiting (cancelled): nothing to tell then.
        let _ = sender.send(outcome);
    });
    submit(py, execution_id, coroutine, Place::Anywhere, capture, finish)?;
    Ok(outcome)
}

/// Schedules `coroutine` for the execution at `place`; `finish` gets its outcome, on the loop's
/// thread as it ends. With a `capture`, the coroutine runs in a copy of the loop's context
/// where that attempt's log capture is current (see `task_logs.rs`). Returns the `Submission`
/// that cancels it.
pub fn submit<'py>(
    py: Python<'py>,
    execution_id: Option<Uuid>,
    coroutine: &Bound<'py, PyAny>,
    place: Place<'_, 'py>,
    capture: Option<&Bound<'py, PyAny>>,
    finish: Finish,
) -> PyResult<Bound<'py, PyAny>> {
    let done = Py::new(py, CoroutineDone { finish: Mutex::new(Some(finish)) })?;
    let logging = |context: Bound<'py, PyAny>| match capture {
        Some(capture) => task_logs::context_with(py, &context, capture),
        None => Ok(context),
    };
    if let Place::Loop(event_loop) = place {
        let context = logging(loops::context(py, execution_id)?)?;
        return loops::bridge(py, "start_here")?.call1((event_loop, context, coroutine, done));
    }
    let submit = loops::bridge(py, "submit")?;
    let (event_loop, context) = loops::for_execution(py, execution_id)?;
    match submit.call1((event_loop, logging(context)?, coroutine, done.clone_ref(py))) {
        Ok(submission) => Ok(submission),
        // The bound loop closed meanwhile: run on the executors' own loop instead.
        Err(error) if error.is_instance_of::<pyo3::exceptions::PyRuntimeError>(py) => {
            let (event_loop, context) = loops::owned(py)?;
            submit.call1((event_loop, logging(context)?, coroutine, done))
        }
        Err(error) => Err(error),
    }
}

/// Waits for a started coroutine without holding the GIL (from a thread outside the runtime).
pub fn wait_blocking(py: Python<'_>, started: Started) -> CoroutineOutcome {
    match py.detach(|| started.blocking_recv()) {
        Ok(outcome) => outcome,
        Err(_) => Err(cancelled_error(py)),
    }
}
