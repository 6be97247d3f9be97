//! Python task calls in flight on the engine's threads, so that none is left running when the
//! interpreter exits (a thread still in Python then is killed mid-call, aborting the process).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Each call's cancellation flag, by call number.
static CALLS: Mutex<Vec<(u64, Arc<AtomicBool>)>> = Mutex::new(Vec::new());
static ENDED: Condvar = Condvar::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

fn calls() -> MutexGuard<'static, Vec<(u64, Arc<AtomicBool>)>> {
    CALLS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A call in flight; it is counted until dropped.
pub struct Call {
    number: u64,
}

/// Counts a call whose cancellation sets `cancelled`.
pub fn begin(cancelled: Arc<AtomicBool>) -> Call {
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    calls().push((number, cancelled));
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
    for (_, cancelled) in calls().iter() {
        cancelled.store(true, Ordering::SeqCst);
    }
}

/// Waits until no call is in flight, at most `timeout`; true if none is left. Call it without
/// holding the GIL: the calls need it to finish.
pub fn wait_until_none(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut in_flight = calls();
    while !in_flight.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        in_flight = ENDED.wait_timeout(in_flight, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_the_last_call_ends() {
        let flag = Arc::new(AtomicBool::new(false));
        let call = begin(Arc::clone(&flag));
        assert!(!wait_until_none(Duration::from_millis(10)));
        cancel_all();
        assert!(flag.load(Ordering::SeqCst));
        let ender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(call);
        });
        assert!(wait_until_none(Duration::from_secs(5)));
        ender.join().unwrap();
    }
}
