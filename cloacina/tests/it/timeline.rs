//! Timings: when each task became ready, each attempt's start, end and worker, and the
//! execution's Chrome trace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use cloacina::{AttemptStatus, Backoff, Context, FunctionTask, RetryPolicy, TaskError, Workflow};

use crate::support::{TestDatabase, noop};

crate::backend_tests!(each_attempt_is_timed_and_drawn_as_a_slice);

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
