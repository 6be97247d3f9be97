//! `cloacina.Event` and the event streams of executions.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cloacina::{Event, EventStream, ExecutorError};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::sync::Mutex;

use crate::bridge::awaitable::awaitable;
use crate::exceptions::BindingError;
use crate::running::runtime::block_on_interruptibly;
use crate::values::quoted;

/// `cloacina.EventKind(value)`: the Python `str` enum.
fn event_kind<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CLASS.import(py, "cloacina._enums", "EventKind")?.call1((event.kind.as_str(),))
}

/// One state change of an execution or of one of its tasks.
#[pyclass(module = "cloacina", name = "Event", frozen)]
pub struct PyEvent {
    inner: Event,
}

impl PyEvent {
    /// Wraps an engine event.
    pub fn wrap(inner: Event) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyEvent {
    /// The execution.
    #[getter]
    fn execution_id(&self) -> String {
        self.inner.execution_id.to_string()
    }

    /// The task, for task events.
    #[getter]
    fn task_id(&self) -> Option<&str> {
        self.inner.task_id.as_deref()
    }

    /// `EventKind`: what changed (`"TaskStarted"`, `"TaskCompleted"`, `"ExecutionCompleted"`, ...).
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        event_kind(py, &self.inner)
    }

    /// The attempt, for events about an attempt.
    #[getter]
    fn attempt(&self) -> Option<u32> {
        self.inner.attempt
    }

    /// An error or a reason, where there is one; for `TaskStarted`, the worker that runs the
    /// attempt (its executor's `owner_id`).
    #[getter]
    fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// When it happened (UTC).
    #[getter]
    fn at(&self) -> DateTime<Utc> {
        self.inner.at
    }

    /// Its place in the execution's stored log: 1, 2, 3, ... in the order the events committed,
    /// without gaps (`None` for an event not read from the database).
    #[getter]
    fn sequence(&self) -> Option<i64> {
        self.inner.sequence
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let kind = quoted(py, self.inner.kind.as_str())?;
        Ok(match &self.inner.task_id {
            Some(task) => format!("Event(kind={kind}, task_id={})", quoted(py, task)?),
            None => format!("Event(kind={kind})"),
        })
    }
}

/// The events of one execution, in order, ending after the event that ends the execution.
///
/// Iterate with `async for event in stream` in asyncio code, or `for event in stream`
/// elsewhere (which blocks between events).
#[pyclass(module = "cloacina", name = "EventStream", frozen)]
pub struct PyEventStream {
    inner: Arc<Mutex<EventStream>>,
}

impl PyEventStream {
    /// Wraps an engine event stream.
    pub fn wrap(stream: EventStream) -> Self {
        Self { inner: Arc::new(Mutex::new(stream)) }
    }
}

async fn next_event(stream: Arc<Mutex<EventStream>>) -> Result<Option<Event>, ExecutorError> {
    stream.lock().await.next().await.transpose()
}

#[pymethods]
impl PyEventStream {
    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = Arc::clone(&self.inner);
        awaitable(py, async move {
            match next_event(stream).await {
                Ok(Some(event)) => Ok(PyEvent::wrap(event)),
                Ok(None) => Err(BindingError::Python(PyStopAsyncIteration::new_err(()))),
                Err(error) => Err(BindingError::from(error)),
            }
        })
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyEvent>> {
        let stream = Arc::clone(&self.inner);
        match block_on_interruptibly(py, next_event(stream))? {
            Ok(event) => Ok(event.map(PyEvent::wrap)),
            Err(error) => Err(BindingError::from(error).into()),
        }
    }
}
