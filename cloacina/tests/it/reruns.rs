//! Re-running an execution from where it failed: only what did not complete runs again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cloacina::{Context, ExecutionStatus, ExecutorError, FunctionTask, TaskError, TaskStatus, Workflow};

use crate::support::{TestDatabase, noop};

crate::backend_tests!(
    a_rerun_runs_only_what_did_not_complete,
    a_rerun_needs_a_finished_execution_with_something_to_run,
);

/// Calls of each task, by id.
type Calls = Arc<Mutex<HashMap<String, u32>>>;

/// A task that counts its calls, writes `{id}: {value of its dependency's key} + 1`, and fails
/// while `failing` is set.
fn counting(
    id: &'static str,
    dependency: Option<&'static str>,
    calls: &Calls,
    failing: Option<Arc<AtomicBool>>,
) -> FunctionTask {
    let calls = Arc::clone(calls);
    FunctionTask::new(id, move |mut context: Context| {
        *calls.lock().unwrap().entry(id.to_owned()).or_default() += 1;
        let failing = failing.as_ref().is_some_and(|failing| failing.load(Ordering::SeqCst));
        async move {
            if failing {
                return Err(TaskError::new("not yet"));
            }
            let before = dependency.map_or(0, |key| context.get(key).and_then(|value| value.as_i64()).unwrap_or(-100));
            context.insert(id, before + 1)?;
            Ok(context)
        }
    })
    .depends_on(dependency)
}

/// extract -> transform -> load, and audit beside them; transform fails while `failing` is set.
fn pipeline(calls: &Calls, failing: &Arc<AtomicBool>) -> Workflow {
    Workflow::builder("pipeline")
        .task(counting("extract", None, calls, None))
        .task(counting("transform", Some("extract"), calls, Some(Arc::clone(failing))))
        .task(counting("load", Some("transform"), calls, None))
        .task(counting("audit", None, calls, None))
        .build()
        .unwrap()
}

async fn a_rerun_runs_only_what_did_not_complete(database: TestDatabase) {
    let executor = database.executor().await;
    let calls: Calls = Arc::default();
    let failing = Arc::new(AtomicBool::new(true));
    let workflow = executor.register(pipeline(&calls, &failing));
    let initial = Context::from_value(serde_json::json!({"run": "nightly"})).unwrap();
    let failed = executor.execute(&workflow, initial.clone()).await.unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.task("load").unwrap().status, TaskStatus::Skipped);

    failing.store(false, Ordering::SeqCst);
    calls.lock().unwrap().clear();
    let rerun = executor.rerun(failed.execution_id).await.unwrap().wait().await.unwrap();
    assert_eq!(rerun.status, ExecutionStatus::Completed, "{:?}", rerun.error);
    assert_eq!(rerun.rerun_of, Some(failed.execution_id));
    assert_eq!(failed.rerun_of, None);
    let ran = calls.lock().unwrap().clone();
    assert_eq!(ran, HashMap::from([("transform".to_owned(), 1), ("load".to_owned(), 1)]));
    for kept in ["extract", "audit"] {
        let task = rerun.task(kept).unwrap();
        assert_eq!((task.status, task.attempts), (TaskStatus::Completed, 0), "{kept}");
    }
    assert_eq!(rerun.task("transform").unwrap().attempts, 1);
    assert_eq!(rerun.task("load").unwrap().dependencies, ["transform"]);
    let kept = rerun.task("extract").unwrap().output.as_ref().unwrap();
    assert_eq!(kept.as_map(), serde_json::json!({"extract": 1}).as_object().unwrap());
    assert_eq!(failed.task("load").unwrap().output, None);

    // The same context as a fresh run that succeeds.
    calls.lock().unwrap().clear();
    let fresh = executor.execute(&workflow, initial).await.unwrap();
    assert_eq!(fresh.status, ExecutionStatus::Completed);
    assert_eq!(rerun.context, fresh.context);
    assert_eq!(rerun.context.get("load"), Some(&serde_json::json!(3)));
    // The events say where the kept outputs came from.
    let events = executor.events(rerun.execution_id).await.unwrap();
    let source = format!("`{}`", failed.execution_id);
    assert!(events[0].message.as_deref().is_some_and(|message| message.contains(&source)), "{:?}", events[0]);
    let kept = events.iter().find(|event| event.task_id.as_deref() == Some("extract")).unwrap();
    assert!(kept.message.as_deref().is_some_and(|message| message.starts_with("kept from execution")));
    executor.shutdown().await;
}

async fn a_rerun_needs_a_finished_execution_with_something_to_run(database: TestDatabase) {
    let executor = database.executor().await;
    let completed = executor
        .execute(Workflow::builder("fine").task(noop("only", &[])).build().unwrap(), Context::new())
        .await
        .unwrap();
    let error = executor.rerun(completed.execution_id).await.unwrap_err();
    assert!(matches!(error, ExecutorError::CannotRerun { .. }), "{error}");
    assert!(error.to_string().contains("nothing is left to run"), "{error}");

    let missing = uuid::Uuid::now_v7();
    assert!(matches!(executor.rerun(missing).await, Err(ExecutorError::ExecutionNotFound(id)) if id == missing));

    let release = Arc::new(tokio::sync::Notify::new());
    let waiting = Arc::clone(&release);
    let blocked = FunctionTask::new("blocked", move |context: Context| {
        let waiting = Arc::clone(&waiting);
        async move {
            waiting.notified().await;
            Ok(context)
        }
    });
    let handle =
        executor.start(Workflow::builder("slow").task(blocked).build().unwrap(), Context::new()).await.unwrap();
    let error = executor.rerun(handle.execution_id()).await.unwrap_err();
    assert!(error.to_string().contains("has not finished"), "{error}");
    release.notify_one();
    assert_eq!(handle.wait().await.unwrap().status, ExecutionStatus::Completed);
    executor.shutdown().await;
}
