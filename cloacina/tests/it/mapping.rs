//! Mapped tasks: one instance per element of a list known only at run time, each with its own
//! attempts, gathered in order for the tasks downstream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cloacina::{
    Context, EventKind, ExecutionStatus, FunctionTask, Mapping, RetryPolicy, Task, TaskError, TaskStatus,
    UnifiedExecutor, Workflow, WorkflowError, task,
};
use serde_json::{Value, json};

use crate::support::TestDatabase;

crate::backend_tests!(
    a_thousand_instances_retry_on_their_own_and_are_gathered_in_order,
    empty_missing_and_non_list_inputs,
    a_failed_instance_fails_its_task_once_the_others_finish_and_a_rerun_runs_them_again,
    cancelling_stops_the_instances,
);

mod lasting {
    crate::shared_backend_tests!(max_parallel_bounds_the_instances_running_across_executors);
    use super::*;
}

/// Writes the numbers `0..count` under `items`.
fn numbers(count: usize) -> FunctionTask {
    FunctionTask::new("numbers", move |mut context: Context| async move {
        context.insert("items", (0..count).collect::<Vec<_>>())?;
        Ok(context)
    })
}

/// Sums the gathered squares.
fn total() -> FunctionTask {
    FunctionTask::new("total", |mut context: Context| async move {
        let squares = context.get("square").cloned().unwrap_or(Value::Null);
        let Value::Array(squares) = squares else {
            return Err(TaskError::new(format!("`square` is not a list: {squares}")));
        };
        let sum: u64 = squares.iter().map(|square| square.as_u64().unwrap_or(0)).sum();
        context.insert("total", sum)?;
        context.insert("count", squares.len())?;
        Ok(context)
    })
    .depends_on(["square"])
}

async fn a_thousand_instances_retry_on_their_own_and_are_gathered_in_order(database: TestDatabase) {
    let executor = database.executor().await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let square = {
        let attempts = Arc::clone(&attempts);
        FunctionTask::new("square", move |mut context: Context| {
            let attempts = Arc::clone(&attempts);
            async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                let item = context.get("item").and_then(Value::as_u64).ok_or_else(|| TaskError::new("no item"))?;
                let index =
                    context.get("item_index").and_then(Value::as_u64).ok_or_else(|| TaskError::new("no index"))?;
                assert_eq!(item, index, "the numbers are their own positions");
                assert!(context.get("items").is_none(), "an instance sees its element, not the whole list");
                let attempt = context.attempt().map_or(0, |attempt| attempt.number);
                assert_eq!(context.attempt().unwrap().task_id, format!("square[{index}]"));
                // Every hundredth item fails its first attempt.
                if item % 100 == 7 && attempt == 1 {
                    return Err(TaskError::new(format!("item {item} is flaky")));
                }
                context.insert("square", item * item)?;
                Ok(context)
            }
        })
        .depends_on(["numbers"])
        .map_over("items")
        .retry(RetryPolicy::attempts(2).with_initial_delay(Duration::from_millis(10)))
    };
    let workflow =
        executor.register(Workflow::builder("squares").task(numbers(1000)).task(square).task(total()).build().unwrap());
    let result = executor.execute(&workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    let expected: u64 = (0..1000u64).map(|item| item * item).sum();
    assert_eq!(result.context.get("total"), Some(&json!(expected)));
    assert_eq!(result.context.get("count"), Some(&json!(1000)));
    assert_eq!(attempts.load(Ordering::SeqCst), 1010, "1000 instances, 10 of them twice");
    // The gathered list is in instance order; instances' inputs are not outputs.
    let squares = result.context.get("square").unwrap().as_array().unwrap();
    assert_eq!(squares[3], json!(9));
    assert_eq!(squares[999], json!(998_001));
    assert!(result.context.get("item").is_none() && result.context.get("item_index").is_none());

    let mapped = result.task("square").unwrap();
    assert_eq!(mapped.status, TaskStatus::Completed);
    assert_eq!(mapped.output.as_ref().unwrap().get("square").unwrap().as_array().unwrap().len(), 1000);
    let instance = result.task("square[107]").unwrap();
    assert_eq!((instance.status, instance.attempts, instance.map_index), (TaskStatus::Completed, 2, Some(107)));
    assert_eq!(mapped.map_index, None);
    assert_eq!(instance.output.as_ref().unwrap().get("square"), Some(&json!(107 * 107)));
    assert_eq!(result.task("square[999]").unwrap().attempts, 1);
    let ids: Vec<&str> = result.task_results.iter().map(|task| task.task_id.as_str()).collect();
    assert_eq!(ids[..4], ["numbers", "square", "square[0]", "square[1]"], "a task, then its instances in order");
    assert_eq!(ids.len(), 1003);

    let events = executor.events(result.execution_id).await.unwrap();
    let mapped_event = events.iter().find(|event| event.kind == EventKind::TaskMapped).unwrap();
    assert_eq!(
        (mapped_event.task_id.as_deref(), mapped_event.message.as_deref()),
        (Some("square"), Some("1000 instances"))
    );
    executor.shutdown().await;
}

