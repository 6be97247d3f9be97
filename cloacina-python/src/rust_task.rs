//! Rust tasks exported by another extension module (the host side of `cloacina::abi`):
//! `cloacina.RustTask`, and the engine task that runs one through the module's task table.
//!
//! The exporting module calls `_adopt_rust_tasks` ([`adopt_rust_tasks`]) while Python imports
//! it; that checks the table's ABI version and adds a `RustTask` per task to the module. An
//! attempt runs without the GIL, in place on the runtime worker that claimed it (or on a
//! blocking thread when every core already runs one): the input context goes over as JSON, the
//! task's delta and binary data come back, and the engine records them as for any task.

// Calling into another module through its C ABI means following its raw pointers.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use cloacina::abi::{
    self, Borrowed, Call, Outcome, TASK_ABI_VERSION, TASK_TABLE_CAPSULE, TaskEntry, TaskMetadata, TaskTable,
};
use cloacina::blobs::Blobs;
use cloacina::{
    AttemptLog, Context, ContextDelta, LogLevel, LogRecord, RetryPolicy, StopSignal, Task, TaskError, TriggerRule,
};
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyList, PyString};

use crate::api::task::dependency_ids;
use crate::running::runtime::on_multi_threaded_runtime;
use crate::running::spans;
use crate::values::name_from_python;

/// A task written in Rust and exported by an extension module built with
/// `cloacina::python_tasks!`; list it in `workflow(tasks=[...])` next to Python tasks.
///
/// Made by the module when Python imports it (`from my_rust_tasks import resize_images`), not
/// by hand. It runs on the engine's threads, without holding the GIL.
#[pyclass(module = "cloacina", name = "RustTask", frozen)]
pub struct PyRustTask {
    pub(crate) task: Arc<ExportedTask>,
    module: String,
}

#[pymethods]
impl PyRustTask {
    /// The task's id.
    #[getter]
    fn id(&self) -> &str {
        &self.task.metadata.id
    }

    /// The ids of the tasks it depends on.
    #[getter]
    fn dependencies(&self) -> Vec<String> {
        self.task.metadata.dependencies.clone()
    }

    /// The module that exports it.
    #[getter]
    fn module(&self) -> &str {
        &self.module
    }

    /// The same Rust function as a task of another id (and dependencies): one exported task at
    /// several places of a workflow, or in workflows whose ids differ.
    ///
    /// Args:
    ///     id: The new task's id.
    ///     dependencies: Ids (or tasks) it depends on; by default this task's dependencies.
    ///
    /// Returns:
    ///     A new `RustTask`; this one is unchanged.
    ///
    /// Raises:
    ///     WorkflowValidationError: The id is empty, too long or holds a control character.
    #[pyo3(signature = (id, *, dependencies = None))]
    fn with_id(&self, id: &Bound<'_, PyAny>, dependencies: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut metadata = self.task.metadata.clone();
        metadata.id = name_from_python("task id", id)?;
        if dependencies.is_some() {
            metadata.dependencies = dependency_ids(&metadata.id, dependencies)?;
        }
        let task =
            ExportedTask { retry: metadata.retry.clone(), metadata, entry: self.task.entry, table: self.task.table };
        Ok(Self { task: Arc::new(task), module: self.module.clone() })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let id = PyString::new(py, &self.task.metadata.id).repr()?;
        let dependencies = PyList::new(py, &self.task.metadata.dependencies)?.repr()?;
        let module = PyString::new(py, &self.module).repr()?;
        Ok(format!("RustTask(id={id}, dependencies={dependencies}, module={module})"))
    }
}

/// Adds a `RustTask` per task of the capsule's table to `module`, under the name of the task's
/// function. Called by an exporting module's `PyInit_` function; raises `ImportError` (so the
/// import fails with it) when the table is of another ABI version or unreadable.
#[pyfunction(name = "_adopt_rust_tasks")]
pub fn adopt_rust_tasks(module: &Bound<'_, PyModule>, capsule: &Bound<'_, PyCapsule>) -> PyResult<()> {
    let name = module.name()?.to_string();
    let table = capsule.pointer_checked(Some(TASK_TABLE_CAPSULE))?.cast::<TaskTable>();
    // SAFETY: the capsule's name says it holds a task table; its first field is the ABI version
    // in every version of the ABI, so it can be read before knowing the rest.
    let version = unsafe { table.cast::<u32>().read() };
    if version != TASK_ABI_VERSION {
        return Err(PyImportError::new_err(format!(
            "module `{name}` exports Rust tasks built for version {version} of Cloacina's task ABI, but cloacina {} \
             reads version {TASK_ABI_VERSION}; rebuild `{name}` against the `cloacina` crate of the installed \
             package's version ({})",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION"),
        )));
    }
    // SAFETY: a table of this version, which lives as long as the process (see `TaskTable`).
    let table: &'static TaskTable = unsafe { table.as_ref() };
    let entries: &'static [TaskEntry] = if table.task_count == 0 {
        &[]
    } else {
        // SAFETY: the table holds `task_count` entries.
        unsafe { std::slice::from_raw_parts(table.tasks, table.task_count) }
    };
    for entry in entries {
        // SAFETY: the metadata lives as long as the table.
        let metadata: TaskMetadata = serde_json::from_slice(unsafe { entry.metadata.as_slice() }).map_err(|error| {
            PyImportError::new_err(format!(
                "module `{name}` exports a Rust task whose description cannot be read: {error}"
            ))
        })?;
        let export_name = metadata.name.clone();
        let task = Arc::new(ExportedTask { retry: metadata.retry.clone(), metadata, entry, table });
        module.add(export_name.as_str(), PyRustTask { task, module: name.clone() })?;
    }
    Ok(())
}

