//! A Rust program running Python tasks (the `embed` feature): values crossing between Rust and
//! Python tasks both ways, Python failures seen from Rust, workflows loaded from a module.
//!
//! The Python modules are in `tests/embedded/`. The interpreter finds NumPy and pyarrow in the
//! virtual environment `VIRTUAL_ENV` names (`make test-rust` sets it to the repository's `.venv`).

#![allow(clippy::print_stderr)] // The shared test support prints loud skip notices.

#[allow(dead_code)]
#[path = "../../cloacina/tests/it/support.rs"]
mod support;

use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use cloacina::arrow_array::{Float64Array, Int64Array, RecordBatch};
use cloacina::{Context, ExecutionStatus, FunctionTask, Task, TaskError, TaskStatus, Workflow};
use cloacina_python::embed::{self, EmbedError, PythonTaskWrapper};
use rust_decimal::Decimal;
use support::TestDatabase;
use uuid::Uuid;

/// Starts Python with `tests/embedded` on its path.
fn start() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        embed::add_python_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/embedded")).expect("start Python");
    });
}

fn python(name: &str) -> Arc<dyn Task> {
    start();
    Arc::new(PythonTaskWrapper::load(name).unwrap_or_else(|error| panic!("load {name}: {error}")))
}

fn unreadable(error: impl std::fmt::Display) -> TaskError {
    TaskError::permanent(error.to_string())
}

/// The Rust task between two Python ones: reads what Python wrote, writes what Python reads.
fn transform() -> FunctionTask {
    FunctionTask::new("transform", |mut context: Context| async move {
        let when: DateTime<Utc> = context.get_as("when").map_err(unreadable)?;
        let id: Uuid = context.get_as("id").map_err(unreadable)?;
        let amount: Decimal = context.get_as("amount").map_err(unreadable)?;
        let mut payload: Vec<u8> = context.get_as("payload").map_err(unreadable)?;
        let mut small: Vec<u8> = context.get_as("small").map_err(unreadable)?;
        let table: RecordBatch = context.get_as("table").map_err(unreadable)?;

        // Python wrote the datetime at +02:00; it arrives as the same instant.
        let offset: DateTime<chrono::FixedOffset> = context.get_as("when").map_err(unreadable)?;
        context.set_as("next_day", &(offset + TimeDelta::days(1)))?;
        assert_eq!(when.to_rfc3339(), "2026-12-03T16:30:15.250+00:00");
        context.set_as("same_id", &id)?;
        context.set_as("doubled", &(amount * Decimal::from(2)))?;
        payload.reverse();
        small.reverse();
        context.set_as("reversed", &payload)?;
        context.set_as("small_reversed", &small)?;
        context.set_as("day", &NaiveDate::from_ymd_opt(2026, 12, 3).unwrap())?;

        let ids = table.column_by_name("id").and_then(|column| column.as_any().downcast_ref::<Int64Array>()).cloned();
        let ids = ids.ok_or_else(|| TaskError::permanent("`table` has no int64 column `id`"))?;
        let scores = Float64Array::from_iter_values(ids.values().iter().map(|id| *id as f64 * 1.5));
        let mut columns = table.columns().to_vec();
        columns.push(Arc::new(scores));
        let mut fields: Vec<_> = table.schema().fields().iter().cloned().collect();
        fields.push(Arc::new(cloacina::arrow_schema::Field::new(
            "score",
            cloacina::arrow_schema::DataType::Float64,
            false,
        )));
        let scored =
            RecordBatch::try_new(Arc::new(cloacina::arrow_schema::Schema::new(fields)), columns).map_err(unreadable)?;
        context.set_as("scored", &scored)?;
        Ok(context)
    })
    .depends_on(["produce"])
}

async fn values_cross_both_ways(database: TestDatabase) {
    let workflow = Workflow::builder("embedded_values")
        .shared_task(python("hybrid_steps:produce"))
        .task(transform())
        .shared_task(python("hybrid_steps:check"))
        .build()
        .unwrap();
    let executor = database.executor().await;
    let result = executor.execute(Arc::new(workflow), Context::new()).await.unwrap();
    executor.shutdown().await;
    assert_eq!(result.status, ExecutionStatus::Completed, "{:#?}", result.task_results);
    assert_eq!(result.context.get("checked"), Some(&serde_json::Value::Bool(true)));
    // The Rust side reads the Python task's values back from the stored result too.
    let amount: Decimal = result.context.get_as("doubled").unwrap();
    assert_eq!(amount.to_string(), "2469.1356");
    let scored: RecordBatch = result.context.get_as("scored").unwrap();
    assert_eq!(scored.num_rows(), 3);
}

async fn a_python_exception_reaches_rust_with_its_traceback(database: TestDatabase) {
    let workflow = Workflow::builder("embedded_failure").shared_task(python("hybrid_steps:explode")).build().unwrap();
    let executor = database.executor().await;
    let mut input = Context::new();
    input.insert("input", "seven").unwrap();
    let result = executor.execute(Arc::new(workflow), input).await.unwrap();
    executor.shutdown().await;
    assert_eq!(result.status, ExecutionStatus::Failed);
    let task = &result.task_results[0];
    assert_eq!((task.status, task.attempts), (TaskStatus::Failed, 2), "the decorator's retry=2 applies");
    let error = task.error.as_deref().unwrap();
    assert!(error.starts_with("ValueError: not a number: 'seven'"), "{error}");
    assert!(error.contains("Traceback (most recent call last):"), "{error}");
    assert!(error.contains("hybrid_steps.py"), "{error}");
}

