//! `cloacina.Task` and the `@task` decorator.

use std::sync::Arc;
use std::time::Duration;

use cloacina::{ConcurrencyLimit, LogLevel, Mapping, RetryPolicy, TriggerRule};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::api::logs::log_level_from_python;
use crate::api::retry::{PyRetryPolicy, seconds};
use crate::api::trigger::PyTriggerRule;
use crate::exceptions::{ErrorKind, error};
use crate::rust_task::PyRustTask;
use crate::values::{name_from_python, type_name};

/// Everything about a task, shared by its Python object and the engine's view of it.
pub struct TaskSpec {
    pub id: String,
    /// The function is a coroutine function (`async def`).
    pub is_async: bool,
    pub dependencies: Vec<String>,
    pub function: Py<PyAny>,
    pub retry: Option<Py<PyRetryPolicy>>,
    pub timeout: Option<Duration>,
    pub trigger: TriggerRule,
    /// The least severe log records kept for its attempts; the executor's when `None`.
    pub log_level: Option<LogLevel>,
    /// Whether its `print`s are kept with its logs; the executor's setting when `None`.
    pub log_prints: Option<bool>,
    /// At most how many attempts holding a key run at once, across workflows and processes.
    pub concurrency: Option<ConcurrencyLimit>,
    /// The list in its input it runs once per element of, if it is a mapped task.
    pub mapping: Option<Mapping>,
}

impl TaskSpec {
    /// The engine's retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry.as_ref().map(|retry| retry.get().policy.clone()).unwrap_or_default()
    }
}

/// A task: a function of the context, with its id, dependencies and settings.
///
/// Usually made with the `@task` decorator. The task can still be called directly, e.g. in a
/// unit test: `extract(cloacina.Context())`.
///
/// Args:
///     id: The task's id, unique within a workflow.
///     dependencies: Ids (or Task objects) of the tasks that must finish first.
///     function: Called with the task's `Context`; may write to it, return a `dict` of values
///         to set, or return `None`.
///     retry: A number of attempts, or a `RetryPolicy`.
///     timeout: Seconds an attempt may take before it fails with a timeout. A plain `def`
///         cannot be interrupted: its thread finishes the call, and the result is discarded.
///     trigger: A `TriggerRule` or rule name: when the task runs after its dependencies end.
///     log_level: The least severe `logging` records kept with each attempt (a level name
///         such as `"DEBUG"`, or a number); the executor's `task_log_level` by default.
///     log_prints: Keep what the function `print`s too (as `INFO` records of the logger
///         `"print"`); the executor's `log_prints` by default.
///     concurrency_key: A key shared by tasks that may run only so many at once.
///     concurrency: How many attempts holding `concurrency_key` may run at once, across every
///         workflow and process on the database.
///     map_over: Run once per element of the list under this key of the input (a mapped
///         task): each instance sees its element as `context["item"]` and its position as
///         `context["item_index"]`, and tasks downstream see each key the instances wrote as a
///         list in instance order.
///     max_parallel: At most this many instances of a mapped task ready or running at once.
///     map_outputs: Keys the instances of a mapped task write, gathered as lists even when
///         none wrote them (an empty list gives empty lists).
///
/// Raises:
///     ValidationError: An argument is invalid.
#[pyclass(module = "cloacina", name = "Task", frozen)]
pub struct PyTask {
    pub(crate) spec: Arc<TaskSpec>,
}

