//! The smallest useful workflow: extract some numbers, transform them, print the result.
//!
//! Run it with `cargo run -p cloacina --example quickstart`.

#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

use cloacina::{Context, TaskError, UnifiedExecutor, task, workflow};
use serde_json::{Value, json};

#[task]
async fn extract_data(context: &mut Context) -> Result<(), TaskError> {
    context.insert("raw_data", json!([1, 2, 3, 4, 5]))?;
    Ok(())
}

#[task(dependencies = ["extract_data"])]
async fn transform_data(context: &mut Context) -> Result<(), TaskError> {
    let raw = context
        .get("raw_data")
        .and_then(Value::as_array)
        .ok_or_else(|| TaskError::permanent("`raw_data` is missing"))?;
    let processed: Vec<i64> = raw.iter().filter_map(Value::as_i64).map(|x| x * 2).collect();
    context.insert("processed_data", processed)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pipeline = workflow! {
        name: "sync_pipeline",
        description: "Doubles a list of numbers",
        tasks: [extract_data, transform_data],
    };
    let executor = UnifiedExecutor::new("sqlite:///:memory:").await?;
    let result = executor.execute(pipeline, Context::new()).await?;

    println!("execution {} of `{}`: {}", result.execution_id, result.workflow_name, result.status);
    for task in &result.task_results {
        println!("  {:<16} {:<10} {:?}", task.task_id, task.status.as_str(), task.duration().unwrap_or_default());
    }
    let processed = result.context.get("processed_data").cloned().unwrap_or(Value::Null);
    println!("processed_data = {processed}");
    executor.shutdown().await;
    if processed != json!([2, 4, 6, 8, 10]) {
        return Err(format!("expected [2, 4, 6, 8, 10], got {processed}").into());
    }
    Ok(())
}
