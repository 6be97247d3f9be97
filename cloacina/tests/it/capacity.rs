//! Concurrency limits, and work that waits for capacity (never for the fallback poll).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cloacina::{Backoff, Context, ExecutionStatus, FunctionTask, RetryPolicy, TaskError, Workflow};

use crate::support::{TestDatabase, noop, test_config};

crate::backend_tests!(
    at_most_max_concurrent_tasks_run_at_once,
    waiting_work_starts_when_capacity_frees,
    retries_due_at_different_times_each_run_on_time,
    back_to_back_executions_never_wait_for_the_poll,
    retries_among_waiting_work_never_wait_for_the_poll
);

/// A task that tracks how many of its kind run at once.
fn tracked(id: String, running: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> FunctionTask {
    FunctionTask::new(id, move |context: Context| {
        let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(context)
        }
    })
    .depends_on(["root"])
}

async fn at_most_max_concurrent_tasks_run_at_once(database: TestDatabase) {
    let executor = database.executor_with(cloacina::ExecutorConfig { max_concurrent_tasks: 3, ..test_config() }).await;
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let workflow = (0..12)
        .fold(Workflow::builder("limited").task(noop("root", &[])), |builder, index| {
            builder.task(tracked(format!("task_{index}"), Arc::clone(&running), Arc::clone(&peak)))
        })
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    assert_eq!(peak.load(Ordering::SeqCst), 3, "the limit was not used fully or was exceeded");
    executor.shutdown().await;
}

/// With 2 slots and a 5 s poll, 60 tasks plus a join finish in well under one poll interval
/// only if freed capacity picks up waiting work at once.
async fn waiting_work_starts_when_capacity_frees(database: TestDatabase) {
    let executor = database.executor_with(cloacina::ExecutorConfig { max_concurrent_tasks: 2, ..test_config() }).await;
    let workers: Vec<String> = (0..60).map(|index| format!("worker_{index}")).collect();
    let worker_ids: Vec<&str> = workers.iter().map(String::as_str).collect();
    let workflow = workers
        .iter()
        .fold(Workflow::builder("narrow").task(noop("root", &[])), |builder, worker| {
            builder.task(noop(worker, &["root"]))
        })
        .task(noop("join", &worker_ids))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    executor.shutdown().await;
}

async fn retries_due_at_different_times_each_run_on_time(database: TestDatabase) {
    let executor = database.executor().await;
    let flaky = |id: &str, delay_ms: u64| {
        let calls = Arc::new(AtomicUsize::new(0));
        FunctionTask::new(id, move |context: Context| {
            let calls = Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(TaskError::new("first attempt fails"));
                }
                Ok(context)
            }
        })
        .retry(
            RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(delay_ms)),
        )
    };
    let workflow = Workflow::builder("staggered").task(flaky("soon", 100)).task(flaky("later", 400)).build().unwrap();
    let started = Instant::now();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    // The poll interval is 5 s: the second retry ran because the first one re-armed the timer.
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(result.task("later").unwrap().attempts == 2 && result.task("soon").unwrap().attempts == 2);
    executor.shutdown().await;
}

/// Each execution is created the moment the previous one is answered, while the transaction that
/// finished it may still hold the permits it claimed with: the new execution's first task must
/// still start at once, not at the next poll (a minute away here).
async fn back_to_back_executions_never_wait_for_the_poll(database: TestDatabase) {
    let config = cloacina::ExecutorConfig { poll_interval: Duration::from_secs(60), ..test_config() };
    let executor = database.executor_with(config).await;
    let workflow = executor.register(
        Workflow::builder("back_to_back").task(noop("first", &[])).task(noop("second", &["first"])).build().unwrap(),
    );
    for number in 0..500 {
        let execution = executor.execute(Arc::clone(&workflow), Context::new());
        let result = tokio::time::timeout(Duration::from_secs(20), execution)
            .await
            .unwrap_or_else(|_| panic!("execution {number} was left waiting for the poll"))
            .unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed);
    }
    executor.shutdown().await;
}

/// 200 tasks for 16 slots; two of the first fail once: one is retried 20 ms later, while other
/// work still waits for capacity, the other 250 ms later, after all of it has run. Looking for
/// due work when the first retry came due must not make the executor forget the second (it then
/// waited for the poll, a minute away here).
async fn retries_among_waiting_work_never_wait_for_the_poll(database: TestDatabase) {
    let config =
        cloacina::ExecutorConfig { poll_interval: Duration::from_secs(60), max_concurrent_tasks: 16, ..test_config() };
    let executor = database.executor_with(config).await;
    let retry_after = |millis| {
        RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(millis))
    };
    let workflow = (0..200)
        .fold(Workflow::builder("retries_in_a_crowd").task(noop("root", &[])), |builder, index| {
            let task = FunctionTask::new(format!("task_{index}"), move |context: Context| {
                let first = context.attempt().is_some_and(|attempt| attempt.number == 1);
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if first && index < 2 {
                        return Err(TaskError::new("first attempt fails"));
                    }
                    Ok(context)
                }
            });
            builder.task(task.depends_on(["root"]).retry(retry_after(if index == 0 { 20 } else { 250 })))
        })
        .build()
        .unwrap();
    let workflow = executor.register(workflow);
    for round in 0..3 {
        let execution = executor.execute(Arc::clone(&workflow), Context::new());
        let result = tokio::time::timeout(Duration::from_secs(30), execution)
            .await
            .unwrap_or_else(|_| panic!("round {round}: a retry was left waiting for the poll"))
            .unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
        assert_eq!((result.task("task_0").unwrap().attempts, result.task("task_1").unwrap().attempts), (2, 2));
    }
    executor.shutdown().await;
}
