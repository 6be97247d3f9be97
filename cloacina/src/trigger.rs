//! When a task whose dependencies have all finished runs, and when it is skipped instead.
//!
//! A rule is evaluated once, when the last dependency of a task reaches a final state
//! (`Completed`, `Failed`, `Skipped` or `Cancelled`); a root task's rule is evaluated when its
//! execution is created. Quantified rules use plain logic over the dependencies, so on a root
//! task `AllSucceeded` and `NoneFailed` hold and `AnySucceeded` and `AnyFailed` do not.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Context;
use crate::result::TaskStatus;

/// The condition under which a task runs once its dependencies have finished.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    /// Every dependency completed (the default).
    #[default]
    AllSucceeded,
    /// Every dependency ran to an end, completed or failed; a skipped dependency skips the task.
    AllDone,
    /// At least one dependency completed.
    AnySucceeded,
    /// At least one dependency failed.
    AnyFailed,
    /// No dependency failed; skipped dependencies are fine.
    NoneFailed,
    /// Runs whatever happened to the dependencies.
    Always,
    /// A condition on the task's input context (the initial context plus its ancestors' writes).
    Context(ContextCondition),
    /// Every rule holds.
    All(Vec<TriggerRule>),
    /// At least one rule holds.
    Any(Vec<TriggerRule>),
    /// The rule does not hold.
    Not(Box<TriggerRule>),
}

/// A test on one value of the input context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCondition {
    /// The context key.
    pub key: String,
    /// The test.
    pub operator: ConditionOperator,
}

/// A test applied to a context value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOperator {
    /// The key is present.
    Exists,
    /// The key is absent.
    Missing,
    /// The value equals this one.
    Equals(Value),
    /// The key is absent or its value differs from this one.
    NotEquals(Value),
    /// The value is a number greater than this one.
    GreaterThan(f64),
    /// The value is a number less than this one.
    LessThan(f64),
    /// The value is present and not `null`, `false`, `0`, `""`, `[]` or `{}`.
    Truthy,
}

/// How a task's dependencies ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DependencyOutcomes {
    /// Dependencies that completed.
    pub completed: usize,
    /// Dependencies that failed.
    pub failed: usize,
    /// Dependencies that were skipped (or cancelled).
    pub skipped: usize,
}

impl DependencyOutcomes {
    /// Counts final statuses; anything but `Completed` and `Failed` counts as skipped.
    pub fn from_statuses(statuses: &[TaskStatus]) -> Self {
        statuses.iter().fold(Self::default(), |mut outcomes, status| {
            match status {
                TaskStatus::Completed => outcomes.completed += 1,
                TaskStatus::Failed => outcomes.failed += 1,
                _ => outcomes.skipped += 1,
            }
            outcomes
        })
    }
}

/// What a trigger rule is evaluated on: how the dependencies ended, and the task's input.
pub struct TriggerInput<'a> {
    /// How the task's dependencies ended.
    pub dependencies: DependencyOutcomes,
    /// The task's input context, when the rule needs it (see [`TriggerRule::needs_context`]).
    pub context: Option<&'a Context>,
}

impl TriggerRule {
    /// A context condition as a rule.
    pub fn context(key: impl Into<String>, operator: ConditionOperator) -> Self {
        Self::Context(ContextCondition { key: key.into(), operator })
    }

    /// Whether evaluating the rule needs the task's input context.
    pub fn needs_context(&self) -> bool {
        match self {
            Self::Context(_) => true,
            Self::All(rules) | Self::Any(rules) => rules.iter().any(Self::needs_context),
            Self::Not(rule) => rule.needs_context(),
            _ => false,
        }
    }

