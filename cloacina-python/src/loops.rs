//! Which event loop runs an execution's coroutines.
//!
//! An execution awaited from asyncio code (or started while a loop runs in the caller's thread)
//! is bound to that loop and its context variables; any other execution's coroutines run on
//! the loop the executors own (see `cloacina/_asyncio_bridge.py`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3_async_runtimes::TaskLocals;
use uuid::Uuid;

static BOUND: Mutex<Option<HashMap<Uuid, TaskLocals>>> = Mutex::new(None);

fn bound() -> MutexGuard<'static, Option<HashMap<Uuid, TaskLocals>>> {
    BOUND.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the execution's coroutines on the loop (and in the context) of `locals`.
pub fn bind(execution_id: Uuid, locals: TaskLocals) {
    bound().get_or_insert_with(HashMap::new).insert(execution_id, locals);
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
    let locals = execution_id.and_then(|id| bound().as_ref().and_then(|map| map.get(&id).cloned()));
    if let Some(locals) = locals {
        let event_loop = locals.event_loop(py);
        if !event_loop.call_method0("is_closed")?.is_truthy()? {
            return Ok((event_loop, locals.context(py)));
        }
    }
    owned(py)
}

/// The executors' own loop, with a fresh context.
pub fn owned(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    let event_loop = bridge(py, "owned_loop")?.call0()?;
    let context = py.import("contextvars")?.getattr("Context")?.call0()?;
    Ok((event_loop, context))
}

/// A function of `cloacina._asyncio_bridge`.
pub fn bridge<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("cloacina._asyncio_bridge").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}
