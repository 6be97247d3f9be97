//! `cloacina.TriggerRule`: when a task whose dependencies have finished runs, or is skipped.

use cloacina::{ConditionOperator, TriggerRule};
use pyo3::prelude::*;

use crate::exceptions::{ErrorKind, error};
use crate::values::{from_python, type_name};

/// When a task runs once its dependencies have finished; otherwise it is skipped.
///
/// Build one with the static methods, combine with `&`, `|` and `~`, or pass a task one of the
/// names `"all_succeeded"` (the default), `"all_done"`, `"any_succeeded"`, `"any_failed"`,
/// `"none_failed"` or `"always"`.
#[pyclass(module = "cloacina", name = "TriggerRule", frozen)]
#[derive(Clone)]
pub struct PyTriggerRule {
    pub(crate) rule: TriggerRule,
}

const NAMES: [(&str, TriggerRule); 6] = [
    ("all_succeeded", TriggerRule::AllSucceeded),
    ("all_done", TriggerRule::AllDone),
    ("any_succeeded", TriggerRule::AnySucceeded),
    ("any_failed", TriggerRule::AnyFailed),
    ("none_failed", TriggerRule::NoneFailed),
    ("always", TriggerRule::Always),
];

fn wrap(rule: TriggerRule) -> PyTriggerRule {
    PyTriggerRule { rule }
}

fn condition(key: &str, operator: ConditionOperator) -> PyTriggerRule {
    wrap(TriggerRule::context(key, operator))
}

#[pymethods]
impl PyTriggerRule {
    /// Every dependency completed (the default).
    #[staticmethod]
    fn all_succeeded() -> Self {
        wrap(TriggerRule::AllSucceeded)
    }

    /// Every dependency completed or failed; a skipped dependency skips the task.
    #[staticmethod]
    fn all_done() -> Self {
        wrap(TriggerRule::AllDone)
    }

    /// At least one dependency completed.
    #[staticmethod]
    fn any_succeeded() -> Self {
        wrap(TriggerRule::AnySucceeded)
    }

    /// At least one dependency failed: for cleanup and alerting tasks.
    #[staticmethod]
    fn any_failed() -> Self {
        wrap(TriggerRule::AnyFailed)
    }

    /// No dependency failed (skipped ones are fine).
    #[staticmethod]
    fn none_failed() -> Self {
        wrap(TriggerRule::NoneFailed)
    }

    /// Runs whatever happened to the dependencies.
    #[staticmethod]
    fn always() -> Self {
        wrap(TriggerRule::Always)
    }

    /// The task's input context has `key`.
    #[staticmethod]
    fn context_exists(key: &str) -> Self {
        condition(key, ConditionOperator::Exists)
    }

    /// The task's input context lacks `key`.
    #[staticmethod]
    fn context_missing(key: &str) -> Self {
        condition(key, ConditionOperator::Missing)
    }

    /// `context[key] == value`.
    #[staticmethod]
    fn context_equals(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(condition(key, ConditionOperator::Equals(from_python(key, value)?)))
    }

    /// `key` is absent or `context[key] != value`.
    #[staticmethod]
    fn context_not_equals(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(condition(key, ConditionOperator::NotEquals(from_python(key, value)?)))
    }

    /// `context[key]` is a number greater than `bound`.
    #[staticmethod]
    fn context_greater_than(key: &str, bound: f64) -> Self {
        condition(key, ConditionOperator::GreaterThan(bound))
    }

    /// `context[key]` is a number less than `bound`.
    #[staticmethod]
    fn context_less_than(key: &str, bound: f64) -> Self {
        condition(key, ConditionOperator::LessThan(bound))
    }

    /// `context[key]` is present and truthy (not `None`, `False`, `0`, `""`, `[]` or `{}`).
    #[staticmethod]
    fn context_truthy(key: &str) -> Self {
        condition(key, ConditionOperator::Truthy)
    }

    fn __and__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(wrap(TriggerRule::All(vec![self.rule.clone(), Self::from_argument(other)?])))
    }

    fn __or__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(wrap(TriggerRule::Any(vec![self.rule.clone(), Self::from_argument(other)?])))
    }

    /// `"all_done" & rule`: the name on the left.
    fn __rand__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(wrap(TriggerRule::All(vec![Self::from_argument(other)?, self.rule.clone()])))
    }

    /// `"all_done" | rule`: the name on the left.
    fn __ror__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(wrap(TriggerRule::Any(vec![Self::from_argument(other)?, self.rule.clone()])))
    }

    fn __invert__(&self) -> Self {
        wrap(TriggerRule::Not(Box::new(self.rule.clone())))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        Self::from_argument(other).is_ok_and(|rule| rule == self.rule)
    }

    fn __repr__(&self) -> String {
        let named = NAMES.iter().find(|(_, rule)| *rule == self.rule);
        match named {
            Some((name, _)) => format!("TriggerRule.{name}()"),
            None => format!("TriggerRule({})", serde_json::to_string(&self.rule).unwrap_or_default()),
        }
    }
}

impl PyTriggerRule {
    /// A task's `trigger` argument: a `TriggerRule` or one of the rule names.
    pub fn from_argument(value: &Bound<'_, PyAny>) -> PyResult<TriggerRule> {
        if let Ok(rule) = value.cast::<PyTriggerRule>() {
            return Ok(rule.get().rule.clone());
        }
        if let Ok(name) = value.extract::<String>() {
            let name = name.as_str();
            return NAMES.iter().find(|(known, _)| *known == name).map(|(_, rule)| rule.clone()).ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(known, _)| *known).collect();
                error(ErrorKind::Validation, format!("unknown trigger rule `{name}`; use one of: {}", names.join(", ")))
            });
        }
        Err(error(
            ErrorKind::Validation,
            format!("trigger must be a cloacina.TriggerRule or a rule name, not `{}`", type_name(value)),
        ))
    }
}
