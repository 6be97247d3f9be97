//! Which ticks of a schedule to fire when an executor finds them due, and which it missed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ScheduleError;
use super::cron::CronTimes;

/// At most this many missed ticks fire at once under [`Catchup::All`]: the most recent ones.
pub const MAX_CATCHUP: usize = 100;

/// How late the most recent due tick may be found and still start under [`Catchup::Skip`]:
/// later than that, it was missed. (A tick found before the next one is due is later than this
/// only when ticks are more than this apart.)
pub const SKIP_GRACE: Duration = Duration::from_secs(60);

/// What a schedule does with ticks missed while no executor that serves it was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Catchup {
    /// Missed ticks are skipped: the schedule goes on with its next tick. The most recent due
    /// tick still starts if it is less than [`SKIP_GRACE`] late.
    #[default]
    Skip,
    /// One execution for the most recent missed tick, then the next ticks.
    Latest,
    /// One execution for each missed tick, oldest first: at most [`MAX_CATCHUP`], the most
    /// recent ones.
    All,
}

impl Catchup {
    /// The policy as stored and shown: `skip`, `latest` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Latest => "latest",
            Self::All => "all",
        }
    }
}

impl fmt::Display for Catchup {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Catchup {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "skip" => Ok(Self::Skip),
            "latest" => Ok(Self::Latest),
            "all" => Ok(Self::All),
            other => Err(ScheduleError::InvalidCatchup(other.to_owned())),
        }
    }
}

/// What to do with a schedule found due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Firing {
    /// Ticks to start an execution for, oldest first.
    pub ticks: Vec<DateTime<Utc>>,
    /// Due ticks that are not started (missed, under the policy).
    pub missed: usize,
    /// The schedule's first tick after those: its next fire time.
    pub next: Option<DateTime<Utc>>,
}

/// The ticks from `first` (the schedule's first unhandled tick) to `now` and what `catchup`
/// makes of them. The tick due just now (less than [`SKIP_GRACE`] ago) fires under every
/// policy; older ones were missed.
pub(crate) fn plan(times: &CronTimes, first: DateTime<Utc>, now: DateTime<Utc>, catchup: Catchup) -> Firing {
    let next = times.after(now);
    // The due ticks, newest first, at most one more than any policy fires (to know whether
    // more were missed than counted).
    let mut due: Vec<DateTime<Utc>> = Vec::new();
    let mut cursor = times.at_or_before(now);
    while let Some(tick) = cursor.filter(|&tick| tick >= first) {
        due.push(tick);
        if due.len() > MAX_CATCHUP {
            break;
        }
        cursor = times.before(tick);
    }
    let Some(&latest) = due.first() else {
        return Firing { ticks: Vec::new(), missed: 0, next };
    };
    let on_time = (now - latest).to_std().is_ok_and(|late| late <= SKIP_GRACE);
    let ticks: Vec<DateTime<Utc>> = match catchup {
        Catchup::Skip if on_time => vec![latest],
        Catchup::Skip => Vec::new(),
        Catchup::Latest => vec![latest],
        Catchup::All => due.iter().take(MAX_CATCHUP).rev().copied().collect(),
    };
    // Ticks beyond those counted were missed too; counted as one, as "more than" in messages.
    let missed = due.len() - ticks.len();
    Firing { ticks, missed, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn every_second() -> CronTimes {
        CronTimes::parse("* * * * * *", "UTC").unwrap()
    }

    #[test]
    fn a_tick_due_now_fires_under_every_policy() {
        for catchup in [Catchup::Skip, Catchup::Latest, Catchup::All] {
            let firing = plan(&every_second(), at(10), at(10) + chrono::Duration::milliseconds(20), catchup);
            assert_eq!(firing, Firing { ticks: vec![at(10)], missed: 0, next: Some(at(11)) }, "{catchup}");
        }
    }

    #[test]
    fn nothing_fires_before_the_first_tick() {
        let firing = plan(&every_second(), at(10), at(9), Catchup::All);
        assert_eq!(firing, Firing { ticks: vec![], missed: 0, next: Some(at(10)) });
    }

    #[test]
    fn after_downtime_each_policy_does_what_it_says() {
        // Every five minutes; down from the tick at 0 until 90 seconds after the tick at 600,
        // which is more than the grace late.
        let every_five_minutes = CronTimes::parse("*/5 * * * *", "UTC").unwrap();
        let now = at(690);
        let skip = plan(&every_five_minutes, at(0), now, Catchup::Skip);
        assert_eq!((skip.ticks, skip.missed, skip.next), (vec![], 3, Some(at(900))));
        let latest = plan(&every_five_minutes, at(0), now, Catchup::Latest);
        assert_eq!((latest.ticks, latest.missed), (vec![at(600)], 2));
        let all = plan(&every_five_minutes, at(0), now, Catchup::All);
        assert_eq!((all.ticks, all.missed), (vec![at(0), at(300), at(600)], 0));
    }

    #[test]
    fn a_tick_a_little_late_is_still_on_time() {
        let skip = plan(&every_second(), at(10), at(13), Catchup::Skip);
        assert_eq!(skip.ticks, vec![at(13)], "the tick due now fires");
        assert_eq!(skip.missed, 3);
        let hourly = CronTimes::parse("0 * * * *", "UTC").unwrap();
        let first = hourly.after(at(0)).unwrap();
        let late = plan(&hourly, first, first + chrono::Duration::seconds(59), Catchup::Skip);
        assert_eq!(late.ticks, vec![first], "less than a minute late");
        let missed = plan(&hourly, first, first + chrono::Duration::seconds(61), Catchup::Skip);
        assert_eq!((missed.ticks, missed.missed), (vec![], 1));
    }

    #[test]
    fn catching_up_all_is_bounded_to_the_most_recent() {
        let firing = plan(&every_second(), at(0), at(1_000), Catchup::All);
        assert_eq!(firing.ticks.len(), MAX_CATCHUP);
        assert_eq!(firing.ticks.first(), Some(&at(1_000 - MAX_CATCHUP as i64 + 1)));
        assert_eq!(firing.ticks.last(), Some(&at(1_000)));
        assert!(firing.missed >= 1, "the older ticks are reported missed");
        assert_eq!(firing.next, Some(at(1_001)));
    }

    #[test]
    fn policies_are_read_by_name() {
        assert_eq!("latest".parse::<Catchup>().unwrap(), Catchup::Latest);
        let error = "never".parse::<Catchup>().unwrap_err().to_string();
        assert!(error.contains("`never`") && error.contains("\"skip\""), "{error}");
    }
}
