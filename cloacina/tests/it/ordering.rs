//! Dependency order, and how context deltas flow along dependencies.

use std::time::{Duration, Instant};

use cloacina::{Context, ExecutionResult, ExecutionStatus, FunctionTask, TaskStatus, Workflow};
use serde_json::{Value, json};

use crate::support::{TestDatabase, noop, recording_task, wall_time_bound};

crate::backend_tests!(
    chain_runs_in_order,
    diamond_joins_both_branches,
    fan_out_then_fan_in,
    deltas_reach_descendants_only,
    the_hot_path_does_not_poll,
    workflows_sharing_task_ids_each_run_their_own_tasks
);

/// Asserts that every task started no earlier than each of its dependencies finished.
fn assert_dependencies_respected(workflow: &Workflow, result: &ExecutionResult) {
    for node in workflow.tasks() {
        let task = result.task(node.id()).expect("every task has a result");
        for &dependency in node.dependencies() {
            let dependency = result.task(workflow.node(dependency).id()).unwrap();
            assert!(
                task.started_at.unwrap() >= dependency.finished_at.unwrap(),
                "`{}` started before `{}` finished",
                task.task_id,
                dependency.task_id
            );
        }
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

async fn chain_runs_in_order(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("chain")
        .task(recording_task("c", &["b"]))
        .task(recording_task("a", &[]))
        .task(recording_task("b", &["a"]))
        .build()
        .unwrap();
    let result = executor.execute(workflow.clone(), Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(strings(result.context.get("visited").unwrap()), ["a", "b", "c"]);
    assert_dependencies_respected(&workflow, &result);
    assert_eq!(result.task_results.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(result.task_results.iter().all(|t| t.status == TaskStatus::Completed && t.attempts == 1));
    executor.shutdown().await;
}

async fn diamond_joins_both_branches(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("diamond")
        .task(recording_task("root", &[]))
        .task(recording_task("left", &["root"]))
        .task(recording_task("right", &["root"]))
        .task(recording_task("join", &["left", "right"]))
        .build()
        .unwrap();
    let result = executor.execute(workflow.clone(), Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_dependencies_respected(&workflow, &result);
    let seen = strings(result.context.get("seen_by_join").unwrap());
    for key in ["output_root", "output_left", "output_right"] {
        assert!(seen.contains(&key), "join saw {seen:?}");
    }
    // Both branches wrote `visited`; deltas apply in topological order (ties by id), so the
    // join saw the right branch's list, which followed the left one.
    assert_eq!(strings(result.context.get("visited").unwrap()), ["root", "right", "join"]);
    executor.shutdown().await;
}

async fn fan_out_then_fan_in(database: TestDatabase) {
    let executor = database.executor().await;
    let workers: Vec<String> = (0..40).map(|index| format!("worker_{index:02}")).collect();
    let mut builder = Workflow::builder("fan").task(noop("source", &[]));
    for worker in &workers {
        builder = builder.task(recording_task(worker, &["source"]));
    }
    let worker_ids: Vec<&str> = workers.iter().map(String::as_str).collect();
    let workflow = builder.task(recording_task("sink", &worker_ids)).build().unwrap();
    let result = executor.execute(workflow.clone(), Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_dependencies_respected(&workflow, &result);
    let seen = strings(result.context.get("seen_by_sink").unwrap());
    for worker in &workers {
        assert!(seen.contains(&format!("output_{worker}").as_str()), "sink missed {worker}");
    }
    assert_eq!(result.task_results.len(), 42);
    executor.shutdown().await;
}

async fn deltas_reach_descendants_only(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("branches")
        .task(recording_task("a1", &[]))
        .task(recording_task("a2", &["a1"]))
        .task(recording_task("b1", &[]))
        .task(recording_task("b2", &["b1"]))
        .build()
        .unwrap();
    let initial = Context::from_value(json!({"given": 1})).unwrap();
    let result = executor.execute(workflow, initial).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    let seen_by_a2 = strings(result.context.get("seen_by_a2").unwrap());
    assert!(seen_by_a2.contains(&"given") && seen_by_a2.contains(&"output_a1"), "{seen_by_a2:?}");
    assert!(!seen_by_a2.iter().any(|key| key.ends_with("b1")), "a2 saw the other branch: {seen_by_a2:?}");
    let seen_by_b2 = strings(result.context.get("seen_by_b2").unwrap());
    assert!(seen_by_b2.contains(&"output_b1") && !seen_by_b2.contains(&"output_a1"), "{seen_by_b2:?}");
    // The final context holds every task's writes and the initial values.
    for key in ["given", "output_a1", "output_a2", "output_b1", "output_b2"] {
        assert!(result.context.contains_key(key), "missing {key}");
    }
    executor.shutdown().await;
}

/// With a 5 s poll interval, a chain of 30 tasks that waited for polls would take minutes.
async fn the_hot_path_does_not_poll(database: TestDatabase) {
    let executor = database.executor().await;
    let mut builder = Workflow::builder("long_chain").task(noop("step_00", &[]));
    for index in 1..30 {
        let previous = format!("step_{:02}", index - 1);
        builder = builder.task(noop(&format!("step_{index:02}"), &[previous.as_str()]));
    }
    let started = Instant::now();
    let result = executor.execute(builder.build().unwrap(), Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    assert!(started.elapsed() < wall_time_bound(Duration::from_secs(4)), "took {:?}", started.elapsed());
    executor.shutdown().await;
}

/// Two workflows with the same task ids, many executions of each at once: their finished tasks
/// are recorded in shared batches, and each dependent made ready runs its own workflow's code.
async fn workflows_sharing_task_ids_each_run_their_own_tasks(database: TestDatabase) {
    let executor = database.executor().await;
    let shaped = |name: &'static str| {
        Workflow::builder(name)
            .task(noop("start", &[]))
            .task(
                FunctionTask::new("load", move |mut context: Context| async move {
                    context.insert("loaded_by", name)?;
                    Ok(context)
                })
                .depends_on(["start"]),
            )
            .build()
            .unwrap()
    };
    let (first, second) = (executor.register(shaped("first")), executor.register(shaped("second")));
    let mut handles = Vec::new();
    for _ in 0..30 {
        handles.push(("first", executor.start(&first, Context::new()).await.unwrap()));
        handles.push(("second", executor.start(&second, Context::new()).await.unwrap()));
    }
    for (name, handle) in handles {
        let result = handle.wait().await.unwrap();
        assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
        assert_eq!(result.workflow_name, name);
        assert_eq!(result.context.get("loaded_by"), Some(&json!(name)));
    }
    executor.shutdown().await;
}
