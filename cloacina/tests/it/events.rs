//! Every state change is persisted as an event and broadcast in-process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cloacina::{Backoff, Context, EventKind, ExecutionStatus, FunctionTask, RetryPolicy, TaskError, Workflow};

use crate::support::{TestDatabase, failing, noop, wall_time_bound};

crate::backend_tests!(
    events_are_persisted_and_broadcast_in_order,
    an_event_stream_follows_an_execution_to_its_end,
    a_retry_is_an_event,
    cancelling_is_an_event_per_task_and_one_for_the_execution,
);

/// The stored events of an execution as (kind, task, attempt).
async fn described(
    executor: &cloacina::UnifiedExecutor,
    execution_id: uuid::Uuid,
) -> Vec<(EventKind, Option<String>, Option<u32>)> {
    executor.events(execution_id).await.unwrap().into_iter().map(|e| (e.kind, e.task_id, e.attempt)).collect()
}

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

    // The committing thread broadcasts a transaction's events after its commit, and the wait may
    // have been answered before that (on PostgreSQL, by the commit's notification): the last
    // events can arrive just after `execute` returns, so they are awaited, within a bound.
    let mut broadcast = Vec::new();
    let deadline = tokio::time::Instant::now() + wall_time_bound(Duration::from_secs(10));
    while broadcast.len() < stored.len() {
        let event = tokio::time::timeout_at(deadline, subscription.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("only {} of {} events were broadcast: {broadcast:?}", broadcast.len(), stored.len())
            })
            .unwrap();
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
    // Numbered 1, 2, 3, ... without a gap, the event that ends the execution last.
    let sequences: Vec<i64> = streamed.iter().map(|event| event.sequence.unwrap()).collect();
    assert_eq!(sequences, (1..=streamed.len() as i64).collect::<Vec<_>>());
    assert!(stream.next().await.is_none());
    executor.shutdown().await;
}

async fn a_retry_is_an_event(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counting = Arc::clone(&calls);
    let flaky = FunctionTask::new("flaky", move |context: Context| {
        let calls = Arc::clone(&counting);
        async move {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(TaskError::new("first attempt failed"));
            }
            Ok(context)
        }
    })
    .retry(RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(20)));
    let workflow = Workflow::builder("retried").task(flaky).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);

    let task = |kind, attempt| (kind, Some("flaky".to_owned()), attempt);
    use EventKind::*;
    assert_eq!(
        described(&executor, result.execution_id).await,
        [
            (ExecutionCreated, None, None),
            task(TaskReady, None),
            (ExecutionStarted, None, None),
            task(TaskStarted, Some(1)),
            task(TaskRetried, Some(1)),
            task(TaskStarted, Some(2)),
            task(TaskCompleted, Some(2)),
            (ExecutionCompleted, None, None),
        ]
    );
    let stored = executor.events(result.execution_id).await.unwrap();
    let retried = stored.iter().find(|event| event.kind == TaskRetried).unwrap();
    assert_eq!(retried.message.as_deref(), Some("first attempt failed"));
    executor.shutdown().await;
}

async fn cancelling_is_an_event_per_task_and_one_for_the_execution(database: TestDatabase) {
    let executor = database.executor().await;
    let (started, mut running) = tokio::sync::mpsc::unbounded_channel();
    let sleeper = FunctionTask::new("sleeper", move |context: Context| {
        let started = started.clone();
        async move {
            let _ = started.send(());
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(context)
        }
    });
    let workflow = Workflow::builder("cancelled").task(sleeper).task(noop("next", &["sleeper"])).build().unwrap();
    let handle = executor.start(workflow, Context::new()).await.unwrap();
    running.recv().await.unwrap();
    assert_eq!(handle.cancel().await.unwrap(), ExecutionStatus::Cancelled);
    handle.wait().await.unwrap();

    let events = described(&executor, handle.execution_id()).await;
    let cancelled: Vec<&str> = events
        .iter()
        .filter(|(kind, ..)| *kind == EventKind::TaskCancelled)
        .map(|(_, task, _)| task.as_deref().unwrap())
        .collect();
    // The running task and the one that never started, each once.
    assert_eq!(cancelled.len(), 2, "{events:?}");
    assert!(cancelled.contains(&"sleeper") && cancelled.contains(&"next"), "{events:?}");
    assert_eq!(events.last().unwrap().0, EventKind::ExecutionCancelled, "{events:?}");
    assert!(!events.iter().any(|(kind, ..)| *kind == EventKind::TaskCompleted), "{events:?}");
    executor.shutdown().await;
}
