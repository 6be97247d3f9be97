//! Executions as the binding runs them, blocking or awaited: starting under an id chosen first
//! (so an awaiting caller's loop is bound before any task runs), waiting with a timeout,
//! delivering events to a callback, and cancelling what the caller abandons.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cloacina::{
    Context, EventStream, ExecutionHandle, ExecutionResult, ExecutorError, StartOptions, UnifiedExecutor, WorkflowRef,
};
use pyo3::prelude::*;
use uuid::Uuid;

use crate::api::events::PyEvent;
use crate::bridge::coroutine;
use crate::bridge::loops;
use crate::exceptions::{BindingError, BindingResult, ErrorKind};
use crate::running::python_pool;
use crate::running::python_task::is_coroutine;
use crate::running::runtime::runtime;
use crate::running::spans::{self, ExecutionSpan};

/// An execution to run: what, with what, for how long, and who hears its events.
pub struct Request {
    pub origin: Origin,
    pub timeout: Option<Duration>,
    pub on_event: Option<Arc<Py<PyAny>>>,
    /// The id the execution is created under.
    pub execution_id: Uuid,
    /// Its span, when tracing is configured (see `running/spans.rs`).
    pub span: Option<ExecutionSpan>,
}

impl Request {
    /// A request for an execution from `origin`, under a new id, with its span begun when
    /// tracing is configured.
    pub fn new(py: Python<'_>, origin: Origin, timeout: Option<Duration>, on_event: Option<Arc<Py<PyAny>>>) -> Self {
        let execution_id = UnifiedExecutor::new_execution_id();
        let name = match &origin {
            Origin::Start { workflow: WorkflowRef::Name(name), .. } => name.clone(),
            Origin::Start { workflow: WorkflowRef::Workflow(workflow), .. } => workflow.name().to_owned(),
            Origin::Rerun { source } => format!("re-run of {source}"),
        };
        let span = spans::begin_execution(py, &name, execution_id);
        Self { origin, timeout, on_event, execution_id, span }
    }
}

/// What an execution starts from.
pub enum Origin {
    /// A workflow and its initial context, the key to start it under, and when its first
    /// tasks may start (`None`: now).
    Start { workflow: WorkflowRef, context: Box<Context>, key: Option<String>, start_at: Option<DateTime<Utc>> },
    /// A finished execution, re-run from where it failed.
    Rerun { source: Uuid },
}

impl Origin {
    /// Creates the execution, under `execution_id`, storing `trace_context` with it.
    pub async fn begin(
        self,
        executor: &UnifiedExecutor,
        execution_id: Uuid,
        trace_context: Option<String>,
    ) -> Result<ExecutionHandle, ExecutorError> {
        match self {
            Self::Start { workflow, context, key, start_at } => {
                let options = StartOptions { trace_context, key, start_at };
                executor.start_with(execution_id, workflow, *context, options).await
            }
            Self::Rerun { source } => {
                let options = StartOptions { trace_context, ..StartOptions::default() };
                executor.rerun_with(execution_id, source, options).await
            }
        }
    }
}

/// Runs an execution to its end. If this future is dropped first (the caller was interrupted
/// or its asyncio task cancelled), the execution is cancelled; if the timeout passes, it is
/// cancelled and `ExecutionTimeoutError` raised. An execution found already started under the
/// request's key is only waited for: it is not this caller's to cancel.
pub async fn run(executor: UnifiedExecutor, request: Request) -> BindingResult<ExecutionResult> {
    let Request { origin, timeout, on_event, execution_id, span } = request;
    let trace_context = span.as_ref().map(|span| span.trace_context.clone());
    let outcome = run_to_end(executor, execution_id, origin, trace_context, timeout, on_event).await;
    if let Some(span) = span {
        span.end(outcome.as_ref().map_err(|error| error.to_string())).await;
    }
    outcome
}

