//! Cancelling executions, and shutting the executor down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cloacina::{Context, ExecutionStatus, ExecutorError, FunctionTask, TaskStatus, Workflow};

use crate::support::{TestDatabase, noop, wall_time_bound};

crate::backend_tests!(
    cancel_stops_running_tasks_and_answers_waiters,
    cancelling_a_finished_execution_changes_nothing,
    shutdown_refuses_new_work
);

/// Sets its flag when dropped: proof that a cancelled task's future was dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn cancel_stops_running_tasks_and_answers_waiters(database: TestDatabase) {
    let executor = database.executor().await;
    let started = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let (started_flag, dropped_flag) = (Arc::clone(&started), Arc::clone(&dropped));
    let workflow = Workflow::builder("long")
        .task(FunctionTask::new("sleeper", move |context: Context| {
            let started = Arc::clone(&started_flag);
            let guard = SetOnDrop(Arc::clone(&dropped_flag));
            async move {
                let _guard = guard;
                started.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(context)
            }
        }))
        .task(noop("next", &["sleeper"]))
        .build()
        .unwrap();
    let handle = executor.start(workflow, Context::new()).await.unwrap();
    let waiter = {
        let handle = handle.clone();
        tokio::spawn(async move { handle.wait().await })
    };
    while !started.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(handle.status().await.unwrap(), ExecutionStatus::Running);

    let cancelled_at = Instant::now();
    assert_eq!(handle.cancel().await.unwrap(), ExecutionStatus::Cancelled);
    let result = waiter.await.unwrap().unwrap();
    assert!(
        cancelled_at.elapsed() < wall_time_bound(Duration::from_secs(2)),
        "the waiter took {:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(result.status, ExecutionStatus::Cancelled);
    assert_eq!(result.error.as_deref(), Some("the execution was cancelled"));
    assert_eq!(result.task("sleeper").unwrap().status, TaskStatus::Cancelled);
    assert_eq!(result.task("next").unwrap().status, TaskStatus::Cancelled);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(dropped.load(Ordering::SeqCst), "the running task was not stopped");
    executor.shutdown().await;
}

async fn cancelling_a_finished_execution_changes_nothing(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("quick").task(noop("only", &[])).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(executor.cancel(result.execution_id).await.unwrap(), ExecutionStatus::Completed);
    assert_eq!(executor.get_execution(result.execution_id).await.unwrap().status, ExecutionStatus::Completed);
    let missing = uuid::Uuid::new_v4();
    assert!(matches!(executor.cancel(missing).await, Err(ExecutorError::ExecutionNotFound(id)) if id == missing));
    executor.shutdown().await;
}

async fn shutdown_refuses_new_work(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("late").task(noop("only", &[])).build().unwrap();
    executor.shutdown().await;
    executor.shutdown().await;
    let error = executor.execute(workflow, Context::new()).await.unwrap_err();
    assert!(matches!(error, ExecutorError::ShutDown), "{error}");
    assert_eq!(error.to_string(), "the executor has been shut down; create a new one");
}
