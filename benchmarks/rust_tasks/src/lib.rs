//! The benchmark shapes' task as a Rust task exported to Python: `make bench` measures the
//! shapes with it (`benchmarks/python/measure.py ... rust`) beside native Rust tasks and Python
//! tasks. Each place of a shape is this one task under its own id (`RustTask.with_id`).

use cloacina::{Context, TaskError, task};

/// Does nothing, as the native Rust shapes' tasks: what is measured is the engine around it.
#[task]
async fn hop(_context: &mut Context) -> Result<(), TaskError> {
    Ok(())
}

cloacina::python_tasks!(cloacina_bench_tasks, [hop]);
