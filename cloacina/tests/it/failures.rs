//! Retries, failures, trigger rules, timeouts and panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cloacina::{
    Backoff, ConditionOperator, Context, ExecutionStatus, ExecutorConfig, FunctionTask, RetryPolicy, TaskError,
    TaskStatus, TriggerRule, Workflow,
};
use serde_json::json;

use crate::support::{TestDatabase, failing, noop, recording_task, test_config};

crate::backend_tests!(
    retries_with_backoff_then_succeeds,
    exhausted_retries_fail_and_skip_dependents,
    a_cleanup_task_runs_after_a_failure,
    context_conditions_choose_a_branch,
    a_slow_task_times_out,
    a_task_blocking_past_its_timeout_times_out,
    a_panicking_task_fails_and_the_executor_goes_on,
    a_permanent_error_is_not_retried,
    the_default_timeout_applies_to_a_task_without_one,
    a_timed_out_attempt_is_retried,
    the_execution_carries_the_first_error,
    a_result_the_database_refuses_fails_only_its_task,
);

/// A task that fails `failures` times, then writes `done`.
fn flaky(id: &str, failures: u32, calls: Arc<AtomicU32>) -> FunctionTask {
    FunctionTask::new(id, move |mut context: Context| {
        let calls = Arc::clone(&calls);
        async move {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            // What a failed attempt writes must not reach the next attempt's input.
            assert!(!context.contains_key("partial"), "attempt {call} saw a failed attempt's write");
            context.insert("partial", call)?;
            if call <= failures {
                return Err(TaskError::new(format!("attempt {call} failed")));
            }
            context.insert("done", call)?;
            Ok(context)
        }
    })
}

async fn retries_with_backoff_then_succeeds(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let policy = RetryPolicy::attempts(3).with_backoff(Backoff::Linear).with_initial_delay(Duration::from_millis(100));
    let workflow = Workflow::builder("flaky")
        .task(flaky("flaky", 2, Arc::clone(&calls)).retry(policy))
        .task(noop("after", &["flaky"]))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    // Linear backoff: 100 ms, then 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(300), "retried too early: {:?}", started.elapsed());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let flaky = result.task("flaky").unwrap();
    assert_eq!((flaky.status, flaky.attempts), (TaskStatus::Completed, 3));
    assert_eq!(result.context.get("done"), Some(&json!(3)));
    assert_eq!(result.task("after").unwrap().status, TaskStatus::Completed);
    executor.shutdown().await;
}

async fn exhausted_retries_fail_and_skip_dependents(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let policy = RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(20));
    let workflow = Workflow::builder("doomed")
        .task(noop("start", &[]))
        .task(flaky("doomed", 10, Arc::clone(&calls)).depends_on(["start"]).retry(policy))
        .task(noop("child", &["doomed"]))
        .task(noop("grandchild", &["child"]))
        .task(noop("unrelated", &["start"]))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let doomed = result.task("doomed").unwrap();
    assert_eq!((doomed.status, doomed.attempts), (TaskStatus::Failed, 2));
    assert_eq!(doomed.error.as_deref(), Some("attempt 2 failed"));
    assert_eq!(result.error.as_deref(), Some("task `doomed` failed: attempt 2 failed"));
    assert_eq!(result.task("child").unwrap().status, TaskStatus::Skipped);
    assert_eq!(result.task("grandchild").unwrap().status, TaskStatus::Skipped);
    assert_eq!(result.task("unrelated").unwrap().status, TaskStatus::Completed);
    assert!(!result.context.contains_key("partial"), "a failed attempt's writes reached the result");
    executor.shutdown().await;
}

