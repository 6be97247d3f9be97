//! `cloacina.TaskAttempt`: one start of a task, and the execution's timeline as a Chrome trace.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use cloacina::{ExecutionResult, TaskAttempt};
use pyo3::prelude::*;

use crate::exceptions::{ErrorKind, error};
use crate::values::quoted;

/// One start of a task: when it became ready for it, when it started and ended, on which
/// worker, and how it ended (see `TaskResult.attempt_history`).
#[pyclass(module = "cloacina", name = "TaskAttempt", frozen)]
pub struct PyTaskAttempt {
    inner: TaskAttempt,
}

#[pymethods]
impl PyTaskAttempt {
    /// The attempt's number, counting from 1 as retry policies do (a start abandoned by a
    /// stopped worker is run again under the same number).
    #[getter]
    fn number(&self) -> u32 {
        self.inner.number
    }

    /// When the task became ready for this start (UTC); `None` for a retry, whose due time is
    /// not recorded.
    #[getter]
    fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.inner.ready_at
    }

    /// When a worker started it (UTC).
    #[getter]
    fn started_at(&self) -> DateTime<Utc> {
        self.inner.started_at
    }

    /// When it ended (UTC); `None` while it runs.
    #[getter]
    fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.inner.finished_at
    }

    /// Seconds from its start to its end, once it has ended.
    #[getter]
    fn duration(&self) -> Option<f64> {
        self.inner.duration().map(|duration| duration.as_secs_f64())
    }

    /// Seconds from when the task became ready for it to its start.
    #[getter]
    fn wait(&self) -> Option<f64> {
        self.inner.wait().map(|wait| wait.as_secs_f64())
    }

    /// The worker that ran it: its executor's `owner_id` (host, machine, process id, process
    /// start and a random part).
    #[getter]
    fn worker(&self) -> Option<&str> {
        self.inner.worker.as_deref()
    }

    /// How it ended: `"Completed"`, `"Failed"`, `"Abandoned"` (its worker stopped or lost its
    /// lease, and the task was run again), `"Cancelled"`, or `"Running"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }

    /// Its error, or why it was abandoned.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "TaskAttempt(number={}, status={}, duration={})",
            self.inner.number,
            quoted(py, self.inner.status.as_str())?,
            self.duration().map_or_else(|| "None".to_owned(), |seconds| format!("{seconds:.6}")),
        ))
    }
}

/// Attempts as Python objects.
pub fn attempts(history: &[TaskAttempt]) -> Vec<PyTaskAttempt> {
    history.iter().cloned().map(|inner| PyTaskAttempt { inner }).collect()
}

/// Writes an execution's Chrome trace to `path` (see `ExecutionResult.write_trace`).
pub fn write_trace(py: Python<'_>, result: &ExecutionResult, path: PathBuf) -> PyResult<()> {
    let trace = result.chrome_trace(Utc::now());
    let text = serde_json::to_vec(&trace)
        .map_err(|problem| error(ErrorKind::Serialization, format!("the trace cannot be written: {problem}")))?;
    py.detach(|| std::fs::write(&path, text)).map_err(PyErr::from)
}
