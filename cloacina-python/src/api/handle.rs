//! `cloacina.ExecutionHandle`: a started execution.

use std::time::Duration;

use cloacina::UnifiedExecutor;
use pyo3::prelude::*;
use uuid::Uuid;

use crate::api::events::PyEventStream;
use crate::api::result::{PyExecutionResult, execution_status};
use crate::api::retry::seconds;
use crate::bridge::awaitable::awaitable;
use crate::exceptions::{BindingError, BindingResult};
use crate::running::runtime::{block_on, block_on_interruptibly};
use crate::running::spans;
use crate::values::Reading;

/// A started execution: wait for it, look at it, or cancel it.
#[pyclass(module = "cloacina", name = "ExecutionHandle", frozen)]
pub struct PyExecutionHandle {
    executor: UnifiedExecutor,
    execution_id: Uuid,
}

impl PyExecutionHandle {
    /// A handle to an execution of `executor`.
    pub fn new(executor: UnifiedExecutor, execution_id: Uuid) -> Self {
        Self { executor, execution_id }
    }

    /// An awaitable of the result (at most `timeout` seconds).
    pub fn wait_awaitable<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> BindingResult<Bound<'py, PyAny>> {
        let timeout: Option<Duration> = timeout.map(|value| seconds("timeout", value)).transpose()?;
        let (executor, execution_id) = (self.executor.clone(), self.execution_id);
        let reading = Reading::of_executor(executor.owner_id());
        Ok(awaitable(py, async move {
            let result = executor.wait(execution_id, timeout).await.map_err(BindingError::from)?;
            spans::finish(execution_id, Ok(&result)).await;
            Ok::<_, BindingError>(PyExecutionResult::new(result, reading))
        })?)
    }

    /// Waits (at most `timeout` seconds) for the result, answering Ctrl-C.
    pub fn wait_for_result(&self, py: Python<'_>, timeout: Option<f64>) -> BindingResult<PyExecutionResult> {
        let timeout: Option<Duration> = timeout.map(|value| seconds("timeout", value)).transpose()?;
        let (executor, execution_id) = (self.executor.clone(), self.execution_id);
        let result = block_on_interruptibly(py, async move {
            let result = executor.wait(execution_id, timeout).await?;
            spans::finish(execution_id, Ok(&result)).await;
            Ok::<_, cloacina::ExecutorError>(result)
        })??;
        Ok(PyExecutionResult::new(result, Reading::of_executor(self.executor.owner_id())))
    }
}

#[pymethods]
impl PyExecutionHandle {
    /// The execution's id.
    #[getter]
    fn execution_id(&self) -> String {
        self.execution_id.to_string()
    }

    /// The execution's current `ExecutionStatus`, read from the database.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> BindingResult<Bound<'py, PyAny>> {
        let (executor, execution_id) = (self.executor.clone(), self.execution_id);
        let status = block_on(py, async move { executor.status(execution_id).await })?;
        Ok(execution_status(py, status)?)
    }

    /// Waits for the execution to finish and returns its result. Ctrl-C stops waiting.
    ///
    /// Args:
    ///     timeout: Seconds to wait at most; `None` waits as long as it takes.
    ///
    /// Raises:
    ///     ExecutionTimeoutError: It did not finish in time (it goes on).
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> BindingResult<PyExecutionResult> {
        self.wait_for_result(py, timeout)
    }

    /// Waits for the execution to finish; always returns an awaitable of its result.
    #[pyo3(signature = (timeout = None))]
    fn wait_async<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> BindingResult<Bound<'py, PyAny>> {
        self.wait_awaitable(py, timeout)
    }

    /// `await handle` waits for the result.
    fn __await__<'py>(&self, py: Python<'py>) -> BindingResult<Bound<'py, PyAny>> {
        Ok(self.wait_awaitable(py, None)?.call_method0("__await__")?)
    }

    /// The execution's events, past and to come, in order; the stream ends with the execution.
    ///
    /// `async for event in handle.events()` in asyncio code; `for event in handle.events()`
    /// elsewhere.
    fn events(&self) -> PyEventStream {
        PyEventStream::wrap(self.executor.event_stream(self.execution_id))
    }

    /// Cancels the execution; returns its final `ExecutionStatus`.
    fn cancel<'py>(&self, py: Python<'py>) -> BindingResult<Bound<'py, PyAny>> {
        let (executor, execution_id) = (self.executor.clone(), self.execution_id);
        let status = block_on(py, async move { executor.cancel(execution_id).await })?;
        Ok(execution_status(py, status)?)
    }

    fn __repr__(&self) -> String {
        format!("ExecutionHandle(execution_id='{}')", self.execution_id)
    }
}