/// An exported task as the engine sees it.
pub struct ExportedTask {
    pub(crate) metadata: TaskMetadata,
    retry: RetryPolicy,
    entry: &'static TaskEntry,
    table: &'static TaskTable,
}

// SAFETY: the table and its entries are immutable and live for ever, and the ABI lets
// `execute` be called from any thread, several at once.
unsafe impl Send for ExportedTask {}
// SAFETY: as above.
unsafe impl Sync for ExportedTask {}

#[async_trait]
impl Task for ExportedTask {
    fn id(&self) -> &str {
        &self.metadata.id
    }

    fn dependencies(&self) -> &[String] {
        &self.metadata.dependencies
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry.clone()
    }

    fn timeout(&self) -> Option<Duration> {
        self.metadata.timeout()
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.metadata.trigger.clone()
    }

    fn concurrency(&self) -> Option<cloacina::ConcurrencyLimit> {
        self.metadata.concurrency.clone()
    }

    fn mapping(&self) -> Option<cloacina::Mapping> {
        self.metadata.mapping.clone()
    }

    async fn execute(&self, mut context: Context) -> Result<Context, TaskError> {
        let input = serde_json::to_vec(context.as_map())
            .map_err(|error| TaskError::permanent(format!("the input context cannot be written as JSON: {error}")))?;
        let host = Arc::new(Host {
            blobs: context.blobs().clone(),
            loaded: Mutex::new(Vec::new()),
            dropped: AtomicBool::new(false),
            stop: context.attempt().map(|attempt| attempt.stop.clone()),
        });
        // The guest sees the attempt stopped when its future is dropped, as well as when the
        // engine's stop signal turns on (which it watches even while it runs in place).
        let guard = StopOnDrop(Arc::clone(&host));
        // Held by the call, not the attempt: a call that outlives its attempt (stopped, it still
        // has to notice) keeps its slot of the executor's capacity until it returns.
        let slot = context.take_slot();
        let (entry, table) = (EntryPointer(self.entry), TablePointer(self.table));
        let log = context.attempt().map(|attempt| attempt.log.clone()).unwrap_or_default();
        let timed = context.attempt().and_then(spans::time_attempt);
        let run = move || {
            let returned = call(entry.get(), table.get(), &input, &host, &log);
            drop(slot);
            returned
        };
        let returned = match InPlace::try_take() {
            // On this worker: no hand-off to a blocking thread and back (two thread wake-ups).
            Some(_in_place) => tokio::task::block_in_place(run),
            None => tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|failed| Err(TaskError::Panicked(failed.to_string()))),
        };
        drop(guard);
        if let Some(timed) = timed {
            timed.record(returned.as_ref().err().map(ToString::to_string)).await;
        }
        // A call that ran past its timeout (in place, its future could not be dropped) ends as a
        // timeout whatever it returned: the engine sees the time it took.
        let Returned { delta, blobs } = returned?;
        for key in &delta.removed {
            context.remove(key);
        }
        for (digest, data) in blobs {
            context.blobs_mut().add_digested(digest, data);
        }
        for (key, value) in delta.written {
            context.set(key, value);
        }
        Ok(context)
    }
}

/// Runs one attempt through the guest's table: what it returned, copied.
fn call(
    entry: &'static TaskEntry,
    table: &'static TaskTable,
    input: &[u8],
    host: &Arc<Host>,
    log: &AttemptLog,
) -> Result<Returned, TaskError> {
    let call = Call {
        context: Borrowed::of(input),
        host: Arc::as_ptr(host).cast(),
        is_cancelled,
        load_blob,
        log_level: log.level().0,
    };
    let mut outcome = Outcome::PENDING;
    // SAFETY: the entry's `execute` with its own task pointer, and a call whose parts all live
    // until it returns.
    unsafe { (entry.execute)(entry.task, &call, &mut outcome) };
    keep_logs(&outcome, log);
    let returned = returned(&outcome);
    // SAFETY: the outcome `execute` filled in, released once.
    unsafe { (table.release)(&mut outcome) };
    returned
}

/// Calls running in place on the runtime's workers, at most one per core: each moves its
/// worker's other tasks to a new thread (`block_in_place`), which many at once (a fan-out)
/// would multiply; past that they run on blocking threads.
static IN_PLACE: AtomicUsize = AtomicUsize::new(0);

/// A call's place on a worker, given back when dropped.
struct InPlace;

