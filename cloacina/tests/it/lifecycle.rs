//! Executors created and dropped the ways embedding code does it.

use std::sync::Arc;

use cloacina::{Context, ExecutionStatus, ExecutorConfig, UnifiedExecutor, Workflow, WorkflowRegistry};

use crate::support::noop;

/// A binding keeps the executor on a thread outside the runtime (Python's main thread) and
/// drops it there: closing the pooled connections must not need a runtime on that thread.
#[test]
fn an_executor_dropped_outside_its_runtime_closes_cleanly() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", directory.path().join("runs.db").display());
    let executor = runtime
        .block_on(UnifiedExecutor::open(&url, ExecutorConfig::default(), Arc::new(WorkflowRegistry::new())))
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
