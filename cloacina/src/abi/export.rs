//! The guest side of the task ABI (the `python-export` feature): Rust tasks exported from a
//! Python extension module of the user's own, made with [`python_tasks!`](crate::python_tasks).
//!
//! [`module`] builds the module's [`TaskTable`] and the module itself with the CPython API, then
//! hands both to `cloacina._native._adopt_rust_tasks`, which checks the ABI version and adds a
//! task object per task to the module. An attempt runs on the host's thread that calls
//! `execute` (one of the engine's, not holding the GIL), on a runtime of this module's own.

// The CPython API and the C ABI are raw pointers by nature; each use says why it is sound.
#![allow(unsafe_code)]

/// The CPython API, for the `PyInit_` function `python_tasks!` writes.
pub use pyo3_ffi as ffi;

use std::ffi::{CStr, c_void};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{
    Borrowed, Call, Outcome, TASK_ABI_VERSION, TASK_TABLE_CAPSULE, TaskEntry, TaskMetadata, TaskTable, status,
};
use crate::blobs::{BlobSource, Blobs};
use crate::context::Context;
use crate::error::{StoreError, TaskError};
use crate::logs::{AttemptLog, LogLevel, Logging, TaskLogLayer};
use crate::task::{Task, panic_message};

/// How often a running task checks whether the host cancelled it.
const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(5);

/// The runtime this module's tasks run on (one per module: the host's is out of reach).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("cloacina-exported-tasks")
            .enable_all()
            .build()
            .expect("start the runtime of the exported tasks")
    })
}

/// A task kept for the table, with its metadata as JSON.
struct Exported {
    task: Box<dyn Task>,
    metadata: Vec<u8>,
}

/// The table of `tasks`, each under the name it is exported as; leaked: it lives as long as the
/// module, which is never unloaded.
pub fn table(tasks: Vec<(&str, Box<dyn Task>)>) -> &'static TaskTable {
    let exported: &'static [Exported] = Vec::leak(
        tasks
            .into_iter()
            .map(|(name, task)| {
                let metadata = serde_json::to_vec(&TaskMetadata::of(name, task.as_ref())).unwrap_or_default();
                Exported { task, metadata }
            })
            .collect(),
    );
    let entries: &'static [TaskEntry] = Vec::leak(
        exported
            .iter()
            .map(|exported| TaskEntry {
                metadata: Borrowed::of(&exported.metadata),
                task: std::ptr::from_ref(exported).cast(),
                execute,
            })
            .collect(),
    );
    Box::leak(Box::new(TaskTable {
        abi_version: TASK_ABI_VERSION,
        tasks: entries.as_ptr(),
        task_count: entries.len(),
        release,
    }))
}

/// Loads the input's binary data through the host, while the call lasts.
struct HostBlobs {
    /// The call, or `None` once it has returned.
    call: Mutex<Option<CallPointer>>,
}

#[derive(Clone, Copy)]
struct CallPointer(*const Call);

// SAFETY: the pointer is only followed while the call lasts (checked under the mutex), and the
// host's loader may be called from any thread.
unsafe impl Send for CallPointer {}

impl BlobSource for HostBlobs {
    fn load(&self, digest: &str) -> Result<Arc<[u8]>, StoreError> {
        let call = self.call.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(CallPointer(call)) = *call else {
            return Err(StoreError::Corrupt(format!(
                "binary data {digest} was read after its task's attempt ended; read it inside the task"
            )));
        };
        let mut found = Borrowed { data: std::ptr::null(), len: 0 };
        // SAFETY: the call is live (checked above, the lock held until the data is copied), and
        // the host keeps `found` valid until the call returns.
        let loaded = unsafe { ((*call).load_blob)((*call).host, Borrowed::of(digest.as_bytes()), &mut found) };
        if !loaded {
            return Err(StoreError::Corrupt(format!("the host could not load binary data {digest}")));
        }
        // SAFETY: as above.
        Ok(Arc::from(unsafe { found.as_slice() }))
    }
}

