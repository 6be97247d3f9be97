//! The executor's settings, validated before anything starts.

use std::time::Duration;

use crate::error::{ConfigError, format_duration};
use crate::limits::{MAX_CONCURRENT_TASKS, MAX_DURATION, MAX_POOL_SIZE, MAX_SQLITE_BUSY_TIMEOUT};
use crate::logs::LogLevel;
use crate::store::{DatabaseUrl, SqliteSynchronous, StoreOptions};

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Tasks this executor runs at the same time (at least 1).
    pub max_concurrent_tasks: usize,
    /// Whether this executor runs tasks. A submit-only executor (`false`) starts executions,
    /// waits for and inspects them, and leaves every task to worker processes.
    pub run_tasks: bool,
    /// Whether this executor starts the due ticks of the schedules of its registered workflows
    /// (see [`crate::schedules`]). Any number of executors may: each tick starts once. A
    /// process that only looks (a command, the web page) turns it off.
    pub run_schedules: bool,
    /// The timeout of a task attempt when the task sets none; `None` means no limit.
    pub task_timeout: Option<Duration>,
    /// How often the executor looks for work when nothing has woken it (at least 10 ms).
    /// Work is normally found through notifications; this is the fallback.
    pub poll_interval: Duration,
    /// How long a claimed task stays owned by this executor without renewal (at least 1 s).
    /// Leases are renewed every third of it; a task whose lease expires is run again elsewhere.
    pub lease_duration: Duration,
    /// How many times a task may be recovered from a worker that stopped renewing its lease
    /// before it fails as abandoned.
    pub max_recoveries: u32,
    /// Database connections in the pool (at least 1).
    pub pool_size: usize,
    /// How durable SQLite commits are.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long SQLite waits for another process's write lock (at least 1 ms).
    pub sqlite_busy_timeout: Duration,
    /// How long `shutdown` lets running tasks finish before abandoning them.
    pub shutdown_timeout: Duration,
    /// PostgreSQL only: the schema to keep the tables in, created if needed (the same as
    /// `?schema=` in the URL). Executors on different schemas never see each other's work.
    pub schema: Option<String>,
    /// The least severe log records kept for each task attempt, when the task sets none (see
    /// [`crate::logs`]); `LogLevel::OFF` keeps none.
    pub task_log_level: LogLevel,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            max_concurrent_tasks: 64,
            run_tasks: true,
            run_schedules: true,
            task_timeout: None,
            poll_interval: Duration::from_secs(1),
            lease_duration: Duration::from_secs(30),
            max_recoveries: 3,
            pool_size: 8,
            sqlite_synchronous: SqliteSynchronous::Normal,
            sqlite_busy_timeout: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(30),
            schema: None,
            task_log_level: LogLevel::INFO,
        }
    }
}

impl ExecutorConfig {
    /// Checks every field, naming the first one out of range (the limits are in
    /// [`crate::limits`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, problem: String| Err(ConfigError { field, problem });
        if self.max_concurrent_tasks == 0 || self.max_concurrent_tasks > MAX_CONCURRENT_TASKS {
            return invalid(
                "max_concurrent_tasks",
                format!("is {}; it must be 1 to {MAX_CONCURRENT_TASKS}", self.max_concurrent_tasks),
            );
        }
        if self.task_timeout.is_some_and(|timeout| timeout.is_zero()) {
            return invalid("task_timeout", "is 0; use a positive duration, or none for no limit".into());
        }
        if self.pool_size == 0 || self.pool_size > MAX_POOL_SIZE {
            return invalid("pool_size", format!("is {}; it must be 1 to {MAX_POOL_SIZE}", self.pool_size));
        }
        let durations = [
            ("task_timeout", self.task_timeout.unwrap_or_default(), Duration::ZERO, MAX_DURATION),
            ("poll_interval", self.poll_interval, Duration::from_millis(10), MAX_DURATION),
            ("lease_duration", self.lease_duration, Duration::from_secs(1), MAX_DURATION),
            ("sqlite_busy_timeout", self.sqlite_busy_timeout, Duration::from_millis(1), MAX_SQLITE_BUSY_TIMEOUT),
            ("shutdown_timeout", self.shutdown_timeout, Duration::ZERO, MAX_DURATION),
        ];
        for (field, value, least, most) in durations {
            if value < least || value > most {
                let (least, most) = (format_duration(least), format_duration(most));
                return invalid(field, format!("is {}; it must be {least} to {most}", format_duration(value)));
            }
        }
        Ok(())
    }

    /// The URL with the configured schema applied.
    pub(crate) fn apply_schema(&self, url: DatabaseUrl) -> Result<DatabaseUrl, ConfigError> {
        let Some(schema) = &self.schema else {
            return Ok(url);
        };
        let invalid = |problem: String| ConfigError { field: "schema", problem };
        match url {
            DatabaseUrl::Postgres(postgres) => match postgres.schema() {
                Some(named) if named != schema => {
                    Err(invalid(format!("is `{schema}` but the URL names schema `{named}`; give it in one place")))
                }
                _ => postgres
                    .with_schema(schema)
                    .map(DatabaseUrl::Postgres)
                    .map_err(|reason| invalid(format!("is invalid: {reason}"))),
            },
            _ => Err(invalid("applies to PostgreSQL only; SQLite keeps each database in its own file".to_owned())),
        }
    }

    pub(crate) fn store_options(&self) -> StoreOptions {
        StoreOptions {
            pool_size: self.pool_size,
            sqlite_synchronous: self.sqlite_synchronous,
            sqlite_busy_timeout: self.sqlite_busy_timeout,
            ..StoreOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid() {
        ExecutorConfig::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let cases = [
            (ExecutorConfig { max_concurrent_tasks: 0, ..Default::default() }, "max_concurrent_tasks"),
            (ExecutorConfig { task_timeout: Some(Duration::ZERO), ..Default::default() }, "task_timeout"),
            (ExecutorConfig { poll_interval: Duration::from_millis(1), ..Default::default() }, "poll_interval"),
            (ExecutorConfig { lease_duration: Duration::from_millis(100), ..Default::default() }, "lease_duration"),
            (ExecutorConfig { pool_size: 0, ..Default::default() }, "pool_size"),
            (ExecutorConfig { max_concurrent_tasks: 1 << 62, ..Default::default() }, "max_concurrent_tasks"),
            (ExecutorConfig { pool_size: 1_001, ..Default::default() }, "pool_size"),
            (ExecutorConfig { task_timeout: Some(Duration::from_secs(1 << 40)), ..Default::default() }, "task_timeout"),
            (ExecutorConfig { poll_interval: Duration::MAX, ..Default::default() }, "poll_interval"),
            (
                ExecutorConfig { lease_duration: Duration::from_secs(10_000_000_000_000), ..Default::default() },
                "lease_duration",
            ),
            (
                ExecutorConfig { sqlite_busy_timeout: Duration::from_secs(86_401), ..Default::default() },
                "sqlite_busy_timeout",
            ),
            (
                ExecutorConfig { shutdown_timeout: Duration::from_secs(1 << 60), ..Default::default() },
                "shutdown_timeout",
            ),
        ];
        for (config, field) in cases {
            let error = config.validate().unwrap_err();
            assert_eq!(error.field, field);
            assert!(error.to_string().starts_with(&format!("invalid executor configuration: `{field}`")));
        }
        let error = ExecutorConfig { lease_duration: Duration::from_secs(1 << 40), ..Default::default() }
            .validate()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid executor configuration: `lease_duration` is {}s; it must be 1s to 31536000s", 1_u64 << 40)
        );
    }
}