/// The body of [`run`], which traces it.
async fn run_to_end(
    executor: UnifiedExecutor,
    execution_id: Uuid,
    origin: Origin,
    trace_context: Option<String>,
    timeout: Option<Duration>,
    on_event: Option<Arc<Py<PyAny>>>,
) -> BindingResult<ExecutionResult> {
    // Armed once the execution exists: one that never started has nothing to cancel.
    let mut abandon = CancelOnDrop { executor: executor.clone(), execution_id, armed: false };
    let handle = origin.begin(&executor, execution_id, trace_context).await?;
    abandon.armed = handle.is_new();
    let started = handle.execution_id();
    let delivery = on_event.map(|callback| tokio::spawn(deliver(executor.event_stream(started), callback)));
    let waited = match timeout {
        Some(limit) => tokio::time::timeout(limit, handle.wait()).await.ok(),
        None => Some(handle.wait().await),
    };
    abandon.armed = false;
    let Some(result) = waited else {
        let seconds = timeout.unwrap_or_default().as_secs_f64();
        if !handle.is_new() {
            return Err(BindingError::Raise(
                ErrorKind::ExecutionTimeout,
                format!(
                    "execution `{started}`, started before under its key, did not finish within {seconds}s; it goes on"
                ),
            ));
        }
        executor.cancel(execution_id).await?;
        return Err(BindingError::Raise(
            ErrorKind::ExecutionTimeout,
            format!("execution `{execution_id}` did not finish within {seconds}s; it was cancelled"),
        ));
    };
    let result = result?;
    if let Some(delivery) = delivery {
        // Every event is delivered before the caller gets the result.
        let _ = delivery.await;
    }
    Ok(result)
}

/// Cancels the execution if dropped while armed.
struct CancelOnDrop {
    executor: UnifiedExecutor,
    execution_id: Uuid,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        loops::unbind(self.execution_id);
        if self.armed {
            let (executor, execution_id) = (self.executor.clone(), self.execution_id);
            runtime().spawn(async move {
                if let Err(error) = executor.cancel(execution_id).await {
                    tracing::warn!(%error, %execution_id, "could not cancel an abandoned execution");
                }
            });
        }
    }
}

/// Delivers an execution's events to `callback` on the runtime, in order (see [`deliver`]).
pub fn deliver_in_background(stream: EventStream, callback: Arc<Py<PyAny>>) {
    runtime().spawn(deliver(stream, callback));
}

/// Calls `callback(event)` for each event, in order; a coroutine it returns is awaited on the
/// execution's loop before the next event. A callback's exception is reported as unraisable and
/// delivery goes on.
async fn deliver(mut stream: EventStream, callback: Arc<Py<PyAny>>) {
    let execution_id = stream.execution_id();
    while let Some(event) = stream.next().await {
        let Ok(event) = event else { return };
        let calling = Arc::clone(&callback);
        let started = python_pool::spawn(Arc::default(), move |py| {
            let callback = calling;
            let called = callback.call1(py, (PyEvent::wrap(event),)).and_then(|returned| {
                let returned = returned.into_bound(py);
                if is_coroutine(py, &returned)? {
                    coroutine::start(py, Some(execution_id), &returned, None).map(Some)
                } else {
                    Ok(None)
                }
            });
            called.unwrap_or_else(|error| {
                error.write_unraisable(py, Some(callback.bind(py)));
                None
            })
        })
        .await;
        if let Ok(Some(started)) = started
            && let Ok(Err(error)) = started.await
        {
            let reporting = Arc::clone(&callback);
            let _ = python_pool::spawn(Arc::default(), move |py| {
                error.write_unraisable(py, Some(reporting.bind(py)));
            })
            .await;
        }
    }
}

/// The running event loop of the calling thread, as the context to bind, if there is one.
pub fn running_loop(py: Python<'_>) -> Option<pyo3_async_runtimes::TaskLocals> {
    pyo3_async_runtimes::tokio::get_current_locals(py).ok()
}

/// The error for an awaitable API called without a running loop.
pub fn needs_loop(what: &str) -> BindingError {
    pyo3::exceptions::PyRuntimeError::new_err(format!(
        "{what} needs a running asyncio event loop in this thread; use the blocking form outside asyncio code"
    ))
    .into()
}
