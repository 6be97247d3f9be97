//! Calling Python from the engine's threads: Python tasks as engine tasks, the GIL, the pool of
//! Python calls, the calls in flight, the runtime, and stopping at exit.

pub mod calls;
pub mod exit;
pub mod python_pool;
pub mod python_task;
pub mod python_threads;
pub mod runtime;
pub mod spans;
pub mod task_logs;
