//! Looking at executions: snapshots, listings, waiting with a timeout.

use std::time::Duration;

use cloacina::{Context, ExecutionFilter, ExecutionStatus, ExecutorError, FunctionTask, TaskStatus, Workflow};
use serde_json::json;

use crate::support::{TestDatabase, failing, noop};

crate::backend_tests!(a_running_execution_can_be_inspected, executions_are_listed_newest_first_with_filters);

mod reopened {
    crate::shared_backend_tests!(the_database_is_reopened_with_its_executions);
    use super::the_database_is_reopened_with_its_executions;
}

async fn a_running_execution_can_be_inspected(database: TestDatabase) {
    let executor = database.executor().await;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = std::sync::Mutex::new(Some(released));
    let workflow = Workflow::builder("gated")
        .task(FunctionTask::new("gate", move |mut context: Context| {
            let released = released.lock().unwrap().take();
            async move {
                if let Some(released) = released {
                    let _ = released.await;
                }
                context.insert("opened", true)?;
                Ok(context)
            }
        }))
        .task(noop("after", &["gate"]))
        .build()
        .unwrap();
    let handle = executor.start(workflow, Context::from_value(json!({"input": 7})).unwrap()).await.unwrap();
    let timeout = handle.wait_timeout(Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(timeout, ExecutorError::WaitTimeout { .. }), "{timeout}");

    let snapshot = executor.get_execution(handle.execution_id()).await.unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Running);
    assert_eq!(snapshot.context.get("input"), Some(&json!(7)));
    assert_eq!(snapshot.task("gate").unwrap().status, TaskStatus::Running);
    assert_eq!(snapshot.task("after").unwrap().status, TaskStatus::Pending);
    assert!(snapshot.finished_at.is_none() && snapshot.duration().is_none());

    release.send(()).unwrap();
    let result = handle.wait().await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    assert_eq!(result.context.get("opened"), Some(&json!(true)));
    assert!(result.duration().is_some());
    executor.shutdown().await;
}

async fn executions_are_listed_newest_first_with_filters(database: TestDatabase) {
    let executor = database.executor().await;
    let good = Workflow::builder("good").task(noop("a", &[])).build().unwrap();
    let bad = Workflow::builder("bad").task(failing("a", &[], "no")).build().unwrap();
    let mut ids = Vec::new();
    for workflow in [&good, &bad, &good] {
        ids.push(executor.execute(workflow.clone(), Context::new()).await.unwrap().execution_id);
    }
    let all = executor.list_executions(ExecutionFilter::new()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]]);
    let good_only = executor.list_executions(ExecutionFilter::new().workflow("good")).await.unwrap();
    assert_eq!(good_only.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [ids[2], ids[0]]);
    let failed = executor.list_executions(ExecutionFilter::new().status(ExecutionStatus::Failed)).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error.as_deref(), Some("task `a` failed: no"));
    let newest = executor.list_executions(ExecutionFilter::new().limit(1)).await.unwrap();
    assert_eq!(newest.len(), 1);
    executor.shutdown().await;
}

async fn the_database_is_reopened_with_its_executions(database: TestDatabase) {
    let first = database.executor().await;
    let workflow = Workflow::builder("kept").task(noop("a", &[])).build().unwrap();
    let id = first.execute(workflow, Context::new()).await.unwrap().execution_id;
    first.shutdown().await;
    drop(first);
    let second = database.executor().await;
    let result = second.get_execution(id).await.unwrap();
    assert_eq!((result.workflow_name.as_str(), result.status), ("kept", ExecutionStatus::Completed));
    second.shutdown().await;
}
