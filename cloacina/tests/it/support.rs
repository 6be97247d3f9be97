//! Test databases for every backend, and small task builders.
//!
//! PostgreSQL comes from `CLOACINA_TEST_POSTGRES_URL` (a server URL; each test creates and drops
//! its own database on it). Without it the PostgreSQL variants print a loud notice and return;
//! with `CLOACINA_REQUIRE_POSTGRES=1` a missing PostgreSQL fails them instead.

use std::sync::Arc;
use std::time::Duration;

use cloacina::{Context, ExecutorConfig, FunctionTask, TaskError, UnifiedExecutor, WorkflowRegistry};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;
use tracing_subscriber::prelude::*;

/// Runs an async test body once per backend, as three `#[tokio::test]`s in modules named after
/// the backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::support::TestDatabase::create($crate::support::Backend::SqliteMemory).await {
                        super::$name(database).await;
                    }
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::support::TestDatabase::create($crate::support::Backend::SqliteFile).await {
                        super::$name(database).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::support::TestDatabase::create($crate::support::Backend::Postgres).await {
                        super::$name(database).await;
                    }
                }
            )*
        }
    };
}

/// Like [`backend_tests!`], for tests of several executors sharing one database: SQLite file
/// and PostgreSQL (an in-memory database belongs to one executor).
#[macro_export]
macro_rules! shared_backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::support::TestDatabase::create($crate::support::Backend::SqliteFile).await {
                        super::$name(database).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(database) = $crate::support::TestDatabase::create($crate::support::Backend::Postgres).await {
                        super::$name(database).await;
                    }
                }
            )*
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    SqliteMemory,
    SqliteFile,
    Postgres,
}

/// A database of its own for one test, removed afterwards.
pub struct TestDatabase {
    pub url: String,
    _directory: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database, or `None` when PostgreSQL is not configured (and not required).
    pub async fn create(backend: Backend) -> Option<Self> {
        // `RUST_LOG=cloacina=debug` shows the engine's logs for a failing test.
        // Rust tasks' events are kept as task logs (see logs.rs).
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_ansi(false)
                    .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
            )
            .with(cloacina::TaskLogLayer::filtered())
            .try_init();
        match backend {
            Backend::SqliteMemory => {
                Some(Self { url: "sqlite:///:memory:".to_owned(), _directory: None, postgres: None })
            }
            Backend::SqliteFile => {
                let directory = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite:///{}", directory.path().join("runs.db").display());
                Some(Self { url, _directory: Some(directory), postgres: None })
            }
            Backend::Postgres => {
                let server = postgres_server()?;
                let name = format!("cloacina_test_{}", uuid::Uuid::new_v4().simple());
                let admin = server.clone();
                let statement = format!("CREATE DATABASE {name}");
                tokio::task::spawn_blocking(move || {
                    let mut connection =
                        PgConnection::establish(&admin).expect("connect to the PostgreSQL test server");
                    diesel::sql_query(statement).execute(&mut connection).expect("create a test database");
                })
                .await
                .expect("create a test database");
                let url = database_url(&server, &name);
                Some(Self { url, _directory: None, postgres: Some((server, name)) })
            }
        }
    }

    /// An executor on this database with its own registry.
    pub async fn executor(&self) -> UnifiedExecutor {
        self.executor_with(test_config()).await
    }

    /// An executor with a configuration and its own registry.
    pub async fn executor_with(&self, config: ExecutorConfig) -> UnifiedExecutor {
        UnifiedExecutor::open(&self.url, config, Arc::new(WorkflowRegistry::new()))
            .await
            .unwrap_or_else(|error| panic!("open an executor on {}: {error}", self.url))
    }
}

impl TestDatabase {
    /// Runs a statement on the database directly, as an operator (or another program) would:
    /// SQLite files and PostgreSQL only.
    pub async fn execute_sql(&self, statement: &str) {
        let (url, statement) = (self.url.clone(), statement.to_owned());
        tokio::task::spawn_blocking(move || {
            if let Some(path) = url.strip_prefix("sqlite:///") {
                let mut connection = diesel::SqliteConnection::establish(path).expect("open the SQLite file");
                // The executor may be writing: wait for its lock.
                diesel::sql_query("PRAGMA busy_timeout = 5000").execute(&mut connection).expect("set a busy timeout");
                diesel::sql_query(statement).execute(&mut connection).expect("run the statement");
            } else {
                let mut connection = PgConnection::establish(&url).expect("connect to PostgreSQL");
                diesel::sql_query(statement).execute(&mut connection).expect("run the statement");
            }
        })
        .await
        .expect("run the statement");
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            // Best effort: a leftover database only costs disk space.
            std::thread::spawn(move || {
                if let Ok(mut connection) = PgConnection::establish(&server) {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection);
                }
            })
            .join()
            .ok();
        }
    }
}

/// The configuration tests use: a slow poll, so that a test passing through polling shows up
/// as slow rather than passing by accident.
pub fn test_config() -> ExecutorConfig {
    ExecutorConfig { poll_interval: Duration::from_secs(5), ..ExecutorConfig::default() }
}

fn postgres_server() -> Option<String> {
    match std::env::var("CLOACINA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CLOACINA_REQUIRE_POSTGRES").is_ok_and(|value| value == "1") => {
            panic!("CLOACINA_REQUIRE_POSTGRES=1 but CLOACINA_TEST_POSTGRES_URL is not set")
        }
        _ => {
            eprintln!("!!! SKIPPED: PostgreSQL variant (set CLOACINA_TEST_POSTGRES_URL to run it) !!!");
            None
        }
    }
}

/// The server URL with its database replaced.
fn database_url(server: &str, database: &str) -> String {
    let mut url = url::Url::parse(server).expect("CLOACINA_TEST_POSTGRES_URL is a URL");
    url.set_path(database);
    url.to_string()
}

/// A task that appends its id to the context list `visited` (creating it) and records its
/// input keys under `seen_by_<id>`.
pub fn recording_task(id: &str, dependencies: &[&str]) -> FunctionTask {
    let task_id = id.to_owned();
    FunctionTask::new(id, move |mut context: Context| {
        let task_id = task_id.clone();
        async move {
            let mut visited = context.get("visited").and_then(Value::as_array).cloned().unwrap_or_default();
            visited.push(Value::from(task_id.clone()));
            let keys: Vec<Value> = context.keys().cloned().map(Value::from).collect();
            context.set("visited", visited);
            context.insert(format!("seen_by_{task_id}"), keys)?;
            context.insert(format!("output_{task_id}"), true)?;
            Ok(context)
        }
    })
    .depends_on(dependencies.iter().copied())
}

/// A task that does nothing.
pub fn noop(id: &str, dependencies: &[&str]) -> FunctionTask {
    FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies.iter().copied())
}

/// A task that always fails with `message`.
pub fn failing(id: &str, dependencies: &[&str], message: &'static str) -> FunctionTask {
    FunctionTask::new(id, move |_context: Context| async move { Err(TaskError::new(message)) })
        .depends_on(dependencies.iter().copied())
}

/// A bound on wall time a test asserts, scaled by `CLOACINA_TEST_TIME_SCALE` (a whole number,
/// 1 when unset): tests run under valgrind (`make leak-check`) run 20 to 50 times slower, and
/// there a bound meant to tell a notification from a poll would only measure the slowdown.
pub fn wall_time_bound(bound: Duration) -> Duration {
    let scale = std::env::var("CLOACINA_TEST_TIME_SCALE").ok().and_then(|value| value.parse::<u32>().ok());
    bound * scale.unwrap_or(1).max(1)
}
