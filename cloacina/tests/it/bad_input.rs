//! Every bad input gets an error that names the problem.

use std::sync::Arc;

use cloacina::{Context, ExecutorConfig, ExecutorError, StoreError, UnifiedExecutor, Workflow, WorkflowRegistry};
use serde_json::json;

use crate::support::{TestDatabase, noop};

crate::backend_tests!(an_unknown_workflow_lists_the_registered_ones, an_unknown_execution_is_not_found);

async fn an_unknown_workflow_lists_the_registered_ones(database: TestDatabase) {
    let executor = database.executor().await;
    executor.register(Workflow::builder("nightly_etl").task(noop("a", &[])).build().unwrap());
    executor.register(Workflow::builder("hourly_sync").task(noop("a", &[])).build().unwrap());
    let error = executor.execute("nightly_elt", Context::new()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "workflow `nightly_elt` is not registered; registered workflows: `hourly_sync`, `nightly_etl`"
    );
    executor.shutdown().await;
}

async fn an_unknown_execution_is_not_found(database: TestDatabase) {
    let executor = database.executor().await;
    let missing = uuid::Uuid::new_v4();
    let error = executor.get_execution(missing).await.unwrap_err();
    assert_eq!(error.to_string(), format!("execution `{missing}` does not exist"));
    assert!(matches!(executor.wait(missing, None).await, Err(ExecutorError::ExecutionNotFound(_))));
    executor.shutdown().await;
}

#[tokio::test]
async fn malformed_urls_name_the_accepted_forms() {
    for url in ["mysql://localhost/db", "sqlite://relative.db", "not a url"] {
        let error = UnifiedExecutor::new(url).await.unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, ExecutorError::Store(StoreError::InvalidUrl { .. })), "{message}");
        assert!(message.contains("sqlite:///:memory:") && message.contains("postgresql://"), "{message}");
    }
}

#[tokio::test]
async fn an_unreachable_database_names_host_and_port() {
    // Nothing listens on port 1 of the loopback address.
    let error = UnifiedExecutor::new("postgresql://postgres:secret@127.0.0.1:1/nowhere").await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ExecutorError::Store(StoreError::Connect { .. })), "{message}");
    assert!(message.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1"), "{message}");
    assert!(!message.contains("secret"), "{message}");
}

/// However the password is written, no error shows it: not the URL parser's, not the driver's.
#[tokio::test]
async fn no_error_shows_the_password() {
    for url in [
        "postgresql://postgres:pa%ss-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres:pa/ss-hidden@127.0.0.1:1/nowhere",
        "postgresql:postgres:pass-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres:pa%00ss-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres@127.0.0.1:1/nowhere?password=pass-hidden",
        "postgresql://postgres@127.0.0.1:1/nowhere?password=pass-hidden&sslmode=bogus",
        "postgresql://postgres:pass-hidden@127.0.0.1:1/nowhere?sslmode=bogus",
    ] {
        let message = UnifiedExecutor::new(url).await.unwrap_err().to_string();
        assert!(!message.contains("hidden"), "{url}: {message}");
    }
}

#[tokio::test]
async fn an_unwritable_sqlite_path_is_reported() {
    let error = UnifiedExecutor::new("sqlite:////nonexistent-directory/runs.db").await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("/nonexistent-directory/runs.db"), "{message}");
}

#[tokio::test]
async fn an_invalid_configuration_is_refused_before_opening() {
    let config = ExecutorConfig { max_concurrent_tasks: 0, ..ExecutorConfig::default() };
    let error =
        UnifiedExecutor::open("sqlite:///:memory:", config, Arc::new(WorkflowRegistry::new())).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid executor configuration: `max_concurrent_tasks` is 0; it must be 1 to 100000"
    );
}

#[test]
fn a_context_must_be_a_json_object() {
    let error = Context::try_from(json!(["not", "an", "object"])).unwrap_err();
    assert_eq!(error.to_string(), "a context must be a JSON object, found array");
}

#[test]
fn invalid_workflows_are_refused_with_the_reason() {
    let missing =
        Workflow::builder("etl").task(noop("extract", &[])).task(noop("load", &["extrcat"])).build().unwrap_err();
    assert_eq!(
        missing.to_string(),
        "task `load` depends on `extrcat`, which is not a task of workflow `etl`; did you mean `extract`?"
    );
    let cycle = Workflow::builder("loop")
        .task(noop("a", &["c"]))
        .task(noop("b", &["a"]))
        .task(noop("c", &["b"]))
        .build()
        .unwrap_err();
    assert_eq!(cycle.to_string(), "workflow `loop` has a dependency cycle: a -> b -> c -> a");
    let duplicate = Workflow::builder("twice").task(noop("a", &[])).task(noop("a", &[])).build().unwrap_err();
    assert_eq!(duplicate.to_string(), "workflow `twice` has two tasks with the id `a`; task ids must be unique");
}
