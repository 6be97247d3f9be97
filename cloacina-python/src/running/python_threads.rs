//! Python on the engine's threads: the thread states they keep, and running a call on the
//! worker thread already running the attempt (its other tasks moving to another thread
//! meanwhile). Calls that do not run in place go to the pool of `python_pool.rs`.
//!
//! Attaching a thread that has no Python thread state creates one, and detaching deletes it:
//! CPython maps and unmaps the state's frame stack each time, and unmapping in a threaded process
//! interrupts every core to flush its address translations, which costs more than a short task.
//! So each thread that runs Python calls keeps the state it first made until the thread ends.
//!
//! This is the crate's only `unsafe` code: two calls into the CPython API that PyO3 does not wrap.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;

use crate::running::calls::{self, CallOf};
use crate::running::runtime::on_multi_threaded_runtime;

/// Set when the interpreter starts exiting: a thread ending after that leaves its state to
/// the interpreter's own clean-up rather than taking the GIL from a finalizing interpreter.
static EXITING: AtomicBool = AtomicBool::new(false);

/// A thread state made for this thread and kept while the thread lives.
struct KeptState {
    /// What making it returned, to undo it.
    made: ffi::PyGILState_STATE,
}

impl Drop for KeptState {
    fn drop(&mut self) {
        // Counted as a call in flight before the exit flag is read, like every other way to the
        // GIL: the interpreter's exit waits for counted calls, so it cannot begin finalizing (and
        // free this state, or the key that finds it) while this thread is on its way to the GIL.
        let _in_flight = calls::begin(CallOf::default());
        // SAFETY: the interpreter is initialized and not exiting, so taking the GIL returns.
        // Taking it again counts a second use of this thread's state; giving back that one
        // keeps the GIL, and giving back the first deletes the state and releases the GIL.
        unsafe {
            if EXITING.load(Ordering::SeqCst) || ffi::Py_IsInitialized() == 0 {
                return;
            }
            ffi::PyGILState_Ensure();
            ffi::PyGILState_Release(ffi::PyGILState_STATE::PyGILState_LOCKED);
            ffi::PyGILState_Release(self.made);
        }
    }
}

thread_local! {
    static KEPT: RefCell<Option<KeptState>> = const { RefCell::new(None) };
}

/// Gives this thread a Python thread state that outlives each call, if it has none yet. Call it
/// only as part of a call counted in flight (`calls::begin`) and begun before the exit flag was
/// found unset, as attaching is.
pub fn keep_thread_state() {
    KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.is_none() {
            // SAFETY: this thread is not attached to Python here. Making the state
            // takes the GIL; saving the thread gives the GIL back and leaves the state current
            // for later attaches, which then only take and give back the GIL.
            unsafe {
                let made = ffi::PyGILState_Ensure();
                ffi::PyEval_SaveThread();
                *kept = Some(KeptState { made });
            }
        }
    });
}

/// Notes that the interpreter is exiting (see [`EXITING`]).
pub fn interpreter_exiting() {
    EXITING.store(true, Ordering::SeqCst);
}

/// Whether the interpreter has started exiting.
pub fn is_exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// Whether a call runs in place now (see [`try_call_in_place`]).
static IN_PLACE: AtomicBool = AtomicBool::new(false);

/// Runs `body` with the GIL on this thread, counted as the call in flight `call` describes, if
/// no other call runs in place, this is a worker of the multi-threaded runtime and the
/// interpreter is not exiting; otherwise gives `body` back.
///
/// The worker's other tasks move to another thread first, so that nothing waits behind the
/// call, and the attempt needs no hand-off to a blocking thread and back, which costs two thread
/// wake-ups on its way. One call at a time: calls wait for the GIL in turn anyway, and each
/// worker moved away costs a thread, which many ready calls at once (a fan-out) would multiply.
pub fn try_call_in_place<T, F>(call: CallOf, body: F) -> Result<T, F>
where
    F: FnOnce(Python<'_>) -> T,
{
    if !on_multi_threaded_runtime() || IN_PLACE.swap(true, Ordering::Acquire) {
        return Err(body);
    }
    let _in_place = InPlace;
    tokio::task::block_in_place(move || {
        let _in_flight = calls::begin(call);
        // At exit the call is given back unrun: the pool leaves it unrun too.
        if EXITING.load(Ordering::SeqCst) {
            return Err(body);
        }
        keep_thread_state();
        Ok(Python::attach(body))
    })
}

/// Frees the in-place slot when the call ends, even by unwinding.
struct InPlace;

impl Drop for InPlace {
    fn drop(&mut self) {
        IN_PLACE.store(false, Ordering::Release);
    }
}