impl InPlace {
    /// A place, on a worker of a multi-threaded runtime with a place free.
    fn try_take() -> Option<Self> {
        // Read once: finding the number of cores reads the cgroup's files, tens of microseconds.
        static LIMIT: OnceLock<usize> = OnceLock::new();
        let limit = *LIMIT.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
        let taken = on_multi_threaded_runtime()
            && IN_PLACE
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| (count < limit).then_some(count + 1))
                .is_ok();
        taken.then_some(Self)
    }
}

impl Drop for InPlace {
    fn drop(&mut self) {
        IN_PLACE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The entry and table, sent to the blocking thread.
#[derive(Clone, Copy)]
struct EntryPointer(&'static TaskEntry);
// SAFETY: see `ExportedTask`.
unsafe impl Send for EntryPointer {}

impl EntryPointer {
    /// The entry (a method, so that a closure captures the whole `Send` wrapper).
    fn get(self) -> &'static TaskEntry {
        self.0
    }
}

#[derive(Clone, Copy)]
struct TablePointer(&'static TaskTable);
// SAFETY: see `ExportedTask`.
unsafe impl Send for TablePointer {}

impl TablePointer {
    /// The table (a method, so that a closure captures the whole `Send` wrapper).
    fn get(self) -> &'static TaskTable {
        self.0
    }
}

/// Marks the attempt stopped when its future is dropped.
struct StopOnDrop(Arc<Host>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::Release);
    }
}

/// The host's side of a call: whether the attempt was stopped, and the input context's binary
/// data, kept alive (once loaded) until the call returns.
struct Host {
    blobs: Blobs,
    loaded: Mutex<Vec<Arc<[u8]>>>,
    /// The attempt's future was dropped (its timeout passed, or its execution was cancelled).
    dropped: AtomicBool,
    /// The engine's signal to stop the attempt.
    stop: Option<StopSignal>,
}

/// [`Call::is_cancelled`].
unsafe extern "C" fn is_cancelled(host: *const c_void) -> bool {
    // SAFETY: `host` is the call's `Host`, alive until the call returns.
    let host = unsafe { &*host.cast::<Host>() };
    host.dropped.load(Ordering::Acquire) || host.stop.as_ref().is_some_and(StopSignal::is_stopped)
}

/// [`Call::load_blob`].
unsafe extern "C" fn load_blob(host: *const c_void, digest: Borrowed, found: *mut Borrowed) -> bool {
    // SAFETY: `host` is the call's `Host` and the digest is lent for this call.
    let (host, digest) = unsafe { (&*host.cast::<Host>(), digest.as_slice()) };
    let Ok(digest) = std::str::from_utf8(digest) else { return false };
    let Ok(data) = host.blobs.get(digest) else { return false };
    // SAFETY: the data stays in `loaded` until the call returns.
    unsafe { found.write(Borrowed::of(&data)) };
    host.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(data);
    true
}

/// A completed attempt's delta and the binary data its values refer to, by digest.
struct Returned {
    delta: ContextDelta,
    blobs: Vec<(String, Arc<[u8]>)>,
}

/// Keeps what the task logged in the attempt's log.
fn keep_logs(outcome: &Outcome, log: &AttemptLog) {
    // SAFETY: an outcome `execute` filled in and not yet released.
    let logs = unsafe { outcome.logs.as_slice() };
    if logs.is_empty() {
        return;
    }
    match serde_json::from_slice::<Vec<LogRecord>>(logs) {
        Ok(records) => records.into_iter().for_each(|record| log.push(record)),
        Err(error) => {
            log.log(LogLevel::WARNING, "cloacina", format!("the Rust task's log records are unreadable: {error}"))
        }
    }
}

/// Reads the outcome, copying what is kept (the guest frees its bytes afterwards).
fn returned(outcome: &Outcome) -> Result<Returned, TaskError> {
    // SAFETY: an outcome `execute` filled in and not yet released.
    let payload = unsafe { outcome.payload.as_slice() };
    let text = || String::from_utf8_lossy(payload).into_owned();
    match outcome.status {
        abi::status::COMPLETED => {
            let delta: ContextDelta = serde_json::from_slice(payload)
                .map_err(|error| TaskError::permanent(format!("the Rust task's output cannot be read: {error}")))?;
            let entries = if outcome.blobs.is_null() {
                &[][..]
            } else {
                // SAFETY: the outcome holds `blob_entries` entries.
                unsafe { std::slice::from_raw_parts(outcome.blobs, outcome.blob_entries) }
            };
            let blobs = entries
                .chunks_exact(2)
                // SAFETY: as above.
                .map(|pair| unsafe {
                    (String::from_utf8_lossy(pair[0].as_slice()).into_owned(), Arc::from(pair[1].as_slice()))
                })
                .collect();
            Ok(Returned { delta, blobs })
        }
        abi::status::FAILED_RETRYABLE => Err(TaskError::new(text())),
        abi::status::FAILED_PERMANENT => Err(TaskError::permanent(text())),
        abi::status::PANICKED => Err(TaskError::Panicked(text())),
        abi::status::CANCELLED => Err(TaskError::new("the Rust task stopped: its attempt was cancelled")),
        other => Err(TaskError::permanent(format!("the Rust task ended with an unknown status {other}"))),
    }
}
