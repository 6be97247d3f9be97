//! The C ABI through which tasks compiled into another module run on this engine.
//!
//! A Python extension module of the user's own (built with maturin, possibly by another
//! compiler version and against another copy of this crate) exports Rust tasks to the `cloacina`
//! Python package: the two share no Rust type, only the `#[repr(C)]` structures here, versioned
//! by [`TASK_ABI_VERSION`]. The exporting side (the *guest*, `abi::export` with the `python-export`
//! feature) puts a [`TaskTable`] in a Python capsule named [`TASK_TABLE_CAPSULE`]; the running
//! side (the *host*, the `cloacina` package) checks the version, reads each task's
//! [`TaskMetadata`], and runs a task by calling its entry's `execute` with the input context in
//! the stored value format (JSON, see `docs/content/reference/value-format.md`), getting back the task's delta or error.
//!
//! The first field of [`TaskTable`], `abi_version`, stays first in every version, so a host can
//! always read it and refuse a table it does not know.

// A C ABI is raw pointers by nature; each use says why it is sound.
#![allow(unsafe_code)]

#[cfg(feature = "python-export")]
pub mod export;

use std::ffi::{CStr, c_void};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::concurrency::ConcurrencyLimit;
use crate::mapping::Mapping;
use crate::retry::RetryPolicy;
use crate::task::Task;
use crate::trigger::TriggerRule;

/// The version of the structures here; a host refuses a table of another version.
pub const TASK_ABI_VERSION: u32 = 3;

/// The name of the Python capsule holding a module's [`TaskTable`].
pub const TASK_TABLE_CAPSULE: &CStr = c"cloacina.task_table";

/// Bytes lent for the duration of a call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Borrowed {
    /// The first byte (any value, null included, when `len` is 0).
    pub data: *const u8,
    /// How many bytes.
    pub len: usize,
}

impl Borrowed {
    /// No bytes.
    pub const EMPTY: Self = Self { data: std::ptr::null(), len: 0 };

    /// Lends `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self { data: bytes.as_ptr(), len: bytes.len() }
    }

    /// The bytes lent.
    ///
    /// # Safety
    /// `data` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller vouches for the pointer and the length.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

/// How an attempt ended, in [`Outcome::status`].
pub mod status {
    /// The task completed; the payload is its delta (JSON: `{"written": {...}, "removed": [...]}`).
    pub const COMPLETED: u32 = 0;
    /// The task failed and may succeed if tried again; the payload is the message.
    pub const FAILED_RETRYABLE: u32 = 1;
    /// The task failed for good; the payload is the message.
    pub const FAILED_PERMANENT: u32 = 2;
    /// The task panicked; the payload is the panic's message.
    pub const PANICKED: u32 = 3;
    /// The attempt stopped because the host cancelled it.
    pub const CANCELLED: u32 = 4;
}

/// What one attempt gave back: bytes lent by the guest until the host calls
/// [`TaskTable::release`] with it.
#[repr(C)]
#[derive(Debug)]
pub struct Outcome {
    /// One of the values in [`status`].
    pub status: u32,
    /// The delta or the message (UTF-8).
    pub payload: Borrowed,
    /// The binary data the delta's values refer to (see [`crate::blobs`]), in pairs:
    /// `blobs[2 * i]` a digest (hex text), `blobs[2 * i + 1]` its data.
    pub blobs: *const Borrowed,
    /// How many entries `blobs` holds (twice the number of blobs).
    pub blob_entries: usize,
    /// The guest's own record of what it lent, for `release`.
    pub guest: *mut c_void,
    /// What the task logged during the attempt (its `tracing` events), as a JSON array of
    /// [`LogRecord`](crate::logs::LogRecord)s; empty when it logged nothing.
    pub logs: Borrowed,
}

