//! Which event loop runs an execution's coroutines.
//!
//! An execution awaited from asyncio code (or started while a loop runs in the caller's thread)
//! is bound to that loop and its context variables; any other execution's coroutines run on
//! the loop the executors own (see `cloacina/_asyncio_bridge.py`). Each loop that can watches
//! an inbox, through which the runtime's workers hand it work without the GIL (see `inbox.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3_async_runtimes::TaskLocals;
use uuid::Uuid;

use crate::bridge::inbox::{self, Inbox};

/// An execution's loop and context variables, the inbox the loop watches if it can, and
/// whether its plain functions run on the loop's thread too (see [`bind_here`]).
struct Binding {
    locals: TaskLocals,
    inbox: Option<Arc<Inbox>>,
    here: bool,
}

static BOUND: Mutex<Option<HashMap<Uuid, Binding>>> = Mutex::new(None);

/// The inbox of the executors' own loop, once that loop watches one.
static OWNED_INBOX: Mutex<Option<Arc<Inbox>>> = Mutex::new(None);

fn bound() -> MutexGuard<'static, Option<HashMap<Uuid, Binding>>> {
    BOUND.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn owned_inbox() -> MutexGuard<'static, Option<Arc<Inbox>>> {
    OWNED_INBOX.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the execution's coroutines on the loop (and in the context) of `locals`, the loop
/// running in this thread.
pub fn bind(py: Python<'_>, execution_id: Uuid, locals: TaskLocals) {
    let inbox = inbox::watched_by(py, locals.event_loop(py).as_any(), true);
    bound().get_or_insert_with(HashMap::new).insert(execution_id, Binding { locals, inbox, here: false });
}

/// Binds the execution like [`bind`], and has its plain (`def`) functions called on the loop's
/// thread as well, one at a time, where the loop watches an inbox: everything the execution
/// runs then runs on the caller's thread (for tests and debugging: `breakpoint()` and
/// tracebacks point into the task).
pub fn bind_here(py: Python<'_>, execution_id: Uuid, locals: TaskLocals) {
    let inbox = inbox::watched_by(py, locals.event_loop(py).as_any(), true);
    bound().get_or_insert_with(HashMap::new).insert(execution_id, Binding { locals, inbox, here: true });
}

/// The inbox of the loop that calls the execution's plain functions, for an execution bound
/// with [`bind_here`] to a loop that watches one.
pub fn here(execution_id: Option<Uuid>) -> Option<Arc<Inbox>> {
    let id = execution_id?;
    bound().as_ref()?.get(&id).filter(|binding| binding.here)?.inbox.clone()
}

/// The inbox through which the execution's coroutines reach their loop, if that loop watches
/// one; taking it needs no GIL.
pub fn inbox(execution_id: Option<Uuid>) -> Option<Arc<Inbox>> {
    if let Some(id) = execution_id
        && let Some(binding) = bound().as_ref().and_then(|map| map.get(&id))
    {
        return binding.inbox.clone();
    }
    owned_inbox().clone()
}

/// The context variables the execution's coroutines run in, on its bound loop: the caller's, or
/// a fresh context for an execution no loop awaits.
pub fn context<'py>(py: Python<'py>, execution_id: Option<Uuid>) -> PyResult<Bound<'py, PyAny>> {
    let bound_context = execution_id
        .and_then(|id| bound().as_ref().and_then(|map| map.get(&id).map(|binding| binding.locals.context(py))));
    match bound_context {
        Some(context) => Ok(context),
        None => py.import("contextvars")?.getattr("Context")?.call0(),
    }
}

/// Whether the execution is bound to a loop.
pub fn is_bound(execution_id: Uuid) -> bool {
    bound().as_ref().is_some_and(|map| map.contains_key(&execution_id))
}

/// Forgets the execution's loop.
pub fn unbind(execution_id: Uuid) {
    if let Some(map) = bound().as_mut() {
        map.remove(&execution_id);
    }
}

/// The loop and context variables the execution's coroutines run in: its bound loop if that is
/// still open, else the executors' own loop with a fresh context.
pub fn for_execution<'py>(
    py: Python<'py>,
    execution_id: Option<Uuid>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let locals =
        execution_id.and_then(|id| bound().as_ref().and_then(|map| map.get(&id).map(|binding| binding.locals.clone())));
    if let Some(locals) = locals {
        let event_loop = locals.event_loop(py);
        if !event_loop.call_method0("is_closed")?.is_truthy()? {
            return Ok((event_loop, locals.context(py)));
        }
    }
    owned(py)
}

/// The executors' own loop, with a fresh context. The loop watches an inbox from then on.
pub fn owned(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    let event_loop = bridge(py, "owned_loop")?.call0()?;
    // Not holding the lock while Python runs: Python may let another thread take the GIL.
    if owned_inbox().as_ref().is_none_or(|inbox| inbox.is_closed()) {
        let inbox = inbox::watched_by(py, &event_loop, false);
        *owned_inbox() = inbox;
    }
    let context = py.import("contextvars")?.getattr("Context")?.call0()?;
    Ok((event_loop, context))
}

/// A function of `cloacina._asyncio_bridge`.
pub fn bridge<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("cloacina._asyncio_bridge").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}
