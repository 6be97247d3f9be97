//! When a cron expression fires in a time zone, read by the `croner` crate (Vixie cron's
//! fields, optional seconds, and its daylight-saving rules) with `chrono-tz`'s zone database.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, JobType};

use super::ScheduleError;

/// A cron expression in a time zone: the times it fires at.
///
/// Times are those of the zone's wall clock. When the clock goes back an hour, a time of day
/// named by fixed fields (`30 1 * * *`) fires once, at its first occurrence, while an expression
/// with a wildcard or a step in its hour, minute or second (`0 * * * *`) fires in both passes
/// through the repeated hour, as it fires every hour; when the clock goes forward, times in the
/// skipped hour do not exist, and a fixed time among them does not fire that day.
#[derive(Debug, Clone)]
pub struct CronTimes {
    cron: Cron,
    zone: Tz,
    fixed_time: bool,
}

impl CronTimes {
    /// Reads `expression` (five fields, or six with seconds first) in the IANA time zone
    /// `timezone` (`"UTC"`, `"Europe/Paris"`).
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let zone = Tz::from_str(timezone).map_err(|_| ScheduleError::UnknownTimezone(timezone.to_owned()))?;
        let fields = expression.split_whitespace().count();
        if !(5..=6).contains(&fields) && !expression.trim_start().starts_with('@') {
            return Err(ScheduleError::InvalidCron {
                expression: expression.to_owned(),
                problem: format!(
                    "has {fields} fields; write five (minute hour day-of-month month day-of-week) or six (seconds first)"
                ),
            });
        }
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
        let cron = parser.parse(expression).map_err(|error| ScheduleError::InvalidCron {
            expression: expression.to_owned(),
            problem: error.to_string(),
        })?;
        let fixed_time = cron.determine_job_type() == JobType::FixedTime;
        let times = Self { cron, zone, fixed_time };
        // An expression that can never fire (the 30th of February) is refused now, not when its
        // first tick is looked for.
        times.after(Utc::now()).ok_or_else(|| ScheduleError::InvalidCron {
            expression: expression.to_owned(),
            problem: "never fires".to_owned(),
        })?;
        Ok(times)
    }

    /// The time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The first time it fires strictly after `time`, if it ever does.
    pub fn after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = time.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        if self.fixed_time && next.naive_local() == start.naive_local() {
            // The second pass of the wall clock through a repeated hour, at the time of day
            // that already fired in the first: a fixed time fires once.
            return self.after(next.with_timezone(&Utc));
        }
        Some(next.with_timezone(&Utc))
    }

    /// The last time it fired at or before `time`, if it ever did.
    pub fn at_or_before(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = time.with_timezone(&self.zone);
        let previous = self.cron.find_previous_occurrence(&start, true).ok()?;
        Some(previous.with_timezone(&Utc))
    }

    /// The last time it fired strictly before `time`, if it ever did.
    pub fn before(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = time.with_timezone(&self.zone);
        let previous = self.cron.find_previous_occurrence(&start, false).ok()?;
        Some(previous.with_timezone(&Utc))
    }

    /// The next `count` times it fires strictly after `time`.
    pub fn upcoming(&self, time: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.after(time), |&previous| self.after(previous)).take(count).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn local(times: &[DateTime<Utc>], zone: Tz) -> Vec<String> {
        times.iter().map(|time| time.with_timezone(&zone).format("%m-%d %H:%M:%S %Z").to_string()).collect()
    }

    #[test]
    fn five_and_six_fields_are_read_and_others_refused() {
        let every_second = CronTimes::parse("* * * * * *", "UTC").unwrap();
        assert_eq!(every_second.after(utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-01T00:00:01Z")));
        let nightly = CronTimes::parse("0 2 * * *", "UTC").unwrap();
        assert_eq!(nightly.after(utc("2026-01-01T03:00:00Z")), Some(utc("2026-01-02T02:00:00Z")));
        for (expression, problem) in [
            ("* * * *", "has 4 fields"),
            ("0 0 0 * * * 2030", "has 7 fields"),
            ("61 * * * *", "Component error"),
            ("0 0 30 2 *", "never fires"),
        ] {
            let error = CronTimes::parse(expression, "UTC").unwrap_err().to_string();
            assert!(error.contains(problem), "{expression}: {error}");
        }
        let error = CronTimes::parse("0 2 * * *", "Mars/Olympus").unwrap_err().to_string();
        assert!(error.contains("`Mars/Olympus`") && error.contains("Europe/Paris"), "{error}");
    }

    #[test]
    fn a_fixed_time_fires_once_when_the_clock_goes_back() {
        // New York's clocks went back from 02:00 EDT to 01:00 EST on 2026-11-01.
        let zone: Tz = "America/New_York".parse().unwrap();
        let daily = CronTimes::parse("30 1 * * *", "America/New_York").unwrap();
        let start = zone.with_ymd_and_hms(2026, 10, 31, 12, 0, 0).unwrap().with_timezone(&Utc);
        assert_eq!(
            local(&daily.upcoming(start, 3), zone),
            ["11-01 01:30:00 EDT", "11-02 01:30:00 EST", "11-03 01:30:00 EST"]
        );
    }

    #[test]
    fn an_hourly_expression_fires_in_both_passes_through_the_repeated_hour() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let hourly = CronTimes::parse("0 * * * *", "America/New_York").unwrap();
        let start = zone.with_ymd_and_hms(2026, 10, 31, 23, 30, 0).unwrap().with_timezone(&Utc);
        let ticks = hourly.upcoming(start, 4);
        assert_eq!(
            local(&ticks, zone),
            ["11-01 00:00:00 EDT", "11-01 01:00:00 EDT", "11-01 01:00:00 EST", "11-01 02:00:00 EST"]
        );
        // Each an hour after the one before: no hour doubled or lost.
        assert!(ticks.windows(2).all(|pair| pair[1] - pair[0] == chrono::Duration::hours(1)));
    }

    #[test]
    fn times_the_clock_skips_do_not_fire() {
        // New York's clocks went forward from 02:00 EST to 03:00 EDT on 2026-03-08.
        let zone: Tz = "America/New_York".parse().unwrap();
        let hourly = CronTimes::parse("0 * * * *", "America/New_York").unwrap();
        let start = zone.with_ymd_and_hms(2026, 3, 8, 0, 30, 0).unwrap().with_timezone(&Utc);
        let ticks = hourly.upcoming(start, 3);
        assert_eq!(local(&ticks, zone), ["03-08 01:00:00 EST", "03-08 03:00:00 EDT", "03-08 04:00:00 EDT"]);
        assert!(ticks.windows(2).all(|pair| pair[1] - pair[0] == chrono::Duration::hours(1)));
    }

    #[test]
    fn the_last_time_before_is_found_backwards() {
        let every_minute = CronTimes::parse("* * * * *", "UTC").unwrap();
        assert_eq!(every_minute.at_or_before(utc("2026-01-01T00:05:00Z")), Some(utc("2026-01-01T00:05:00Z")));
        assert_eq!(every_minute.before(utc("2026-01-01T00:05:00Z")), Some(utc("2026-01-01T00:04:00Z")));
        assert_eq!(every_minute.at_or_before(utc("2026-01-01T00:05:30Z")), Some(utc("2026-01-01T00:05:00Z")));
    }
}
