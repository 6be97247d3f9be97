//! The Python exception hierarchy, and the one place engine errors become Python exceptions.
//!
//! Every class derives from `cloacina.CloacinaError`; several also derive from the built-in a
//! Python user would catch (`ValueError`, `KeyError`, `TypeError`, `LookupError`,
//! `TimeoutError`, `RuntimeError`). Multiple bases are why the classes are made with `type()`
//! when the module loads rather than with `create_exception!`.

use cloacina::{ConfigError, ContextError, ExecutorError, ScheduleError, StoreError, WorkflowError};
use pyo3::exceptions::{
    PyException, PyKeyError, PyLookupError, PyRuntimeError, PyTimeoutError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The kinds of error the binding raises, one Python class each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `CloacinaError`: the base of every error below.
    Cloacina,
    /// `ValidationError(CloacinaError, ValueError)`: a bad argument, URL or configuration value.
    Validation,
    /// `WorkflowValidationError(ValidationError)`: a workflow that cannot run.
    WorkflowValidation,
    /// `SerializationError(CloacinaError, TypeError)`: a value that cannot be stored or read back.
    Serialization,
    /// `ContextKeyError(CloacinaError, KeyError, ValueError)`: a context key missing or taken.
    ContextKey,
    /// `DatabaseError(CloacinaError)`: the database failed or cannot be reached.
    Database,
    /// `WorkflowNotFoundError(CloacinaError, LookupError)`: no workflow by that name.
    WorkflowNotFound,
    /// `ExecutionNotFoundError(CloacinaError, LookupError)`: no execution with that id.
    ExecutionNotFound,
    /// `ExecutionFailedError(CloacinaError)`: an execution ended `Failed`.
    ExecutionFailed,
    /// `ExecutionCancelledError(CloacinaError)`: an execution ended `Cancelled`.
    ExecutionCancelled,
    /// `ExecutionTimeoutError(CloacinaError, TimeoutError)`: waiting took longer than allowed.
    ExecutionTimeout,
    /// `ExecutorShutdownError(CloacinaError, RuntimeError)`: the executor was shut down.
    ExecutorShutdown,
    /// `ScheduleNotFoundError(CloacinaError, LookupError)`: no schedule by that name.
    ScheduleNotFound,
}

impl ErrorKind {
    /// Every kind, bases before the classes derived from them.
    pub const ALL: [ErrorKind; 13] = [
        Self::Cloacina,
        Self::Validation,
        Self::WorkflowValidation,
        Self::Serialization,
        Self::ContextKey,
        Self::Database,
        Self::WorkflowNotFound,
        Self::ExecutionNotFound,
        Self::ExecutionFailed,
        Self::ExecutionCancelled,
        Self::ExecutionTimeout,
        Self::ExecutorShutdown,
        Self::ScheduleNotFound,
    ];

    /// The Python class name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cloacina => "CloacinaError",
            Self::Validation => "ValidationError",
            Self::WorkflowValidation => "WorkflowValidationError",
            Self::Serialization => "SerializationError",
            Self::ContextKey => "ContextKeyError",
            Self::Database => "DatabaseError",
            Self::WorkflowNotFound => "WorkflowNotFoundError",
            Self::ExecutionNotFound => "ExecutionNotFoundError",
            Self::ExecutionFailed => "ExecutionFailedError",
            Self::ExecutionCancelled => "ExecutionCancelledError",
            Self::ExecutionTimeout => "ExecutionTimeoutError",
            Self::ExecutorShutdown => "ExecutorShutdownError",
            Self::ScheduleNotFound => "ScheduleNotFoundError",
        }
    }

    fn doc(self) -> &'static str {
        match self {
            Self::Cloacina => "Base class of every error Cloacina raises.",
            Self::Validation => "An argument, URL or configuration value is invalid.",
            Self::WorkflowValidation => {
                "A workflow cannot run: no tasks, a duplicate task id, a missing dependency, or a cycle."
            }
            Self::Serialization => {
                "A context value cannot be stored (a type no codec takes) or read back (a class this process \
                 cannot find, a pickle the executor does not read)."
            }
            Self::ContextKey => "A context key is missing (update, [], del) or already taken (insert).",
            Self::Database => "The database failed or cannot be reached.",
            Self::WorkflowNotFound => "No workflow is registered under that name.",
            Self::ExecutionNotFound => "No execution has that id.",
            Self::ExecutionFailed => "An execution ended Failed (raised by ExecutionResult.raise_for_status).",
            Self::ExecutionCancelled => "An execution ended Cancelled (raised by ExecutionResult.raise_for_status).",
            Self::ExecutionTimeout => "An execution did not finish within the time allowed.",
            Self::ExecutorShutdown => "The executor has been shut down.",
            Self::ScheduleNotFound => "No schedule has that name.",
        }
    }

    fn parent(self) -> Option<ErrorKind> {
        match self {
            Self::Cloacina => None,
            Self::WorkflowValidation => Some(Self::Validation),
            _ => Some(Self::Cloacina),
        }
    }

    fn builtin_bases(self, py: Python<'_>) -> Vec<Bound<'_, PyType>> {
        match self {
            Self::Cloacina => vec![py.get_type::<PyException>()],
            Self::Validation => vec![py.get_type::<PyValueError>()],
            Self::Serialization => vec![py.get_type::<PyTypeError>()],
            Self::ContextKey => vec![py.get_type::<PyKeyError>(), py.get_type::<PyValueError>()],
            Self::WorkflowNotFound | Self::ExecutionNotFound | Self::ScheduleNotFound => {
                vec![py.get_type::<PyLookupError>()]
            }
            Self::ExecutionTimeout => vec![py.get_type::<PyTimeoutError>()],
            Self::ExecutorShutdown => vec![py.get_type::<PyRuntimeError>()],
            _ => Vec::new(),
        }
    }
}

