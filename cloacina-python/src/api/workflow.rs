//! `cloacina.workflow` and `cloacina.Workflow`.

use std::sync::Arc;

use cloacina::{Task, Workflow, WorkflowRegistry};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::api::task::PyTask;
use crate::exceptions::{BindingResult, ErrorKind, error};
use crate::running::python_task::PythonTask;
use crate::rust_task::PyRustTask;
use crate::values::{name_from_python, type_name};

/// A validated, registered workflow: a DAG of tasks with a name.
///
/// Made by `cloacina.workflow(...)`; pass it, or its name, to `UnifiedExecutor.execute`.
#[pyclass(module = "cloacina", name = "Workflow", frozen)]
pub struct PyWorkflow {
    pub(crate) inner: Arc<Workflow>,
}

#[pymethods]
impl PyWorkflow {
    /// The workflow's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The workflow's description.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.inner.description()
    }

    /// A SHA-256 of the workflow's structure, as hex: equal structures, equal versions.
    #[getter]
    fn version(&self) -> &str {
        self.inner.version()
    }

    /// Task ids in the order they run (topological, ties by id).
    #[getter]
    fn task_ids(&self) -> Vec<String> {
        self.inner.task_ids().map(str::to_owned).collect()
    }

    /// Each task's dependencies: a `dict` from every task id, in the order the tasks run, to
    /// the ids of the tasks it depends on.
    #[getter]
    fn dependencies<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let listing = PyDict::new(py);
        for node in self.inner.tasks() {
            let dependencies: Vec<&str> = node.dependencies().iter().map(|&d| self.inner.node(d).id()).collect();
            listing.set_item(node.id(), dependencies)?;
        }
        Ok(listing)
    }

    /// A workflow of only the tasks named (for running part of this one, in a test say): each
    /// keeps those of its dependencies that are among them, and reads what the others would
    /// have written from the initial context. It is named `"{name} (subset: {ids})"`.
    ///
    /// Raises:
    ///     WorkflowValidationError: A task id is not one of this workflow's.
    fn subset(&self, task_ids: Vec<String>) -> BindingResult<PyWorkflow> {
        let subset = self.inner.subset(task_ids.iter().map(String::as_str))?;
        Ok(PyWorkflow { inner: Arc::new(subset) })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = PyString::new(py, self.inner.name()).repr()?;
        let tasks = PyList::new(py, self.task_ids())?.repr()?;
        Ok(format!("Workflow(name={name}, tasks={tasks})"))
    }
}

/// Validates tasks into a workflow and registers it under `name`, replacing any workflow
/// registered under that name before (so re-running a notebook cell works). Executions already
/// running finish with the definition they were created with.
///
/// Args:
///     name: The workflow's name, used to execute it.
///     tasks: The workflow's tasks (made with `@task`, or Rust tasks a module exports), in
///         any order.
///     description: What the workflow does.
///
/// Returns:
///     The registered `Workflow`.
///
/// Raises:
///     WorkflowValidationError: No tasks, an empty or duplicate task id, a dependency that no
///         task provides (naming the closest id), or a cycle (naming its path).
#[pyfunction]
#[pyo3(signature = (*, name, tasks, description = None))]
pub fn workflow(
    name: &Bound<'_, PyAny>,
    tasks: &Bound<'_, PyAny>,
    description: Option<String>,
) -> BindingResult<PyWorkflow> {
    let mut builder = Workflow::builder(name_from_python("workflow name", name)?);
    if let Some(description) = description {
        builder = builder.description(description);
    }
    for item in tasks.try_iter()? {
        let item = item?;
        if let Ok(task) = item.cast::<PyTask>() {
            builder = builder.shared_task(Arc::new(PythonTask::new(Arc::clone(&task.get().spec))));
        } else if let Ok(task) = item.cast::<PyRustTask>() {
            builder = builder.shared_task(Arc::clone(&task.get().task) as Arc<dyn Task>);
        } else {
            return Err(error(
                ErrorKind::WorkflowValidation,
                format!(
                    "workflow tasks must be made with @task (or be Rust tasks a module exports); got `{}`",
                    type_name(&item)
                ),
            )
            .into());
        }
    }
    let workflow = Arc::new(builder.build()?);
    WorkflowRegistry::global().register(Arc::clone(&workflow));
    #[cfg(feature = "embed")]
    defined::record(tasks.py(), &workflow);
    Ok(PyWorkflow { inner: workflow })
}

/// The workflow registered under `name` (by `cloacina.workflow`, in this process).
///
/// Args:
///     name: The workflow's name.
///
/// Returns:
///     The registered `Workflow`.
///
/// Raises:
///     WorkflowNotFoundError: No workflow is registered under that name.
#[pyfunction]
pub fn get_workflow(name: &str) -> BindingResult<PyWorkflow> {
    let registry = WorkflowRegistry::global();
    match registry.get(name) {
        Some(inner) => Ok(PyWorkflow { inner }),
        None => {
            Err(cloacina::ExecutorError::WorkflowNotFound { name: name.to_owned(), registered: registry.names() }
                .into())
        }
    }
}

/// Which module defined each workflow, for a Rust program that loads a module's workflows
/// (`embed::load_workflows`), whether or not the module keeps them in attributes.
#[cfg(feature = "embed")]
pub(crate) mod defined {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use cloacina::Workflow;
    use pyo3::prelude::*;

    /// By module name: the workflows it defined, the latest definition of each name.
    static BY_MODULE: Mutex<Option<HashMap<String, Vec<Arc<Workflow>>>>> = Mutex::new(None);

    /// Records the workflow as defined by the module of the Python code calling `workflow(...)`
    /// (a native function has no frame of its own, so the innermost frame is the caller's).
    pub fn record(py: Python<'_>, workflow: &Arc<Workflow>) {
        let module = py
            .import("sys")
            .and_then(|sys| sys.call_method1("_getframe", (0,)))
            .and_then(|frame| frame.getattr("f_globals"))
            .and_then(|globals| globals.get_item("__name__"))
            .and_then(|name| name.extract::<String>());
        let Ok(module) = module else { return };
        let mut by_module = BY_MODULE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let defined = by_module.get_or_insert_with(HashMap::new).entry(module).or_default();
        defined.retain(|known| known.name() != workflow.name());
        defined.push(Arc::clone(workflow));
    }

    /// The workflows the module defined.
    pub fn by(module: &str) -> Vec<Arc<Workflow>> {
        let by_module = BY_MODULE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        by_module.as_ref().and_then(|map| map.get(module)).cloned().unwrap_or_default()
    }
}
