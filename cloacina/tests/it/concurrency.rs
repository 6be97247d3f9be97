//! Concurrency limits: at most so many attempts holding a key run at once, across workflows
//! and executors, and a waiting task starts as soon as a slot frees (not at the next poll).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloacina::{
    ConcurrencyLimit, Context, ExecutionStatus, FunctionTask, RetryPolicy, Task, TaskError, UnifiedExecutor, Workflow,
    WorkflowError, task,
};

use crate::support::{TestDatabase, wall_time_bound};

crate::backend_tests!(limited_tasks_never_exceed_their_limit_across_workflows_and_executors, retries_hold_no_slot);

/// How many attempts run now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    running: AtomicUsize,
    most: AtomicUsize,
    runs: AtomicUsize,
    /// When the last attempt ended.
    last_end: Mutex<Option<Instant>>,
}

impl Gauge {
    async fn hold(&self, for_how_long: Duration) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(for_how_long).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        *self.last_end.lock().unwrap() = Some(Instant::now());
    }
}

fn limited(name: &str, tasks: usize, limit: u32, gauge: &Arc<Gauge>) -> Workflow {
    let mut builder = Workflow::builder(name);
    for index in 0..tasks {
        let gauge = Arc::clone(gauge);
        builder = builder.task(
            FunctionTask::new(format!("call_{index}"), move |context: Context| {
                let gauge = Arc::clone(&gauge);
                async move {
                    gauge.hold(Duration::from_millis(150)).await;
                    Ok(context)
                }
            })
            .concurrency("search-api", limit),
        );
    }
    builder.build().unwrap()
}

async fn limited_tasks_never_exceed_their_limit_across_workflows_and_executors(database: TestDatabase) {
    let gauge = Arc::new(Gauge::default());
    let first = database.executor().await;
    let memory = database.url.contains(":memory:");
    let second = if memory { first.clone() } else { database.executor().await };
    for executor in [&first, &second] {
        executor.register(limited("search", 8, 3, &gauge));
        executor.register(limited("enrich", 4, 3, &gauge));
    }
    let started = Instant::now();
    let id = UnifiedExecutor::new_execution_id;
    let handles = [
        first.start_as(id(), "search", Context::new()).await.unwrap(),
        second.start_as(id(), "search", Context::new()).await.unwrap(),
        first.start_as(id(), "enrich", Context::new()).await.unwrap(),
    ];
    for handle in handles {
        let result = handle.wait_timeout(Duration::from_secs(60)).await.unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    }
    // Measured by the tasks: waiting for an execution another executor on a SQLite file
    // finished may itself take a poll interval (no notification crosses such executors).
    let took = gauge.last_end.lock().unwrap().unwrap() - started;
    assert_eq!(gauge.runs.load(Ordering::SeqCst), 20);
    assert_eq!(gauge.most.load(Ordering::SeqCst), 3, "at most 3 at once, and 3 did run at once");
    // Twenty calls of 150 ms, three at a time: about a second. A waiting task found only by
    // the 5-second fallback poll would take longer than this.
    assert!(
        took < wall_time_bound(Duration::from_secs(4)),
        "took {took:?}: waiting tasks did not start when slots freed"
    );
    first.shutdown().await;
    second.shutdown().await;
}

async fn retries_hold_no_slot(database: TestDatabase) {
    // One slot; a task that fails once and retries after a delay lets the other run meanwhile.
    let executor = database.executor().await;
    let gauge = Arc::new(Gauge::default());
    let failures = Arc::new(AtomicUsize::new(0));
    let flaky = {
        let (gauge, failures) = (Arc::clone(&gauge), Arc::clone(&failures));
        FunctionTask::new("flaky", move |context: Context| {
            let (gauge, failures) = (Arc::clone(&gauge), Arc::clone(&failures));
            async move {
                gauge.hold(Duration::from_millis(50)).await;
                if failures.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(TaskError::new("the service is busy"));
                }
                Ok(context)
            }
        })
        .concurrency("one-at-a-time", 1)
        .retry(RetryPolicy::attempts(2).with_initial_delay(Duration::from_millis(200)))
    };
    let steady = {
        let gauge = Arc::clone(&gauge);
        FunctionTask::new("steady", move |context: Context| {
            let gauge = Arc::clone(&gauge);
            async move {
                gauge.hold(Duration::from_millis(50)).await;
                Ok(context)
            }
        })
        .concurrency("one-at-a-time", 1)
    };
    let workflow = executor.register(Workflow::builder("limited_retry").task(flaky).task(steady).build().unwrap());
    let result = executor.execute(&workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!((gauge.runs.load(Ordering::SeqCst), gauge.most.load(Ordering::SeqCst)), (3, 1));
    executor.shutdown().await;
}

#[task(concurrency_key = "search-api", concurrency = 2)]
async fn limited_search(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[test]
fn a_limit_is_declared_on_a_task_and_checked_by_the_workflow() {
    assert_eq!(LimitedSearchTask::new().concurrency(), Some(ConcurrencyLimit::new("search-api", 2)));
    let zero = FunctionTask::new("call", |context: Context| async move { Ok(context) }).concurrency("api", 0);
    let error = Workflow::builder("bad").task(zero).build().unwrap_err();
    assert!(matches!(&error, WorkflowError::InvalidConcurrency { task, .. } if task == "call"), "{error}");
    assert_eq!(
        error.to_string(),
        "task `call` cannot run: its concurrency is 0; it must be from 1 to 100000 attempts at once"
    );
}
