//! Retries and trigger rules: a flaky download that succeeds on its third attempt, a step that
//! fails for good, and a cleanup that runs whatever happened before it.
//!
//! Run it with `cargo run -p cloacina --example retries`.

#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

use cloacina::{Context, ExecutionStatus, TaskError, TaskStatus, UnifiedExecutor, task, workflow};

/// Fails twice with a retryable error, then succeeds: three attempts are allowed, 10 ms apart
/// and doubling.
#[task(retry_attempts = 3, retry_backoff = "exponential", retry_delay_ms = 10, retry_max_delay_ms = 100)]
async fn download(context: &mut Context) -> Result<(), TaskError> {
    let attempt = context.attempt().map_or(1, |attempt| attempt.number);
    if attempt < 3 {
        return Err(TaskError::new(format!("connection reset (attempt {attempt})")));
    }
    context.insert("bytes", 1024)?;
    Ok(())
}

/// Fails for good: a permanent error is not retried even though attempts remain.
#[task(dependencies = ["download"], retry_attempts = 5)]
async fn validate(_context: &mut Context) -> Result<(), TaskError> {
    Err(TaskError::permanent("checksum mismatch"))
}

/// Would publish the validated file; skipped because `validate` failed.
#[task(dependencies = ["validate"])]
async fn publish(context: &mut Context) -> Result<(), TaskError> {
    context.insert("published", true)?;
    Ok(())
}

/// Runs once its dependencies have ended, completed or failed.
#[task(dependencies = ["download", "validate"], trigger = "all_done")]
async fn cleanup(context: &mut Context) -> Result<(), TaskError> {
    context.insert("cleaned_up", true)?;
    Ok(())
}

/// Runs only when something upstream failed.
#[task(dependencies = ["validate"], trigger = "any_failed")]
async fn alert(context: &mut Context) -> Result<(), TaskError> {
    context.insert("alerted", true)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workflow = workflow! {
        name: "retries_example",
        tasks: [download, validate, publish, cleanup, alert],
    };
    let executor = UnifiedExecutor::new("sqlite:///:memory:").await?;
    let result = executor.execute(workflow, Context::new()).await?;
    executor.shutdown().await;

    println!("execution `{}`: {}", result.workflow_name, result.status);
    for task in &result.task_results {
        let error = task.error.as_deref().unwrap_or("");
        println!("  {:<10} {:<10} attempts={} {error}", task.task_id, task.status.as_str(), task.attempts);
    }

    let expected = [
        ("download", TaskStatus::Completed, 3),
        ("validate", TaskStatus::Failed, 1),
        ("publish", TaskStatus::Skipped, 0),
        ("cleanup", TaskStatus::Completed, 1),
        ("alert", TaskStatus::Completed, 1),
    ];
    for (task_id, status, attempts) in expected {
        let task = result.task(task_id).ok_or_else(|| format!("no result for `{task_id}`"))?;
        if task.status != status || task.attempts != attempts {
            return Err(format!(
                "`{task_id}`: expected {} after {attempts} attempt(s), got {} after {}",
                status.as_str(),
                task.status.as_str(),
                task.attempts
            )
            .into());
        }
    }
    if result.status != ExecutionStatus::Failed {
        return Err(format!("expected the execution to fail, it ended {}", result.status).into());
    }
    Ok(())
}
