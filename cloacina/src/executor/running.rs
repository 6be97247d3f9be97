//! The attempts running in this process, so that they can be stopped: when their execution ends,
//! when their lease is lost, or when shutdown runs out of time.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::engine::lock;

struct Running {
    token: CancellationToken,
    since: Instant,
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
        let running = Running { token: token.clone(), since: Instant::now() };
        lock(&self.attempts).entry(execution_id).or_default().insert(task_id.to_owned(), running);
        token
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
        if let Some(tasks) = lock(&self.attempts).remove(&execution_id) {
            tasks.values().for_each(|running| running.token.cancel());
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
        let mut stopped = Vec::new();
        for (execution_id, tasks) in attempts {
            for (task_id, running) in tasks {
                running.token.cancel();
                stopped.push((execution_id, task_id));
            }
        }
        stopped
    }

    /// Stops the attempts that started before `checked_at` whose task is not in `held` (the
    /// leases the database says this process holds): their lease was lost, or their execution
    /// was cancelled elsewhere. Returns how many were stopped.
    pub fn cancel_unheld(&self, held: &HashSet<(Uuid, String)>, checked_at: Instant) -> usize {
        let mut stopped = 0;
        for (execution_id, tasks) in lock(&self.attempts).iter() {
            for (task_id, running) in tasks {
                let key = (*execution_id, task_id.clone());
                if running.since < checked_at && !held.contains(&key) && !running.token.is_cancelled() {
                    running.token.cancel();
                    stopped += 1;
                }
            }
        }
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
}