/// What an outcome lends the host, kept by the guest until [`release`].
#[derive(Default)]
struct Lent {
    payload: Vec<u8>,
    digests: Vec<String>,
    data: Vec<Arc<[u8]>>,
    entries: Vec<Borrowed>,
    logs: Vec<u8>,
}

impl Lent {
    /// The outcome lending these bytes.
    fn outcome(status: u32, mut lent: Box<Lent>) -> Outcome {
        lent.entries = lent
            .digests
            .iter()
            .zip(&lent.data)
            .flat_map(|(digest, data)| [Borrowed::of(digest.as_bytes()), Borrowed::of(data)])
            .collect();
        let (payload, blobs, blob_entries) = (Borrowed::of(&lent.payload), lent.entries.as_ptr(), lent.entries.len());
        let logs = Borrowed::of(&lent.logs);
        Outcome { status, payload, blobs, blob_entries, guest: Box::into_raw(lent).cast(), logs }
    }

    /// A message as the payload.
    fn message(text: String) -> Box<Lent> {
        Box::new(Lent { payload: text.into_bytes(), ..Lent::default() })
    }
}

fn message(status: u32, text: String) -> Outcome {
    Lent::outcome(status, Lent::message(text))
}

/// [`TaskEntry::execute`]: runs an attempt, never unwinding into the host.
unsafe extern "C" fn execute(task: *const c_void, call: *const Call, outcome: *mut Outcome) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `task` is the entry's pointer to its `Exported`, which lives for ever, and
        // the host lends `call` for the duration of this function.
        let (exported, call) = unsafe { (&*task.cast::<Exported>(), &*call) };
        run(exported.task.as_ref(), call)
    }));
    let result = result.unwrap_or_else(|panic| message(status::PANICKED, panic_message(&*panic)));
    // SAFETY: the host passes a writable outcome.
    unsafe { outcome.write(result) };
}

fn run(task: &dyn Task, call: &Call) -> Outcome {
    // SAFETY: the host lends the context's JSON for the duration of the call.
    let input = unsafe { call.context.as_slice() };
    let values: Map<String, Value> = match serde_json::from_slice(input) {
        Ok(values) => values,
        Err(error) => {
            return message(status::FAILED_PERMANENT, format!("the input context is not a JSON object: {error}"));
        }
    };
    let source = Arc::new(HostBlobs { call: Mutex::new(Some(CallPointer(call))) });
    let mut blobs = Blobs::default();
    blobs.set_source(Arc::clone(&source) as Arc<dyn BlobSource>);
    let context = Context::from_parts(values, blobs);
    let log = AttemptLog::new(LogLevel(call.log_level));
    let running = Logging::new(log.clone(), until_cancelled(task.execute(context), call));
    keep_task_logs();
    let result = runtime().block_on(running);
    *source.call.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    let (status, mut lent) = match result {
        None => (status::CANCELLED, Lent::message("the attempt was cancelled".to_owned())),
        Some(Ok(context)) => completed(&context),
        Some(Err(error)) => {
            let status = if error.is_retryable() { status::FAILED_RETRYABLE } else { status::FAILED_PERMANENT };
            (status, Lent::message(failure_message(&error)))
        }
    };
    let records = log.take();
    if !records.is_empty() {
        lent.logs = serde_json::to_vec(&records).unwrap_or_default();
    }
    Lent::outcome(status, lent)
}

/// Makes sure the tasks' `tracing` events are kept in their attempts' logs: this module's copy
/// of `tracing` gets a subscriber of [`TaskLogLayer`] as its global default, unless the module
/// set one of its own before its first task ran (which should then include the layer).
fn keep_task_logs() {
    static KEEPING: OnceLock<()> = OnceLock::new();
    KEEPING.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(TaskLogLayer::filtered()));
    });
}

fn failure_message(error: &TaskError) -> String {
    match error {
        TaskError::Panicked(text) => format!("task panicked: {text}"),
        other => other.to_string(),
    }
}

