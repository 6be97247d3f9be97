//! Rust futures as Python awaitables.
//!
//! The future runs on the tokio runtime. Its result is handed to the awaiting event loop through
//! the loop's inbox (see `inbox.rs`), so that the loop's own thread sets it without another
//! thread taking the GIL; a loop without an inbox gets it from a pool thread counted in `calls`,
//! so that `atexit` can wait for that hand-over before the interpreter finalizes. Cancelling the
//! Python future drops the Rust one.

use std::future::Future;
use std::sync::{Arc, Mutex};

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::bridge::inbox::{self, Job, Place};
use crate::running::python_pool;
use crate::running::runtime::runtime;

/// Returns a future of the running loop that completes with `future`'s output.
///
/// The error is turned into a Python exception only on the completing thread, with the GIL.
pub fn awaitable<'py, F, T, E>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
    E: Into<PyErr> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let inbox = inbox::watched_by(py, &event_loop, true);
    let py_future = event_loop.call_method0("create_future")?;
    let (cancelled_sender, cancelled) = oneshot::channel::<()>();
    py_future.call_method1("add_done_callback", (OnDone { cancelled: Mutex::new(Some(cancelled_sender)) },))?;
    let target = Arc::new((event_loop.unbind(), py_future.clone().unbind()));
    runtime().spawn(async move {
        let output = tokio::select! {
            output = future => output,
            // The awaiting side cancelled: dropping `future` stops it.
            _ = cancelled => return,
        };
        let deliver: Job = Box::new(move |py, place| {
            let (event_loop, py_future) = &*target;
            let outcome = output.map_err(Into::into).and_then(|value| value.into_py_any(py));
            let complete = Complete { future: py_future.clone_ref(py), outcome: Mutex::new(Some(outcome)) };
            match place {
                Place::Loop(_) => {
                    if let Err(error) = complete.__call__(py) {
                        error.write_unraisable(py, None);
                    }
                }
                Place::Anywhere => {
                    // A closed loop has no one waiting any more.
                    let _ = event_loop.call_method1(py, "call_soon_threadsafe", (complete,));
                }
            }
        });
        let undelivered = match inbox {
            Some(inbox) => inbox.push(deliver).err(),
            None => Some(deliver),
        };
        if let Some(deliver) = undelivered {
            python_pool::run_detached(move |py| deliver(py, Place::Anywhere));
        }
    });
    Ok(py_future)
}

/// The Python future's done callback: reports a cancellation to the Rust side.
#[pyclass(module = "cloacina", name = "_OnDone", frozen)]
struct OnDone {
    cancelled: Mutex<Option<oneshot::Sender<()>>>,
}

#[pymethods]
impl OnDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()?
            && let Some(sender) = self.cancelled.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
        {
            let _ = sender.send(());
        }
        Ok(())
    }
}

/// Sets the Python future's result or exception, on the loop's thread.
#[pyclass(module = "cloacina", name = "_Complete", frozen)]
struct Complete {
    future: Py<PyAny>,
    outcome: Mutex<Option<PyResult<Py<PyAny>>>>,
}

#[pymethods]
impl Complete {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let future = self.future.bind(py);
        let outcome = self.outcome.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let Some(outcome) = outcome else { return Ok(()) };
        if future.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        match outcome {
            Ok(value) => future.call_method1("set_result", (value,))?,
            Err(error) => future.call_method1("set_exception", (error.into_value(py),))?,
        };
        Ok(())
    }
}
