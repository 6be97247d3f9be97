//! Executors created and dropped the ways embedding code does it.

use std::sync::Arc;

use cloacina::{Context, ExecutionStatus, ExecutorConfig, UnifiedExecutor, Workflow, WorkflowRegistry};

use crate::support::{Backend, TestDatabase, noop};

/// A binding keeps the executor on a thread outside the runtime (Python's main thread) and
/// drops it there: closing the pooled connections must not need a runtime on that thread.
fn drop_an_executor_outside_its_runtime(backend: Backend) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::create(backend)) else { return };
    let executor = runtime
        .block_on(UnifiedExecutor::open(&database.url, ExecutorConfig::default(), Arc::new(WorkflowRegistry::new())))
        .unwrap();
    let workflow = Workflow::builder("dropped").task(noop("only", &[])).build().unwrap();
    let result = runtime.block_on(executor.execute(workflow, Context::new())).unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    // After shutdown nothing in the runtime holds the executor: this drop is the last one.
    runtime.block_on(executor.shutdown());
    drop(executor);
    // Let the runtime close the connections it was handed.
    runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(50)).await });
}

#[test]
fn an_executor_dropped_outside_its_runtime_closes_cleanly_on_sqlite_memory() {
    drop_an_executor_outside_its_runtime(Backend::SqliteMemory);
}

#[test]
fn an_executor_dropped_outside_its_runtime_closes_cleanly_on_a_sqlite_file() {
    drop_an_executor_outside_its_runtime(Backend::SqliteFile);
}

#[test]
fn an_executor_dropped_outside_its_runtime_closes_cleanly_on_postgres() {
    drop_an_executor_outside_its_runtime(Backend::Postgres);
}

/// Commits leave the write-ahead log to the executor's background checkpoints: while the
/// executor stays open, what it committed still reaches the database file itself.
#[tokio::test]
async fn a_sqlite_file_is_checkpointed_while_the_executor_runs() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("runs.db");
    let url = format!("sqlite:///{}", path.display());
    let executor =
        UnifiedExecutor::open(&url, ExecutorConfig::default(), Arc::new(WorkflowRegistry::new())).await.unwrap();
    let workflow = executor.register(Workflow::builder("checkpointed").task(noop("only", &[])).build().unwrap());
    for _ in 0..50 {
        let result = executor.execute(Arc::clone(&workflow), Context::new()).await.unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed);
    }
    let database_size = || std::fs::metadata(&path).map_or(0, |metadata| metadata.len());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // The schema and fifty executions take well over 64 KiB once copied into the file.
    while database_size() < 64 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file is still {} bytes: nothing was checkpointed",
            database_size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    executor.shutdown().await;
}