/// A workflow whose mapped task maps over whatever `source` writes under `items`.
fn mapping_over(name: &str, items: Value) -> Workflow {
    let source = FunctionTask::new("source", move |mut context: Context| {
        let items = items.clone();
        async move {
            if !items.is_null() {
                context.insert("items", items)?;
            }
            Ok(context)
        }
    });
    let square = FunctionTask::new("square", |mut context: Context| async move {
        let item = context.get("item").and_then(Value::as_u64).unwrap_or(0);
        context.insert("square", item * item)?;
        Ok(context)
    })
    .depends_on(["source"])
    .mapping(Mapping::over("items").outputs(["square"]));
    Workflow::builder(name).task(source).task(square).task(total()).build().unwrap()
}

async fn empty_missing_and_non_list_inputs(database: TestDatabase) {
    let executor = database.executor().await;
    // An empty list: the mapped task completes with its declared outputs as empty lists.
    let empty = executor.register(mapping_over("empty", json!([])));
    let result = executor.execute(&empty, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("square"), Some(&json!([])));
    assert_eq!((result.context.get("total"), result.context.get("count")), (Some(&json!(0)), Some(&json!(0))));
    assert_eq!(result.task_results.len(), 3, "no instances");

    // A missing key, and a value that is not a list, fail the mapped task (not retried) and
    // skip what depends on it.
    for (name, items, problem) in [
        ("missing", Value::Null, "task `square` maps over `items`, which its input does not have"),
        ("text", json!("abc"), "task `square` maps over `items`, which holds a JSON string, not a list"),
    ] {
        let workflow = executor.register(mapping_over(name, items));
        let result = executor.execute(&workflow, Context::new()).await.unwrap();
        assert_eq!(result.status, ExecutionStatus::Failed);
        let square = result.task("square").unwrap();
        assert_eq!(square.status, TaskStatus::Failed);
        assert!(square.error.as_deref().unwrap().starts_with(problem), "{:?}", square.error);
        assert!(result.error.as_deref().unwrap().contains(problem), "{:?}", result.error);
        assert_eq!(result.task("total").unwrap().status, TaskStatus::Skipped);
    }
    // A tuple (as Python stores one) is a list too.
    let tuple = executor.register(mapping_over("tuple", json!({"$cloacina": "tuple", "value": [1, 2, 3]})));
    let result = executor.execute(&tuple, Context::new()).await.unwrap();
    assert_eq!(result.context.get("square"), Some(&json!([1, 4, 9])));
    executor.shutdown().await;
}

async fn a_failed_instance_fails_its_task_once_the_others_finish_and_a_rerun_runs_them_again(database: TestDatabase) {
    let executor = database.executor().await;
    let broken = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let square = {
        let (broken, runs) = (Arc::clone(&broken), Arc::clone(&runs));
        FunctionTask::new("square", move |mut context: Context| {
            let (broken, runs) = (Arc::clone(&broken), Arc::clone(&runs));
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let item = context.get("item").and_then(Value::as_u64).unwrap_or(0);
                if item == 3 && broken.load(Ordering::SeqCst) {
                    return Err(TaskError::new("three is broken"));
                }
                tokio::time::sleep(Duration::from_millis(if item == 9 { 200 } else { 1 })).await;
                context.insert("square", item * item)?;
                Ok(context)
            }
        })
        .depends_on(["numbers"])
        .map_over("items")
    };
    let workflow =
        executor.register(Workflow::builder("broken").task(numbers(10)).task(square).task(total()).build().unwrap());
    let result = executor.execute(&workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    let mapped = result.task("square").unwrap();
    assert_eq!(mapped.status, TaskStatus::Failed);
    assert_eq!(
        mapped.error.as_deref(),
        Some("1 of its 10 instances did not complete; the first, `square[3]`: three is broken")
    );
    // The others ran to their end, the slow one included, before the task failed.
    assert_eq!(runs.load(Ordering::SeqCst), 10);
    assert_eq!(result.task("square[9]").unwrap().status, TaskStatus::Completed);
    assert_eq!(result.task("square[3]").unwrap().status, TaskStatus::Failed);
    assert_eq!(result.task("total").unwrap().status, TaskStatus::Skipped);
    assert_eq!(result.error.as_deref(), Some("task `square[3]` failed: three is broken"));

    // A re-run runs the mapped task again, all its instances, with what it depends on kept.
    broken.store(false, Ordering::SeqCst);
    let rerun = executor.rerun(result.execution_id).await.unwrap().wait().await.unwrap();
    assert_eq!(rerun.status, ExecutionStatus::Completed, "{:?}", rerun.error);
    assert_eq!(rerun.context.get("total"), Some(&json!(285)));
    assert_eq!(runs.load(Ordering::SeqCst), 20);
    assert_eq!(rerun.task("numbers").unwrap().attempts, 0, "kept");
    executor.shutdown().await;
}

