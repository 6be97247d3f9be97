//! Running a Python task function as an engine task.
//!
//! A call runs on a thread of the runtime's blocking pool and holds the GIL only while Python
//! runs. An exception fails the attempt; the task's error then reads
//! `"{type}: {message}\n\n{traceback}"`. A coroutine function's coroutine is run to completion
//! with `asyncio.run` on that thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cloacina::{Context, RetryPolicy, Task, TaskError, TriggerRule};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

use crate::calls;
use crate::context::PyContext;
use crate::convert::{from_python, qualified_name, type_name};
use crate::task::TaskSpec;

/// The separator between an error's first line and its traceback.
pub const TRACEBACK_SEPARATOR: &str = "\n\nTraceback (most recent call last):\n";

/// A Python task as the engine sees it.
pub struct PythonTask {
    spec: Arc<TaskSpec>,
    retry_policy: RetryPolicy,
}

impl PythonTask {
    /// The engine task for a Python task.
    pub fn new(spec: Arc<TaskSpec>) -> Self {
        let retry_policy = spec.retry_policy();
        Self { spec, retry_policy }
    }
}

#[async_trait]
impl Task for PythonTask {
    fn id(&self) -> &str {
        &self.spec.id
    }

    fn dependencies(&self) -> &[String] {
        &self.spec.dependencies
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry_policy.clone()
    }

    fn timeout(&self) -> Option<Duration> {
        self.spec.timeout
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.spec.trigger.clone()
    }

    async fn execute(&self, context: Context) -> Result<Context, TaskError> {
        let spec = Arc::clone(&self.spec);
        let cancelled = Arc::new(AtomicBool::new(false));
        // The engine stops an attempt by dropping this future; the function then sees
        // `context.cancelled` turn true.
        let mut guard = CancelOnDrop { flag: Arc::clone(&cancelled), armed: true };
        let result = tokio::task::spawn_blocking(move || {
            let _in_flight = calls::begin(Arc::clone(&cancelled));
            Python::attach(|py| call(py, &spec, context, cancelled))
        })
        .await
        .unwrap_or_else(|joined| Err(TaskError::Panicked(joined.to_string())));
        guard.armed = false;
        result
    }
}

/// Sets the attempt's cancellation flag if dropped while armed (before the call returned).
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

/// Calls the function with the context and turns what it did into the engine's terms.
fn call(py: Python<'_>, spec: &TaskSpec, context: Context, cancelled: Arc<AtomicBool>) -> Result<Context, TaskError> {
    let py_context =
        Bound::new(py, PyContext::for_attempt(context, cancelled)).map_err(|error| failure(py, spec, &error))?;
    let returned = spec
        .function
        .bind(py)
        .call1((&py_context,))
        .and_then(|returned| finish_coroutine(py, returned))
        .map_err(|error| failure(py, spec, &error))?;
    let mut context = std::mem::take(&mut py_context.borrow_mut().inner);
    if returned.is_none() {
        return Ok(context);
    }
    let Ok(values) = returned.cast::<PyDict>() else {
        return Err(TaskError::permanent(format!(
            "task `{}` returned `{}`; return a dict of context values to set, or None",
            spec.id,
            type_name(&returned)
        )));
    };
    for (key, value) in values.iter() {
        let key: String = key.extract().map_err(|_| {
            TaskError::permanent(format!("task `{}` returned a dict with a key of type `{}`", spec.id, type_name(&key)))
        })?;
        let value = from_python(&key, &value).map_err(|error| failure(py, spec, &error))?;
        context.set(key, value);
    }
    Ok(context)
}

/// Runs a returned coroutine to completion (an `async def` task); other values pass through.
fn finish_coroutine<'py>(py: Python<'py>, returned: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    static IS_COROUTINE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static RUN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let is_coroutine = IS_COROUTINE.import(py, "inspect", "iscoroutine")?;
    if is_coroutine.call1((&returned,))?.is_truthy()? {
        RUN.import(py, "asyncio", "run")?.call1((returned,))
    } else {
        Ok(returned)
    }
}

/// The attempt's failure: the exception's type, message and traceback, retryable unless the
/// task's policy lists the exception classes worth retrying and this is not one of them.
fn failure(py: Python<'_>, spec: &TaskSpec, error: &PyErr) -> TaskError {
    let message = describe_exception(py, error);
    let retryable = match spec.retry.as_ref().and_then(|retry| retry.get().retry_on.as_ref()) {
        Some(classes) if !classes.bind(py).is_empty() => is_instance_of_any(py, error, classes.bind(py)),
        _ => true,
    };
    if retryable { TaskError::new(message) } else { TaskError::permanent(message) }
}

fn is_instance_of_any(py: Python<'_>, error: &PyErr, classes: &Bound<'_, PyTuple>) -> bool {
    error.value(py).is_instance(classes).unwrap_or(false)
}

/// `"{type}: {message}\n\nTraceback (most recent call last):\n..."`.
pub fn describe_exception(py: Python<'_>, error: &PyErr) -> String {
    let value = error.value(py);
    let class = qualified_name(&value.get_type());
    let message = value.str().map(|text| text.to_string()).unwrap_or_default();
    let headline = if message.is_empty() { class } else { format!("{class}: {message}") };
    match format_traceback(py, error) {
        Some(traceback) => format!("{headline}{TRACEBACK_SEPARATOR}{traceback}"),
        None => headline,
    }
}

/// The traceback lines after `Traceback (most recent call last):`, ending with the exception.
fn format_traceback(py: Python<'_>, error: &PyErr) -> Option<String> {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let traceback = error.traceback(py)?;
    let format = FORMAT.import(py, "traceback", "format_exception").ok()?;
    let lines: Vec<String> = format.call1((error.get_type(py), error.value(py), traceback)).ok()?.extract().ok()?;
    let text = lines.concat();
    let body = text.strip_prefix("Traceback (most recent call last):\n").unwrap_or(&text);
    Some(body.trim_end().to_owned())
}
