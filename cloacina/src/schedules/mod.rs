//! Cron schedules: a workflow started at the ticks of a cron expression in a time zone.
//!
//! A schedule is stored in the database; every running executor that has its workflow
//! registered serves it (see `executor/schedules.rs`). Each tick starts one execution however
//! many processes serve it: the execution is started under a key made of the schedule's name and
//! the tick ([`tick_key`]), and a workflow has one execution per key. Ticks missed while no
//! executor served the schedule follow its [`Catchup`] policy.

mod catchup;
mod cron;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub(crate) use catchup::plan;
pub use catchup::{Catchup, MAX_CATCHUP, SKIP_GRACE};
pub use cron::CronTimes;

use crate::context::Context;
pub use crate::error::ScheduleError;
use crate::values::tagged;

/// The context key under which each execution a schedule starts finds its tick: a datetime in
/// the schedule's time zone (read in Python as an aware `datetime.datetime`).
pub const SCHEDULED_AT_KEY: &str = "scheduled_at";

/// The longest schedule name, in characters (its executions' keys hold it).
pub const MAX_NAME_CHARS: usize = 200;

/// A schedule to create (or to update, under a name already used).
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// The cron expression: five fields, or six with seconds first.
    pub cron: String,
    /// The IANA time zone it is read in (default `UTC`).
    pub timezone: String,
    /// The initial context of every execution it starts (besides [`SCHEDULED_AT_KEY`]).
    pub context: Context,
    /// What happens to ticks missed while no executor served it.
    pub catchup: Catchup,
    /// Its name; the workflow's name when not given.
    pub name: Option<String>,
}

impl NewSchedule {
    /// A schedule firing at `cron`, in UTC, with an empty context, skipping missed ticks.
    pub fn new(cron: impl Into<String>) -> Self {
        Self {
            cron: cron.into(),
            timezone: "UTC".to_owned(),
            context: Context::new(),
            catchup: Catchup::Skip,
            name: None,
        }
    }

    /// In this IANA time zone.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// With this initial context.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// With this catch-up policy.
    pub fn catchup(mut self, catchup: Catchup) -> Self {
        self.catchup = catchup;
        self
    }

    /// Under this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Its name, unique in the database.
    pub name: String,
    /// The workflow it starts.
    pub workflow_name: String,
    /// Its cron expression.
    pub cron: String,
    /// The time zone the expression is read in.
    pub timezone: String,
    /// What happens to missed ticks.
    pub catchup: Catchup,
    /// The initial context of its executions.
    pub context: Context,
    /// Whether it is paused: a paused schedule starts nothing, and its ticks while paused are
    /// not caught up when it resumes.
    pub paused: bool,
    /// Its next tick not yet handled; `None` if the expression never fires again.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The tick of the last execution it started.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The last execution it started.
    pub last_execution_id: Option<Uuid>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its definition or state last changed.
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// Its cron expression in its time zone.
    pub fn times(&self) -> Result<CronTimes, ScheduleError> {
        CronTimes::parse(&self.cron, &self.timezone)
    }

    /// Its next `count` ticks after `after` (paused or not).
    pub fn next_fire_times(&self, count: usize, after: DateTime<Utc>) -> Result<Vec<DateTime<Utc>>, ScheduleError> {
        Ok(self.times()?.upcoming(after, count))
    }

    /// Whether its next tick is more than [`SKIP_GRACE`] past at `now` while it is not paused:
    /// no running executor serves it (none has its workflow registered).
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        let grace = chrono::Duration::from_std(SKIP_GRACE).unwrap_or(chrono::Duration::MAX);
        !self.paused && self.next_fire_at.is_some_and(|next| now - next > grace)
    }
}

/// Checks a schedule name: 1 to [`MAX_NAME_CHARS`] printable characters, no space at either end.
pub fn check_name(name: &str) -> Result<(), ScheduleError> {
    let problem = if name.is_empty() {
        Some("is empty".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!("is longer than {MAX_NAME_CHARS} characters"))
    } else if name.chars().any(char::is_control) {
        Some("holds a control character".to_owned())
    } else if name.trim() != name {
        Some("begins or ends with a space".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ScheduleError::InvalidName { name: name.to_owned(), problem }),
        None => Ok(()),
    }
}

/// The key a schedule's execution for `tick` is started under: one execution per tick.
pub fn tick_key(name: &str, tick: DateTime<Utc>) -> String {
    format!("schedule:{name}:{}", tick.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The tick as stored in an execution's context: a datetime in the schedule's time zone, with
/// the zone's name, as Python writes a `zoneinfo` datetime.
pub fn tick_value(tick: DateTime<Utc>, times: &CronTimes) -> Value {
    let zone = times.zone();
    let local = tick.with_timezone(&zone).fixed_offset();
    let mut value = tagged("datetime", Value::String(local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()));
    if let Value::Object(map) = &mut value {
        map.insert("zone".to_owned(), Value::String(zone.name().to_owned()));
    }
    value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("nightly report").is_ok());
        for (name, problem) in [("", "empty"), (" x", "space"), ("a\nb", "control"), (&"x".repeat(201), "longer")] {
            let error = check_name(name).unwrap_err().to_string();
            assert!(error.contains(problem), "{name:?}: {error}");
        }
    }

    #[test]
    fn a_tick_is_stored_in_the_schedules_zone() {
        let times = CronTimes::parse("0 2 * * *", "Europe/Paris").unwrap();
        let tick = DateTime::parse_from_rfc3339("2026-07-14T00:00:00Z").unwrap().to_utc();
        assert_eq!(
            tick_value(tick, &times),
            json!({"$cloacina": "datetime", "value": "2026-07-14T02:00:00+02:00", "zone": "Europe/Paris"})
        );
        assert_eq!(tick_key("nightly", tick), "schedule:nightly:2026-07-14T00:00:00Z");
    }
}
