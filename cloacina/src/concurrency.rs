//! Concurrency limits: at most so many attempts of the tasks that share a key run at once,
//! across every workflow and every process on the database.
//!
//! A limited task is never claimed by the batch claims: it is claimed by a claim of its own
//! that, holding the key (PostgreSQL: an advisory lock for the transaction; SQLite: the write
//! lock every claim holds), counts the attempts holding the key that run now and takes only the
//! free slots. An attempt that ends frees its slot in the transaction that records it, which
//! then claims waiting work of that key, and tells the other processes that work is ready.

use std::fmt;

use crate::limits;

/// The most attempts a limit may let run at once.
pub const MAX_CONCURRENCY: u32 = 100_000;

/// At most `limit` attempts holding `key` run at once, across workflows and processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ConcurrencyLimit {
    /// The key the attempts share (`"search-api"`): 1 to 255 printable characters.
    pub key: String,
    /// How many may run at once: 1 to [`MAX_CONCURRENCY`].
    pub limit: u32,
}

impl ConcurrencyLimit {
    /// A limit of `limit` attempts at once on `key`.
    pub fn new(key: impl Into<String>, limit: u32) -> Self {
        Self { key: key.into(), limit }
    }

    /// Why the limit cannot be used, if it cannot: a bad key, or a limit out of range.
    pub fn problem(&self) -> Option<String> {
        if let Err(problem) = limits::check_name(&self.key) {
            return Some(format!("its concurrency key {problem}"));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.limit) {
            return Some(format!(
                "its concurrency is {}; it must be from 1 to {MAX_CONCURRENCY} attempts at once",
                self.limit
            ));
        }
        None
    }
}

impl fmt::Display for ConcurrencyLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "at most {} at once on `{}`", self.limit, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert_eq!(ConcurrencyLimit::new("search-api", 3).problem(), None);
        assert_eq!(ConcurrencyLimit::new("", 3).problem().unwrap(), "its concurrency key is empty");
        assert!(ConcurrencyLimit::new("api", 0).problem().unwrap().contains("concurrency is 0"));
        assert!(ConcurrencyLimit::new("api", MAX_CONCURRENCY + 1).problem().is_some());
        assert_eq!(ConcurrencyLimit::new("api", 2).to_string(), "at most 2 at once on `api`");
    }
}
