//! Rust tasks exported to Python for `tests/test_rust_tasks.py`: values crossing both ways,
//! failures, panics, retries, timeouts and cancellation of a Rust task under a Python workflow.
//!
//! Built into the development environment by `make test-python` (`maturin develop`). The same
//! library also answers to the module name `cloacina_test_tasks_future_abi`, exporting its
//! table under a task ABI version no `cloacina` reads, to test the refusal at import.

// That second module's `PyInit_` function is written by hand, as `python_tasks!` writes one.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use cloacina::abi::TaskTable;
use cloacina::arrow_array::{Int64Array, RecordBatch};
use cloacina::{Context, TaskError, task};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

fn unreadable(error: impl std::fmt::Display) -> TaskError {
    TaskError::permanent(error.to_string())
}

/// Reads what a Python task wrote as Rust types and writes values Python reads back as its
/// types: a datetime a day later, the UUID, the decimal doubled, the bytes reversed (kept
/// beside the JSON when large), and the table with its `id` column doubled.
#[task(dependencies = ["produce"])]
async fn echo_values(context: &mut Context) -> Result<(), TaskError> {
    let when: DateTime<Utc> = context.get_as("when").map_err(unreadable)?;
    let id: Uuid = context.get_as("id").map_err(unreadable)?;
    let amount: Decimal = context.get_as("amount").map_err(unreadable)?;
    let mut payload: Vec<u8> = context.get_as("payload").map_err(unreadable)?;
    let table: RecordBatch = context.get_as("table").map_err(unreadable)?;
    context.set_as("next_day", &(when + TimeDelta::days(1)))?;
    context.set_as("same_id", &id)?;
    context.set_as("doubled", &(amount * Decimal::from(2)))?;
    payload.reverse();
    context.set_as("reversed", &payload)?;
    let ids = table
        .column_by_name("id")
        .and_then(|column| column.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| TaskError::permanent("`table` has no int64 column `id`"))?;
    let doubled = Int64Array::from_iter_values(ids.values().iter().map(|id| id * 2));
    let mut columns = table.columns().to_vec();
    let position = table.schema().index_of("id").map_err(unreadable)?;
    columns[position] = Arc::new(doubled);
    context.set_as("doubled_table", &RecordBatch::try_new(table.schema(), columns).map_err(unreadable)?)?;
    // Plain JSON stays plain.
    let note = context.get("note").and_then(Value::as_str).unwrap_or_default().to_uppercase();
    context.insert("shouted", note)?;
    context.remove("scratch");
    Ok(())
}

/// Fails for good, whatever its retries.
#[task(retry_attempts = 3, retry_delay_ms = 10)]
async fn fail_permanently(_context: &mut Context) -> Result<(), TaskError> {
    Err(TaskError::permanent("the input is wrong: expected a number"))
}

/// Panics.
#[task(retry_attempts = 2, retry_delay_ms = 10)]
async fn panics(context: &mut Context) -> Result<(), TaskError> {
    let items: Vec<i64> = Vec::new();
    let index = context.get("index").and_then(Value::as_u64).unwrap_or(3);
    panic!("index {index} is out of range for {} items", items.len());
}

/// Calls of `flaky` so far, by the context's `flaky_key`.
static FLAKY_CALLS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

/// Fails (retryably) twice in every three calls with the same `flaky_key`, succeeding on the
/// third: with three attempts it completes on its last.
#[task(retry_attempts = 3, retry_delay_ms = 10)]
async fn flaky(context: &mut Context) -> Result<(), TaskError> {
    let key = context.get("flaky_key").and_then(Value::as_str).unwrap_or_default().to_owned();
    let call = {
        let mut calls = FLAKY_CALLS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = calls.get_or_insert_with(HashMap::new).entry(key).or_default();
        *count += 1;
        *count - 1
    };
    // Kept with the attempt (see `cloacina::logs`); DEBUG is below the default level.
    tracing::info!(target: "rust_tasks::flaky", attempt = call % 3 + 1, "trying");
    tracing::debug!(target: "rust_tasks::flaky", "not kept at INFO");
    if call % 3 != 2 {
        tracing::warn!(target: "rust_tasks::flaky", "failing this time");
        return Err(TaskError::new(format!("flaky failure {}", call % 3 + 1)));
    }
    context.set("flaky_done", true);
    Ok(())
}

/// Creates the file named `marker` when dropped: the task's future was dropped before it ended.
struct MarkOnDrop(Option<String>);

impl Drop for MarkOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::write(path, b"stopped");
        }
    }
}

/// Sleeps `sleep_ms` milliseconds; if it is stopped first, creates the file `marker`.
async fn sleep_then_finish(context: &mut Context) -> Result<(), TaskError> {
    let milliseconds = context.get("sleep_ms").and_then(Value::as_u64).unwrap_or(0);
    let mut marker = MarkOnDrop(context.get("marker").and_then(Value::as_str).map(str::to_owned));
    tokio::time::sleep(Duration::from_millis(milliseconds)).await;
    marker.0 = None;
    context.insert("slept", true)?;
    Ok(())
}

/// Sleeps, with no timeout of its own (for cancelling).
#[task]
async fn sleeps(context: &mut Context) -> Result<(), TaskError> {
    sleep_then_finish(context).await
}

/// Sleeps, with a timeout of 300 ms.
#[task(timeout_ms = 300)]
async fn sleeps_past_timeout(context: &mut Context) -> Result<(), TaskError> {
    sleep_then_finish(context).await
}

/// Squares each number of `numbers`, two at a time: a mapped task declared in Rust.
#[task(dependencies = ["numbers"], map_over = "numbers", max_parallel = 2, map_outputs = ["square"])]
async fn square_each(context: &mut Context) -> Result<(), TaskError> {
    let item = context.get("item").and_then(Value::as_i64).ok_or_else(|| TaskError::permanent("no number"))?;
    context.insert("square", item * item)?;
    Ok(())
}

cloacina::python_tasks!(
    cloacina_test_tasks,
    [echo_values, fail_permanently, panics, flaky, sleeps, sleeps_past_timeout, square_each]
);

/// The same tasks under a task ABI version from the future, as a module of another name.
///
/// # Safety
/// Called by the Python interpreter only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn PyInit_cloacina_test_tasks_future_abi() -> *mut cloacina::abi::export::ffi::PyObject {
    let current = cloacina::abi::export::table(vec![("flaky", Box::new(FlakyTask::new()))]);
    let future: &'static TaskTable = Box::leak(Box::new(TaskTable {
        abi_version: cloacina::abi::TASK_ABI_VERSION + 98,
        tasks: current.tasks,
        task_count: current.task_count,
        release: current.release,
    }));
    // SAFETY: Python calls this while importing the module, holding the GIL.
    unsafe { cloacina::abi::export::module_with_table(c"cloacina_test_tasks_future_abi", future) }
}
