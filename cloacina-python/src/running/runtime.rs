//! The one tokio runtime of the process, and waiting on it from Python.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a blocked call wakes to let Python handle signals (Ctrl-C).
pub const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// The process-wide tokio runtime, shared with `pyo3_async_runtimes`.
pub fn runtime() -> &'static Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Whether this thread is a worker of a multi-threaded runtime, where `block_in_place` can move
/// the worker's other tasks elsewhere while a call blocks it.
pub fn on_multi_threaded_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Runs `future` to completion without holding the GIL.
///
/// Inside the runtime (a task that calls the executor), the future is driven on the current
/// thread instead: the runtime's own threads keep its timers and I/O going.
pub fn block_on<F>(py: Python<'_>, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        if tokio::runtime::Handle::try_current().is_ok() {
            futures::executor::block_on(future)
        } else {
            runtime().block_on(future)
        }
    })
}

/// Runs `future` to completion without holding the GIL, waking every few tens of milliseconds
/// to let Python handle signals.
///
/// Returns `Err` with the pending exception (usually `KeyboardInterrupt`) if a signal handler
/// raised one; the future is dropped then, and the caller decides what to undo.
pub fn block_on_interruptibly<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let mut future = Box::pin(future);
    loop {
        let step = block_on(py, async { tokio::time::timeout(SIGNAL_CHECK_INTERVAL, &mut future).await });
        match step {
            Ok(output) => return Ok(output),
            Err(_) => py.check_signals()?,
        }
    }
}
