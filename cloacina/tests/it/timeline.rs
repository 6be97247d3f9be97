//! Timings: when each task became ready, each attempt's start, end and worker, and the
//! execution's Chrome trace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use cloacina::{AttemptStatus, Backoff, Context, FunctionTask, RetryPolicy, TaskError, Workflow};

use cloacina::ExecutorConfig;

use crate::support::{TestDatabase, noop, test_config};

crate::backend_tests!(
    each_attempt_is_timed_and_drawn_as_a_slice,
    the_trace_context_reaches_every_attempt_in_any_executor
);

async fn each_attempt_is_timed_and_drawn_as_a_slice(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let flaky = FunctionTask::new("flaky", move |context: Context| {
        let call = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if call == 1 { Err(TaskError::new("first attempt fails")) } else { Ok(context) }
        }
    })
    .depends_on(["first"])
    .retry(RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(10)));
    let workflow = Workflow::builder("timed").task(noop("first", &[])).task(flaky).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();

    let first = result.task("first").unwrap();
    let flaky = result.task("flaky").unwrap();
    assert_eq!(first.attempt_history.len(), 1);
    assert!(first.dependencies.is_empty());
    assert_eq!(flaky.dependencies, ["first"]);
    assert_eq!(flaky.worker(), Some(executor.owner_id()));
    let history: Vec<_> = flaky
        .attempt_history
        .iter()
        .map(|attempt| (attempt.number, attempt.status, attempt.error.as_deref()))
        .collect();
    assert_eq!(history, [(1, AttemptStatus::Failed, Some("first attempt fails")), (2, AttemptStatus::Completed, None)]);
    // Ready after `first` finished; each attempt ends after it starts and takes the task's 5 ms.
    let ready = flaky.ready_at.unwrap();
    assert!(ready >= first.finished_at.unwrap() && ready <= flaky.attempt_history[0].started_at);
    assert!(flaky.wait().is_some());
    for attempt in &flaky.attempt_history {
        assert!(attempt.duration().unwrap() >= Duration::from_millis(5), "{attempt:?}");
        assert_eq!(attempt.worker.as_deref(), Some(executor.owner_id()));
    }
    assert!(flaky.attempt_history[1].started_at >= flaky.attempt_history[0].finished_at.unwrap());
    assert_eq!(flaky.attempt_history[1].finished_at, flaky.finished_at);

    let trace = result.chrome_trace(Utc::now());
    let events = trace["traceEvents"].as_array().unwrap();
    let slices: Vec<_> = events.iter().filter(|event| event["ph"] == "X").collect();
    assert_eq!(slices.len(), 3, "one slice per attempt: {trace}");
    let names: Vec<_> = slices.iter().map(|slice| slice["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["first", "flaky", "flaky"]);
    let rows: Vec<_> = events.iter().filter(|event| event["name"] == "thread_name").collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["args"]["name"], executor.owner_id());
    assert!(slices.iter().all(|slice| slice["tid"] == rows[0]["tid"] && slice["dur"].as_i64().unwrap() >= 0));
    executor.shutdown().await;
}

/// The trace context seen by each attempt of `traced`, by task id.
type Seen = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

fn traced(seen: &Seen) -> Workflow {
    let record = |id: &'static str, seen: &Seen| {
        let seen = Arc::clone(seen);
        FunctionTask::new(id, move |context: Context| {
            let trace = context.attempt().and_then(|attempt| attempt.trace_context.as_deref().map(str::to_owned));
            seen.lock().unwrap().push((id.to_owned(), trace));
            async move { Ok(context) }
        })
    };
    Workflow::builder("traced")
        .task(record("first", seen))
        .task(record("second", seen).depends_on(["first"]))
        .build()
        .unwrap()
}

async fn the_trace_context_reaches_every_attempt_in_any_executor(database: TestDatabase) {
    let trace = r#"{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
    let seen: Seen = Arc::default();
    let executor = database.executor().await;
    let workflow = executor.register(traced(&seen));
    let options = cloacina::StartOptions { trace_context: Some(trace.to_owned()), ..Default::default() };
    let id = cloacina::UnifiedExecutor::new_execution_id();
    let handle = executor.start_with(id, &workflow, Context::new(), options).await.unwrap();
    assert_eq!(handle.wait().await.unwrap().status, cloacina::ExecutionStatus::Completed);
    let untraced = executor.execute(&workflow, Context::new()).await.unwrap();
    assert_eq!(untraced.status, cloacina::ExecutionStatus::Completed);
    executor.shutdown().await;
    let expected =
        |trace: Option<&str>| ["first", "second"].map(|id| (id.to_owned(), trace.map(str::to_owned))).to_vec();
    let runs: Vec<_> = seen.lock().unwrap().drain(..).collect();
    assert_eq!(runs[..2], expected(Some(trace))[..]);
    assert_eq!(runs[2..], expected(None)[..]);

    // Another executor on the database reads it from the execution's row.
    if database.url.contains(":memory:") {
        return;
    }
    let submitter = database.executor_with(ExecutorConfig { run_tasks: false, ..test_config() }).await;
    submitter.register(traced(&seen));
    let options = cloacina::StartOptions { trace_context: Some(trace.to_owned()), ..Default::default() };
    let id = cloacina::UnifiedExecutor::new_execution_id();
    submitter.start_with(id, "traced", Context::new(), options).await.unwrap();
    let worker = database.executor().await;
    worker.register(traced(&seen));
    assert_eq!(
        worker.wait(id, Some(Duration::from_secs(30))).await.unwrap().status,
        cloacina::ExecutionStatus::Completed
    );
    assert_eq!(seen.lock().unwrap()[..], expected(Some(trace))[..]);
    submitter.shutdown().await;
    worker.shutdown().await;
}
