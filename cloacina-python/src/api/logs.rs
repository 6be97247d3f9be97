//! `cloacina.LogEntry`, and log levels given from Python.

use chrono::{DateTime, Utc};
use cloacina::{LogEntry, LogLevel};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

use crate::exceptions::{ErrorKind, error};
use crate::values::{quoted, type_name};

/// A log level given as a `logging` number (`logging.DEBUG`) or a name (`"DEBUG"`, any case;
/// `"OFF"` keeps nothing). `what` names the argument in errors.
pub fn log_level_from_python(what: &str, value: &Bound<'_, PyAny>) -> PyResult<LogLevel> {
    if value.is_instance_of::<PyString>() {
        let text: String = value.extract()?;
        return text.parse().map_err(|message: String| error(ErrorKind::Validation, format!("{what}: {message}")));
    }
    if !value.is_instance_of::<PyBool>()
        && let Ok(number) = value.extract::<i64>()
    {
        return u32::try_from(number).map(LogLevel).map_err(|_| {
            error(ErrorKind::Validation, format!("{what} is {number}; a level is a number from 0, or a name"))
        });
    }
    Err(PyTypeError::new_err(format!(
        "{what} cannot be `{}`; give a level name such as \"INFO\" or a number such as logging.INFO",
        type_name(value)
    )))
}

/// One record a task logged while an attempt ran (see `TaskResult.logs` and
/// `UnifiedExecutor.logs`).
#[pyclass(module = "cloacina", name = "LogEntry", frozen)]
pub struct PyLogEntry {
    pub(crate) inner: LogEntry,
}

#[pymethods]
impl PyLogEntry {
    /// The task that logged it.
    #[getter]
    fn task_id(&self) -> &str {
        &self.inner.task_id
    }

    /// The attempt it was logged in, counting from 1.
    #[getter]
    fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// When it was logged (UTC).
    #[getter]
    fn time(&self) -> DateTime<Utc> {
        self.inner.record.time
    }

    /// The level's name, as `logging` names it (`"INFO"`, `"WARNING"`...).
    #[getter]
    fn level(&self) -> &str {
        &self.inner.record.level_name
    }

    /// The level as a number (`logging.INFO` is 20).
    #[getter]
    fn levelno(&self) -> u32 {
        self.inner.record.level.0
    }

    /// The logger it went to (`"print"` for a kept `print`; a Rust task's `tracing` target).
    #[getter]
    fn logger(&self) -> &str {
        &self.inner.record.logger
    }

    /// The message, formatted, with the traceback of a logged exception.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.record.message
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "LogEntry(task_id={}, attempt={}, level={}, logger={}, message={})",
            quoted(py, &self.inner.task_id)?,
            self.inner.attempt,
            quoted(py, &self.inner.record.level_name)?,
            quoted(py, &self.inner.record.logger)?,
            quoted(py, &self.inner.record.message)?
        ))
    }
}

/// Entries as Python objects.
pub fn entries(logs: &[LogEntry]) -> Vec<PyLogEntry> {
    logs.iter().cloned().map(|inner| PyLogEntry { inner }).collect()
}
