//! Values other than plain JSON: typed values in the stored form Python shares, and binary data
//! kept beside the JSON, read by the next task, by the caller, and by another executor.

use chrono::{DateTime, Utc};
use cloacina::blobs::{self, INLINE_BINARY_BYTES};
use cloacina::{Context, ExecutionStatus, FunctionTask, Workflow};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::support::TestDatabase;

crate::backend_tests!(typed_values_and_large_binary_data_flow_to_the_next_task_and_the_caller);

/// 1 MiB of data no two offsets of which repeat within 256 bytes.
fn large() -> Vec<u8> {
    (0..1 << 20).map(|index: u32| (index % 251) as u8).collect()
}

fn writer() -> FunctionTask {
    FunctionTask::new("write", |mut context: Context| async move {
        let when: DateTime<Utc> = "2026-12-03T15:00:00.250Z".parse().unwrap();
        context.insert_as("when", &when)?;
        context.insert_as("id", &Uuid::from_u128(7))?;
        context.insert_as("amount", &Decimal::new(123_450, 3))?;
        context.insert_as("small", &vec![1u8, 2, 3])?;
        let data = large();
        let size = data.len();
        let digest = context.blobs_mut().add(data);
        context.insert("large", blobs::reference("bytes", &digest, size))?;
        Ok(context)
    })
}

fn reader() -> FunctionTask {
    FunctionTask::new("read", |mut context: Context| async move {
        let when: DateTime<Utc> = context.get_as("when")?;
        let id: Uuid = context.get_as("id")?;
        let amount: Decimal = context.get_as("amount")?;
        let small: Vec<u8> = context.get_as("small")?;
        let large: Vec<u8> = context.get_as("large")?;
        let seen = format!("{when} {id} {amount} {small:?} {}", large == self::large());
        context.insert("seen", seen)?;
        Ok(context)
    })
    .depends_on(["write"])
}

async fn typed_values_and_large_binary_data_flow_to_the_next_task_and_the_caller(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("typed_values").task(writer()).task(reader()).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(
        result.context.get("seen").unwrap(),
        "2026-12-03 15:00:00.250 UTC 00000000-0000-0000-0000-000000000007 123.450 [1, 2, 3] true"
    );
    let large: Vec<u8> = result.context.get_as("large").unwrap();
    assert!(large.len() > INLINE_BINARY_BYTES && large == self::large());
    executor.shutdown().await;
}

/// Tests of two executors on one database.
mod shared {
    use super::*;

    crate::shared_backend_tests!(another_executor_loads_binary_data_from_the_database);

    async fn another_executor_loads_binary_data_from_the_database(database: TestDatabase) {
        let writing = database.executor().await;
        let workflow = Workflow::builder("typed_values").task(writer()).task(reader()).build().unwrap();
        let execution_id = writing.execute(workflow, Context::new()).await.unwrap().execution_id;
        writing.shutdown().await;

        let reading = database.executor().await;
        let result = reading.get_execution(execution_id).await.unwrap();
        let large: Vec<u8> = result.context.get_as("large").unwrap();
        assert_eq!(large, super::large());
        // The data is not in the JSON: only its reference is.
        let stored = result.context.get("large").unwrap().to_string();
        assert!(stored.len() < 200, "{stored}");
        reading.shutdown().await;
    }
}
