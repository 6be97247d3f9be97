//! Sets of this process's executors, by id, for the settings the engine does not carry (which
//! executors read pickles, which keep their tasks' prints): read where only the attempt's
//! `owner_id` is at hand.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Executor ids.
pub struct ExecutorSet(Mutex<Vec<String>>);

impl ExecutorSet {
    /// An empty set.
    pub const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// Adds the executor with id `owner_id`.
    pub fn insert(&self, owner_id: &str) {
        self.lock().push(owner_id.to_owned());
    }

    /// Whether the executor with id `owner_id` is in the set.
    pub fn contains(&self, owner_id: &str) -> bool {
        self.lock().iter().any(|member| member == owner_id)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