async fn a_module_s_workflows_run_from_rust(database: TestDatabase) {
    start();
    let workflows = embed::load_workflows("embedded_workflows").unwrap();
    let names: Vec<&str> = workflows.iter().map(|workflow| workflow.name()).collect();
    assert_eq!(names, ["embedded_greeting", "embedded_greeting_short"]);
    let executor = database.executor().await;
    let mut input = Context::new();
    input.insert("name", "rust").unwrap();
    let result = executor.execute(Arc::clone(&workflows[0]), input).await.unwrap();
    executor.shutdown().await;
    assert_eq!(result.status, ExecutionStatus::Completed, "{:#?}", result.task_results);
    assert_eq!(result.context.get("shouted"), Some(&serde_json::Value::from("HELLO RUST")));
}

backend_tests!(
    values_cross_both_ways,
    a_python_exception_reaches_rust_with_its_traceback,
    a_module_s_workflows_run_from_rust
);

#[test]
fn a_wrapped_task_keeps_its_decorator_s_settings() {
    let explode = python("hybrid_steps:explode");
    assert_eq!((explode.id(), explode.retry_policy().max_attempts), ("explode", 2));
    let check = python("hybrid_steps:check");
    assert_eq!(check.dependencies(), ["transform"]);
    assert!(check.starts_elsewhere(), "an async def starts on its event loop");
    let plain = python("hybrid_steps:plain");
    assert_eq!((plain.id(), plain.dependencies().len(), plain.timeout()), ("plain", 0, None::<Duration>));
}

#[test]
fn bad_names_say_what_to_write() {
    start();
    let error = |name: &str| PythonTaskWrapper::load(name).err().unwrap_or_else(|| panic!("{name} loaded"));
    assert_eq!(error("hybrid_steps.produce"), EmbedError::BadName("hybrid_steps.produce".into()));
    assert_eq!(
        error("hybrid_steps.produce").to_string(),
        "`hybrid_steps.produce` does not name a Python task; write `package.module:function` (e.g. `etl.steps:clean`)"
    );
    assert_eq!(error(":produce"), EmbedError::BadName(":produce".into()));
    let not_a_task = error("hybrid_steps:NOT_A_TASK");
    assert_eq!(not_a_task, EmbedError::NotATask { name: "hybrid_steps:NOT_A_TASK".into(), found: "int".into() });
    let missing = error("hybrid_steps:absent").to_string();
    assert!(missing.starts_with("AttributeError: module 'hybrid_steps' has no attribute 'absent'"), "{missing}");
    let broken = error("broken_module:anything").to_string();
    assert!(broken.starts_with("RuntimeError: this module cannot be imported"), "{broken}");
    assert!(broken.contains("broken_module.py"), "{broken}");
    let no_module = error("no_such_module:task").to_string();
    assert!(no_module.starts_with("ModuleNotFoundError: No module named 'no_such_module'"), "{no_module}");
    assert_eq!(
        embed::load_workflows("hybrid_steps").unwrap_err(),
        EmbedError::NoWorkflows { module: "hybrid_steps".into() }
    );
}

/// A Rust task after a Python one, listed together in `workflow!`.
#[cloacina::task(dependencies = ["plain"])]
async fn after_plain(context: &mut Context) -> Result<(), TaskError> {
    let plain = context.get("plain").and_then(serde_json::Value::as_str).unwrap_or("nothing").to_owned();
    context.insert("after", format!("python {plain}, then rust"))?;
    Ok(())
}

/// A Rust task whose dependency no task provides: found when the workflow is built.
#[cloacina::task(dependencies = ["plane"])]
async fn after_misspelled(context: &mut Context) -> Result<(), TaskError> {
    context.insert("unreachable", true)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_lists_rust_and_python_tasks_together() {
    start();
    let workflow = cloacina::workflow! {
        name: "embedded_macro",
        tasks: [after_plain, python("hybrid_steps:plain")],
    }
    .unwrap();
    assert_eq!(workflow.task_ids().collect::<Vec<_>>(), ["plain", "after_plain"]);
    let database = TestDatabase::create(support::Backend::SqliteMemory).await.unwrap();
    let executor = database.executor().await;
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    executor.shutdown().await;
    assert_eq!(result.context.get("after"), Some(&serde_json::Value::from("python ran, then rust")));

    let missing = cloacina::workflow! { name: "embedded_macro_missing", tasks: [python("hybrid_steps:absent")] };
    let error = missing.unwrap_err().to_string();
    assert!(error.starts_with("AttributeError: module 'hybrid_steps' has no attribute 'absent'"), "{error}");
    let misspelled = cloacina::workflow! {
        name: "embedded_macro_misspelled",
        tasks: [python("hybrid_steps:plain"), after_misspelled],
    };
    let error = misspelled.unwrap_err();
    assert!(matches!(error, EmbedError::Workflow(_)), "{error:?}");
    assert!(error.to_string().contains("`plane`"), "{error}");
}
