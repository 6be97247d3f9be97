//! Every state change is persisted as an event and broadcast in-process.

use cloacina::{Context, EventKind, Workflow};

use crate::support::{TestDatabase, failing, noop};

crate::backend_tests!(events_are_persisted_and_broadcast_in_order);

async fn events_are_persisted_and_broadcast_in_order(database: TestDatabase) {
    let executor = database.executor().await;
    let mut subscription = executor.subscribe();
    let workflow = Workflow::builder("observed")
        .task(noop("first", &[]))
        .task(failing("second", &["first"], "nope"))
        .task(noop("third", &["second"]))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();

    let stored = executor.events(result.execution_id).await.unwrap();
    let described: Vec<(EventKind, Option<&str>)> = stored.iter().map(|e| (e.kind, e.task_id.as_deref())).collect();
    use EventKind::*;
    assert_eq!(
        described,
        [
            (ExecutionCreated, None),
            (TaskReady, Some("first")),
            (ExecutionStarted, None),
            (TaskStarted, Some("first")),
            (TaskCompleted, Some("first")),
            (TaskReady, Some("second")),
            (TaskStarted, Some("second")),
            (TaskFailed, Some("second")),
            (TaskSkipped, Some("third")),
            (ExecutionFailed, None),
        ]
    );
    let failed = stored.iter().find(|e| e.kind == TaskFailed).unwrap();
    assert_eq!((failed.attempt, failed.message.as_deref()), (Some(1), Some("nope")));

    let mut broadcast = Vec::new();
    while let Ok(event) = subscription.try_recv() {
        if event.execution_id == result.execution_id {
            broadcast.push(event);
        }
    }
    assert_eq!(broadcast, stored);
    executor.shutdown().await;
}
