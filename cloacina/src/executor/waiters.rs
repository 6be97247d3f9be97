//! Callers waiting for executions to finish, answered the moment this process sees the end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::result::ExecutionStatus;

/// The waiters of each execution, each with its registration id.
type WaitingMap = HashMap<Uuid, Vec<(u64, oneshot::Sender<ExecutionStatus>)>>;

/// Waiters by execution.
pub(crate) struct Waiters {
    next_id: AtomicU64,
    waiting: Mutex<WaitingMap>,
    /// Bumped when ends may have gone unannounced (notifications from other processes missed
    /// while the listener was not connected): every waiter then reads its execution's status again.
    rechecks: watch::Sender<u64>,
}

impl Default for Waiters {
    fn default() -> Self {
        Self { next_id: AtomicU64::new(0), waiting: Mutex::default(), rechecks: watch::Sender::new(0) }
    }
}

/// One registered waiter; unregisters itself when dropped.
pub(crate) struct Waiter<'a> {
    waiters: &'a Waiters,
    execution_id: Uuid,
    id: u64,
    /// Resolves with the final status when the execution ends in this process's view.
    pub finished: oneshot::Receiver<ExecutionStatus>,
    /// Changes when the waiter should read the execution's status again (see [`Waiters::recheck`]).
    pub rechecks: watch::Receiver<u64>,
}

impl Waiters {
    /// Registers interest in an execution's end. Register before reading its status, so that an
    /// end announced in between is not missed.
    pub fn register(&self, execution_id: Uuid) -> Waiter<'_> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, finished) = oneshot::channel();
        self.lock().entry(execution_id).or_default().push((id, sender));
        Waiter { waiters: self, execution_id, id, finished, rechecks: self.rechecks.subscribe() }
    }

    /// Asks every waiter to read its execution's status again: an end may have been announced
    /// while this process could not hear it.
    pub fn recheck(&self) {
        self.rechecks.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Answers every waiter of an execution that has ended.
    pub fn finished(&self, execution_id: Uuid, status: ExecutionStatus) {
        if let Some(waiting) = self.lock().remove(&execution_id) {
            for (_, sender) in waiting {
                let _ = sender.send(status);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WaitingMap> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiting = self.waiters.lock();
        if let Some(list) = waiting.get_mut(&self.execution_id) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                waiting.remove(&self.execution_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_is_answered_and_dropped_ones_leave_nothing() {
        let waiters = Waiters::default();
        let execution = Uuid::new_v4();
        let first = waiters.register(execution);
        let second = waiters.register(execution);
        drop(waiters.register(execution));
        assert_eq!(waiters.lock()[&execution].len(), 2);
        waiters.finished(execution, ExecutionStatus::Completed);
        let (mut first, mut second) = (first, second);
        assert_eq!((&mut first.finished).await.unwrap(), ExecutionStatus::Completed);
        assert_eq!((&mut second.finished).await.unwrap(), ExecutionStatus::Completed);
        drop((first, second));
        assert!(waiters.lock().is_empty());
    }
}
