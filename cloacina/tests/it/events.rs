//! Every state change is persisted as an event and broadcast in-process.

use cloacina::{Context, EventKind, FunctionTask, Workflow};

use crate::support::{TestDatabase, failing, noop};

crate::backend_tests!(events_are_persisted_and_broadcast_in_order, an_event_stream_follows_an_execution_to_its_end);

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
    // Broadcast events are the stored ones, without their position in the stored log.
    let unsequenced: Vec<_> = stored.iter().cloned().map(|event| cloacina::Event { sequence: None, ..event }).collect();
    assert_eq!(broadcast, unsequenced);
    executor.shutdown().await;
}

async fn an_event_stream_follows_an_execution_to_its_end(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("streamed")
        .task(FunctionTask::new("slow", |context: Context| async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok(context)
        }))
        .task(noop("after", &["slow"]))
        .build()
        .unwrap();
    let handle = executor.start(workflow, Context::new()).await.unwrap();
    let mut stream = executor.event_stream(handle.execution_id());
    let mut streamed = Vec::new();
    while let Some(event) = stream.next().await {
        streamed.push(event.unwrap());
    }
    // The stream ended with the execution, in the stored order, missing nothing.
    assert_eq!(streamed.last().unwrap().kind, EventKind::ExecutionCompleted);
    assert_eq!(streamed, executor.events(handle.execution_id()).await.unwrap());
    let sequences: Vec<i64> = streamed.iter().map(|event| event.sequence.unwrap()).collect();
    assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(stream.next().await.is_none());
    executor.shutdown().await;
}