async fn cancelling_stops_the_instances(database: TestDatabase) {
    let executor = database.executor().await;
    let started = Arc::new(AtomicUsize::new(0));
    let slow = {
        let started = Arc::clone(&started);
        FunctionTask::new("slow", move |context: Context| {
            let started = Arc::clone(&started);
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(context)
            }
        })
        .depends_on(["numbers"])
        .mapping(Mapping::over("items").max_parallel(2))
    };
    let workflow = executor.register(Workflow::builder("slow").task(numbers(5)).task(slow).build().unwrap());
    let handle = executor.start(&workflow, Context::new()).await.unwrap();
    while started.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.cancel().await.unwrap();
    let result = handle.wait_timeout(Duration::from_secs(10)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Cancelled);
    let statuses: Vec<(&str, TaskStatus)> =
        result.task_results.iter().map(|task| (task.task_id.as_str(), task.status)).collect();
    assert_eq!(statuses[1], ("slow", TaskStatus::Cancelled));
    assert_eq!(statuses.len(), 7, "the task, then its five instances: {statuses:?}");
    assert!(statuses[2..].iter().all(|(_, status)| *status == TaskStatus::Cancelled), "{statuses:?}");
    assert_eq!(started.load(Ordering::SeqCst), 2, "max_parallel held the others back");
    executor.shutdown().await;
}

async fn max_parallel_bounds_the_instances_running_across_executors(database: TestDatabase) {
    let first = database.executor().await;
    let second = database.executor().await;
    let (running, most, runs) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let build = || {
        let (running, most, runs) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&runs));
        let call = FunctionTask::new("call", move |mut context: Context| {
            let (running, most, runs) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&runs));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(60)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                let item = context.get("item").cloned().unwrap_or(Value::Null);
                context.insert("seen", item)?;
                Ok(context)
            }
        })
        .depends_on(["numbers"])
        .mapping(Mapping::over("items").max_parallel(3));
        Workflow::builder("bounded").task(numbers(24)).task(call).build().unwrap()
    };
    first.register(build());
    second.register(build());
    let handle = first.start_as(UnifiedExecutor::new_execution_id(), "bounded", Context::new()).await.unwrap();
    let result = handle.wait_timeout(Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(runs.load(Ordering::SeqCst), 24);
    assert_eq!(most.load(Ordering::SeqCst), 3, "at most 3 at once, and 3 did run at once");
    assert_eq!(result.context.get("seen"), Some(&json!((0..24).collect::<Vec<_>>())));
    first.shutdown().await;
    second.shutdown().await;
}

#[task(dependencies = ["numbers"], map_over = "items", max_parallel = 4, map_outputs = ["square"])]
async fn square_each(context: &mut Context) -> Result<(), TaskError> {
    let item = context.get("item").and_then(Value::as_u64).unwrap_or(0);
    context.insert("square", item * item)?;
    Ok(())
}

#[test]
fn a_mapping_is_declared_on_a_task_and_checked_by_the_workflow() {
    assert_eq!(SquareEachTask::new().mapping(), Some(Mapping::over("items").max_parallel(4).outputs(["square"])));
    let zero = FunctionTask::new("call", |context: Context| async move { Ok(context) })
        .mapping(Mapping::over("items").max_parallel(0));
    let error = Workflow::builder("bad").task(zero).build().unwrap_err();
    assert!(matches!(&error, WorkflowError::InvalidMapping { task, .. } if task == "call"), "{error}");
    assert_eq!(
        error.to_string(),
        "task `call` cannot run: its max_parallel is 0; it must be from 1 to 10000 instances at once"
    );
    // Another task may not take an instance's id.
    let mapped = FunctionTask::new("call", |context: Context| async move { Ok(context) }).map_over("items");
    let clash = FunctionTask::new("call[2]", |context: Context| async move { Ok(context) });
    let error = Workflow::builder("clash").task(mapped).task(clash).build().unwrap_err();
    assert!(error.to_string().contains("task `call[2]` has the id of one of its instances"), "{error}");
    // Mapping is part of the version.
    let plain = Workflow::builder("v").task(numbers(1)).build().unwrap();
    let mapped = Workflow::builder("v").task(numbers(1).map_over("items")).build().unwrap();
    assert_ne!(plain.version(), mapped.version());
    assert_ne!(plain.shape(), mapped.shape());
    // So is its bound: which instances are made ready as others finish depends on it.
    let bounded =
        Workflow::builder("v").task(numbers(1).mapping(Mapping::over("items").max_parallel(2))).build().unwrap();
    assert_ne!(mapped.shape(), bounded.shape());
}