static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

/// The exception classes, made on first use.
fn classes(py: Python<'_>) -> PyResult<&Vec<Py<PyType>>> {
    CLASSES.get_or_try_init(py, || {
        let mut made: Vec<Py<PyType>> = Vec::with_capacity(ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            let mut bases: Vec<Bound<'_, PyType>> = Vec::new();
            if let Some(parent) = kind.parent() {
                bases.push(made[parent as usize].bind(py).clone());
            }
            bases.extend(kind.builtin_bases(py));
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "cloacina")?;
            namespace.set_item("__doc__", kind.doc())?;
            let class = py.get_type::<PyType>().call1((kind.name(), PyTuple::new(py, bases)?, namespace))?;
            made.push(class.cast_into::<PyType>()?.unbind());
        }
        Ok(made)
    })
}

/// The class of a kind.
pub fn class(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    Ok(classes(py)?[kind as usize].bind(py).clone())
}

/// Adds every class to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    for kind in ErrorKind::ALL {
        module.add(kind.name(), class(module.py(), kind)?)?;
    }
    Ok(())
}

/// A Python exception of `kind` with `message`. Made on any thread; on one that finds the
/// interpreter finalizing (nothing will see the exception then) it is a `RuntimeError`, since
/// attaching to a finalizing interpreter can crash the process.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    let made = Python::try_attach(|py| match class(py, kind) {
        Ok(class) => PyErr::from_type(class, message.clone()),
        Err(error) => error,
    });
    made.unwrap_or_else(|| PyRuntimeError::new_err(message))
}

/// Whether a Python exception is a `SerializationError`.
pub fn is_serialization_error(py: Python<'_>, error: &PyErr) -> bool {
    class(py, ErrorKind::Serialization).is_ok_and(|class| error.is_instance(py, &class))
}

/// An error of the binding or the engine, turned into a Python exception by [`From`].
#[derive(Debug)]
pub enum BindingError {
    /// An error of the engine.
    Engine(ExecutorError),
    /// An exception to raise, made when it is raised (so with the GIL).
    Raise(ErrorKind, String),
    /// A Python exception already made.
    Python(PyErr),
}

impl std::fmt::Display for BindingError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Engine(error) => write!(formatter, "{error}"),
            Self::Raise(_, message) => formatter.write_str(message),
            Self::Python(error) => write!(formatter, "{error}"),
        }
    }
}

impl From<ExecutorError> for BindingError {
    fn from(error: ExecutorError) -> Self {
        Self::Engine(error)
    }
}

impl From<ContextError> for BindingError {
    fn from(error: ContextError) -> Self {
        Self::Engine(error.into())
    }
}

impl From<WorkflowError> for BindingError {
    fn from(error: WorkflowError) -> Self {
        Self::Engine(error.into())
    }
}

impl From<ConfigError> for BindingError {
    fn from(error: ConfigError) -> Self {
        Self::Engine(error.into())
    }
}

impl From<StoreError> for BindingError {
    fn from(error: StoreError) -> Self {
        Self::Engine(error.into())
    }
}

impl From<PyErr> for BindingError {
    fn from(error: PyErr) -> Self {
        Self::Python(error)
    }
}

impl From<BindingError> for PyErr {
    fn from(error: BindingError) -> Self {
        match error {
            BindingError::Python(error) => error,
            BindingError::Raise(kind, message) => self::error(kind, message),
            BindingError::Engine(error) => {
                let kind = match &error {
                    ExecutorError::WorkflowNotFound { .. } => ErrorKind::WorkflowNotFound,
                    ExecutorError::ExecutionNotFound(_) => ErrorKind::ExecutionNotFound,
                    ExecutorError::ShutDown => ErrorKind::ExecutorShutdown,
                    ExecutorError::CannotRerun { .. } => ErrorKind::Validation,
                    ExecutorError::InvalidKey { .. } | ExecutorError::KeyInUse { .. } => ErrorKind::Validation,
                    ExecutorError::WaitTimeout { .. } => ErrorKind::ExecutionTimeout,
                    ExecutorError::Config(_) => ErrorKind::Validation,
                    ExecutorError::Workflow(_) => ErrorKind::WorkflowValidation,
                    ExecutorError::Context(ContextError::NotAnObject { .. }) => ErrorKind::Serialization,
                    ExecutorError::Context(_) => ErrorKind::ContextKey,
                    ExecutorError::Schedule(ScheduleError::NotFound(_)) => ErrorKind::ScheduleNotFound,
                    ExecutorError::Schedule(_) => ErrorKind::Validation,
                    ExecutorError::Store(StoreError::InvalidUrl { .. }) => ErrorKind::Validation,
                    ExecutorError::Store(_) => ErrorKind::Database,
                };
                self::error(kind, error.to_string())
            }
        }
    }
}

/// The binding's result type.
pub type BindingResult<T> = Result<T, BindingError>;
