//! How often a failing task is attempted, and how long the engine waits between attempts.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::limits::MAX_DURATION;

/// How the delay grows from one retry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// Every retry waits `initial_delay`.
    Fixed,
    /// Retry `n` waits `n * initial_delay`.
    Linear,
    /// Retry `n` waits `initial_delay * multiplier^(n-1)`.
    Exponential {
        /// The growth factor between consecutive retries (at least 1).
        multiplier: f64,
    },
}

/// When and how often a failed task is attempted again.
///
/// `max_attempts` counts every attempt, the first included: `1` means no retry. A delay never
/// exceeds `max_delay`; with `jitter`, each delay is drawn uniformly between half and all of it,
/// so that many failing tasks do not retry in lockstep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// How the delay grows.
    pub backoff: Backoff,
    /// The delay before the first retry.
    pub initial_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Whether delays are randomised (between 50% and 100% of the computed delay).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// One attempt, no retry.
    fn default() -> Self {
        Self {
            max_attempts: 1,
            backoff: Backoff::Exponential { multiplier: 2.0 },
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            jitter: false,
        }
    }
}

impl RetryPolicy {
    /// No retry: the first failure is final.
    pub fn none() -> Self {
        Self::default()
    }

    /// Up to `max_attempts` attempts with exponential backoff from one second.
    pub fn attempts(max_attempts: u32) -> Self {
        Self { max_attempts: max_attempts.max(1), ..Self::default() }
    }

    /// Sets the backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the delay before the first retry.
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets the longest delay.
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Whether another attempt is allowed after `attempt` attempts have failed.
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The delay before the attempt that follows failed attempt number `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let retry = attempt.max(1);
        let initial = self.initial_delay.as_secs_f64();
        let seconds = match self.backoff {
            Backoff::Fixed => initial,
            Backoff::Linear => initial * f64::from(retry),
            Backoff::Exponential { multiplier } => initial * multiplier.max(1.0).powi(retry as i32 - 1),
        };
        // NaN (from odd settings) counts as no delay; nothing waits longer than the limit.
        let longest = self.max_delay.min(MAX_DURATION).as_secs_f64();
        let capped = if seconds.is_nan() { 0.0 } else { seconds.clamp(0.0, longest) };
        let delay = if self.jitter { capped * rand::rng().random_range(0.5..=1.0) } else { capped };
        Duration::try_from_secs_f64(delay).unwrap_or(MAX_DURATION).min(MAX_DURATION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff: Backoff) -> RetryPolicy {
        RetryPolicy::attempts(10)
            .with_backoff(backoff)
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(1000))
    }

    #[test]
    fn fixed_waits_the_same_each_time() {
        let policy = policy(Backoff::Fixed);
        assert_eq!(policy.delay_after(1), Duration::from_millis(100));
        assert_eq!(policy.delay_after(5), Duration::from_millis(100));
    }

    #[test]
    fn linear_grows_by_the_initial_delay() {
        let policy = policy(Backoff::Linear);
        assert_eq!(policy.delay_after(1), Duration::from_millis(100));
        assert_eq!(policy.delay_after(3), Duration::from_millis(300));
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let policy = policy(Backoff::Exponential { multiplier: 2.0 });
        let delays: Vec<_> = (1..=6).map(|attempt| policy.delay_after(attempt).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        let policy = policy(Backoff::Fixed).with_jitter(true);
        for _ in 0..200 {
            let delay = policy.delay_after(1);
            assert!(delay >= Duration::from_millis(50) && delay <= Duration::from_millis(100), "{delay:?}");
        }
    }

    #[test]
    fn huge_or_odd_settings_never_exceed_the_longest_delay() {
        let huge = RetryPolicy::attempts(u32::MAX)
            .with_initial_delay(Duration::from_secs(10_000_000_000_000))
            .with_max_delay(Duration::MAX);
        assert_eq!(huge.delay_after(u32::MAX - 1), MAX_DURATION);
        let odd = RetryPolicy::attempts(3).with_backoff(Backoff::Exponential { multiplier: f64::NAN });
        assert_eq!(odd.delay_after(2), Duration::from_secs(1));
    }

    #[test]
    fn attempts_count_the_first_one() {
        let policy = RetryPolicy::attempts(3);
        assert!(policy.allows_retry_after(1));
        assert!(policy.allows_retry_after(2));
        assert!(!policy.allows_retry_after(3));
        assert!(!RetryPolicy::none().allows_retry_after(1));
        assert_eq!(RetryPolicy::attempts(0).max_attempts, 1);
    }
}