/// The task's future, or `None` once the host has stopped the attempt (the future is dropped
/// then, as the engine stops any Rust task). The task is polled first, so that one that ends at
/// once costs no timer.
async fn until_cancelled<F: Future>(future: F, call: &Call) -> Option<F::Output> {
    // SAFETY: the host lends `call`, and its state, until `execute` returns.
    let is_cancelled = || unsafe { (call.is_cancelled)(call.host) };
    let watch = async {
        while !is_cancelled() {
            tokio::time::sleep(CANCEL_CHECK_INTERVAL).await;
        }
    };
    tokio::select! {
        biased;
        output = future => Some(output),
        () = watch => None,
    }
}

fn completed(context: &Context) -> (u32, Box<Lent>) {
    let delta = context.delta();
    let payload = match serde_json::to_vec(&delta) {
        Ok(payload) => payload,
        Err(error) => {
            return (status::FAILED_PERMANENT, Lent::message(format!("the task's output cannot be stored: {error}")));
        }
    };
    let (digests, data) = delta.blobs.into_iter().unzip();
    (status::COMPLETED, Box::new(Lent { payload, digests, data, ..Lent::default() }))
}

/// [`TaskTable::release`]: ends the loan of what [`execute`] lent.
unsafe extern "C" fn release(outcome: *mut Outcome) {
    // SAFETY: the host passes an outcome `execute` filled in, once.
    let outcome = unsafe { &mut *outcome };
    if !outcome.guest.is_null() {
        // SAFETY: made by `Lent::outcome` with `Box::into_raw`.
        drop(unsafe { Box::from_raw(outcome.guest.cast::<Lent>()) });
    }
    *outcome = Outcome::PENDING;
}

/// Creates the extension module `name` holding `tasks`, each under the name it is exported as:
/// what `python_tasks!` calls from the module's `PyInit_` function. Returns the module, or null
/// with a Python exception set.
///
/// # Safety
/// Must be called by the Python interpreter importing the module (holding the GIL).
pub unsafe fn module(name: &'static CStr, tasks: Vec<(&str, Box<dyn Task>)>) -> *mut ffi::PyObject {
    // SAFETY: the caller's contract.
    unsafe { module_with_table(name, table(tasks)) }
}

/// Creates the extension module `name` holding the tasks of `table` (see [`module`]).
///
/// # Safety
/// Must be called by the Python interpreter importing the module (holding the GIL).
pub unsafe fn module_with_table(name: &'static CStr, table: &'static TaskTable) -> *mut ffi::PyObject {
    let definition = Box::leak(Box::new(ffi::PyModuleDef {
        m_base: ffi::PyModuleDef_HEAD_INIT,
        m_name: name.as_ptr(),
        m_doc: c"Rust tasks exported to Cloacina workflows.".as_ptr(),
        m_size: -1,
        m_methods: std::ptr::null_mut(),
        m_slots: std::ptr::null_mut(),
        m_traverse: None,
        m_clear: None,
        m_free: None,
    }));
    // SAFETY: the GIL is held (the caller's contract); every object made here is either handed
    // to the tuple (which takes the reference) or released before returning.
    unsafe {
        let module = ffi::PyModule_Create(definition);
        if module.is_null() {
            return module;
        }
        let capsule =
            ffi::PyCapsule_New(std::ptr::from_ref(table).cast_mut().cast(), TASK_TABLE_CAPSULE.as_ptr(), None);
        let native = ffi::PyImport_ImportModule(c"cloacina._native".as_ptr());
        let adopt = if native.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::PyObject_GetAttrString(native, c"_adopt_rust_tasks".as_ptr())
        };
        let arguments = ffi::PyTuple_New(2);
        let adopted = if capsule.is_null() || adopt.is_null() || arguments.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::Py_IncRef(module);
            ffi::PyTuple_SetItem(arguments, 0, module);
            ffi::PyTuple_SetItem(arguments, 1, capsule);
            ffi::PyObject_CallObject(adopt, arguments)
        };
        if arguments.is_null() && !capsule.is_null() {
            ffi::Py_DecRef(capsule);
        }
        for object in [arguments, adopt, native, adopted] {
            if !object.is_null() {
                ffi::Py_DecRef(object);
            }
        }
        if adopted.is_null() {
            ffi::Py_DecRef(module);
            return std::ptr::null_mut();
        }
        module
    }
}