impl PyTask {
    /// Builds a task, checking every argument.
    pub fn build(
        py: Python<'_>,
        id: String,
        dependencies: Option<&Bound<'_, PyAny>>,
        function: &Bound<'_, PyAny>,
        options: &TaskOptions<'_>,
    ) -> PyResult<Self> {
        if !function.is_callable() {
            return Err(error(
                ErrorKind::Validation,
                format!("task `{id}`: the function must be callable, not `{}`", type_name(function)),
            ));
        }
        check_takes_context(py, &id, function)?;
        let timeout = match options.timeout {
            Some(value) if value <= 0.0 => {
                return Err(error(
                    ErrorKind::Validation,
                    format!("task `{id}`: timeout is {value}; it must be positive"),
                ));
            }
            Some(value) => Some(seconds("timeout", value)?),
            None => None,
        };
        let trigger = match options.trigger.map(|value| value.bind(py)).filter(|value| !value.is_none()) {
            Some(value) => PyTriggerRule::from_argument(value)?,
            None => TriggerRule::AllSucceeded,
        };
        let log_level = match options.log_level.map(|value| value.bind(py)).filter(|value| !value.is_none()) {
            Some(value) => Some(log_level_from_python(&format!("task `{id}`: log_level"), value)?),
            None => None,
        };
        let concurrency = match (options.concurrency_key, options.concurrency) {
            (Some(key), Some(limit)) => Some(ConcurrencyLimit::new(key, limit)),
            (None, None) => None,
            (Some(key), None) => {
                return Err(error(
                    ErrorKind::Validation,
                    format!("task `{id}`: concurrency_key `{key}` needs `concurrency`, how many may run at once"),
                ));
            }
            (None, Some(_)) => {
                return Err(error(
                    ErrorKind::Validation,
                    format!("task `{id}`: concurrency needs `concurrency_key`, the key the limited tasks share"),
                ));
            }
        };
        if let Some(problem) = concurrency.as_ref().and_then(ConcurrencyLimit::problem) {
            return Err(error(ErrorKind::Validation, format!("task `{id}`: {problem}")));
        }
        let mapping = mapping_from_options(&id, options)?;
        let is_async = py.import("inspect")?.call_method1("iscoroutinefunction", (function,))?.is_truthy()?;
        Ok(Self {
            spec: Arc::new(TaskSpec {
                is_async,
                dependencies: dependency_ids(&id, dependencies)?,
                id,
                function: function.clone().unbind(),
                retry: PyRetryPolicy::from_argument(py, options.retry.map(|retry| retry.bind(py)))?,
                timeout,
                trigger,
                log_level,
                log_prints: options.log_prints,
                concurrency,
                mapping,
            }),
        })
    }
}

/// A task's settings besides its id, dependencies and function, as given.
#[derive(Default)]
pub struct TaskOptions<'a> {
    pub retry: Option<&'a Py<PyAny>>,
    pub timeout: Option<f64>,
    pub trigger: Option<&'a Py<PyAny>>,
    pub log_level: Option<&'a Py<PyAny>>,
    pub log_prints: Option<bool>,
    pub concurrency_key: Option<&'a str>,
    pub concurrency: Option<u32>,
    pub map_over: Option<&'a str>,
    pub max_parallel: Option<u32>,
    pub map_outputs: Option<&'a [String]>,
}

/// The mapping the options describe, checked.
fn mapping_from_options(id: &str, options: &TaskOptions<'_>) -> PyResult<Option<Mapping>> {
    let Some(key) = options.map_over else {
        let stray = [("max_parallel", options.max_parallel.is_some()), ("map_outputs", options.map_outputs.is_some())];
        return match stray.into_iter().find(|(_, given)| *given) {
            Some((name, _)) => Err(error(
                ErrorKind::Validation,
                format!("task `{id}`: {name} needs `map_over`, the key of the list the task runs once per element of"),
            )),
            None => Ok(None),
        };
    };
    let mut mapping = Mapping::over(key);
    mapping.max_parallel = options.max_parallel;
    mapping.outputs = options.map_outputs.map(<[String]>::to_vec).unwrap_or_default();
    if let Some(problem) = mapping.problem() {
        return Err(error(ErrorKind::Validation, format!("task `{id}`: {problem}")));
    }
    Ok(Some(mapping))
}

/// Fails with a `TypeError` naming the function if it cannot be called with one argument (the
/// context), so that the mistake shows where the task is defined rather than when it runs.
fn check_takes_context(py: Python<'_>, id: &str, function: &Bound<'_, PyAny>) -> PyResult<()> {
    let signature = match py.import("inspect")?.call_method1("signature", (function,)) {
        Ok(signature) => signature,
        // Some callables (built-ins, extension functions) have no signature to check.
        Err(_) => return Ok(()),
    };
    match signature.call_method1("bind", (py.None(),)) {
        Ok(_) => Ok(()),
        Err(problem) => {
            let name = function_name(function).unwrap_or_else(|_| type_name(function));
            Err(PyTypeError::new_err(format!(
                "task `{id}`: `{name}{signature}` cannot take the context ({}); a task function takes the context \
                 as its one required argument, e.g. `def {name}(context): ...`",
                problem.value(py)
            )))
        }
    }
}

/// Dependencies given as ids or Task (or RustTask) objects, as ids.
pub(crate) fn dependency_ids(task: &str, dependencies: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(dependencies) = dependencies.filter(|value| !value.is_none()) else {
        return Ok(Vec::new());
    };
    if dependencies.is_instance_of::<PyString>() {
        return Err(error(
            ErrorKind::Validation,
            format!("task `{task}`: dependencies must be a list of ids, not a single str (write [{dependencies}])"),
        ));
    }
    let mut ids = Vec::new();
    for item in dependencies.try_iter()? {
        let item = item?;
        if let Ok(other) = item.cast::<PyTask>() {
            ids.push(other.get().spec.id.clone());
        } else if let Ok(other) = item.cast::<PyRustTask>() {
            ids.push(other.get().task.metadata.id.clone());
        } else if item.is_instance_of::<PyString>() {
            ids.push(name_from_python("task id", &item)?);
        } else {
            return Err(error(
                ErrorKind::Validation,
                format!("task `{task}`: a dependency must be a task id or a Task, not `{}`", type_name(&item)),
            ));
        }
    }
    Ok(ids)
}

