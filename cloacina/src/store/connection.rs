//! Connections: one Diesel connection type over both backends, the pool manager that opens
//! them with the right per-connection settings, and transactions.

#![allow(missing_docs)] // `MultiConnection` generates public items without documentation.

use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use deadpool_diesel::Runtime;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use super::url::{DatabaseUrl, PostgresUrl};
use crate::error::StoreError;

/// A connection to either backend; queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// A SQLite connection.
    Sqlite(SqliteConnection),
}

/// A pooled connection: used from async code through `interact`, which runs on a blocking thread.
pub(crate) type PooledConnection = deadpool_diesel::Connection<AnyConnection>;

/// How durable a SQLite commit is (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// A commit survives a crash of the process, not of the machine (WAL mode's usual choice).
    #[default]
    Normal,
    /// A commit survives power loss; each commit waits for the disk.
    Full,
}

impl SqliteSynchronous {
    fn pragma_value(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Settings applied to every new connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSettings {
    pub sqlite_synchronous: SqliteSynchronous,
    pub sqlite_busy_timeout: Duration,
}

/// What the pool connects to: the concrete target string plus how to describe it.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionTarget {
    /// The string handed to the driver.
    pub connect_to: String,
    /// PostgreSQL: the schema the tables live in (validated; bound as a value, never spliced).
    pub schema: Option<String>,
    /// The database, for messages.
    pub description: String,
    pub settings: ConnectionSettings,
    kind: TargetKind,
    /// PostgreSQL: the URL, to hide its passwords in the driver's messages.
    postgres: Option<PostgresUrl>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TargetKind {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

impl ConnectionTarget {
    /// The target for a URL. A memory database gets a unique shared-cache name, so that every
    /// connection of the pool sees the same database.
    pub fn new(url: &DatabaseUrl, settings: ConnectionSettings) -> Self {
        let schema = match url {
            DatabaseUrl::Postgres(postgres) => postgres.schema().map(str::to_owned),
            _ => None,
        };
        let (connect_to, kind) = match url {
            DatabaseUrl::SqliteMemory => {
                (format!("file:cloacina-{}?mode=memory&cache=shared", uuid::Uuid::new_v4()), TargetKind::SqliteMemory)
            }
            DatabaseUrl::SqliteFile(path) => (path.to_string_lossy().into_owned(), TargetKind::SqliteFile),
            DatabaseUrl::Postgres(postgres) => (postgres.connection_string().to_owned(), TargetKind::Postgres),
        };
        let postgres = match url {
            DatabaseUrl::Postgres(postgres) => Some(postgres.clone()),
            _ => None,
        };
        Self { connect_to, schema, description: url.describe(), settings, kind, postgres }
    }

    /// True for a SQLite file.
    pub fn is_sqlite_file(&self) -> bool {
        self.kind == TargetKind::SqliteFile
    }

    /// True for an in-memory SQLite database.
    pub fn is_memory(&self) -> bool {
        self.kind == TargetKind::SqliteMemory
    }

    /// The SQLite driver's message, with the likely cause when the file's folder is missing
    /// (SQLite creates the file, never its folder).
    fn sqlite_explanation(&self, message: String) -> String {
        let folder = std::path::Path::new(&self.connect_to).parent().filter(|folder| !folder.as_os_str().is_empty());
        match folder {
            Some(folder) if self.kind == TargetKind::SqliteFile && !folder.exists() => format!(
                "{message}: the folder `{}` does not exist; create it first (SQLite creates the database file, \
                 not its folder)",
                folder.display()
            ),
            _ => message,
        }
    }

    /// Opens a connection and applies the per-connection settings.
    pub fn establish(&self) -> Result<AnyConnection, StoreError> {
        // The driver's messages may quote what it was given: passwords are hidden from them.
        let connect_error = |message: String| StoreError::Connect {
            target: self.description.clone(),
            message: self.postgres.as_ref().map_or_else(|| message.clone(), |url| url.scrub(&message)),
        };
        match self.kind {
            TargetKind::Postgres => {
                let mut connection = PgConnection::establish(&self.connect_to)
                    .map_err(|error| connect_error(error.to_string().trim().to_owned()))?;
                if let Some(schema) = &self.schema {
                    diesel::sql_query("SELECT set_config('search_path', $1, false)")
                        .bind::<diesel::sql_types::Text, _>(schema)
                        .execute(&mut connection)
                        .map_err(|error| connect_error(format!("cannot use schema `{schema}`: {error}")))?;
                }
                Ok(AnyConnection::Postgres(connection))
            }
            TargetKind::SqliteMemory | TargetKind::SqliteFile => {
                let mut connection = SqliteConnection::establish(&self.connect_to)
                    .map_err(|error| connect_error(self.sqlite_explanation(error.to_string())))?;
                let busy = self.settings.sqlite_busy_timeout.as_millis();
                // The workflows this process may claim, kept per connection (see `claims.rs`).
                let mut pragmas = format!(
                    "PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON; \
                     CREATE TEMP TABLE IF NOT EXISTS claimable_workflows (name TEXT PRIMARY KEY); \
                     CREATE TEMP TABLE IF NOT EXISTS claimable_revision (id INTEGER PRIMARY KEY, revision BIGINT NOT NULL);"
                );
                if self.kind == TargetKind::SqliteFile {
                    // The executor checkpoints in the background (see `checkpoint.rs`).
                    pragmas.push_str(&format!(
                        " PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = {};",
                        self.settings.sqlite_synchronous.pragma_value()
                    ));
                }
                connection.batch_execute(&pragmas).map_err(|error| connect_error(error.to_string()))?;
                Ok(AnyConnection::Sqlite(connection))
            }
        }
    }
}

/// The pool's manager: opens connections with [`ConnectionTarget::establish`] and recycles them
/// without a round trip to the database.
#[derive(Debug)]
pub(crate) struct ConnectionManager {
    target: ConnectionTarget,
}

impl ConnectionManager {
    pub fn new(target: ConnectionTarget) -> Self {
        Self { target }
    }
}

impl deadpool::managed::Manager for ConnectionManager {
    type Type = PooledConnection;
    type Error = StoreError;

    async fn create(&self) -> Result<PooledConnection, StoreError> {
        let target = self.target.clone();
        PooledConnection::new(Runtime::Tokio1, move || target.establish()).await
    }

    async fn recycle(&self, connection: &mut PooledConnection, _: &Metrics) -> RecycleResult<StoreError> {
        let usable = match connection.try_lock() {
            Ok(mut guard) => !AnyTransactionManager::is_broken_transaction_manager(&mut guard),
            Err(_) => false,
        };
        if usable { Ok(()) } else { Err(RecycleError::message("the connection was left unusable")) }
    }
}

/// The transaction manager `MultiConnection` generates for [`AnyConnection`].
type AnyTransactionManager = <AnyConnection as Connection>::TransactionManager;

/// Runs `body` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so that the write lock is
/// taken up front instead of failing on upgrade), plain `BEGIN` on PostgreSQL. Commits on `Ok`,
/// rolls back on `Err`.
pub(crate) fn write_transaction<T>(
    connection: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match connection {
        AnyConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        AnyConnection::Postgres(inner) => AnsiTransactionManager::begin_transaction(inner)?,
    }
    match body(connection) {
        Ok(value) => {
            AnyTransactionManager::commit_transaction(connection)?;
            Ok(value)
        }
        Err(error) => {
            // The original error matters more than a failed rollback, which leaves the
            // connection marked broken so that the pool discards it.
            let _ = AnyTransactionManager::rollback_transaction(connection);
            Err(error)
        }
    }
}

/// True for errors after which the same transaction may succeed if simply run again.
pub(crate) fn is_transient(error: &StoreError) -> bool {
    match error {
        StoreError::Query(DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
        StoreError::Query(DieselError::DatabaseError(_, information)) => {
            let message = information.message();
            message.contains("deadlock detected") || message.contains("database is locked")
        }
        _ => false,
    }
}

/// True for errors of a database that is for a while unable to take writes, rather than
/// refusing what it was given: read-only during a failover, a statement or lock timeout, a full
/// disk, an I/O error, no memory or connections to spare. The same write may succeed later.
pub(crate) fn is_passing(error: &StoreError) -> bool {
    match error {
        StoreError::Query(DieselError::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _)) => true,
        StoreError::Query(DieselError::DatabaseError(_, information)) => {
            let message = information.message();
            [
                "statement timeout",
                "lock timeout",
                "canceling statement",
                "read-only transaction",
                "database or disk is full",
                "disk I/O error",
                "out of shared memory",
                "out of memory",
                "too many connections",
                "the database system is",
            ]
            .iter()
            .any(|fragment| message.contains(fragment))
        }
        _ => false,
    }
}

/// True for errors that mean the database could not be reached or the connection is gone: the
/// same operation may succeed once it is back.
pub fn is_connection_lost(error: &StoreError) -> bool {
    match error {
        StoreError::Query(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _))
        | StoreError::Query(DieselError::BrokenTransactionManager)
        | StoreError::Connect { .. }
        | StoreError::Pool(_) => true,
        StoreError::Query(DieselError::DatabaseError(_, information)) => {
            // libpq reports some dropped connections without marking the connection bad.
            let message = information.message();
            ["terminating connection", "server closed the connection", "no connection to the server"]
                .iter()
                .any(|fragment| message.contains(fragment))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::Integer;
    use diesel::{QueryableByName, RunQueryDsl};

    use super::*;

    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Integer)]
        synchronous: i32,
    }

    fn synchronous_level(choice: SqliteSynchronous) -> i32 {
        let directory = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::SqliteFile(directory.path().join("settings.db"));
        let settings = ConnectionSettings { sqlite_synchronous: choice, sqlite_busy_timeout: Duration::from_secs(1) };
        let AnyConnection::Sqlite(mut connection) = ConnectionTarget::new(&url, settings).establish().unwrap() else {
            panic!("a SQLite URL gives a SQLite connection");
        };
        diesel::sql_query("PRAGMA synchronous").get_result::<Setting>(&mut connection).unwrap().synchronous
    }

    #[test]
    fn the_chosen_synchronous_level_is_applied_to_each_connection() {
        // SQLite's codes: 1 is NORMAL, 2 is FULL.
        assert_eq!(synchronous_level(SqliteSynchronous::Normal), 1);
        assert_eq!(synchronous_level(SqliteSynchronous::Full), 2);
    }
}
