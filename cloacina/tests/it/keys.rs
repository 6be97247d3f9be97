//! Idempotent starts: one execution per workflow and key, whoever starts it and when.

use std::time::Duration;

use cloacina::{Context, ExecutorError, StartOptions, UnifiedExecutor, Workflow};

use crate::support::{TestDatabase, noop};

crate::backend_tests!(a_key_starts_one_execution, starts_racing_under_one_key_make_one_execution);

fn keyed(key: &str) -> StartOptions {
    StartOptions { key: Some(key.to_owned()), ..StartOptions::default() }
}

fn order(number: u32) -> Context {
    Context::from_value(serde_json::json!({"order": number})).unwrap()
}

fn workflows() -> [Workflow; 2] {
    [
        Workflow::builder("invoice").task(noop("bill", &[])).build().unwrap(),
        Workflow::builder("ship").task(noop("pack", &[])).build().unwrap(),
    ]
}

async fn a_key_starts_one_execution(database: TestDatabase) {
    let executor = database.executor().await;
    let [invoice, ship] = workflows().map(|workflow| executor.register(workflow));
    let id = UnifiedExecutor::new_execution_id;
    let first = executor.start_with(id(), &invoice, order(123), keyed("order-123")).await.unwrap();
    assert!(first.is_new());
    let result = first.wait().await.unwrap();
    assert_eq!(result.key.as_deref(), Some("order-123"));
    // Again, after it finished: the same execution, not another.
    let again = executor.start_with(id(), &invoice, order(123), keyed("order-123")).await.unwrap();
    assert!(!again.is_new());
    assert_eq!(again.execution_id(), first.execution_id());
    assert_eq!(again.wait().await.unwrap(), result);
    // Another workflow has keys of its own; an execution without a key has none.
    let shipped = executor.start_with(id(), &ship, order(123), keyed("order-123")).await.unwrap();
    assert!(shipped.is_new() && shipped.execution_id() != first.execution_id());
    assert_eq!(executor.execute(&invoice, order(123)).await.unwrap().key, None);
    // The same key with another context is refused, naming the execution.
    let error = executor.start_with(id(), &invoice, order(124), keyed("order-123")).await.unwrap_err();
    assert!(
        matches!(&error, ExecutorError::KeyInUse { execution_id, .. } if *execution_id == first.execution_id()),
        "{error}"
    );
    assert!(error.to_string().contains("started with another context"), "{error}");
    let error = executor.start_with(id(), &invoice, order(1), keyed("")).await.unwrap_err();
    assert_eq!(error.to_string(), "invalid execution key: it is empty");
    let listed = executor.list_executions(cloacina::ExecutionFilter::new().workflow("invoice")).await.unwrap();
    assert_eq!(listed.len(), 2);
    executor.shutdown().await;
}

async fn starts_racing_under_one_key_make_one_execution(database: TestDatabase) {
    let first = database.executor().await;
    let memory = database.url.contains(":memory:");
    let second = if memory { first.clone() } else { database.executor().await };
    for executor in [&first, &second] {
        for workflow in workflows() {
            executor.register(workflow);
        }
    }
    for round in 0..10 {
        let key = format!("race-{round}");
        let id = UnifiedExecutor::new_execution_id;
        let (a, b) = tokio::join!(
            first.start_with(id(), "invoice", order(round), keyed(&key)),
            second.start_with(id(), "invoice", order(round), keyed(&key)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.execution_id(), b.execution_id(), "round {round}");
        assert!(a.is_new() != b.is_new(), "one start made it, round {round}");
        a.wait_timeout(Duration::from_secs(30)).await.unwrap();
    }
    let listed = first.list_executions(cloacina::ExecutionFilter::new().workflow("invoice")).await.unwrap();
    assert_eq!(listed.len(), 10);
    first.shutdown().await;
    second.shutdown().await;
}
