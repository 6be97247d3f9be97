//! `cloacina.RetryPolicy`: how often a failing task is attempted again.

use std::time::Duration;

use cloacina::limits::MAX_DURATION;
use cloacina::{Backoff, RetryPolicy};
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::exceptions::{ErrorKind, error};
use crate::values::type_name;

/// How often, and after how long, a failing task is attempted again.
///
/// Args:
///     max_attempts: Attempts in all, the first included (at least 1).
///     backoff: `"fixed"`, `"linear"` or `"exponential"` growth of the delay.
///     initial_delay: Seconds before the first retry.
///     max_delay: The longest delay, in seconds.
///     jitter: Randomise each delay between half and all of it.
///     retry_on: Exception classes worth retrying; other exceptions fail the task at once.
///         Every exception is retried when this is empty.
///     multiplier: The growth factor of exponential backoff.
///
/// Raises:
///     ValidationError: A value is out of range, or `backoff` is unknown.
#[pyclass(module = "cloacina", name = "RetryPolicy", frozen)]
pub struct PyRetryPolicy {
    pub(crate) policy: RetryPolicy,
    pub(crate) retry_on: Option<Py<PyTuple>>,
}

#[pymethods]
impl PyRetryPolicy {
    #[new]
    #[pyo3(signature = (max_attempts = 3, backoff = "exponential", initial_delay = 1.0, max_delay = 60.0, jitter = false, retry_on = None, multiplier = 2.0))]
    fn new(
        max_attempts: u32,
        backoff: &str,
        initial_delay: f64,
        max_delay: f64,
        jitter: bool,
        retry_on: Option<&Bound<'_, PyAny>>,
        multiplier: f64,
    ) -> PyResult<Self> {
        if max_attempts == 0 {
            return Err(error(ErrorKind::Validation, "max_attempts is 0; it must be at least 1"));
        }
        let backoff = match backoff {
            "fixed" => Backoff::Fixed,
            "linear" => Backoff::Linear,
            "exponential" if multiplier >= 1.0 => Backoff::Exponential { multiplier },
            "exponential" => {
                return Err(error(ErrorKind::Validation, format!("multiplier is {multiplier}; it must be at least 1")));
            }
            other => {
                return Err(error(
                    ErrorKind::Validation,
                    format!("unknown backoff `{other}`; use \"fixed\", \"linear\" or \"exponential\""),
                ));
            }
        };
        let (initial, longest) = (seconds("initial_delay", initial_delay)?, seconds("max_delay", max_delay)?);
        if initial > longest {
            return Err(error(
                ErrorKind::Validation,
                format!(
                    "initial_delay is {initial_delay} s, longer than max_delay ({max_delay} s), which caps every \
                     delay; raise max_delay as well"
                ),
            ));
        }
        let policy = RetryPolicy::attempts(max_attempts)
            .with_backoff(backoff)
            .with_initial_delay(initial)
            .with_max_delay(longest)
            .with_jitter(jitter);
        Ok(Self { policy, retry_on: retry_on.map(exception_classes).transpose()? })
    }

    /// Attempts in all, the first included.
    #[getter]
    fn max_attempts(&self) -> u32 {
        self.policy.max_attempts
    }

    /// `"fixed"`, `"linear"` or `"exponential"`.
    #[getter]
    fn backoff(&self) -> &'static str {
        match self.policy.backoff {
            Backoff::Fixed => "fixed",
            Backoff::Linear => "linear",
            Backoff::Exponential { .. } => "exponential",
        }
    }

    /// Seconds before the first retry.
    #[getter]
    fn initial_delay(&self) -> f64 {
        self.policy.initial_delay.as_secs_f64()
    }

    /// The longest delay, in seconds.
    #[getter]
    fn max_delay(&self) -> f64 {
        self.policy.max_delay.as_secs_f64()
    }

    /// Whether delays are randomised.
    #[getter]
    fn jitter(&self) -> bool {
        self.policy.jitter
    }

    /// The exception classes worth retrying (empty: all).
    #[getter]
    fn retry_on<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        match &self.retry_on {
            Some(classes) => classes.bind(py).clone(),
            None => PyTuple::empty(py),
        }
    }

    /// The delay, in seconds, before the attempt that follows failed attempt `attempt`.
    fn delay_after(&self, attempt: u32) -> f64 {
        self.policy.delay_after(attempt).as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!(
            "RetryPolicy(max_attempts={}, backoff='{}', initial_delay={}, max_delay={}, jitter={})",
            self.policy.max_attempts,
            self.backoff(),
            self.initial_delay(),
            self.max_delay(),
            if self.policy.jitter { "True" } else { "False" }
        )
    }
}

impl PyRetryPolicy {
    /// A task's `retry` argument: `None`, a number of attempts, or a `RetryPolicy`.
    pub fn from_argument(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Py<PyRetryPolicy>>> {
        let Some(value) = value.filter(|value| !value.is_none()) else {
            return Ok(None);
        };
        if let Ok(policy) = value.cast::<PyRetryPolicy>() {
            return Ok(Some(policy.clone().unbind()));
        }
        if !value.is_instance_of::<pyo3::types::PyBool>()
            && let Ok(attempts) = value.extract::<u32>()
        {
            let policy = PyRetryPolicy::new(attempts, "exponential", 1.0, 60.0, false, None, 2.0)?;
            return Ok(Some(Py::new(py, policy)?));
        }
        Err(error(
            ErrorKind::Validation,
            format!("retry must be a number of attempts or a cloacina.RetryPolicy, not `{}`", type_name(value)),
        ))
    }
}

/// A duration in seconds, from 0 to [`MAX_DURATION`]; `field` names it in errors.
pub fn seconds(field: &str, value: f64) -> PyResult<Duration> {
    let most = MAX_DURATION.as_secs();
    match Duration::try_from_secs_f64(value) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(error(
            ErrorKind::Validation,
            format!("{field} is {value}; it must be a number of seconds from 0 to {most} (365 days)"),
        )),
    }
}

fn exception_classes(value: &Bound<'_, PyAny>) -> PyResult<Py<PyTuple>> {
    let classes: Vec<Bound<'_, PyAny>> = match value.cast::<PyTuple>() {
        Ok(tuple) => tuple.iter().collect(),
        Err(_) if value.is_instance_of::<PyType>() => vec![value.clone()],
        Err(_) => value.try_iter()?.collect::<PyResult<_>>()?,
    };
    let base = value.py().get_type::<pyo3::exceptions::PyBaseException>();
    for class in &classes {
        let is_exception = class.cast::<PyType>().is_ok_and(|class| class.is_subclass(&base).unwrap_or(false));
        if !is_exception {
            return Err(error(
                ErrorKind::Validation,
                format!("retry_on takes exception classes; `{class}` is not one"),
            ));
        }
    }
    Ok(PyTuple::new(value.py(), classes)?.unbind())
}
