//! The smallest useful workflow: extract some numbers, transform them, print the result.
//!
//! Run it with `make demo` (or `cargo run -p cloacina --example quickstart`).

#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

use cloacina::{Context, FunctionTask, TaskError, UnifiedExecutor, Workflow};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let extract = FunctionTask::new("extract_data", |mut context: Context| async move {
        context.insert("raw_data", json!([1, 2, 3, 4, 5]))?;
        Ok(context)
    });
    let transform = FunctionTask::new("transform_data", |mut context: Context| async move {
        let raw = context
            .get("raw_data")
            .and_then(Value::as_array)
            .ok_or_else(|| TaskError::permanent("`raw_data` is missing"))?;
        let processed: Vec<i64> = raw.iter().filter_map(Value::as_i64).map(|x| x * 2).collect();
        context.insert("processed_data", processed)?;
        Ok(context)
    })
    .depends_on(["extract_data"]);

    let pipeline = Workflow::builder("sync_pipeline").task(extract).task(transform).build()?;
    let executor = UnifiedExecutor::new("sqlite:///:memory:").await?;
    let result = executor.execute(pipeline, Context::new()).await?;

    println!("execution {} of `{}`: {}", result.execution_id, result.workflow_name, result.status);
    for task in &result.task_results {
        println!("  {:<16} {:<10} {:?}", task.task_id, task.status.as_str(), task.duration().unwrap_or_default());
    }
    println!("processed_data = {}", result.context.get("processed_data").unwrap_or(&Value::Null));
    executor.shutdown().await;
    Ok(())
}
