//! Python tasks in a Rust program (the `embed` feature): the interpreter started in-process,
//! Python task functions as engine tasks, and the workflows a Python module defines.
//!
//! ```no_run
//! use cloacina::{Context, UnifiedExecutor};
//! use cloacina_python::embed;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! embed::start()?;
//! let workflows = embed::load_workflows("pipelines.nightly")?;
//! let executor = UnifiedExecutor::new("sqlite://runs.db").await?;
//! let result = executor.execute(workflows[0].clone(), Context::new()).await?;
//! # Ok(()) }
//! ```
//!
//! The Python half of the `cloacina` package comes from this crate's own `python/` folder, and
//! its compiled half is this library itself (not an installed wheel's `_native` module), so the
//! two always match. Python finds everything else (the task modules, NumPy, ...) on its usual
//! path, `PYTHONPATH` included, and in the virtual environment that `VIRTUAL_ENV` names (an
//! activated one).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloacina::{
    Canceller, Completion, Context, Declined, RetryPolicy, Task, TaskError, TriggerRule, Workflow, WorkflowError,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::api::task::PyTask;
use crate::api::workflow::PyWorkflow;
use crate::running::python_task::{PythonTask, describe_exception};
use crate::values::type_name;

/// Where this crate keeps the Python half of the `cloacina` package.
const PACKAGE_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");

/// Why Python tasks could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedError {
    /// Python raised an exception: its type, message and traceback.
    Python(String),
    /// A task name that is not of the form `package.module:function`.
    BadName(String),
    /// The object named is neither a task made with `@task` nor a function.
    NotATask {
        /// The name given.
        name: String,
        /// The type of what was found.
        found: String,
    },
    /// The module defines no workflow.
    NoWorkflows {
        /// The module.
        module: String,
    },
    /// A workflow of Rust and Python tasks (made with `workflow!`) does not validate: a
    /// dependency no task provides, a cycle, a duplicate id.
    Workflow(WorkflowError),
}

impl From<WorkflowError> for EmbedError {
    fn from(error: WorkflowError) -> Self {
        Self::Workflow(error)
    }
}

