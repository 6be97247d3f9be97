//! Tracing spans for executions and their attempts, made by `cloacina._tracing` with
//! OpenTelemetry when a tracer provider is configured. An execution started untraced stores no
//! trace context, and its attempts make no span: that check is all tracing costs otherwise. A
//! failure to trace is reported as unraisable and never fails the execution or the task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use cloacina::{Attempt, ExecutionResult};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use uuid::Uuid;

use crate::running::calls::CallOf;
use crate::running::python_pool;

/// The module `cloacina._tracing`.
fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MODULE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("cloacina._tracing")?.into_any().unbind()))
        .map(|m| m.bind(py))
}

/// The value, or `None` with the error reported as unraisable.
fn reported<T>(py: Python<'_>, result: PyResult<T>) -> Option<T> {
    result.map_err(|error| error.write_unraisable(py, None)).ok()
}

/// An execution's span, ended once the execution has.
pub struct ExecutionSpan {
    span: Py<PyAny>,
    /// The trace context to store with the execution.
    pub trace_context: String,
}

/// Starts the span of an execution of `name` (a workflow's name, or what a re-run re-runs),
/// when tracing is configured.
pub fn begin_execution(py: Python<'_>, name: &str, execution_id: Uuid) -> Option<ExecutionSpan> {
    let begun =
        reported(py, module(py).and_then(|m| m.call_method1("begin_execution", (name, execution_id.to_string()))))?;
    if begun.is_none() {
        return None;
    }
    let (span, trace_context): (Py<PyAny>, String) = reported(py, begun.extract())?;
    Some(ExecutionSpan { span, trace_context })
}

impl ExecutionSpan {
    /// Ends the span with the execution's outcome: its result, or the error that ended the
    /// wait for it. Takes the GIL on a pool thread.
    pub async fn end(self, outcome: Result<&ExecutionResult, String>) {
        let (workflow, status, error) = match outcome {
            Ok(result) => (Some(result.workflow_name.clone()), result.status.as_str().to_owned(), result.error.clone()),
            Err(error) => (None, "Failed".to_owned(), Some(error)),
        };
        let span = self.span;
        let _ = python_pool::spawn(CallOf::default(), move |py| {
            reported(py, module(py).and_then(|m| m.call_method1("end_execution", (span, workflow, status, error))));
        })
        .await;
    }
}

/// The span of a started execution, ended once: by whichever sees the execution end first (a
/// wait for its result, or the task that watches it). The other waits on the lock until that
/// end is done, so that a wait returns only once the span has ended.
type HeldSpan = Arc<tokio::sync::Mutex<Option<ExecutionSpan>>>;

/// Spans of started executions that have not ended yet, by execution.
static STARTED: Mutex<Option<HashMap<Uuid, HeldSpan>>> = Mutex::new(None);

fn started() -> MutexGuard<'static, Option<HashMap<Uuid, HeldSpan>>> {
    STARTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps the span of a started execution until [`finish`].
pub fn hold(execution_id: Uuid, span: ExecutionSpan) {
    started().get_or_insert_with(HashMap::new).insert(execution_id, Arc::new(tokio::sync::Mutex::new(Some(span))));
}

/// Ends the span of a started execution, if it is still held, with the execution's outcome; if
/// another caller is ending it, returns once that caller has. Whoever holds the lock forgets
/// the execution afterwards, so that an end cut short (a wait interrupted by Ctrl-C) leaves no
/// entry behind once the other caller has come.
pub async fn finish(execution_id: Uuid, outcome: Result<&ExecutionResult, String>) {
    let held = started().as_ref().and_then(|spans| spans.get(&execution_id).cloned());
    let Some(held) = held else {
        return;
    };
    let mut slot = held.lock().await;
    if let Some(span) = slot.take() {
        span.end(outcome).await;
    }
    if let Some(spans) = started().as_mut() {
        spans.remove(&execution_id);
    }
}

/// Starts the span of an attempt of an execution started traced, when this process traces.
pub fn begin_attempt<'py>(py: Python<'py>, attempt: &Attempt) -> Option<Bound<'py, PyAny>> {
    let trace_context = attempt.trace_context.as_deref()?;
    let arguments =
        (trace_context, &attempt.workflow, &attempt.task_id, attempt.number, attempt.execution_id.to_string());
    let span = reported(py, module(py).and_then(|m| m.call_method1("begin_attempt", arguments)))?;
    (!span.is_none()).then_some(span)
}

/// An attempt of a task that runs without Python (a Rust task), timed to be recorded as a span
/// once it has ended.
pub struct TimedAttempt {
    trace_context: std::sync::Arc<str>,
    workflow: String,
    task_id: String,
    number: u32,
    execution_id: Uuid,
    started: u64,
}

/// Nanoseconds since the Unix epoch, as OpenTelemetry times spans.
fn now_nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64)
}

/// Starts timing an attempt of an execution started traced (no Python involved).
pub fn time_attempt(attempt: &Attempt) -> Option<TimedAttempt> {
    Some(TimedAttempt {
        trace_context: std::sync::Arc::clone(attempt.trace_context.as_ref()?),
        workflow: attempt.workflow.clone(),
        task_id: attempt.task_id.clone(),
        number: attempt.number,
        execution_id: attempt.execution_id,
        started: now_nanos(),
    })
}

impl TimedAttempt {
    /// Records the attempt's span now that it has ended, with its error if it failed (taking the
    /// GIL on a pool thread).
    pub async fn record(self, error: Option<String>) {
        let ended = now_nanos();
        let _ = python_pool::spawn(CallOf::default(), move |py| {
            let arguments = (
                &*self.trace_context,
                self.workflow,
                self.task_id,
                self.number,
                self.execution_id.to_string(),
                self.started,
                ended,
                error,
            );
            reported(py, module(py).and_then(|m| m.call_method1("record_attempt", arguments)));
        })
        .await;
    }
}

/// Makes an attempt's span current on this thread until [`leave`].
pub fn enter<'py>(py: Python<'py>, span: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    reported(py, module(py).and_then(|m| m.call_method1("enter", (span,))))
}

/// Restores what was current before [`enter`].
pub fn leave<'py>(py: Python<'py>, token: &Bound<'py, PyAny>) {
    reported(py, module(py).and_then(|m| m.call_method1("leave", (token,))));
}

/// Ends an attempt's span, with the attempt's error if it failed.
pub fn end_attempt<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, error: Option<String>) {
    reported(py, module(py).and_then(|m| m.call_method1("end_attempt", (span, error))));
}

/// An `async def` task's coroutine wrapped so that its attempt's span is current while it runs
/// and ends with it; the coroutine itself if wrapping fails.
pub fn traced<'py>(py: Python<'py>, coroutine: Bound<'py, PyAny>, span: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    match module(py).and_then(|m| m.call_method1("traced", (&coroutine, span))) {
        Ok(wrapped) => wrapped,
        Err(error) => {
            error.write_unraisable(py, None);
            end_attempt(py, span, None);
            coroutine
        }
    }
}
