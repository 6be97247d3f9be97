//! Ctrl-C and the interpreter's exit, with task functions that cannot be stopped.
//!
//! A plain `def` task runs in a thread and cannot be interrupted: it should return when
//! `context.cancelled` turns true. One that does not would keep the process from exiting, or
//! (woken while the interpreter finalizes) abort it. So:
//!
//! - Ctrl-C while `execute` waits cancels the execution, then waits for the execution's task
//!   functions still running, saying on stderr which, for at most `shutdown_timeout`; a second
//!   Ctrl-C stops that wait.
//! - At exit, executors still running are shut down: running tasks may finish, up to their
//!   `shutdown_timeout` (stderr says which it waits for; Ctrl-C stops waiting), the rest are
//!   handed back to other workers. If task functions are still running then, the process ends
//!   at once, as the interpreter's exit would have ended it (flushing output, with the same
//!   status), without finalizing the interpreter around them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cloacina::UnifiedExecutor;
use pyo3::prelude::*;
use uuid::Uuid;

use crate::bridge::loops;
use crate::running::calls::{self, CallOf};
use crate::running::python_threads;
use crate::running::runtime::{block_on, block_on_interruptibly};

/// Writes a line to stderr; a closed stderr is no reason to fail (least of all at exit).
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($argument)*);
    }};
}

/// Set once a second Ctrl-C asked to stop waiting for task functions: exit then waits for
/// nothing.
static HURRY: AtomicBool = AtomicBool::new(false);

/// How long task functions told to stop get to return before the exit stops waiting for them.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long a cancelled execution's task functions get to return before the wait is announced.
const QUIET_WAIT: Duration = Duration::from_millis(200);

/// How long handing tasks back may take at exit.
const HAND_BACK: Duration = Duration::from_secs(5);

/// Notes that the user asked (with Ctrl-C) to stop waiting for task functions.
pub fn hurry() {
    HURRY.store(true, Ordering::SeqCst);
}

/// `task_id` of execution `id`, for messages.
fn named(tasks: &[(Uuid, String)]) -> String {
    let mut shown: Vec<String> =
        tasks.iter().map(|(execution, task)| format!("`{task}` of execution {execution}")).collect();
    shown.sort();
    shown.dedup();
    shown.join(", ")
}

/// After Ctrl-C cancelled `execution_id`: waits for its task functions still running in this
/// process (they see `context.cancelled`) up to `timeout`, saying on stderr what it waits for; a
/// second Ctrl-C stops the wait.
pub fn wait_for_cancelled(py: Python<'_>, execution_id: Uuid, timeout: Duration) {
    let of_execution = move |call: &CallOf| call.task.as_ref().is_some_and(|(id, _)| *id == execution_id);
    match calls::wait_interruptibly(py, of_execution, QUIET_WAIT) {
        Ok(true) => return,
        Ok(false) => {}
        Err(_) => return hurry(),
    }
    let tasks = calls::running_tasks(Some(execution_id));
    say!(
        "cloacina: execution {execution_id} was cancelled; waiting up to {}s for {} to return (a plain \
         function cannot be interrupted: it returns when it sees `context.cancelled`). Press Ctrl-C again to \
         stop waiting.",
        timeout.as_secs_f64(),
        named(&tasks)
    );
    match calls::wait_interruptibly(py, of_execution, timeout.saturating_sub(QUIET_WAIT)) {
        Ok(true) => {}
        Ok(false) => say!("cloacina: still running after {}s; not waiting any longer", timeout.as_secs_f64()),
        Err(_) => {
            hurry();
            say!("cloacina: not waiting any longer");
        }
    }
}

/// Shuts the executors down at the interpreter's exit (see the module's description). Does not
/// return when task functions are still running at the end: the process ends instead.
pub fn at_exit(py: Python<'_>, executors: Vec<UnifiedExecutor>) {
    python_threads::interpreter_exiting();
    let mut hurried = HURRY.load(Ordering::SeqCst);
    if !hurried {
        let waiting: Vec<(Uuid, String)> = executors.iter().flat_map(UnifiedExecutor::running_attempts).collect();
        if !waiting.is_empty() {
            let longest = executors.iter().map(|executor| executor.config().shutdown_timeout).max().unwrap_or_default();
            say!(
                "cloacina: exiting; waiting up to {}s for running tasks to finish: {}. Press Ctrl-C to stop waiting.",
                longest.as_secs_f64(),
                named(&waiting)
            );
        }
        let stopping = executors.clone();
        let shutdowns = async move { futures::future::join_all(stopping.iter().map(UnifiedExecutor::shutdown)).await };
        if block_on_interruptibly(py, shutdowns).is_err() {
            hurried = true;
        }
    }
    if hurried {
        let shutdowns = async move {
            let now = futures::future::join_all(executors.iter().map(UnifiedExecutor::shutdown_now));
            let _ = tokio::time::timeout(HAND_BACK, now).await;
        };
        block_on(py, shutdowns);
    }
    calls::cancel_all();
    // Calls told to stop get a moment to return; after a second Ctrl-C only a short one.
    let grace = if hurried { Duration::from_millis(100) } else { EXIT_GRACE };
    if !calls::wait_interruptibly(py, |_| true, grace).unwrap_or(false) {
        let tasks = calls::running_tasks(None);
        let what = if tasks.is_empty() { "Python calls of the engine".to_owned() } else { named(&tasks) };
        say!(
            "cloacina: exiting without waiting for task functions still running: {what}; their tasks were handed \
             back to other workers"
        );
        end_process(py);
    }
    // Coroutines left on the executors' own loop are cancelled, and the loop closed.
    if let Err(error) = loops::bridge(py, "close_owned_loop").and_then(|close| close.call0()) {
        error.write_unraisable(py, None);
    }
}

/// Ends the process now, as the interpreter's exit would (see `cloacina/_exit.py`).
fn end_process(py: Python<'_>) {
    let ended = py.import("cloacina._exit").and_then(|module| module.call_method0("end_process"));
    if let Err(error) = ended {
        error.write_unraisable(py, None);
    }
}
