//! A workflow of three tasks in a chain, with every #[task] argument.

use cloacina::{Context, TaskError, TriggerRule, task, workflow};

#[task]
async fn extract(context: &mut Context) -> Result<(), TaskError> {
    context.insert("rows", 3)?;
    Ok(())
}

#[task(
    id = "transform_rows",
    dependencies = ["extract"],
    retry_attempts = 3,
    retry_backoff = "linear",
    retry_delay_ms = 10,
    retry_max_delay_ms = 100,
    timeout_ms = 5_000
)]
async fn transform(context: &mut Context) -> Result<(), TaskError> {
    context.set("rows", 6);
    Ok(())
}

#[task(dependencies = ["transform_rows"], trigger = "none_failed")]
async fn load(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

#[task(dependencies = ["load"], trigger = TriggerRule::Always)]
async fn report(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

fn main() {
    let pipeline = workflow! { name: "chain", description: "three steps", tasks: [extract, transform, load, report] };
    assert_eq!(pipeline.task_ids().collect::<Vec<_>>(), ["extract", "transform_rows", "load", "report"]);
    assert_eq!(pipeline.description(), Some("three steps"));
    let _ = TransformTask::new();
}
