//! The database: a pool of connections to SQLite or PostgreSQL, the schema, and the queries.
//!
//! Queries are written once against [`AnyConnection`] and run on both backends; only claiming
//! differs (`FOR UPDATE SKIP LOCKED` on PostgreSQL). Every write runs in one transaction that
//! takes SQLite's write lock up front (`BEGIN IMMEDIATE`); within a process, SQLite writes share
//! one connection, so they queue there instead of in SQLite's sleeping busy handler.

mod attempts;
mod blobs;
mod checkpoint;
mod claims;
mod concurrency;
mod connection;
mod events;
mod executions;
mod leases;
mod listing;
mod logs;
mod mapping;
mod migrations;
mod notifications;
mod outputs;
mod reruns;
mod schedules;
pub(crate) mod schema;
mod statement;
mod tasks;
#[cfg(test)]
pub(crate) mod testing;
mod url;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use deadpool::managed::{Pool, PoolError};
use deadpool_diesel::{InteractError, Runtime};

pub use connection::{AnyConnection, SqliteSynchronous};
pub use url::{DatabaseUrl, PostgresUrl};

pub(crate) use attempts::{AttemptEnd, EndedAttempt, Lease, end_attempts, finish_attempt};
pub(crate) use blobs::{insert_blobs, load_blob};
pub(crate) use claims::{Claimable, ClaimedTask, claim_pending, claim_ready};
pub(crate) use concurrency::{claim_limited, set_concurrency};
pub use connection::is_connection_lost;
pub(crate) use events::{EventRow, NewEventRow, insert_numbered_events, load_events, load_task_events};
pub(crate) use executions::*;
pub(crate) use leases::{ExpiredLease, given_up_leases, renew_leases, requeue_expired};
pub use listing::{ExecutionCursor, ExecutionFilter, InvalidCursor};
pub(crate) use listing::{ExecutionSummaryRow, list_executions, version_graph, workflow_versions};
pub(crate) use logs::{insert_logs, load_logs};
pub(crate) use mapping::{MappedTask, finish_mapped, instances_finished, load_instance_ends, start_mapped};
pub(crate) use notifications::notify;
pub use notifications::{Listener, Notification};
pub(crate) use outputs::{insert_output, load_outputs};
pub(crate) use reruns::keep_outputs;
pub(crate) use schedules::*;
pub(crate) use tasks::*;

use crate::error::StoreError;
use connection::{ConnectionManager, ConnectionSettings, ConnectionTarget, write_transaction};
pub(crate) use connection::{is_passing, is_transient};

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in the pool.
    pub pool_size: usize,
    /// How durable SQLite commits are.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long a SQLite connection waits for another process's lock before failing.
    pub sqlite_busy_timeout: Duration,
    /// How long to wait for a free connection.
    pub connection_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            sqlite_synchronous: SqliteSynchronous::Normal,
            sqlite_busy_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(30),
        }
    }
}

/// The database an executor keeps its executions in.
pub struct Store {
    /// The pools; `None` only while the store is being dropped.
    pools: Option<Pools>,
    /// The runtime the pools belong to: their connections are closed on its blocking threads,
    /// so the pools are dropped inside it wherever the store is dropped.
    runtime: tokio::runtime::Handle,
    /// What the pools connect to (listeners connect the same way).
    target: ConnectionTarget,
    description: String,
    /// In-memory SQLite only: holds the database open for the store's lifetime.
    _keeper: Option<Arc<std::sync::Mutex<AnyConnection>>>,
}

struct Pools {
    /// Connections for reads.
    readers: Pool<ConnectionManager>,
    /// Connections for writes. On SQLite a pool of one: the writes of this process take turns
    /// on it instead of waiting in SQLite's sleeping busy handler, and its page and statement
    /// caches stay warm. On PostgreSQL the readers' pool.
    writers: Pool<ConnectionManager>,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _inside = self.runtime.enter();
        drop(self.pools.take());
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Store").field("database", &self.description).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database, creating it (SQLite) and its tables if needed.
    pub async fn open(url: &DatabaseUrl, options: &StoreOptions) -> Result<Self, StoreError> {
        let settings = ConnectionSettings {
            sqlite_synchronous: options.sqlite_synchronous,
            sqlite_busy_timeout: options.sqlite_busy_timeout,
        };
        let target = ConnectionTarget::new(url, settings);
        let memory = target.is_memory();
        let keeper = if memory {
            let target = target.clone();
            let connection = tokio::task::spawn_blocking(move || target.establish())
                .await
                .map_err(|error| StoreError::Pool(format!("opening the database failed: {error}")))??;
            Some(Arc::new(std::sync::Mutex::new(connection)))
        } else {
            None
        };
        let description = target.description.clone();
        let listen_target = target.clone();
        let pool = |size: usize| {
            Pool::builder(ConnectionManager::new(target.clone()))
                .max_size(size)
                .wait_timeout(Some(options.connection_timeout))
                .create_timeout(Some(options.connection_timeout))
                .runtime(Runtime::Tokio1)
                .build()
                .map_err(|error| StoreError::Pool(error.to_string()))
        };
        // An in-memory database is served by one connection: its shared cache locks whole tables,
        // so concurrent connections would fail rather than wait.
        let (readers, writers) = if memory {
            let single = pool(1)?;
            (single.clone(), single)
        } else if url.is_sqlite() {
            (pool(options.pool_size.max(1))?, pool(1)?)
        } else {
            let shared = pool(options.pool_size.max(1))?;
            (shared.clone(), shared)
        };
        let store = Self {
            pools: Some(Pools { readers, writers }),
            runtime: tokio::runtime::Handle::current(),
            target: listen_target,
            description,
            _keeper: keeper,
        };
        Self::interact(&store.pools().writers, &store.description, migrations::run).await?;
        Ok(store)
    }

