//! Looking at executions: snapshots, listings, waiting with a timeout.

use std::time::Duration;

use cloacina::{
    Context, ExecutionCursor, ExecutionFilter, ExecutionStatus, ExecutorError, FunctionTask, TaskStatus,
    UnifiedExecutor, Workflow,
};
use serde_json::json;
use uuid::Uuid;

use crate::support::{TestDatabase, failing, noop};

crate::backend_tests!(
    a_running_execution_can_be_inspected,
    executions_are_listed_newest_first_with_filters,
    executions_are_listed_a_page_at_a_time,
    workflow_versions_and_graphs_are_read_from_stored_executions,
    lookups_by_a_name_with_a_nul_character_find_nothing
);

mod reopened {
    crate::shared_backend_tests!(the_database_is_reopened_with_its_executions);
    use super::the_database_is_reopened_with_its_executions;
}

async fn a_running_execution_can_be_inspected(database: TestDatabase) {
    let executor = database.executor().await;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = std::sync::Mutex::new(Some(released));
    let workflow = Workflow::builder("gated")
        .task(FunctionTask::new("gate", move |mut context: Context| {
            let released = released.lock().unwrap().take();
            async move {
                if let Some(released) = released {
                    let _ = released.await;
                }
                context.insert("opened", true)?;
                Ok(context)
            }
        }))
        .task(noop("after", &["gate"]))
        .build()
        .unwrap();
    let handle = executor.start(workflow, Context::from_value(json!({"input": 7})).unwrap()).await.unwrap();
    let timeout = handle.wait_timeout(Duration::from_millis(200)).await.unwrap_err();
    assert!(matches!(timeout, ExecutorError::WaitTimeout { .. }), "{timeout}");

    let snapshot = executor.get_execution(handle.execution_id()).await.unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Running);
    assert_eq!(snapshot.context.get("input"), Some(&json!(7)));
    assert_eq!(snapshot.task("gate").unwrap().status, TaskStatus::Running);
    assert_eq!(snapshot.task("after").unwrap().status, TaskStatus::Pending);
    assert!(snapshot.finished_at.is_none() && snapshot.duration().is_none());

    release.send(()).unwrap();
    let result = handle.wait().await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    assert_eq!(result.context.get("opened"), Some(&json!(true)));
    assert_eq!(result.initial_context.as_map(), json!({"input": 7}).as_object().unwrap());
    assert!(result.duration().is_some());
    executor.shutdown().await;
}

async fn executions_are_listed_newest_first_with_filters(database: TestDatabase) {
    let executor = database.executor().await;
    let good = Workflow::builder("good").task(noop("a", &[])).build().unwrap();
    let bad = Workflow::builder("bad").task(failing("a", &[], "no")).build().unwrap();
    let mut ids = Vec::new();
    for workflow in [&good, &bad, &good] {
        ids.push(executor.execute(workflow.clone(), Context::new()).await.unwrap().execution_id);
    }
    let all = executor.list_executions(ExecutionFilter::new()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [ids[2], ids[1], ids[0]]);
    let good_only = executor.list_executions(ExecutionFilter::new().workflow("good")).await.unwrap();
    assert_eq!(good_only.iter().map(|e| e.execution_id).collect::<Vec<_>>(), [ids[2], ids[0]]);
    let failed = executor.list_executions(ExecutionFilter::new().status(ExecutionStatus::Failed)).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].error.as_deref(), Some("task `a` failed: no"));
    let newest = executor.list_executions(ExecutionFilter::new().limit(1)).await.unwrap();
    assert_eq!(newest.len(), 1);
    executor.shutdown().await;
}

async fn the_database_is_reopened_with_its_executions(database: TestDatabase) {
    let first = database.executor().await;
    let workflow = Workflow::builder("kept").task(noop("a", &[])).build().unwrap();
    let id = first.execute(workflow, Context::new()).await.unwrap().execution_id;
    first.shutdown().await;
    drop(first);
    let second = database.executor().await;
    let result = second.get_execution(id).await.unwrap();
    assert_eq!((result.workflow_name.as_str(), result.status), ("kept", ExecutionStatus::Completed));
    second.shutdown().await;
}

/// Every page of `filter` after the first, following each page's last execution.
async fn all_pages(executor: &UnifiedExecutor, filter: ExecutionFilter, size: usize) -> Vec<Vec<Uuid>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let mut page_filter = filter.clone().limit(size);
        page_filter.after = cursor;
        let page = executor.list_executions(page_filter).await.unwrap();
        let Some(last) = page.last() else { return pages };
        cursor = Some(ExecutionCursor::of(last));
        pages.push(page.iter().map(|summary| summary.execution_id).collect());
    }
}