async fn a_cleanup_task_runs_after_a_failure(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("with_cleanup")
        .task(failing("load", &[], "disk full"))
        .task(noop("report", &["load"]))
        .task(
            FunctionTask::new("cleanup", |mut context: Context| async move {
                context.insert("cleaned", true)?;
                Ok(context)
            })
            .depends_on(["load"])
            .trigger(TriggerRule::AnyFailed),
        )
        .task(noop("never", &["load"]).trigger(TriggerRule::NoneFailed))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.error.as_deref(), Some("task `load` failed: disk full"));
    assert_eq!(result.task("cleanup").unwrap().status, TaskStatus::Completed);
    assert_eq!(result.context.get("cleaned"), Some(&json!(true)));
    assert_eq!(result.task("report").unwrap().status, TaskStatus::Skipped);
    assert_eq!(result.task("never").unwrap().status, TaskStatus::Skipped);
    executor.shutdown().await;
}

async fn context_conditions_choose_a_branch(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("branching")
        .task(FunctionTask::new("measure", |mut context: Context| async move {
            context.insert("size", 42)?;
            Ok(context)
        }))
        .task(noop("big", &["measure"]).trigger(TriggerRule::All(vec![
            TriggerRule::AllSucceeded,
            TriggerRule::context("size", ConditionOperator::GreaterThan(10.0)),
        ])))
        .task(noop("small", &["measure"]).trigger(TriggerRule::context("size", ConditionOperator::LessThan(10.0))))
        .task(noop("after_small", &["small"]))
        .task(noop("dry_run_only", &[]).trigger(TriggerRule::context("dry_run", ConditionOperator::Truthy)))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    let status = |id| result.task(id).unwrap().status;
    assert_eq!(status("big"), TaskStatus::Completed);
    assert_eq!(status("small"), TaskStatus::Skipped);
    assert_eq!(status("after_small"), TaskStatus::Skipped);
    assert_eq!(status("dry_run_only"), TaskStatus::Skipped);
    executor.shutdown().await;
}

async fn a_slow_task_times_out(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("slow")
        .task(
            FunctionTask::new("slow", |context: Context| async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(context)
            })
            .timeout(Duration::from_millis(150)),
        )
        .task(noop("after", &["slow"]))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout did not stop the task");
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.task("slow").unwrap().error.as_deref(), Some("task timed out after 150ms"));
    assert_eq!(result.task("after").unwrap().status, TaskStatus::Skipped);
    executor.shutdown().await;
}

/// A task that blocks its thread cannot be stopped at its deadline: it sees its stop signal turn
/// on, and its timeout is recorded when it returns, whatever it returned.
async fn a_task_blocking_past_its_timeout_times_out(database: TestDatabase) {
    let executor = database.executor().await;
    let saw_stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&saw_stop);
    let workflow = Workflow::builder("blocking")
        .task(
            FunctionTask::new("blocking", move |context: Context| {
                let seen = Arc::clone(&seen);
                async move {
                    let stop = context.attempt().expect("an attempt's input").stop.clone();
                    assert!(!stop.is_stopped() && stop.deadline().is_some());
                    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(300)));
                    seen.store(stop.is_stopped(), Ordering::SeqCst);
                    Ok(context)
                }
            })
            .timeout(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.task("blocking").unwrap().error.as_deref(), Some("task timed out after 100ms"));
    assert!(saw_stop.load(Ordering::SeqCst), "the stop signal was still off after the deadline");
    executor.shutdown().await;
}

async fn a_panicking_task_fails_and_the_executor_goes_on(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("panics")
        .task(FunctionTask::new("boom", |_context: Context| async move {
            if true {
                panic!("the flux capacitor broke");
            }
            Ok(Context::new())
        }))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.task("boom").unwrap().error.as_deref(), Some("task panicked: the flux capacitor broke"));

    let healthy = Workflow::builder("healthy").task(noop("fine", &[])).build().unwrap();
    let result = executor.execute(healthy, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    executor.shutdown().await;
}

async fn a_permanent_error_is_not_retried(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let workflow = Workflow::builder("permanent")
        .task(
            FunctionTask::new("validate", move |_context: Context| {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Err(TaskError::permanent("the input is malformed"))
                }
            })
            .retry(RetryPolicy::attempts(5).with_initial_delay(Duration::from_millis(10))),
        )
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    executor.shutdown().await;
}

