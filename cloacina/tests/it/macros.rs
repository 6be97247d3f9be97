//! Tasks and workflows written with `#[task]` and `workflow!`, run by the engine.

use std::time::Duration;

use cloacina::{
    Backoff, ConditionOperator, Context, ExecutionStatus, RetryPolicy, Task, TaskError, TaskStatus, TriggerRule,
    UnifiedExecutor, WorkflowRegistry, task, workflow,
};
use serde_json::json;

use crate::support::TestDatabase;

#[task(id = "fetch_orders", retry_attempts = 4, retry_backoff = "linear", retry_delay_ms = 5, retry_max_delay_ms = 50)]
async fn fetch(context: &mut Context) -> Result<(), TaskError> {
    context.insert("orders", json!([3, 4]))?;
    Ok(())
}

#[task(retry_attempts = 3, retry_backoff = "fixed", retry_delay_ms = 20)]
async fn steady(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(retry_attempts = 5, retry_backoff = "exponential", retry_delay_ms = 10, retry_max_delay_ms = 60)]
async fn doubling(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(dependencies = ["fetch_orders"], timeout_ms = 50)]
async fn slow(_context: &mut Context) -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[task(
    dependencies = ["fetch_orders"],
    trigger = TriggerRule::context("orders", ConditionOperator::Exists)
)]
async fn count(context: &mut Context) -> Result<(), TaskError> {
    let orders = context.get("orders").and_then(|orders| orders.as_array()).map_or(0, Vec::len);
    context.insert("count", orders)?;
    Ok(())
}

#[task(dependencies = ["fetch_orders"], trigger = TriggerRule::context("missing", ConditionOperator::Exists))]
async fn never(context: &mut Context) -> Result<(), TaskError> {
    context.insert("never", true)?;
    Ok(())
}

#[task(dependencies = ["slow", "count"], trigger = "all_done")]
async fn report(context: &mut Context) -> Result<(), TaskError> {
    context.insert("reported", true)?;
    Ok(())
}

#[test]
fn the_attribute_describes_the_task() {
    let fetch = FetchTask::new();
    assert_eq!(fetch.id(), "fetch_orders");
    assert!(fetch.dependencies().is_empty());
    let expected = RetryPolicy::attempts(4)
        .with_backoff(Backoff::Linear)
        .with_initial_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(50));
    assert_eq!(fetch.retry_policy(), expected);
    assert_eq!(fetch.timeout(), None);
    assert_eq!(fetch.trigger_rule(), TriggerRule::AllSucceeded);

    let slow = SlowTask::default();
    assert_eq!(slow.id(), "slow");
    assert_eq!(slow.dependencies(), ["fetch_orders".to_owned()]);
    assert_eq!(slow.retry_policy(), RetryPolicy::attempts(1));
    assert_eq!(slow.timeout(), Some(Duration::from_millis(50)));

    let fixed = SteadyTask::new().retry_policy();
    assert_eq!(
        fixed,
        RetryPolicy::attempts(3).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(20))
    );
    assert_eq!((fixed.delay_after(1), fixed.delay_after(2)), (Duration::from_millis(20), Duration::from_millis(20)));
    let exponential = DoublingTask::new().retry_policy();
    let delays: Vec<Duration> = (1..=4).map(|attempt| exponential.delay_after(attempt)).collect();
    assert_eq!(delays, [10, 20, 40, 60].map(Duration::from_millis));

    assert_eq!(CountTask::new().trigger_rule(), TriggerRule::context("orders", ConditionOperator::Exists));
    assert_eq!(ReportTask::new().trigger_rule(), TriggerRule::AllDone);
}

#[tokio::test]
async fn the_function_stays_callable() {
    let mut context = Context::new();
    count(&mut context).await.unwrap();
    assert_eq!(context.get("count"), Some(&json!(0)));
    fetch(&mut context).await.unwrap();
    assert_eq!(context.get("orders"), Some(&json!([3, 4])));
}

crate::backend_tests!(a_macro_workflow_is_registered_and_runs);

async fn a_macro_workflow_is_registered_and_runs(database: TestDatabase) {
    let workflow = workflow! {
        name: "macro_orders",
        description: "Counts orders",
        tasks: [fetch, slow, count, never, report],
    };
    assert_eq!(workflow.description(), Some("Counts orders"));
    let registered = WorkflowRegistry::global().get("macro_orders").expect("workflow! registers the workflow");
    assert_eq!(registered.task_ids().collect::<Vec<_>>(), workflow.task_ids().collect::<Vec<_>>());

    let executor = UnifiedExecutor::new(&database.url).await.unwrap();
    // By name: the executor finds the workflow in the global registry.
    let result = executor.execute("macro_orders", Context::new()).await.unwrap();
    executor.shutdown().await;

    assert_eq!(result.status, ExecutionStatus::Failed, "`slow` times out");
    let status = |id: &str| result.task(id).map(|task| task.status);
    assert_eq!(status("fetch_orders"), Some(TaskStatus::Completed));
    assert_eq!(status("slow"), Some(TaskStatus::Failed));
    assert!(
        result.task("slow").and_then(|task| task.error.as_deref()).is_some_and(|error| error.contains("timed out"))
    );
    assert_eq!(status("count"), Some(TaskStatus::Completed));
    assert_eq!(status("never"), Some(TaskStatus::Skipped));
    assert_eq!(status("report"), Some(TaskStatus::Completed));
    assert_eq!(result.context.get("count"), Some(&json!(2)));
    assert_eq!(result.context.get("reported"), Some(&json!(true)));
    assert_eq!(result.context.get("never"), None);
}