async fn executions_are_listed_a_page_at_a_time(database: TestDatabase) {
    let executor = database.executor().await;
    let (good, bad) = (
        Workflow::builder("good").task(noop("a", &[])).build().unwrap(),
        Workflow::builder("bad").task(failing("a", &[], "no")).build().unwrap(),
    );
    for index in 0..23 {
        let workflow = if index % 3 == 0 { &bad } else { &good };
        executor.execute(workflow.clone(), Context::new()).await.unwrap();
    }
    let everything = executor.list_executions(ExecutionFilter::new()).await.unwrap();
    let ids: Vec<Uuid> = everything.iter().map(|summary| summary.execution_id).collect();
    assert_eq!(ids.len(), 23);
    let pages = all_pages(&executor, ExecutionFilter::new(), 5).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 5, 5, 3]);
    assert_eq!(pages.concat(), ids, "the pages together are the whole listing, in order, once each");

    let failed = all_pages(&executor, ExecutionFilter::new().status(ExecutionStatus::Failed), 3).await.concat();
    let good_only = all_pages(&executor, ExecutionFilter::new().workflow("good"), 4).await.concat();
    assert_eq!((failed.len(), good_only.len()), (8, 15));
    let expected_failed: Vec<Uuid> = everything
        .iter()
        .filter(|summary| summary.workflow_name == "bad")
        .map(|summary| summary.execution_id)
        .collect();
    assert_eq!(failed, expected_failed);

    // A time range splits the listing where it says.
    let boundary = everything[10].created_at;
    let since = executor.list_executions(ExecutionFilter::new().created_since(boundary)).await.unwrap();
    let before = executor.list_executions(ExecutionFilter::new().created_before(boundary)).await.unwrap();
    assert!(since.iter().all(|summary| summary.created_at >= boundary) && since.len() >= 11);
    assert!(before.iter().all(|summary| summary.created_at < boundary));
    assert_eq!(since.len() + before.len(), 23);

    // Executions created in the same microsecond are ordered by id: a cursor at that time with
    // the greatest id lists the execution there, one with its own id does not.
    let marked = &everything[7];
    let at = |execution_id| ExecutionCursor { created_at: marked.created_at.timestamp_micros(), execution_id };
    let after_max = executor.list_executions(ExecutionFilter::new().after(at(Uuid::max())).limit(1)).await.unwrap();
    assert_eq!(after_max[0].execution_id, marked.execution_id);
    let after_itself = executor.list_executions(ExecutionFilter::new().after(at(marked.execution_id))).await.unwrap();
    assert!(after_itself.iter().all(|summary| summary.execution_id != marked.execution_id));
    assert_eq!(after_itself.len(), 23 - 8);
    executor.shutdown().await;
}

async fn workflow_versions_and_graphs_are_read_from_stored_executions(database: TestDatabase) {
    let executor = database.executor().await;
    let first = Workflow::builder("shape").task(noop("a", &[])).task(noop("b", &["a"])).build().unwrap();
    let second = Workflow::builder("shape")
        .task(noop("a", &[]))
        .task(noop("b", &["a"]))
        .task(noop("c", &["a", "b"]))
        .build()
        .unwrap();
    let other = Workflow::builder("other").task(noop("only", &[])).build().unwrap();
    for workflow in [&first, &first, &other, &second] {
        executor.execute(workflow.clone(), Context::new()).await.unwrap();
    }
    let versions = executor.workflow_versions(Some("shape")).await.unwrap();
    let seen: Vec<(&str, u64)> =
        versions.iter().map(|version| (version.version.as_str(), version.executions)).collect();
    assert_eq!(seen, [(second.version(), 1), (first.version(), 2)], "newest run first, with counts");
    assert!(versions[1].first_created_at < versions[1].last_created_at);
    let everything = executor.workflow_versions(None).await.unwrap();
    assert_eq!(everything.len(), 3);
    assert_eq!(everything[1].workflow_name, "other");

    let graph = executor.workflow_graph("shape", second.version()).await.unwrap().unwrap();
    let expected: Vec<(String, Vec<String>)> = [("a", vec![]), ("b", vec!["a"]), ("c", vec!["a", "b"])]
        .into_iter()
        .map(|(task, dependencies)| (task.to_owned(), dependencies.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(graph, expected);
    assert_eq!(executor.workflow_graph("shape", "no such version").await.unwrap(), None);
    assert!(executor.workflow_versions(Some("nothing")).await.unwrap().is_empty());
    executor.shutdown().await;
}

/// A name with a NUL character (which PostgreSQL text cannot hold, and refuses in a parameter)
/// finds nothing on every backend, where PostgreSQL would answer with an error.
async fn lookups_by_a_name_with_a_nul_character_find_nothing(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("plain").task(noop("a", &[])).build().unwrap();
    let done = executor.execute(workflow.clone(), Context::new()).await.unwrap();
    let named = ExecutionFilter::new().workflow("pla\0in");
    assert!(executor.list_executions(named).await.unwrap().is_empty());
    assert!(executor.workflow_versions(Some("plain\0")).await.unwrap().is_empty());
    assert_eq!(executor.workflow_graph("plain\0", workflow.version()).await.unwrap(), None);
    assert_eq!(executor.workflow_graph("plain", "\0").await.unwrap(), None);
    assert!(executor.logs(done.execution_id, Some("a\0")).await.unwrap().is_empty());
    assert_eq!(executor.list_executions(ExecutionFilter::new().workflow("plain")).await.unwrap().len(), 1);
    executor.shutdown().await;
}
