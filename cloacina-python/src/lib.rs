//! Python bindings for Cloacina: the `cloacina._native` extension module.
//!
//! The engine stays a plain Rust library; this crate maps its types to Python classes, runs
//! Python task functions as engine tasks, and turns engine errors into one Python exception
//! hierarchy (see `exceptions.rs`).
//!
//! With the `embed` feature it is also a Rust library that runs Python tasks in a Rust program:
//! see [`embed`].

mod awaitable;
mod awaiting;
mod calls;
mod context;
mod coroutine;
#[cfg(feature = "embed")]
pub mod embed;
mod events;
mod exceptions;
mod executor;
mod exit;
mod handle;
mod inbox;
mod logging;
mod loops;
mod python_pool;
mod python_task;
mod python_threads;
mod result;
mod retry;
mod runtime;
mod rust_task;
mod task;
mod trigger;
mod values;
mod workflow;

use pyo3::prelude::*;

/// The native part of the `cloacina` package; import from `cloacina` instead.
#[pymodule]
mod _native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::context::PyContext;
    #[pymodule_export]
    use crate::events::{PyEvent, PyEventStream};
    #[pymodule_export]
    use crate::executor::{PyUnifiedExecutor, shutdown_at_exit};
    #[pymodule_export]
    use crate::handle::PyExecutionHandle;
    #[pymodule_export]
    use crate::result::{PyExecutionResult, PyExecutionSummary, PyTaskResult};
    #[pymodule_export]
    use crate::retry::PyRetryPolicy;
    #[pymodule_export]
    use crate::rust_task::{PyRustTask, adopt_rust_tasks};
    #[pymodule_export]
    use crate::task::{PyTask, PyTaskDecorator, task};
    #[pymodule_export]
    use crate::trigger::PyTriggerRule;
    #[pymodule_export]
    use crate::workflow::{PyWorkflow, workflow};

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::exceptions::register(module)?;
        crate::logging::install();
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
