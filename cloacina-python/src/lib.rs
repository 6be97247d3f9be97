//! Python bindings for Cloacina: the `cloacina._native` extension module.
//!
//! The engine stays a plain Rust library; this crate maps its types to Python classes, runs
//! Python task functions as engine tasks, and turns engine errors into one Python exception
//! hierarchy (see `exceptions.rs`). By concept: `api/` the Python classes and functions,
//! `running/` calling Python from the engine's threads (the GIL, the pool of Python calls, the
//! runtime), `bridge/` the asyncio bridge (coroutines on event loops, awaitables), `values/`
//! converting context values, `rust_task.rs` Rust tasks of other extension modules, and
//! `embed.rs` Python tasks in a Rust program.
//!
//! With the `embed` feature it is also a Rust library that runs Python tasks in a Rust program:
//! see [`embed`].

mod api;
mod bridge;
#[cfg(feature = "embed")]
pub mod embed;
mod exceptions;
mod executor_set;
mod logging;
mod running;
mod rust_task;
mod values;

use pyo3::prelude::*;

/// The native part of the `cloacina` package; import from `cloacina` instead.
#[pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::api::context::PyContext;
    #[pymodule_export]
    use crate::api::events::{PyEvent, PyEventStream};
    #[pymodule_export]
    use crate::api::executor::{PyUnifiedExecutor, shutdown_at_exit};
    #[pymodule_export]
    use crate::api::handle::PyExecutionHandle;
    #[pymodule_export]
    use crate::api::logs::PyLogEntry;
    #[pymodule_export]
    use crate::api::result::{PyExecutionResult, PyExecutionSummary, PyTaskResult};
    #[pymodule_export]
    use crate::api::retry::PyRetryPolicy;
    #[pymodule_export]
    use crate::api::schedule::PySchedule;
    #[pymodule_export]
    use crate::api::task::{PyTask, PyTaskDecorator, task};
    #[pymodule_export]
    use crate::api::timeline::PyTaskAttempt;
    #[pymodule_export]
    use crate::api::trigger::PyTriggerRule;
    #[pymodule_export]
    use crate::api::workflow::{PyWorkflow, get_workflow, workflow};
    #[pymodule_export]
    use crate::running::task_logs::{TaskLogCapture, task_log_capture};
    #[pymodule_export]
    use crate::rust_task::{PyRustTask, adopt_rust_tasks};

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::exceptions::register(module)?;
        crate::logging::install();
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