#[pymethods]
impl PyTask {
    #[new]
    #[pyo3(signature = (
        id, dependencies, function, *, retry = None, timeout = None, trigger = None, log_level = None, log_prints = None,
        concurrency_key = None, concurrency = None, map_over = None, max_parallel = None, map_outputs = None
    ))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        dependencies: Option<&Bound<'_, PyAny>>,
        function: &Bound<'_, PyAny>,
        retry: Option<Py<PyAny>>,
        timeout: Option<f64>,
        trigger: Option<Py<PyAny>>,
        log_level: Option<Py<PyAny>>,
        log_prints: Option<bool>,
        concurrency_key: Option<String>,
        concurrency: Option<u32>,
        map_over: Option<String>,
        max_parallel: Option<u32>,
        map_outputs: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let options = TaskOptions {
            retry: retry.as_ref(),
            timeout,
            trigger: trigger.as_ref(),
            log_level: log_level.as_ref(),
            log_prints,
            concurrency_key: concurrency_key.as_deref(),
            concurrency,
            map_over: map_over.as_deref(),
            max_parallel,
            map_outputs: map_outputs.as_deref(),
        };
        Self::build(py, name_from_python("task id", id)?, dependencies, function, &options)
    }

    /// The task's id.
    #[getter]
    fn id(&self) -> &str {
        &self.spec.id
    }

    /// Ids of the tasks it depends on.
    #[getter]
    fn dependencies(&self) -> Vec<String> {
        self.spec.dependencies.clone()
    }

    /// The function it runs.
    #[getter]
    fn function<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.spec.function.bind(py).clone()
    }

    /// Its retry policy, if it has one.
    #[getter]
    fn retry<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyRetryPolicy>> {
        self.spec.retry.as_ref().map(|retry| retry.bind(py).clone())
    }

    /// Its timeout in seconds, if it has one.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.spec.timeout.map(|timeout| timeout.as_secs_f64())
    }

    /// Its trigger rule.
    #[getter]
    fn trigger(&self) -> PyTriggerRule {
        PyTriggerRule { rule: self.spec.trigger.clone() }
    }

    /// The least severe log level kept with its attempts (a number, as `logging` has them), if
    /// it sets one.
    #[getter]
    fn log_level(&self) -> Option<u32> {
        self.spec.log_level.map(|level| level.0)
    }

    /// Whether its `print`s are kept with its logs, if it says.
    #[getter]
    fn log_prints(&self) -> Option<bool> {
        self.spec.log_prints
    }

    /// The key its concurrency limit counts attempts by, if it has a limit.
    #[getter]
    fn concurrency_key(&self) -> Option<&str> {
        self.spec.concurrency.as_ref().map(|limit| limit.key.as_str())
    }

    /// How many attempts holding its key may run at once, if it has a limit.
    #[getter]
    fn concurrency(&self) -> Option<u32> {
        self.spec.concurrency.as_ref().map(|limit| limit.limit)
    }

    /// The key of the list it runs once per element of, if it is a mapped task.
    #[getter]
    fn map_over(&self) -> Option<&str> {
        self.spec.mapping.as_ref().map(|mapping| mapping.key.as_str())
    }

    /// At most how many of its instances are ready or running at once, if it bounds them.
    #[getter]
    fn max_parallel(&self) -> Option<u32> {
        self.spec.mapping.as_ref().and_then(|mapping| mapping.max_parallel)
    }

    /// The keys its instances write that are gathered even when none wrote them.
    #[getter]
    fn map_outputs(&self) -> Vec<String> {
        self.spec.mapping.as_ref().map(|mapping| mapping.outputs.clone()).unwrap_or_default()
    }

    /// The decorated function, as `functools.wraps` would name it.
    #[getter]
    fn __wrapped__<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.spec.function.bind(py).clone()
    }

    /// Calls the function directly, outside any workflow.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.spec.function.bind(py).call(args, kwargs)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let id = PyString::new(py, &self.spec.id).repr()?;
        let dependencies = PyList::new(py, &self.spec.dependencies)?.repr()?;
        Ok(format!("Task(id={id}, dependencies={dependencies})"))
    }
}

