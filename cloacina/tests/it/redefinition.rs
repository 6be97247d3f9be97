//! A workflow redefined while executions of it run: they finish with the definition they were
//! created with, or one of the same shape, and otherwise fail saying why; none is left running.

use std::sync::Arc;
use std::time::Duration;

use cloacina::{
    Context, ExecutionStatus, ExecutorConfig, FunctionTask, RetryPolicy, TaskStatus, UnifiedExecutor, Workflow,
    WorkflowRegistry,
};
use tokio::sync::Semaphore;

use crate::support::{TestDatabase, noop, recording_task, test_config};

crate::shared_backend_tests!(
    an_execution_finishes_with_the_version_it_was_created_with,
    another_process_with_a_changed_shape_fails_the_execution_naming_both_versions,
    another_process_with_the_same_shape_finishes_the_execution,
);

/// `first -> second`, where `first` waits for a permit of `gate`.
fn gated(gate: &Arc<Semaphore>) -> Workflow {
    let gate = Arc::clone(gate);
    let first = FunctionTask::new("first", move |mut context: Context| {
        let gate = Arc::clone(&gate);
        async move {
            gate.acquire().await.expect("the gate stays open").forget();
            context.insert("first_ran", true)?;
            Ok(context)
        }
    });
    Workflow::builder("redefined").task(first).task(recording_task("second", &["first"])).build().unwrap()
}

/// The same name, other tasks.
fn reshaped() -> Workflow {
    Workflow::builder("redefined").task(recording_task("only", &[])).build().unwrap()
}

async fn an_execution_finishes_with_the_version_it_was_created_with(database: TestDatabase) {
    let executor = database.executor().await;
    let gate = Arc::new(Semaphore::new(0));
    let original = executor.register(gated(&gate));
    let handle = executor.start("redefined", Context::new()).await.unwrap();
    // Redefined (a notebook cell run again) while the first task runs.
    let replacement = executor.register(reshaped());
    assert_ne!(original.version(), replacement.version());
    gate.add_permits(1);
    let result = handle.wait_timeout(Duration::from_secs(10)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.workflow_version, original.version());
    assert_eq!(result.task("second").unwrap().status, TaskStatus::Completed);
    // New executions get the new definition.
    let next = executor.execute("redefined", Context::new()).await.unwrap();
    assert_eq!((next.status, next.workflow_version.as_str()), (ExecutionStatus::Completed, replacement.version()));
    assert!(next.task("only").is_some());
    executor.shutdown().await;
}

fn short_leases() -> ExecutorConfig {
    ExecutorConfig {
        lease_duration: Duration::from_secs(1),
        poll_interval: Duration::from_millis(200),
        ..test_config()
    }
}

/// Starts an execution of [`gated`] in an executor that stops while `first` runs, as if its
/// process died; returns the execution's id and the version it was created with.
async fn abandoned_execution(database: &TestDatabase) -> (uuid::Uuid, String) {
    let registry = Arc::new(WorkflowRegistry::new());
    let gate = Arc::new(Semaphore::new(0));
    let workflow = gated(&gate);
    let version = workflow.version().to_owned();
    registry.register(workflow);
    let dying = UnifiedExecutor::open(&database.url, short_leases(), registry).await.unwrap();
    let execution_id = dying.start("redefined", Context::new()).await.unwrap().execution_id();
    // `first` is claimed and waits at the gate.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while dying.get_execution(execution_id).await.unwrap().task("first").unwrap().status != TaskStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the first task never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(dying);
    (execution_id, version)
}

async fn another_process_with_a_changed_shape_fails_the_execution_naming_both_versions(database: TestDatabase) {
    let (execution_id, created_with) = abandoned_execution(&database).await;
    let registry = Arc::new(WorkflowRegistry::new());
    let changed = reshaped();
    let registered = changed.version().to_owned();
    registry.register(changed);
    let other = UnifiedExecutor::open(&database.url, short_leases(), registry).await.unwrap();
    let result = other.wait(execution_id, Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    let error = result.error.unwrap();
    assert!(
        error.contains(&format!("was created with version {} of workflow `redefined`", &created_with[..12])),
        "{error}"
    );
    assert!(error.contains(&format!("the version it has ({})", &registered[..12])), "{error}");
    assert!(result.task_results.iter().all(|task| task.status.is_finished()), "{:?}", result.task_results);
    other.shutdown().await;
}

async fn another_process_with_the_same_shape_finishes_the_execution(database: TestDatabase) {
    let (execution_id, created_with) = abandoned_execution(&database).await;
    let registry = Arc::new(WorkflowRegistry::new());
    // The same tasks and dependencies; only a setting differs, so the version does too.
    let retried = noop("first", &[]).retry(RetryPolicy::attempts(2));
    let same_shape =
        Workflow::builder("redefined").task(retried).task(recording_task("second", &["first"])).build().unwrap();
    assert_ne!(same_shape.version(), created_with);
    registry.register(same_shape);
    let other = UnifiedExecutor::open(&database.url, short_leases(), registry).await.unwrap();
    let result = other.wait(execution_id, Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.workflow_version, created_with);
    assert_eq!(result.task("first").unwrap().recoveries, 1);
    other.shutdown().await;
}