    /// Connects a listener for other processes' notifications, holding the advisory lock that
    /// tells them `owner` is alive; `None` on SQLite.
    pub fn listener(&self, owner: &str) -> Result<Option<Listener>, StoreError> {
        Listener::connect(&self.target, owner)
    }

    /// True when the database is a SQLite file, which the executor checkpoints (see
    /// `checkpoint.rs`).
    pub fn is_sqlite_file(&self) -> bool {
        self.target.is_sqlite_file()
    }

    /// Moves committed pages of a SQLite file's write-ahead log into the database without
    /// holding up commits, and lets the log start over once it has grown large. Does nothing on
    /// other databases.
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        if !self.is_sqlite_file() {
            return Ok(());
        }
        let progress = self.read(checkpoint::passive).await?;
        if progress.log >= checkpoint::RESTART_AFTER_FRAMES {
            tracing::debug!(frames = progress.log, copied = progress.checkpointed, "restarting the write-ahead log");
            Self::interact(&self.pools().writers, &self.description, checkpoint::restart).await?;
        }
        Ok(())
    }

    /// A description of the database for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Runs read-only queries on a pooled connection.
    pub(crate) async fn read<T, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        Self::interact(&self.pools().readers, &self.description, body).await
    }

    /// Runs `body` in one write transaction, running it again after a deadlock or a
    /// serialization failure (so `body` must not have effects outside the transaction).
    pub(crate) async fn write<T, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        Self::interact(&self.pools().writers, &self.description, move |connection| write_retrying(connection, &body))
            .await
    }

    /// Like [`write`](Self::write), on this thread, which must be one that may block (a
    /// blocking thread of the runtime, not one of its workers): no thread hand-off.
    pub(crate) fn write_here<T, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: Fn(&mut AnyConnection) -> Result<T, StoreError>,
    {
        let pooled =
            self.runtime.block_on(self.pools().writers.get()).map_err(|error| pool_error(error, &self.description))?;
        let result = {
            let mut connection = pooled.lock().map_err(|_| {
                StoreError::Internal("a database call panicked while holding the connection".to_owned())
            })?;
            write_retrying(&mut connection, &body)
        };
        if let Err(error) = &result
            && is_connection_lost(error)
        {
            // Never hand a dead connection to the next caller.
            let _ = deadpool::managed::Object::take(pooled);
        }
        result
    }

    fn pools(&self) -> &Pools {
        self.pools.as_ref().expect("the pools live until the store is dropped")
    }

    async fn interact<T, F>(pool: &Pool<ConnectionManager>, description: &str, body: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let connection = pool.get().await.map_err(|error| pool_error(error, description))?;
        let result = connection.interact(body).await.map_err(|error| match error {
            // Not the connection's fault: running the call again would panic again.
            InteractError::Panic(_) => StoreError::Internal("a database call panicked".to_owned()),
            InteractError::Cancelled => StoreError::Pool("a database call was cancelled".to_owned()),
        })?;
        if let Err(error) = &result
            && is_connection_lost(error)
        {
            // Never hand a dead connection to the next caller.
            let _ = deadpool::managed::Object::take(connection);
        }
        result
    }
}

/// Runs `body` in one write transaction, again after a deadlock or a serialization failure.
fn write_retrying<T, F>(connection: &mut AnyConnection, body: &F) -> Result<T, StoreError>
where
    F: Fn(&mut AnyConnection) -> Result<T, StoreError>,
{
    let mut delay = Duration::from_millis(2);
    let mut attempts = 1;
    loop {
        match write_transaction(connection, body) {
            Err(error) if is_transient(&error) && attempts < 8 => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
                attempts += 1;
            }
            result => return result,
        }
    }
}

/// Why no connection could be had from a pool.
fn pool_error(error: PoolError<StoreError>, description: &str) -> StoreError {
    match error {
        PoolError::Backend(error) => error,
        other => StoreError::Pool(format!("{other} ({description})")),
    }
}

/// The current time in microseconds since the Unix epoch, as stored.
pub(crate) fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Whether a stored name (a workflow's, a task's) can be `name`. PostgreSQL text holds no NUL
/// character, and refuses one in a parameter as an invalid byte sequence; so a lookup by such a
/// name matches nothing without asking, on every backend alike.
pub(crate) fn can_be_stored(name: &str) -> bool {
    !name.contains('\0')
}

/// A stored time as a date.
pub(crate) fn to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}
