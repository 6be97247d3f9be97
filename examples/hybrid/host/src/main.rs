//! The hybrid example's Rust program: one workflow of Rust tasks (`count_words`, `top_words`)
//! and Python tasks (`load_documents`, `report`, from `../steps.py`), on SQLite or PostgreSQL.
//!
//! ```sh
//! cargo run -p hybrid-host -- [DATABASE_URL] [DOCUMENTS]
//! ```
//!
//! Python runs inside this process (the `embed` feature of `cloacina-python`).

#![allow(clippy::print_stdout)] // An example shows its result on the terminal.

// The Rust tasks, the same source as the extension module's: `workflow!` lists tasks defined in
// its own crate.
#[path = "../../rust_tasks/src/words.rs"]
mod words;

use cloacina::{Context, ExecutionStatus, UnifiedExecutor, workflow};
use cloacina_python::embed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let url = arguments.next().unwrap_or_else(|| "sqlite:///:memory:".to_owned());
    let documents: u64 = arguments.next().map_or(Ok(2_000), |text| text.parse())?;

    // The Python tasks' module, `steps`, is in the folder above this crate.
    embed::add_python_path(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))?;
    let hybrid = workflow! {
        name: "hybrid_words_from_rust",
        tasks: [python("steps:load_documents"), words::count_words, words::top_words, python("steps:report")],
    }?;

    let executor = UnifiedExecutor::new(&url).await?;
    let mut input = Context::new();
    input.insert("document_count", documents)?;
    let result = executor.execute(hybrid, input).await?;
    executor.shutdown().await;

    for task in &result.task_results {
        let milliseconds = task.duration().map_or(0.0, |duration| duration.as_secs_f64() * 1000.0);
        println!("  {:<16} {:<10} {milliseconds:8.1} ms", task.task_id, task.status.to_string());
    }
    if result.status != ExecutionStatus::Completed {
        return Err(format!("the workflow ended {}: {}", result.status, result.error.unwrap_or_default()).into());
    }
    let report = result.context.get("report").and_then(serde_json::Value::as_str).unwrap_or_default();
    println!("{report}");
    Ok(())
}