fn sleeping(id: &str, sleep: Duration) -> FunctionTask {
    FunctionTask::new(id, move |context: Context| async move {
        tokio::time::sleep(sleep).await;
        Ok(context)
    })
}

async fn the_default_timeout_applies_to_a_task_without_one(database: TestDatabase) {
    let config = ExecutorConfig { task_timeout: Some(Duration::from_millis(150)), ..test_config() };
    let executor = database.executor_with(config).await;
    let workflow = Workflow::builder("default_timeout")
        .task(sleeping("slow", Duration::from_secs(30)))
        // Its own timeout wins over the default.
        .task(sleeping("patient", Duration::from_millis(300)).timeout(Duration::from_secs(5)))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the default timeout did not stop the task");
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.task("slow").unwrap().error.as_deref(), Some("task timed out after 150ms"));
    assert_eq!(result.task("patient").unwrap().status, TaskStatus::Completed);
    executor.shutdown().await;
}

async fn a_timed_out_attempt_is_retried(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let workflow = Workflow::builder("slow_then_quick")
        .task(
            FunctionTask::new("slow_once", move |context: Context| {
                let counter = Arc::clone(&counter);
                async move {
                    if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Ok(context)
                }
            })
            .timeout(Duration::from_millis(100))
            .retry(RetryPolicy::attempts(2).with_initial_delay(Duration::from_millis(10))),
        )
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.task("slow_once").unwrap().attempts, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    executor.shutdown().await;
}

async fn the_execution_carries_the_first_error(database: TestDatabase) {
    let executor = database.executor().await;
    let late = FunctionTask::new("late", |_context: Context| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Err(TaskError::permanent("failed second"))
    });
    let workflow =
        Workflow::builder("two_failures").task(late).task(failing("early", &[], "failed first")).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    assert_eq!(result.task("late").unwrap().status, TaskStatus::Failed);
    assert_eq!(result.error.as_deref(), Some("task `early` failed: failed first"));
    executor.shutdown().await;
}

/// A result the database refuses for good (PostgreSQL stores no JSON string over 256 MiB) fails
/// its attempt alone, saying why; the executions recorded beside it go on, and nothing is left
/// running.
async fn a_result_the_database_refuses_fails_only_its_task(database: TestDatabase) {
    let executor = database.executor().await;
    let huge = FunctionTask::new("huge", |mut context: Context| async move {
        context.insert("blob", "x".repeat(257 << 20))?;
        Ok(context)
    });
    let refused = Workflow::builder("refused").task(huge).task(noop("after", &["huge"])).build().unwrap();
    let small = executor.register(
        Workflow::builder("small")
            .task(recording_task("first", &[]))
            .task(recording_task("second", &["first"]))
            .build()
            .unwrap(),
    );
    let handle = executor.start(refused, Context::new()).await.unwrap();
    let mut others = Vec::new();
    for _ in 0..20 {
        others.push(executor.start(&small, Context::new()).await.unwrap());
    }
    // Making and copying the 257 MiB result takes 10 to 40 s in a debug build; PostgreSQL, whose
    // `jsonb` strings hold 256 MiB at most, is not sent it.
    let result = handle.wait_timeout(Duration::from_secs(300)).await.unwrap();
    if database.url.starts_with("postgres") {
        assert_eq!(result.status, ExecutionStatus::Failed);
        let huge = result.task("huge").unwrap();
        assert_eq!(huge.status, TaskStatus::Failed);
        let error = huge.error.as_deref().unwrap();
        assert!(error.starts_with("the task's result could not be stored: "), "{error}");
        assert!(error.contains("bytes of JSON; PostgreSQL stores at most 268435455 (write large"), "{error}");
        assert_eq!(result.task("after").unwrap().status, TaskStatus::Skipped);
    } else {
        assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    }
    for other in others {
        let result = other.wait_timeout(Duration::from_secs(30)).await.unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    }
    executor.shutdown().await;
}