/// The decorator `@task(...)` returns: applies the settings to a function.
#[pyclass(module = "cloacina", name = "TaskDecorator", frozen)]
pub struct PyTaskDecorator {
    id: Option<String>,
    dependencies: Py<PyAny>,
    retry: Option<Py<PyAny>>,
    timeout: Option<f64>,
    trigger: Option<Py<PyAny>>,
    log_level: Option<Py<PyAny>>,
    log_prints: Option<bool>,
    concurrency_key: Option<String>,
    concurrency: Option<u32>,
    map_over: Option<String>,
    max_parallel: Option<u32>,
    map_outputs: Option<Vec<String>>,
}

#[pymethods]
impl PyTaskDecorator {
    /// Makes `function` a task.
    fn __call__(&self, py: Python<'_>, function: &Bound<'_, PyAny>) -> PyResult<PyTask> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => name_from_python("task id", &PyString::new(py, &function_name(function)?))?,
        };
        let options = TaskOptions {
            retry: self.retry.as_ref(),
            timeout: self.timeout,
            trigger: self.trigger.as_ref(),
            log_level: self.log_level.as_ref(),
            log_prints: self.log_prints,
            concurrency_key: self.concurrency_key.as_deref(),
            concurrency: self.concurrency,
            map_over: self.map_over.as_deref(),
            max_parallel: self.max_parallel,
            map_outputs: self.map_outputs.as_deref(),
        };
        PyTask::build(py, id, Some(self.dependencies.bind(py)), function, &options)
    }
}

fn function_name(function: &Bound<'_, PyAny>) -> PyResult<String> {
    function.getattr("__name__").and_then(|name| name.extract::<String>()).map_err(|_| {
        error(ErrorKind::Validation, format!("`{}` has no __name__; give the task an id", type_name(function)))
    })
}

/// Makes a function a task: `@task` or `@task(id=..., dependencies=[...], ...)`.
///
/// Args:
///     function: The function, when used as `@task` without arguments.
///     id: The task's id; the function's name by default.
///     dependencies: Ids (or Task objects) of the tasks that must finish first.
///     retry: A number of attempts, or a `RetryPolicy`.
///     timeout: Seconds an attempt may take.
///     trigger: A `TriggerRule` or rule name.
///     log_level: The least severe `logging` records kept with each attempt (`"DEBUG"`, a
///         number...); the executor's `task_log_level` by default.
///     log_prints: Keep what the function `print`s with its logs; the executor's `log_prints`
///         by default.
///     concurrency_key: A key shared by tasks that may run only so many at once.
///     concurrency: How many attempts holding `concurrency_key` may run at once, across every
///         workflow and process on the database.
///     map_over: Run once per element of the list under this key of the input.
///     max_parallel: At most this many instances of a mapped task ready or running at once.
///     map_outputs: Keys a mapped task's instances write, gathered even when none wrote them.
///
/// Returns:
///     A `Task` when given a function, else a decorator that makes one.
///
/// Raises:
///     ValidationError: An argument is invalid.
#[pyfunction]
#[pyo3(signature = (
    function = None, /, *, id = None, dependencies = None, retry = None, timeout = None, trigger = None,
    log_level = None, log_prints = None, concurrency_key = None, concurrency = None, map_over = None,
    max_parallel = None, map_outputs = None
))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn task(
    py: Python<'_>,
    function: Option<&Bound<'_, PyAny>>,
    id: Option<Bound<'_, PyAny>>,
    dependencies: Option<Bound<'_, PyAny>>,
    retry: Option<Bound<'_, PyAny>>,
    timeout: Option<f64>,
    trigger: Option<Bound<'_, PyAny>>,
    log_level: Option<Bound<'_, PyAny>>,
    log_prints: Option<bool>,
    concurrency_key: Option<String>,
    concurrency: Option<u32>,
    map_over: Option<String>,
    max_parallel: Option<u32>,
    map_outputs: Option<Vec<String>>,
) -> PyResult<Py<PyAny>> {
    let decorator = PyTaskDecorator {
        id: id.map(|id| name_from_python("task id", &id)).transpose()?,
        dependencies: dependencies.map_or_else(|| PyList::empty(py).into_any().unbind(), Bound::unbind),
        retry: retry.map(Bound::unbind),
        timeout,
        trigger: trigger.map(Bound::unbind),
        log_level: log_level.map(Bound::unbind),
        log_prints,
        concurrency_key,
        concurrency,
        map_over,
        max_parallel,
        map_outputs,
    };
    match function {
        Some(function) => Ok(Py::new(py, decorator.__call__(py, function)?)?.into_any()),
        None => Ok(Py::new(py, decorator)?.into_any()),
    }
}