impl fmt::Display for EmbedError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Python(error) => write!(formatter, "{error}"),
            Self::BadName(name) => write!(
                formatter,
                "`{name}` does not name a Python task; write `package.module:function` (e.g. `etl.steps:clean`)"
            ),
            Self::NotATask { name, found } => write!(
                formatter,
                "`{name}` is a `{found}`, not a task; name a function, or a function decorated with `@cloacina.task`"
            ),
            Self::NoWorkflows { module } => write!(
                formatter,
                "Python module `{module}` defines no workflow; call `cloacina.workflow(name=..., tasks=[...])` in it"
            ),
            Self::Workflow(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for EmbedError {}

fn python_error(py: Python<'_>, error: &PyErr) -> EmbedError {
    EmbedError::Python(describe_exception(py, error))
}

/// Starts the Python interpreter in this process, if it is not running yet, and makes the
/// `cloacina` package importable with this library as its compiled half. Called by the other
/// functions here; calling it again does nothing.
///
/// Fails when the `cloacina` package cannot be imported (the message says why).
pub fn start() -> Result<(), EmbedError> {
    Python::initialize();
    Python::attach(|py| install(py).map_err(|error| python_error(py, &error)))
}

/// Puts this library in `sys.modules` as `cloacina._native`, this crate's Python sources first
/// on `sys.path` and the site-packages of the virtual environment `VIRTUAL_ENV` names (an
/// embedded interpreter does not look for it by itself) after them, then imports `cloacina`.
fn install(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    let modules = sys.getattr("modules")?;
    if !modules.contains("cloacina._native")? {
        let native = pyo3::wrap_pymodule!(crate::_native)(py);
        modules.set_item("cloacina._native", native)?;
        if let Some(environment) = std::env::var_os("VIRTUAL_ENV").filter(|value| !value.is_empty()) {
            let add = py.import("site")?.getattr("addsitedir")?;
            let version = sys.getattr("version_info")?;
            let (major, minor): (u8, u8) = (version.getattr("major")?.extract()?, version.getattr("minor")?.extract()?);
            let unix = Path::new(&environment).join(format!("lib/python{major}.{minor}/site-packages"));
            for candidate in [unix, Path::new(&environment).join("Lib").join("site-packages")] {
                if candidate.is_dir() {
                    add.call1((candidate.as_os_str(),))?;
                }
            }
        }
        let path = sys.getattr("path")?.cast_into::<PyList>()?;
        path.insert(0, PACKAGE_SOURCE)?;
    }
    py.import("cloacina")?;
    Ok(())
}

/// Puts `directory` first on Python's module search path (`sys.path`), for Python tasks kept in
/// a folder of the program's own; starts Python if it is not running.
pub fn add_python_path(directory: impl AsRef<Path>) -> Result<(), EmbedError> {
    start()?;
    let directory = directory.as_ref().to_path_buf();
    Python::attach(|py| {
        let added = (|| -> PyResult<()> {
            let path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
            // As text: the import system skips entries that are not `str` (a `pathlib.Path`).
            path.insert(0, directory.as_os_str())?;
            Ok(())
        })();
        added.map_err(|error| python_error(py, &error))
    })
}

/// A Python task as an engine task: the plan's name for it. Runs like any task of a Python
/// workflow: a `def` on a thread of its own holding the GIL only while Python runs, an
/// `async def` on the event loop the library runs.
pub struct PythonTaskWrapper {
    inner: PythonTask,
}

impl PythonTaskWrapper {
    /// The task `package.module:function` names: a function decorated with `@cloacina.task`
    /// (with the id, dependencies, retry, timeout and trigger its decorator declared), or a
    /// plain function (a task with its name as the id and no dependencies). Imports the module.
    ///
    /// Fails with [`EmbedError::BadName`], [`EmbedError::NotATask`], or
    /// [`EmbedError::Python`] when the import raises or the function is not there.
    pub fn load(name: &str) -> Result<Self, EmbedError> {
        let Some((module, function)) = name
            .split_once(':')
            .filter(|(module, function)| !module.is_empty() && !function.is_empty() && !function.contains(':'))
        else {
            return Err(EmbedError::BadName(name.to_owned()));
        };
        start()?;
        Python::attach(|py| {
            let mut found = py.import(module).map_err(|error| python_error(py, &error))?.into_any();
            for part in function.split('.') {
                found = found.getattr(part).map_err(|error| python_error(py, &error))?;
            }
            if found.cast::<PyTask>().is_err() {
                if !found.is_callable() {
                    return Err(EmbedError::NotATask { name: name.to_owned(), found: type_name(&found) });
                }
                // A plain function: a task with the default settings, as `@task` would make it.
                let decorate = py.import("cloacina").and_then(|package| package.getattr("task"));
                found = decorate.and_then(|task| task.call1((found,))).map_err(|error| python_error(py, &error))?;
            }
            let task = found.cast::<PyTask>().map_err(|error| python_error(py, &error.into()))?;
            Ok(Self { inner: PythonTask::new(Arc::clone(&task.get().spec)) })
        })
    }
}

#[async_trait]
impl Task for PythonTaskWrapper {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn dependencies(&self) -> &[String] {
        self.inner.dependencies()
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry_policy()
    }

    fn timeout(&self) -> Option<Duration> {
        self.inner.timeout()
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.inner.trigger_rule()
    }

    fn starts_elsewhere(&self) -> bool {
        self.inner.starts_elsewhere()
    }

    fn start(&self, context: Context, done: Completion) -> Result<Canceller, Box<Declined>> {
        self.inner.start(context, done)
    }

    async fn execute(&self, context: Context) -> Result<Context, TaskError> {
        self.inner.execute(context).await
    }
}

/// Imports the Python module `module` (once per process, as Python does) and returns the
/// workflows it defines, in name order: those it made with `cloacina.workflow(...)` and those
/// kept in its attributes. They are registered, so executing by name works too.
///
/// Fails with [`EmbedError::Python`] when the import raises (a workflow that does not
/// validate raises `WorkflowValidationError`), and with [`EmbedError::NoWorkflows`] when it
/// defines none.
pub fn load_workflows(module: &str) -> Result<Vec<Arc<Workflow>>, EmbedError> {
    start()?;
    Python::attach(|py| {
        let imported = py.import(module).map_err(|error| python_error(py, &error))?;
        let mut workflows = crate::api::workflow::defined::by(module);
        for value in imported.dict().values() {
            if let Ok(workflow) = value.cast::<PyWorkflow>() {
                let workflow = &workflow.get().inner;
                if !workflows.iter().any(|known| Arc::ptr_eq(known, workflow)) {
                    workflows.push(Arc::clone(workflow));
                }
            }
        }
        if workflows.is_empty() {
            return Err(EmbedError::NoWorkflows { module: module.to_owned() });
        }
        workflows.sort_by(|left, right| left.name().cmp(right.name()));
        Ok(workflows)
    })
}
