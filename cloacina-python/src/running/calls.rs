//! Python calls in flight on the engine's threads, so that none is left running unseen when the
//! interpreter exits (a thread still in Python then is killed mid-call, aborting the process),
//! and so that Ctrl-C and exit can say which task functions they wait for.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use uuid::Uuid;

use crate::running::runtime::SIGNAL_CHECK_INTERVAL;

/// A call: the flag that asks it to stop, and the task attempt it runs, if it runs one.
#[derive(Clone, Default)]
pub struct CallOf {
    /// Set to ask the call to stop (`context.cancelled`).
    pub cancelled: Arc<AtomicBool>,
    /// The execution and task of a task function's call.
    pub task: Option<(Uuid, String)>,
}

impl From<Arc<AtomicBool>> for CallOf {
    fn from(cancelled: Arc<AtomicBool>) -> Self {
        Self { cancelled, task: None }
    }
}

/// Each call in flight, by call number.
static CALLS: Mutex<Vec<(u64, CallOf)>> = Mutex::new(Vec::new());
static ENDED: Condvar = Condvar::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

fn calls() -> MutexGuard<'static, Vec<(u64, CallOf)>> {
    CALLS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A call in flight; it is counted until dropped.
pub struct Call {
    number: u64,
}

/// Counts a call.
pub fn begin(call: impl Into<CallOf>) -> Call {
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    calls().push((number, call.into()));
    Call { number }
}

impl Drop for Call {
    fn drop(&mut self) {
        calls().retain(|(number, _)| *number != self.number);
        ENDED.notify_all();
    }
}

/// Asks every call in flight to stop (their `context.cancelled` turns true).
pub fn cancel_all() {
    for (_, call) in calls().iter() {
        call.cancelled.store(true, Ordering::SeqCst);
    }
}

/// The task functions running now, as (execution, task id): of one execution, or of all.
pub fn running_tasks(execution: Option<Uuid>) -> Vec<(Uuid, String)> {
    calls()
        .iter()
        .filter_map(|(_, call)| call.task.clone())
        .filter(|(execution_id, _)| execution.is_none_or(|wanted| *execution_id == wanted))
        .collect()
}

/// Waits until no call in flight matches `matches`, at most `timeout`; true if none is left.
/// Call it without holding the GIL: the calls need it to finish.
pub fn wait_until_none_match(matches: impl Fn(&CallOf) -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now().checked_add(timeout);
    let mut in_flight = calls();
    while in_flight.iter().any(|(_, call)| matches(call)) {
        let left =
            deadline.map_or(Duration::from_secs(3600), |deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            return false;
        }
        in_flight = ENDED.wait_timeout(in_flight, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
    true
}

/// Waits until no call is in flight, at most `timeout`; true if none is left. Call it without
/// holding the GIL.
pub fn wait_until_none(timeout: Duration) -> bool {
    wait_until_none_match(|_| true, timeout)
}

/// Like [`wait_until_none_match`], releasing the GIL and answering Ctrl-C: `Err` with the
/// pending exception (usually `KeyboardInterrupt`) if a signal handler raised one.
pub fn wait_interruptibly(
    py: Python<'_>,
    matches: impl Fn(&CallOf) -> bool + Send + Sync,
    timeout: Duration,
) -> PyResult<bool> {
    let deadline = Instant::now().checked_add(timeout);
    loop {
        let left =
            deadline.map_or(SIGNAL_CHECK_INTERVAL, |deadline| deadline.saturating_duration_since(Instant::now()));
        if py.detach(|| wait_until_none_match(&matches, left.min(SIGNAL_CHECK_INTERVAL))) {
            return Ok(true);
        }
        py.check_signals()?;
        if left.is_zero() {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_the_last_call_ends() {
        let flag = Arc::new(AtomicBool::new(false));
        let execution = Uuid::new_v4();
        let call = begin(CallOf { cancelled: Arc::clone(&flag), task: Some((execution, "slow".to_owned())) });
        let other = begin(Arc::new(AtomicBool::new(false)));
        assert_eq!(running_tasks(Some(execution)), [(execution, "slow".to_owned())]);
        assert!(running_tasks(Some(Uuid::new_v4())).is_empty());
        assert!(!wait_until_none(Duration::from_millis(10)));
        drop(other);
        cancel_all();
        assert!(flag.load(Ordering::SeqCst));
        let ender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(call);
        });
        assert!(wait_until_none_match(|call| call.task.is_some(), Duration::from_secs(5)));
        ender.join().unwrap();
    }
}