impl Outcome {
    /// An outcome not yet filled in.
    pub const PENDING: Self = Self {
        status: status::PANICKED,
        payload: Borrowed::EMPTY,
        blobs: std::ptr::null(),
        blob_entries: 0,
        guest: std::ptr::null_mut(),
        logs: Borrowed::EMPTY,
    };
}

/// Whether the attempt has been stopped: the host's `host` pointer.
pub type IsCancelled = unsafe extern "C" fn(host: *const c_void) -> bool;

/// Loads binary data the input context refers to: the host's `host` pointer, the digest, and
/// where to put the data, which stays valid until the call returns. False when it cannot.
pub type LoadBlob = unsafe extern "C" fn(host: *const c_void, digest: Borrowed, found: *mut Borrowed) -> bool;

/// One attempt's input, lent by the host for the duration of `execute`.
#[repr(C)]
#[derive(Debug)]
pub struct Call {
    /// The input context: a JSON object of stored values.
    pub context: Borrowed,
    /// The host's state for `is_cancelled` and `load_blob`.
    pub host: *const c_void,
    /// True once the host has stopped the attempt (its timeout passed, its execution was
    /// cancelled, or the process is stopping): the guest then stops the task as soon as it can.
    /// Cheap; the guest asks every few milliseconds while the task runs.
    pub is_cancelled: IsCancelled,
    /// Loads binary data by digest.
    pub load_blob: LoadBlob,
    /// The least severe level of the records the attempt keeps (a
    /// [`LogLevel`](crate::logs::LogLevel)'s number; `u32::MAX` keeps none).
    pub log_level: u32,
}

/// Runs one attempt of the entry's task: `task` is the entry's own pointer.
pub type Execute = unsafe extern "C" fn(task: *const c_void, call: *const Call, outcome: *mut Outcome);

/// Ends the loan of what an [`Outcome`] holds.
pub type Release = unsafe extern "C" fn(outcome: *mut Outcome);

/// One exported task.
#[repr(C)]
#[derive(Debug)]
pub struct TaskEntry {
    /// The task's [`TaskMetadata`], as JSON.
    pub metadata: Borrowed,
    /// The guest's pointer to the task, passed back to `execute`.
    pub task: *const c_void,
    /// Runs an attempt. May be called from any thread, several at once.
    pub execute: Execute,
}

/// A module's exported tasks. Lives as long as the module (for ever: Python does not unload
/// extension modules).
#[repr(C)]
#[derive(Debug)]
pub struct TaskTable {
    /// [`TASK_ABI_VERSION`] of the guest; always the first field.
    pub abi_version: u32,
    /// The tasks.
    pub tasks: *const TaskEntry,
    /// How many.
    pub task_count: usize,
    /// Ends the loan of an outcome's bytes.
    pub release: Release,
}

/// What the host needs to know of a task besides running it, as its [`TaskEntry::metadata`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMetadata {
    /// The name the module exports the task under (its Rust function's name).
    pub name: String,
    /// The task's id.
    pub id: String,
    /// The ids of the tasks it depends on.
    pub dependencies: Vec<String>,
    /// How it is retried.
    pub retry: RetryPolicy,
    /// How long an attempt may run, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// When it runs, given its dependencies' outcomes.
    pub trigger: TriggerRule,
    /// Its concurrency limit, if it has one (absent from the metadata of modules built before
    /// limits existed: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencyLimit>,
    /// The list it runs once per element of, if it is a mapped task (absent likewise: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Mapping>,
}

impl TaskMetadata {
    /// The metadata of a task exported under `name`.
    pub fn of(name: &str, task: &dyn Task) -> Self {
        Self {
            name: name.to_owned(),
            id: task.id().to_owned(),
            dependencies: task.dependencies().to_vec(),
            retry: task.retry_policy(),
            timeout_ms: task.timeout().map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            trigger: task.trigger_rule(),
            concurrency: task.concurrency(),
            mapping: task.mapping(),
        }
    }

    /// The attempt timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}