    /// Whether the task runs (`true`) or is skipped (`false`).
    pub fn evaluate(&self, input: &TriggerInput<'_>) -> bool {
        let outcomes = input.dependencies;
        match self {
            Self::AllSucceeded => outcomes.failed == 0 && outcomes.skipped == 0,
            Self::AllDone => outcomes.skipped == 0,
            Self::AnySucceeded => outcomes.completed > 0,
            Self::AnyFailed => outcomes.failed > 0,
            Self::NoneFailed => outcomes.failed == 0,
            Self::Always => true,
            Self::Context(condition) => input.context.is_some_and(|context| condition.holds(context)),
            Self::All(rules) => rules.iter().all(|rule| rule.evaluate(input)),
            Self::Any(rules) => rules.iter().any(|rule| rule.evaluate(input)),
            Self::Not(rule) => !rule.evaluate(input),
        }
    }
}

impl ContextCondition {
    /// Whether the condition holds on a context.
    pub fn holds(&self, context: &Context) -> bool {
        let value = context.get(&self.key);
        match &self.operator {
            ConditionOperator::Exists => value.is_some(),
            ConditionOperator::Missing => value.is_none(),
            ConditionOperator::Equals(expected) => value == Some(expected),
            ConditionOperator::NotEquals(expected) => value != Some(expected),
            ConditionOperator::GreaterThan(bound) => value.and_then(Value::as_f64).is_some_and(|v| v > *bound),
            ConditionOperator::LessThan(bound) => value.and_then(Value::as_f64).is_some_and(|v| v < *bound),
            ConditionOperator::Truthy => value.is_some_and(is_truthy),
        }
    }
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::{Completed, Failed, Skipped};
    use serde_json::json;

    fn runs(rule: &TriggerRule, statuses: &[TaskStatus]) -> bool {
        rule.evaluate(&TriggerInput { dependencies: DependencyOutcomes::from_statuses(statuses), context: None })
    }

    #[test]
    fn quantified_rules() {
        let cases = [
            (TriggerRule::AllSucceeded, [true, false, false, false]),
            (TriggerRule::AllDone, [true, true, false, false]),
            (TriggerRule::AnySucceeded, [true, true, true, false]),
            (TriggerRule::AnyFailed, [false, true, false, false]),
            (TriggerRule::NoneFailed, [true, false, true, true]),
            (TriggerRule::Always, [true, true, true, true]),
        ];
        let inputs: [&[TaskStatus]; 4] =
            [&[Completed, Completed], &[Completed, Failed], &[Completed, Skipped], &[Skipped, Skipped]];
        for (rule, expected) in cases {
            for (statuses, expected) in inputs.iter().zip(expected) {
                assert_eq!(runs(&rule, statuses), expected, "{rule:?} on {statuses:?}");
            }
        }
    }

    #[test]
    fn root_tasks_use_plain_logic() {
        assert!(runs(&TriggerRule::AllSucceeded, &[]));
        assert!(!runs(&TriggerRule::AnyFailed, &[]));
    }

    #[test]
    fn context_conditions() {
        let context = Context::from_value(json!({"count": 5, "mode": "full", "empty": []})).unwrap();
        let check = |rule: TriggerRule| {
            rule.evaluate(&TriggerInput { dependencies: DependencyOutcomes::default(), context: Some(&context) })
        };
        assert!(check(TriggerRule::context("count", ConditionOperator::GreaterThan(4.0))));
        assert!(!check(TriggerRule::context("count", ConditionOperator::LessThan(5.0))));
        assert!(check(TriggerRule::context("mode", ConditionOperator::Equals(json!("full")))));
        assert!(check(TriggerRule::context("other", ConditionOperator::NotEquals(json!(1)))));
        assert!(check(TriggerRule::context("other", ConditionOperator::Missing)));
        assert!(!check(TriggerRule::context("empty", ConditionOperator::Truthy)));
        let combined = TriggerRule::All(vec![
            TriggerRule::AllSucceeded,
            TriggerRule::Not(Box::new(TriggerRule::context("mode", ConditionOperator::Equals(json!("dry"))))),
        ]);
        assert!(combined.needs_context());
        assert!(check(combined));
        assert!(!TriggerRule::AllSucceeded.needs_context());
    }
}
