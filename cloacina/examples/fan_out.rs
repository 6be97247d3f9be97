//! Fan-out and fan-in: one task splits the work, several run side by side, one joins them.
//!
//! Run it with `cargo run -p cloacina --example fan_out`.

#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

use cloacina::{Context, TaskError, UnifiedExecutor, task, workflow};
use serde_json::Value;

#[task]
async fn split(context: &mut Context) -> Result<(), TaskError> {
    context.insert("orders", (1..=300).collect::<Vec<i64>>())?;
    Ok(())
}

/// Sums the orders whose number leaves `remainder` when divided by three.
fn sum_share(context: &Context, remainder: i64) -> Result<i64, TaskError> {
    let orders =
        context.get("orders").and_then(Value::as_array).ok_or_else(|| TaskError::permanent("`orders` is missing"))?;
    Ok(orders.iter().filter_map(Value::as_i64).filter(|order| order % 3 == remainder).sum())
}

#[task(dependencies = ["split"])]
async fn region_a(context: &mut Context) -> Result<(), TaskError> {
    let total = sum_share(context, 0)?;
    context.insert("total_a", total)?;
    Ok(())
}

#[task(dependencies = ["split"])]
async fn region_b(context: &mut Context) -> Result<(), TaskError> {
    let total = sum_share(context, 1)?;
    context.insert("total_b", total)?;
    Ok(())
}

#[task(dependencies = ["split"])]
async fn region_c(context: &mut Context) -> Result<(), TaskError> {
    let total = sum_share(context, 2)?;
    context.insert("total_c", total)?;
    Ok(())
}

/// Sees every region's writes: a task's input is the initial context plus its ancestors' output.
#[task(dependencies = ["region_a", "region_b", "region_c"])]
async fn join(context: &mut Context) -> Result<(), TaskError> {
    let mut total = 0;
    for key in ["total_a", "total_b", "total_c"] {
        total += context
            .get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| TaskError::permanent(format!("`{key}` is missing")))?;
    }
    context.insert("grand_total", total)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workflow = workflow! {
        name: "fan_out_example",
        tasks: [split, region_a, region_b, region_c, join],
    };
    let executor = UnifiedExecutor::new("sqlite:///:memory:").await?;
    let result = executor.execute(workflow, Context::new()).await?;
    executor.shutdown().await;

    println!("execution `{}`: {}", result.workflow_name, result.status);
    for key in ["total_a", "total_b", "total_c", "grand_total"] {
        println!("  {key:<12} = {}", result.context.get(key).unwrap_or(&Value::Null));
    }
    let expected: i64 = (1..=300).sum();
    match result.context.get("grand_total").and_then(Value::as_i64) {
        Some(total) if total == expected => Ok(()),
        other => Err(format!("expected grand_total {expected}, got {other:?}").into()),
    }
}
