//! A served page over a test database, and requests to it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use cloacina::{Context, ExecutorConfig, FunctionTask, TaskError, UnifiedExecutor, WorkflowRegistry};
use diesel::{Connection, PgConnection, RunQueryDsl};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The databases the API is tested on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// SQLite in memory.
    SqliteMemory,
    /// A fresh database on the PostgreSQL test server.
    Postgres,
}

/// A test database, dropped with this (PostgreSQL).
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database, or `None` when PostgreSQL is not configured (which fails under
    /// `CLOACINA_REQUIRE_POSTGRES=1`).
    pub fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::SqliteMemory => Some(Self { url: "sqlite:///:memory:".to_owned(), postgres: None }),
            Backend::Postgres => {
                let server = match std::env::var("CLOACINA_TEST_POSTGRES_URL") {
                    Ok(url) if !url.is_empty() => url,
                    _ if std::env::var("CLOACINA_REQUIRE_POSTGRES").is_ok_and(|value| value == "1") => {
                        panic!("CLOACINA_REQUIRE_POSTGRES=1 but CLOACINA_TEST_POSTGRES_URL is not set")
                    }
                    _ => {
                        eprintln!("!!! SKIPPED: PostgreSQL variant (set CLOACINA_TEST_POSTGRES_URL to run it) !!!");
                        return None;
                    }
                };
                let name = format!("cloacina_ui_test_{}", uuid::Uuid::new_v4().simple());
                let mut connection = PgConnection::establish(&server).expect("connect to the PostgreSQL test server");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut connection)
                    .expect("create a database");
                let mut url = url::Url::parse(&server).expect("CLOACINA_TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                Some(Self { url: url.to_string(), postgres: Some((server, name)) })
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
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

/// An executor that runs tasks, and the page served over its database.
pub struct Site {
    /// Runs the tests' workflows on the database.
    pub executor: UnifiedExecutor,
    /// Serves the page over it.
    pub router: Router,
    /// Ends the router's live views, as a program that stops does.
    pub stopping: cloacina_ui::CancellationToken,
    _database: TestDatabase,
}

impl Site {
    /// A site with these options over a fresh database of `backend`.
    pub async fn open(backend: Backend, options: cloacina_ui::UiOptions) -> Option<Self> {
        // Rust tasks' `tracing` events are kept as task logs.
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = tracing_subscriber::registry().with(cloacina::TaskLogLayer::filtered()).try_init();
        let database = TestDatabase::create(backend)?;
        let config = ExecutorConfig { poll_interval: Duration::from_millis(100), ..ExecutorConfig::default() };
        let executor = UnifiedExecutor::open(&database.url, config, Arc::new(WorkflowRegistry::new()))
            .await
            .expect("open an executor");
        let stopping = cloacina_ui::CancellationToken::new();
        let router = cloacina_ui::router(executor.clone(), &options, stopping.clone());
        Some(Self { executor, router, stopping, _database: database })
    }

    /// The id of a one-task execution run to its end, for tests that need any finished one.
    pub async fn finished_execution(&self) -> uuid::Uuid {
        let workflow = cloacina::Workflow::builder("one").task(noop("a", &[])).build().unwrap();
        self.executor.execute(workflow, Context::new()).await.unwrap().execution_id
    }

    /// A GET request's status and JSON body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.request(Method::GET, path, &[]).await;
        (status, serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body:?}")))
    }

    /// A POST request carrying the action header, its status and JSON body.
    pub async fn act(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.request(Method::POST, path, &[("x-cloacina-action", "1")]).await;
        (status, serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body:?}")))
    }

    /// Any request (to `Host: 127.0.0.1:8490` unless `headers` name another): its status,
    /// headers and body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            request = request.header("host", "127.0.0.1:8490");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(20), body.collect())
            .await
            .unwrap_or_else(|_| panic!("{path}: the answer did not end"))
            .unwrap()
            .to_bytes()
            .to_vec();
        (parts.status, parts.headers, body)
    }
}

/// Asserts an error answer: its status, its code, and words of its message.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str, words: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{message:?} does not say {words:?}");
}

/// A task that does nothing.
pub fn noop(id: &str, dependencies: &[&str]) -> FunctionTask {
    FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies.iter().copied())
}

/// A task that writes `key: value`.
pub fn writing(id: &str, dependencies: &[&str], key: &'static str, value: Value) -> FunctionTask {
    FunctionTask::new(id, move |mut context: Context| {
        let value = value.clone();
        async move {
            context.insert(key, value)?;
            Ok(context)
        }
    })
    .depends_on(dependencies.iter().copied())
}

/// A task that finishes once the returned sender sends (or is dropped), for tests that need
/// an execution held running.
pub fn gate(id: &str) -> (FunctionTask, tokio::sync::oneshot::Sender<()>) {
    let (open, opened) = tokio::sync::oneshot::channel::<()>();
    let opened = std::sync::Mutex::new(Some(opened));
    let task = FunctionTask::new(id, move |context: Context| {
        let opened = opened.lock().unwrap().take();
        async move {
            if let Some(opened) = opened {
                let _ = opened.await;
            }
            Ok(context)
        }
    });
    (task, open)
}

/// A task that always fails.
pub fn failing(id: &str, dependencies: &[&str]) -> FunctionTask {
    FunctionTask::new(id, |_context: Context| async move { Err(TaskError::new("it broke")) })
        .depends_on(dependencies.iter().copied())
}

/// Runs each test on SQLite in memory and on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::Backend::SqliteMemory).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}
