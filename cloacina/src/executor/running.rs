//! The attempts running in this process, so that they can be stopped: when their execution ends,
//! when their lease is lost, or when shutdown runs out of time.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::engine::lock;
use crate::task::Canceller;

struct Running {
    token: CancellationToken,
    since: Instant,
    /// Stops an attempt handed to what runs its task (see `Task::start`).
    canceller: Option<Canceller>,
}

impl Running {
    /// Cancels the attempt; its canceller, if it has one, to be called once the lock is let go.
    fn cancel(&mut self) -> Option<Canceller> {
        self.token.cancel();
        self.canceller.take()
    }
}

/// Calls the cancellers of stopped attempts (outside the lock: a canceller may take a while).
fn call_all(cancellers: Vec<Canceller>) {
    for canceller in cancellers {
        canceller();
    }
}

/// Running attempts by execution and task id.
#[derive(Default)]
pub(crate) struct RunningAttempts {
    attempts: Mutex<HashMap<Uuid, HashMap<String, Running>>>,
}

impl RunningAttempts {
    /// Registers an attempt; its token is cancelled to stop it.
    pub fn start(&self, execution_id: Uuid, task_id: &str) -> CancellationToken {
        let token = CancellationToken::new();
        let running = Running { token: token.clone(), since: Instant::now(), canceller: None };
        lock(&self.attempts).entry(execution_id).or_default().insert(task_id.to_owned(), running);
        token
    }

    /// Gives an attempt handed to what runs its task the way to stop it: called at once if the
    /// attempt was cancelled already (or is no longer registered).
    pub fn set_canceller(&self, execution_id: Uuid, task_id: &str, canceller: Canceller) {
        let unregistered = {
            let mut attempts = lock(&self.attempts);
            match attempts.get_mut(&execution_id).and_then(|tasks| tasks.get_mut(task_id)) {
                Some(running) if !running.token.is_cancelled() => {
                    running.canceller = Some(canceller);
                    None
                }
                _ => Some(canceller),
            }
        };
        if let Some(canceller) = unregistered {
            canceller();
        }
    }

    /// Unregisters an attempt.
    pub fn end(&self, execution_id: Uuid, task_id: &str) {
        let mut attempts = lock(&self.attempts);
        if let Some(tasks) = attempts.get_mut(&execution_id) {
            tasks.remove(task_id);
            if tasks.is_empty() {
                attempts.remove(&execution_id);
            }
        }
    }

    /// Stops every attempt of an execution.
    pub fn cancel_execution(&self, execution_id: Uuid) {
        let removed = lock(&self.attempts).remove(&execution_id);
        if let Some(mut tasks) = removed {
            call_all(tasks.values_mut().filter_map(Running::cancel).collect());
        }
    }

    /// The attempts running, as (execution, task id).
    pub fn list(&self) -> Vec<(Uuid, String)> {
        let attempts = lock(&self.attempts);
        attempts
            .iter()
            .flat_map(|(execution_id, tasks)| tasks.keys().map(|task| (*execution_id, task.clone())))
            .collect()
    }

    /// Stops every attempt; returns what was running.
    pub fn cancel_all(&self) -> Vec<(Uuid, String)> {
        let attempts = std::mem::take(&mut *lock(&self.attempts));
        let (mut stopped, mut cancellers) = (Vec::new(), Vec::new());
        for (execution_id, tasks) in attempts {
            for (task_id, mut running) in tasks {
                cancellers.extend(running.cancel());
                stopped.push((execution_id, task_id));
            }
        }
        call_all(cancellers);
        stopped
    }

    /// Stops the attempts that started before `checked_at` whose task is not in `held` (the
    /// leases the database says this process holds): their lease was lost, or their execution
    /// was cancelled elsewhere. Returns how many were stopped.
    pub fn cancel_unheld(&self, held: &HashSet<(Uuid, String)>, checked_at: Instant) -> usize {
        let mut cancellers = Vec::new();
        let mut stopped = 0;
        for (execution_id, tasks) in lock(&self.attempts).iter_mut() {
            for (task_id, running) in tasks.iter_mut() {
                let key = (*execution_id, task_id.clone());
                if running.since < checked_at && !held.contains(&key) && !running.token.is_cancelled() {
                    cancellers.extend(running.cancel());
                    stopped += 1;
                }
            }
        }
        call_all(cancellers);
        stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_attempts_older_than_the_check_and_not_held_are_stopped() {
        let running = RunningAttempts::default();
        let (held_execution, lost_execution) = (Uuid::new_v4(), Uuid::new_v4());
        let held = running.start(held_execution, "a");
        let lost = running.start(lost_execution, "b");
        let checked_at = Instant::now() + std::time::Duration::from_millis(1);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let newer = running.start(lost_execution, "c");
        let leases: HashSet<(Uuid, String)> = [(held_execution, "a".to_owned())].into();
        assert_eq!(running.cancel_unheld(&leases, checked_at), 1);
        assert!(lost.is_cancelled());
        assert!(!held.is_cancelled() && !newer.is_cancelled());
        let mut listed = running.list();
        listed.sort();
        let mut expected =
            vec![(held_execution, "a".to_owned()), (lost_execution, "b".to_owned()), (lost_execution, "c".to_owned())];
        expected.sort();
        assert_eq!(listed, expected);
        running.cancel_execution(held_execution);
        assert!(held.is_cancelled());
        let mut stopped = running.cancel_all();
        stopped.sort();
        assert_eq!(stopped, [(lost_execution, "b".to_owned()), (lost_execution, "c".to_owned())]);
        assert!(newer.is_cancelled());
    }

    fn counting(calls: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Canceller {
        let calls = std::sync::Arc::clone(calls);
        Box::new(move || {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
    }

    #[test]
    fn a_canceller_is_called_once_when_its_attempt_is_stopped_or_at_once_if_it_was() {
        use std::sync::atomic::Ordering::SeqCst;
        let running = RunningAttempts::default();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let execution = Uuid::new_v4();
        let token = running.start(execution, "a");
        running.set_canceller(execution, "a", counting(&calls));
        assert_eq!(calls.load(SeqCst), 0);
        running.cancel_execution(execution);
        assert!(token.is_cancelled());
        assert_eq!(calls.load(SeqCst), 1);
        running.cancel_all();
        assert_eq!(calls.load(SeqCst), 1, "called once only");
        // Set after its attempt was stopped (here: no longer registered): called at once.
        running.set_canceller(execution, "a", counting(&calls));
        assert_eq!(calls.load(SeqCst), 2);
        // Stopped because its lease is not held.
        let other = Uuid::new_v4();
        running.start(other, "b");
        running.set_canceller(other, "b", counting(&calls));
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(running.cancel_unheld(&HashSet::new(), Instant::now()), 1);
        assert_eq!(calls.load(SeqCst), 3);
    }
}
