//! How a running attempt learns that it should stop.
//!
//! The engine stops an `async` task by dropping its future. Code that cannot be dropped midway
//! (a blocking call, a call into another language's runtime) checks a [`StopSignal`] instead:
//! it turns on when the attempt's execution is cancelled, its lease is lost, the executor's
//! shutdown runs out of time, or the attempt's timeout passes.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Whether a running attempt has been asked to stop; cheap to clone and to check.
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    deadline: Option<Instant>,
}

impl StopSignal {
    /// A signal turned on by `token`, and by the clock once `timeout` (if any) has passed (a
    /// timeout too long for the clock counts as none).
    pub fn new(token: CancellationToken, timeout: Option<Duration>) -> Self {
        Self { token, deadline: timeout.and_then(|limit| Instant::now().checked_add(limit)) }
    }

    /// True once the attempt has been asked to stop.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled() || self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// When the attempt's timeout ends, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Resolves once the attempt has been asked to stop.
    pub async fn stopped(&self) {
        match self.deadline {
            Some(deadline) => {
                tokio::select! {
                    _ = self.token.cancelled() => {}
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => self.token.cancelled().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_token_or_the_deadline_stops_an_attempt() {
        let token = CancellationToken::new();
        let cancelled = StopSignal::new(token.clone(), None);
        assert!(!cancelled.is_stopped() && cancelled.deadline().is_none());
        token.cancel();
        assert!(cancelled.is_stopped());
        cancelled.stopped().await;

        let timed = StopSignal::new(CancellationToken::new(), Some(Duration::from_millis(20)));
        assert!(!timed.is_stopped());
        timed.stopped().await;
        assert!(timed.is_stopped());
        assert!(timed.deadline().is_some_and(|deadline| deadline <= Instant::now()));
    }
}
