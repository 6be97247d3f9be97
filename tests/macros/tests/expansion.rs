//! What `#[task]` and `workflow!` expand to, compiled and run with the rest of the tests: a
//! chain using every `#[task]` argument, and tasks listed by module path. (The errors for what
//! must not compile are checked by `ui.rs`.)

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

#[test]
fn a_chain_with_every_task_argument() {
    let pipeline = workflow! { name: "chain", description: "three steps", tasks: [extract, transform, load, report] };
    assert_eq!(pipeline.task_ids().collect::<Vec<_>>(), ["extract", "transform_rows", "load", "report"]);
    assert_eq!(pipeline.description(), Some("three steps"));
    let _ = TransformTask::new();
}

mod stages {
    use cloacina::{Context, TaskError, task};

    #[task]
    pub async fn fetch(context: &mut Context) -> Result<(), TaskError> {
        context.insert("fetched", true)?;
        Ok(())
    }

    #[task(dependencies = ["fetch"])]
    pub async fn store(_context: &mut Context) -> Result<(), TaskError> {
        Ok(())
    }
}

#[test]
fn tasks_listed_by_module_path() {
    let pipeline = cloacina::workflow! { name: "modules", tasks: [stages::fetch, stages::store] };
    assert_eq!(pipeline.len(), 2);
    assert_eq!(pipeline.task_ids().collect::<Vec<_>>(), ["fetch", "store"]);
}
