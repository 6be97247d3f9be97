//! Leases across executors sharing a database: recovery from a worker that stopped, the limit
//! on recoveries, cancellation seen by the executor running the task, and shutdown handing work
//! back at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cloacina::{
    Backoff, Context, EventKind, ExecutionStatus, ExecutorConfig, FunctionTask, RetryPolicy, TaskError, TaskStatus,
    UnifiedExecutor, Workflow, WorkflowRegistry,
};

use crate::support::{TestDatabase, noop, test_config};

crate::shared_backend_tests!(
    a_task_abandoned_by_a_stopped_worker_runs_elsewhere,
    a_task_abandoned_too_often_fails,
    cancelling_elsewhere_stops_the_running_task,
    shutdown_hands_unfinished_work_to_others_at_once,
    shutdown_does_not_wait_for_a_task_blocked_in_a_call,
    a_task_longer_than_its_lease_keeps_it,
    shutdown_lets_a_short_task_finish,
    a_scheduled_retry_waits_for_its_time_after_a_restart,
    a_worker_blocked_in_a_call_keeps_its_task,
);

/// Sets its flag when dropped: proof that a task's future was stopped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A two-task workflow whose first task runs `first`.
fn workflow(first: FunctionTask) -> Workflow {
    Workflow::builder("leased").task(first).task(noop("second", &["first"])).build().unwrap()
}

/// A first task that never finishes, setting `started` when it begins and `stopped` when its
/// future is dropped.
fn stuck(started: Arc<AtomicBool>, stopped: Arc<AtomicBool>) -> FunctionTask {
    FunctionTask::new("first", move |context: Context| {
        let (started, guard) = (Arc::clone(&started), SetOnDrop(Arc::clone(&stopped)));
        async move {
            let _guard = guard;
            started.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok(context)
        }
    })
}

fn quick() -> FunctionTask {
    FunctionTask::new("first", |mut context: Context| async move {
        context.insert("done_by", "second executor")?;
        Ok(context)
    })
}

async fn executor(database: &TestDatabase, workflow: Workflow, config: ExecutorConfig) -> UnifiedExecutor {
    let registry = Arc::new(WorkflowRegistry::new());
    registry.register(workflow);
    UnifiedExecutor::open(&database.url, config, registry).await.unwrap()
}

fn short_leases() -> ExecutorConfig {
    ExecutorConfig {
        lease_duration: Duration::from_secs(1),
        poll_interval: Duration::from_millis(200),
        ..test_config()
    }
}

async fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !flag.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn a_task_abandoned_by_a_stopped_worker_runs_elsewhere(database: TestDatabase) {
    let (started, stopped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let first = executor(&database, workflow(stuck(Arc::clone(&started), stopped)), short_leases()).await;
    let execution_id = first.start("leased", Context::new()).await.unwrap().execution_id();
    wait_for(&started).await;
    // The first executor stops renewing (its task hangs on): as if its process froze or died.
    drop(first);

    let second = executor(&database, workflow(quick()), short_leases()).await;
    let result = second.wait(execution_id, Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("done_by").unwrap(), "second executor");
    let first_task = result.task("first").unwrap();
    assert_eq!((first_task.attempts, first_task.recoveries), (1, 1));
    let events = second.events(execution_id).await.unwrap();
    assert!(events.iter().any(|event| event.message.as_deref().is_some_and(|m| m.starts_with("recovered: the lease"))));
    second.shutdown().await;
}

async fn a_task_abandoned_too_often_fails(database: TestDatabase) {
    let (started, stopped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let first = executor(&database, workflow(stuck(Arc::clone(&started), stopped)), short_leases()).await;
    let execution_id = first.start("leased", Context::new()).await.unwrap().execution_id();
    wait_for(&started).await;
    drop(first);

    let config = ExecutorConfig { max_recoveries: 0, ..short_leases() };
    let second = executor(&database, workflow(quick()), config).await;
    let result = second.wait(execution_id, Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    let first_task = result.task("first").unwrap();
    assert_eq!(first_task.status, TaskStatus::Failed);
    assert!(first_task.error.as_deref().unwrap().starts_with("task abandoned: the worker running it stopped renewing"));
    assert_eq!(result.task("second").unwrap().status, TaskStatus::Skipped);
    second.shutdown().await;
}

async fn cancelling_elsewhere_stops_the_running_task(database: TestDatabase) {
    let (started, stopped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let runner = executor(&database, workflow(stuck(Arc::clone(&started), Arc::clone(&stopped))), short_leases()).await;
    let handle = runner.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;

    let other = executor(&database, workflow(quick()), short_leases()).await;
    let cancelled_at = Instant::now();
    assert_eq!(other.cancel(handle.execution_id()).await.unwrap(), ExecutionStatus::Cancelled);
    // The runner learns of it by notification (PostgreSQL) or at its next lease renewal.
    wait_for(&stopped).await;
    let result = handle.wait_timeout(Duration::from_secs(5)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Cancelled);
    assert!(cancelled_at.elapsed() < Duration::from_secs(3), "took {:?}", cancelled_at.elapsed());
    runner.shutdown().await;
    other.shutdown().await;
}

async fn shutdown_hands_unfinished_work_to_others_at_once(database: TestDatabase) {
    let (started, stopped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    // Leases long enough that expiry cannot be what hands the task over.
    let patient = ExecutorConfig {
        lease_duration: Duration::from_secs(60),
        shutdown_timeout: Duration::from_millis(100),
        poll_interval: Duration::from_millis(200),
        ..test_config()
    };
    let leaving =
        executor(&database, workflow(stuck(Arc::clone(&started), Arc::clone(&stopped))), patient.clone()).await;
    let handle = leaving.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;
    leaving.shutdown().await;
    assert!(stopped.load(Ordering::SeqCst), "shutdown left the task running");

    let staying = executor(&database, workflow(quick()), patient).await;
    let result = staying.wait(handle.execution_id(), Some(Duration::from_secs(5))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.task("first").unwrap().attempts, 1, "a handed-back attempt does not count");
    staying.shutdown().await;
}

/// A first task that blocks its thread for `blocked` (a call that ignores its stop signal),
/// setting `started` when it begins, then writes `done_by`.
fn blocking(blocked: Duration, started: Arc<AtomicBool>, done_by: &'static str) -> FunctionTask {
    FunctionTask::new("first", move |mut context: Context| {
        let started = Arc::clone(&started);
        async move {
            started.store(true, Ordering::SeqCst);
            tokio::task::block_in_place(|| std::thread::sleep(blocked));
            context.insert("done_by", done_by)?;
            Ok(context)
        }
    })
}

/// A task blocked in a call that ignores its stop signal cannot be dropped: shutdown waits a
/// moment for it, then releases its lease all the same, and the result it returns later is not
/// recorded over the next executor's.
async fn shutdown_does_not_wait_for_a_task_blocked_in_a_call(database: TestDatabase) {
    let started = Arc::new(AtomicBool::new(false));
    let blocked = blocking(Duration::from_secs(4), Arc::clone(&started), "the executor that shut down");
    let patient = ExecutorConfig {
        lease_duration: Duration::from_secs(60),
        shutdown_timeout: Duration::from_millis(100),
        poll_interval: Duration::from_millis(200),
        ..test_config()
    };
    let leaving = executor(&database, workflow(blocked), patient.clone()).await;
    let handle = leaving.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;
    let stopping = Instant::now();
    leaving.shutdown().await;
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown waited {took:?} for a blocked task");

    let staying = executor(&database, workflow(quick()), patient).await;
    let result = staying.wait(handle.execution_id(), Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("done_by"), Some(&serde_json::json!("second executor")));
    staying.shutdown().await;
}

fn sleeping(sleep: Duration, started: Arc<AtomicBool>) -> FunctionTask {
    FunctionTask::new("first", move |mut context: Context| {
        let started = Arc::clone(&started);
        async move {
            started.store(true, Ordering::SeqCst);
            tokio::time::sleep(sleep).await;
            context.insert("done_by", "the first executor")?;
            Ok(context)
        }
    })
}

/// A running worker renews its leases: another executor watching for expired ones, with the
/// task at three times the lease, never takes it over.
async fn a_task_longer_than_its_lease_keeps_it(database: TestDatabase) {
    let started = Arc::new(AtomicBool::new(false));
    let runner =
        executor(&database, workflow(sleeping(Duration::from_secs(3), Arc::clone(&started))), short_leases()).await;
    let handle = runner.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;
    let watcher = executor(&database, workflow(quick()), short_leases()).await;
    let result = handle.wait_timeout(Duration::from_secs(20)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("done_by").unwrap(), "the first executor");
    let first = result.task("first").unwrap();
    assert_eq!((first.attempts, first.recoveries), (1, 0));
    runner.shutdown().await;
    watcher.shutdown().await;
}

/// Shutdown lets a task that finishes within `shutdown_timeout` finish, and records it.
async fn shutdown_lets_a_short_task_finish(database: TestDatabase) {
    let started = Arc::new(AtomicBool::new(false));
    let config = ExecutorConfig { shutdown_timeout: Duration::from_secs(5), ..short_leases() };
    let leaving =
        executor(&database, workflow(sleeping(Duration::from_millis(300), Arc::clone(&started))), config).await;
    let handle = leaving.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;
    leaving.shutdown().await;

    let reader = executor(&database, workflow(quick()), ExecutorConfig { run_tasks: false, ..test_config() }).await;
    let snapshot = reader.get_execution(handle.execution_id()).await.unwrap();
    let first = snapshot.task("first").unwrap();
    assert_eq!((first.status, first.attempts), (TaskStatus::Completed, 1), "{snapshot:?}");
    assert_eq!(snapshot.context.get("done_by").unwrap(), "the first executor");
    // A stopping executor starts nothing new: the task made ready waits for another worker.
    let second = snapshot.task("second").unwrap();
    assert_eq!((second.status, second.attempts), (TaskStatus::Ready, 0), "{snapshot:?}");
    reader.shutdown().await;
}

/// A retry is scheduled in the database: an executor opened after the one that scheduled it
/// stopped runs it at its time, not before.
async fn a_scheduled_retry_waits_for_its_time_after_a_restart(database: TestDatabase) {
    let failing_first = FunctionTask::new("first", |_context: Context| async move { Err(TaskError::new("not yet")) })
        .retry(RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(1500)));
    let leaving = executor(&database, workflow(failing_first), short_leases()).await;
    let handle = leaving.start("leased", Context::new()).await.unwrap();
    let mut stream = leaving.event_stream(handle.execution_id());
    // The retry is due 1.5 s after the failed attempt ended, which is after it started.
    let mut first_started_at = None;
    loop {
        let event = stream.next().await.expect("the execution goes on").unwrap();
        match event.kind {
            EventKind::TaskStarted if first_started_at.is_none() => first_started_at = Some(event.at),
            EventKind::TaskRetried => break,
            _ => {}
        }
    }
    leaving.shutdown().await;

    let staying = executor(&database, workflow(quick()), short_leases()).await;
    let result = staying.wait(handle.execution_id(), Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    let first = result.task("first").unwrap();
    assert_eq!(first.attempts, 2);
    let waited = first.started_at.unwrap() - first_started_at.unwrap();
    assert!(waited >= chrono::Duration::milliseconds(1500), "the retry ran {waited:?} after the first attempt began");
    staying.shutdown().await;
}

/// A worker whose task blocks its thread for a while is slow, not gone: an executor looking for
/// abandoned work every third of a second never takes its task over.
async fn a_worker_blocked_in_a_call_keeps_its_task(database: TestDatabase) {
    let started = Arc::new(AtomicBool::new(false));
    let blocked = blocking(Duration::from_secs(3), Arc::clone(&started), "the first executor");
    let patient = ExecutorConfig { lease_duration: Duration::from_secs(60), ..test_config() };
    let runner = executor(&database, workflow(blocked), patient).await;
    let handle = runner.start("leased", Context::new()).await.unwrap();
    wait_for(&started).await;
    let watcher = executor(&database, workflow(quick()), short_leases()).await;
    let result = handle.wait_timeout(Duration::from_secs(20)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("done_by").unwrap(), "the first executor");
    assert_eq!(result.task("first").unwrap().recoveries, 0);
    runner.shutdown().await;
    watcher.shutdown().await;
}

/// On PostgreSQL an executor holds a lock for as long as it runs: once it is gone, another
/// executor resumes its tasks at once, not when their (here one-minute) leases run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notices_a_gone_owner_before_its_lease_runs_out() {
    let Some(database) = TestDatabase::create(crate::support::Backend::Postgres).await else { return };
    let (started, stopped) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let patient = ExecutorConfig { lease_duration: Duration::from_secs(60), ..test_config() };
    let first = executor(&database, workflow(stuck(Arc::clone(&started), stopped)), patient.clone()).await;
    let execution_id = first.start("leased", Context::new()).await.unwrap().execution_id();
    wait_for(&started).await;
    // As if its process died: its connections close, and its lock with them.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let resumed_at = Instant::now();
    let second = executor(&database, workflow(quick()), patient).await;
    let result = second.wait(execution_id, Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert!(resumed_at.elapsed() < Duration::from_secs(10), "took {:?}", resumed_at.elapsed());
    let events = second.events(execution_id).await.unwrap();
    assert!(events.iter().any(|event| {
        event.message.as_deref().is_some_and(|message| message.ends_with("was left by a process that is gone"))
    }));
    second.shutdown().await;
}
