//! Threads that run Python calls for the engine, passing the GIL between them as little as they
//! can.
//!
//! A thread of a general-purpose pool per call would make every call a hand-over of the GIL:
//! with a thousand tasks ready at once (a fan-out), a thousand threads would wake, each waiting
//! its turn at the GIL and waking the next as it lets go. Here one thread takes the GIL and runs
//! the queued calls one after another while it holds it. So that a call which blocks (and lets
//! go of the GIL while it waits) holds up none of the others, one more thread is on its way
//! whenever calls are queued behind the one running: it takes the GIL as soon as the running
//! call lets go of it (or when Python's switch interval makes it), and carries on with the
//! queue. Threads that find nothing to do for a while end.
//!
//! The queue needs no bound of its own: each task call holds its attempt's task slot while it
//! waits and runs (so executors queue no more calls than their `max_concurrent_tasks`), and the
//! other callers (event callbacks, deliveries to event loops) wait for their call to end before
//! making the next.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::running::calls::{self, CallOf};
use crate::running::python_threads;

/// At most this many threads; calls beyond them wait for one to come free.
const MAX_THREADS: usize = 512;

/// A thread with nothing to do for this long ends.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A call, with the GIL held.
type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// The queue and the threads' bookkeeping.
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting to be asked for.
    idle: usize,
    /// Idle threads asked for that have not woken yet.
    asked: usize,
    /// Threads on their way to the queue (asked for, or just started) that have not taken the
    /// GIL yet.
    coming: usize,
    /// Threads alive.
    threads: usize,
}

struct Pool {
    state: Mutex<State>,
    /// Signalled when an idle thread is asked for.
    asking: Condvar,
}

static POOL: Pool = Pool {
    state: Mutex::new(State { jobs: VecDeque::new(), idle: 0, asked: 0, coming: 0, threads: 0 }),
    asking: Condvar::new(),
};

fn locked() -> MutexGuard<'static, State> {
    // The bookkeeping stays consistent even if a holder panicked: no call runs under the lock.
    POOL.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A call that panicked (or was never run, the pool having failed to start a thread).
#[derive(Debug)]
pub struct CallFailed(pub String);

impl std::fmt::Display for CallFailed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Runs `body` with the GIL on a thread of the pool, counted as the call in flight `call`
/// describes. The call runs whether or not the returned future is awaited.
pub fn spawn<T, F>(call: impl Into<CallOf>, body: F) -> impl Future<Output = Result<T, CallFailed>> + Send
where
    F: FnOnce(Python<'_>) -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    let call = call.into();
    submit(Box::new(move |py| {
        let _in_flight = calls::begin(call);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| body(py)))
            .map_err(|panic| CallFailed(format!("a Python call panicked: {}", panic_text(panic.as_ref()))));
        // The caller may have stopped waiting: nothing to tell then.
        let _ = sender.send(outcome);
    }));
    async move { receiver.await.unwrap_or_else(|_| Err(CallFailed("a Python call was dropped unrun".to_owned()))) }
}

/// Runs `body` with the GIL on a thread of the pool, counted as a call in flight, without
/// waiting for it; a panic is logged.
pub fn run_detached<F>(body: F)
where
    F: FnOnce(Python<'_>) + Send + 'static,
{
    submit(Box::new(move |py| {
        let _in_flight = calls::begin(Arc::default());
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| body(py))) {
            tracing::error!(message = panic_text(panic.as_ref()), "a Python call panicked");
        }
    }));
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&'static str>().copied())
        .unwrap_or("no message")
}

fn submit(job: Job) {
    let mut state = locked();
    state.jobs.push_back(job);
    call_for_help(&mut state);
}

/// Makes sure a thread is on its way to the queue: wakes an idle one, or starts one.
fn call_for_help(state: &mut State) {
    if state.coming > 0 {
        return;
    }
    if state.idle > state.asked {
        state.asked += 1;
        state.coming += 1;
        POOL.asking.notify_one();
    } else if state.threads < MAX_THREADS {
        let started = std::thread::Builder::new().name("cloacina-python".to_owned()).spawn(work);
        match started {
            Ok(_) => {
                state.threads += 1;
                state.coming += 1;
            }
            Err(error) => {
                tracing::error!(%error, "could not start a thread for Python calls");
                if state.threads == 0 {
                    // No thread will ever run them: their callers learn it at once.
                    drop(std::mem::take(&mut state.jobs));
                }
            }
        }
    }
}

/// A thread of the pool: takes the GIL, runs what is queued, waits to be asked for again.
fn work() {
    loop {
        // Counted as a call in flight before the exit flag is read, and until the GIL is given
        // back: the interpreter's exit waits for counted calls, so it cannot begin finalizing
        // while this thread is on its way to the GIL (making its thread state included).
        let in_flight = calls::begin(Arc::default());
        if python_threads::is_exiting() {
            // Calls still queued stay unrun: nothing waits for them at exit.
            drop(in_flight);
            let mut state = locked();
            state.coming -= 1;
            state.threads -= 1;
            return;
        }
        python_threads::keep_thread_state();
        Python::attach(drain);
        drop(in_flight);
        if !wait_to_be_asked() {
            return;
        }
    }
}

/// Runs queued calls until none is left (or the interpreter starts exiting), asking for another
/// thread whenever calls wait behind the one about to run.
fn drain(py: Python<'_>) {
    let mut state = locked();
    state.coming -= 1;
    while !python_threads::is_exiting() {
        let Some(job) = state.jobs.pop_front() else { break };
        if !state.jobs.is_empty() {
            call_for_help(&mut state);
        }
        drop(state);
        job(py);
        state = locked();
    }
}

/// Waits idle until asked for (true), or until the idle timeout passes unasked (false: the
/// thread ends). Calls queued while no thread is on its way (one came in after this thread
/// left the queue) are this thread's at once.
fn wait_to_be_asked() -> bool {
    let mut state = locked();
    if !state.jobs.is_empty() && state.coming == 0 {
        state.coming += 1;
        return true;
    }
    state.idle += 1;
    loop {
        if state.asked > 0 {
            state.asked -= 1;
            state.idle -= 1;
            return true;
        }
        let (next, waited) =
            POOL.asking.wait_timeout(state, IDLE_TIMEOUT).unwrap_or_else(|poisoned| poisoned.into_inner());
        state = next;
        if waited.timed_out() && state.asked == 0 {
            state.idle -= 1;
            if !state.jobs.is_empty() && state.coming == 0 {
                state.coming += 1;
                return true;
            }
            state.threads -= 1;
            return false;
        }
    }
}
