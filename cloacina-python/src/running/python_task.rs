//! Running a Python task function as an engine task.
//!
//! A plain function runs on the runtime worker that claimed it when it has no timeout and no
//! other call runs there (see `python_threads.rs`), otherwise on a thread of the pool of Python calls (`python_pool.rs`);
//! either way it holds the GIL only while Python runs. A coroutine function's coroutine runs on
//! its execution's event loop (see `loops.rs`), started by the loop's own thread where it can
//! (`inbox.rs`). Where the engine hands the attempt over ([`Task::start`]), no thread waits for
//! it and the loop's thread hands the result straight to recording; otherwise the attempt's
//! future waits for it without a thread. An exception fails the attempt; the
//! task's error then reads `"{type}: {message}\n\n{traceback}"`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cloacina::{
    Canceller, Completion, Context, Declined, LogLevel, RetryPolicy, Task, TaskError, TaskSlot, TriggerRule,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::api::context::PyContext;
use crate::api::task::TaskSpec;
use crate::bridge::coroutine;
use crate::bridge::inbox::{Inbox, Job, Place};
use crate::bridge::loops;
use crate::exceptions::is_serialization_error;
use crate::running::calls::{self, CallOf};
use crate::running::python_pool;
use crate::running::python_threads;
use crate::running::spans;
use crate::running::task_logs;
use crate::values::{from_python_into, qualified_name, type_name};

/// The separator between an error's first line and its traceback.
pub const TRACEBACK_SEPARATOR: &str = "\n\nTraceback (most recent call last):\n";

/// A Python task as the engine sees it.
pub struct PythonTask {
    spec: Arc<TaskSpec>,
    retry_policy: RetryPolicy,
}

impl PythonTask {
    /// The engine task for a Python task.
    pub fn new(spec: Arc<TaskSpec>) -> Self {
        let retry_policy = spec.retry_policy();
        Self { spec, retry_policy }
    }
}

#[async_trait]
impl Task for PythonTask {
    fn id(&self) -> &str {
        &self.spec.id
    }

    fn dependencies(&self) -> &[String] {
        &self.spec.dependencies
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry_policy.clone()
    }

    fn timeout(&self) -> Option<Duration> {
        self.spec.timeout
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.spec.trigger.clone()
    }

    fn log_level(&self) -> Option<LogLevel> {
        self.spec.log_level
    }

    fn concurrency(&self) -> Option<cloacina::ConcurrencyLimit> {
        self.spec.concurrency.clone()
    }

    fn mapping(&self) -> Option<cloacina::Mapping> {
        self.spec.mapping.clone()
    }

    fn starts_elsewhere(&self) -> bool {
        self.spec.is_async
    }

    /// Hands an `async def` attempt to its event loop through the loop's inbox, with no thread
    /// waiting for it; its result goes from the loop's thread straight to recording. Declined
    /// for a plain function, and for a loop that watches no inbox.
    fn start(&self, mut context: Context, done: Completion) -> Result<Canceller, Box<Declined>> {
        let execution_id = context.attempt().map(|attempt| attempt.execution_id);
        let inbox = match loops::inbox(execution_id) {
            Some(inbox) if self.spec.is_async => inbox,
            _ => return Err(Box::new(Declined { context, done })),
        };
        let slot = context.take_slot();
        let cancelled = Arc::new(AtomicBool::new(false));
        let submission: Submission = Arc::default();
        let reply = Reply::new(&self.spec.id, done);
        let started = Started {
            execution_id,
            context,
            cancelled: Arc::clone(&cancelled),
            reply,
            submission: Arc::clone(&submission),
            slot,
        };
        let job = start_coroutine(Arc::clone(&self.spec), started);
        if let Err(job) = inbox.push(job) {
            // The loop closed meanwhile: the job hands the coroutine over from a pool thread.
            python_pool::run_detached(move |py| job(py, Place::Anywhere));
        }
        Ok(Box::new(move || cancel(&cancelled, &submission)))
    }

    async fn execute(&self, mut context: Context) -> Result<Context, TaskError> {
        // Held by the Python call, not the attempt: a call that outlives its attempt (a timed-out
        // `def` still in its thread, a coroutine that ignores cancellation) keeps its slot of the
        // executor's capacity taken until it returns.
        let slot = context.take_slot();
        let cancelled = Arc::new(AtomicBool::new(false));
        let in_flight = CallOf {
            cancelled: Arc::clone(&cancelled),
            task: context.attempt().map(|attempt| (attempt.execution_id, attempt.task_id.clone())),
        };
        // The engine stops an attempt by dropping this future: the function then sees
        // `context.cancelled` turn true, and a coroutine gets `CancelledError`.
        let mut guard = CancelOnDrop { flag: Arc::clone(&cancelled), submission: Arc::default(), armed: true };
        let result = if self.spec.is_async {
            self.run_coroutine(context, cancelled, &guard, slot, in_flight).await
        } else {
            let (spec, may_run_in_place) = (Arc::clone(&self.spec), without_timeout(&context));
            let body = move |py: Python<'_>| {
                let result = call(py, &spec, context, cancelled);
                drop(slot);
                result
            };
            let execution_id = context_execution(&in_flight);
            if let Some(inbox) = loops::here(execution_id) {
                run_here(&inbox, in_flight, body).await
            } else {
                let in_place = if may_run_in_place {
                    python_threads::try_call_in_place(in_flight.clone(), body)
                } else {
                    Err(body)
                };
                match in_place {
                    Ok(result) => result,
                    Err(body) => run_blocking(in_flight, body).await,
                }
            }
        };
        guard.armed = false;
        result
    }
}

impl PythonTask {
    async fn run_coroutine(
        &self,
        context: Context,
        cancelled: Arc<AtomicBool>,
        guard: &CancelOnDrop,
        slot: TaskSlot,
        in_flight: CallOf,
    ) -> Result<Context, TaskError> {
        let execution_id = context.attempt().map(|attempt| attempt.execution_id);
        let (sender, outcome) = oneshot::channel();
        let reply = Reply::new(
            &self.spec.id,
            Box::new(move |result| {
                // The attempt may have stopped waiting (cancelled): nothing to tell then.
                let _ = sender.send(result);
            }),
        );
        let submission = Arc::clone(&guard.submission);
        let started = Started { execution_id, context, cancelled, reply, submission, slot };
        let job = start_coroutine(Arc::clone(&self.spec), started);
        // The loop's own thread starts the coroutine if the loop watches an inbox; otherwise a
        // pool thread takes the GIL and hands the coroutine over.
        let job = match loops::inbox(execution_id) {
            Some(inbox) => inbox.push(job).err(),
            None => Some(job),
        };
        if let Some(job) = job {
            run_blocking(in_flight, move |py| {
                job(py, Place::Anywhere);
                Ok(())
            })
            .await?;
        }
        // The reply, dropped unsent, has sent the closed loop's error already.
        outcome.await.unwrap_or_else(|_| Err(TaskError::new(loop_closed(&self.spec.id))))
    }
}

/// Where a scheduled coroutine's `Submission` goes, to cancel it.
type Submission = Arc<Mutex<Option<Py<PyAny>>>>;

/// The attempt's result, given once by whichever of its steps ends it; dropped without one (its
/// job or its coroutine dropped when the loop closed), it gives the closed loop's error.
struct Reply {
    completion: Mutex<Option<Completion>>,
    task_id: String,
}

impl Reply {
    fn new(task_id: &str, completion: Completion) -> Arc<Self> {
        Arc::new(Self { completion: Mutex::new(Some(completion)), task_id: task_id.to_owned() })
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let task_id = std::mem::take(&mut self.task_id);
        send(self, Err(TaskError::new(loop_closed(&task_id))));
    }
}

fn loop_closed(task_id: &str) -> String {
    format!("CancelledError: the event loop running task `{task_id}` closed before its coroutine finished")
}

fn send(reply: &Reply, result: Result<Context, TaskError>) {
    let completion = reply.completion.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    if let Some(completion) = completion {
        completion(result);
    }
}

/// What starting an attempt's coroutine needs.
struct Started {
    execution_id: Option<Uuid>,
    context: Context,
    cancelled: Arc<AtomicBool>,
    reply: Arc<Reply>,
    /// Where the coroutine's `Submission` goes once it is scheduled, to cancel it.
    submission: Submission,
    /// The attempt's task slot, held until the coroutine ends.
    slot: TaskSlot,
}

/// The job that calls a coroutine function with the context and schedules its coroutine; the
/// loop's thread turns the coroutine's outcome into the attempt's result as it ends.
fn start_coroutine(spec: Arc<TaskSpec>, started: Started) -> Job {
    Box::new(move |py, place| {
        let Started { execution_id, context, cancelled, reply, submission: slot, slot: capacity } = started;
        let flag = Arc::clone(&cancelled);
        let capture = log_capture(py, &spec, &context);
        let span = context.attempt().and_then(|attempt| spans::begin_attempt(py, attempt));
        let py_context = match Py::new(py, PyContext::for_attempt(context, cancelled)) {
            Ok(py_context) => py_context,
            Err(error) => return send(&reply, Err(failure(py, &spec, &error))),
        };
        let coroutine = match spec.function.bind(py).call1((py_context.bind(py),)) {
            Ok(coroutine) => match &span {
                Some(span) => spans::traced(py, coroutine, span),
                None => coroutine,
            },
            Err(error) => {
                let failed = failure(py, &spec, &error);
                if let Some(span) = &span {
                    spans::end_attempt(py, span, Some(failed.to_string()));
                }
                return send(&reply, Err(failed));
            }
        };
        let (finishing, finishing_reply) = (Arc::clone(&spec), Arc::clone(&reply));
        let finish: coroutine::Finish = Box::new(move |py, outcome| {
            let result = outcome
                .map_err(|error| failure(py, &finishing, &error))
                .and_then(|returned| complete(py, &finishing, py_context.bind(py), returned.into_bound(py)));
            // The coroutine has ended: its slot goes back before the result, so that recording
            // the result may take the slot over.
            drop(capacity);
            send(&finishing_reply, result);
        });
        let submission = match coroutine::submit(py, execution_id, &coroutine, place, capture.as_ref(), finish) {
            Ok(submission) => submission,
            Err(error) => {
                // Never scheduled: closed, so that it is not reported as never awaited.
                let _ = coroutine.call_method0("close");
                return send(&reply, Err(failure(py, &spec, &error)));
            }
        };
        let cancel_now = {
            let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let cancel_now = flag.load(Ordering::SeqCst);
            if !cancel_now {
                *slot = Some(submission.clone().unbind());
            }
            cancel_now
        };
        if cancel_now && let Err(error) = submission.call_method0("cancel") {
            error.write_unraisable(py, None);
        }
    })
}

/// Whether an attempt has no timeout, so that a plain function may run on the worker thread that
/// started it (see [`python_threads::try_call_in_place`]). An attempt that blocks its thread
/// cannot be stopped at its deadline; with a timeout, the function runs on a pool thread, the
/// timeout is recorded as it passes, and the function (told through `context.cancelled`) winds
/// down meanwhile. Cancellation reaches a function in place through `context.cancelled` all the
/// same, as the attempt's stop signal.
fn without_timeout(context: &Context) -> bool {
    context.attempt().is_some_and(|attempt| attempt.stop.deadline().is_none())
}

/// Runs Python on a thread of the pool of Python calls, counted as the call in flight `call`
/// describes.
async fn run_blocking<T, F>(call: CallOf, body: F) -> Result<T, TaskError>
where
    F: FnOnce(Python<'_>) -> Result<T, TaskError> + Send + 'static,
    T: Send + 'static,
{
    python_pool::spawn(call, body).await.unwrap_or_else(|failed| Err(TaskError::Panicked(failed.to_string())))
}

/// The execution of the attempt a call is made for.
fn context_execution(call: &CallOf) -> Option<Uuid> {
    call.task.as_ref().map(|(execution_id, _)| *execution_id)
}

/// Runs a plain function's call on the thread of the loop whose inbox is `inbox` (an execution
/// bound with `loops::bind_here`), or, that loop having closed, on a pool thread.
async fn run_here<T, F>(inbox: &Inbox, call: CallOf, body: F) -> Result<T, TaskError>
where
    F: FnOnce(Python<'_>) -> Result<T, TaskError> + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    let job: Job = Box::new(move |py, _place| {
        let _in_flight = calls::begin(call);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(py)))
            .unwrap_or_else(|_| Err(TaskError::Panicked("a Python call panicked".to_owned())));
        // The attempt may have stopped waiting (cancelled): nothing to tell then.
        let _ = sender.send(outcome);
    });
    if let Err(job) = inbox.push(job) {
        python_pool::run_detached(move |py| job(py, Place::Anywhere));
    }
    receiver.await.unwrap_or_else(|_| Err(TaskError::Panicked("a Python call was dropped unrun".to_owned())))
}

/// Stops the attempt's Python side if dropped while armed (before the attempt returned).
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    /// The coroutine's `Submission`, once it is scheduled.
    submission: Submission,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            cancel(&self.flag, &self.submission);
        }
    }
}

/// Stops an attempt's Python side: the function sees `context.cancelled` turn true, and a
/// scheduled coroutine gets `CancelledError`.
fn cancel(flag: &AtomicBool, submission: &Submission) {
    let submission = {
        let mut slot = submission.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        flag.store(true, Ordering::SeqCst);
        slot.take()
    };
    if let Some(submission) = submission {
        // Cancelling takes the GIL: not on this thread, which may be a runtime worker.
        python_pool::run_detached(move |py| {
            if let Err(error) = submission.call_method0(py, "cancel") {
                error.write_unraisable(py, None);
            }
        });
    }
}

/// Calls a plain function with the context and turns what it did into the engine's terms; a
/// coroutine it returns is run on the execution's loop while this thread waits.
fn call(py: Python<'_>, spec: &TaskSpec, context: Context, cancelled: Arc<AtomicBool>) -> Result<Context, TaskError> {
    let execution_id = context.attempt().map(|attempt| attempt.execution_id);
    let noted =
        context.attempt().and_then(|attempt| ignore_failure(py, task_logs::enter_call(py, spec, attempt)).flatten());
    let span = context.attempt().and_then(|attempt| spans::begin_attempt(py, attempt));
    let py_context =
        Bound::new(py, PyContext::for_attempt(context, cancelled)).map_err(|error| failure(py, spec, &error))?;
    let span_entered = span.as_ref().and_then(|span| spans::enter(py, span));
    let returned = spec.function.bind(py).call1((&py_context,)).and_then(|returned| {
        if is_coroutine(py, &returned)? {
            let capture = noted.as_ref().and_then(|noted| ignore_failure(py, noted.capture(py)));
            let started = coroutine::start(py, execution_id, &returned, capture.as_ref())?;
            coroutine::wait_blocking(py, started).map(|value| value.into_bound(py))
        } else {
            Ok(returned)
        }
    });
    if let Some(token) = span_entered {
        spans::leave(py, &token);
    }
    drop(noted);
    let returned = returned.map_err(|error| failure(py, spec, &error));
    let result = returned.and_then(|returned| complete(py, spec, &py_context, returned));
    if let Some(span) = span {
        spans::end_attempt(py, &span, result.as_ref().err().map(ToString::to_string));
    }
    result
}

/// The capture of the attempt's log records, if its log keeps any (see `task_logs.rs`).
fn log_capture<'py>(py: Python<'py>, spec: &TaskSpec, context: &Context) -> Option<Bound<'py, PyAny>> {
    let attempt = context.attempt()?;
    ignore_failure(py, task_logs::capture(py, spec, attempt)).flatten()
}

/// The value, or `None` with the error reported as unraisable: keeping logs never fails a task.
fn ignore_failure<T>(py: Python<'_>, result: PyResult<T>) -> Option<T> {
    result.map_err(|error| error.write_unraisable(py, None)).ok()
}

/// The context after the function returned `returned`: `None`, or a `dict` of values to set.
fn complete(
    py: Python<'_>,
    spec: &TaskSpec,
    py_context: &Bound<'_, PyContext>,
    returned: Bound<'_, PyAny>,
) -> Result<Context, TaskError> {
    let mut context = std::mem::take(&mut py_context.borrow_mut().inner);
    if returned.is_none() {
        return Ok(context);
    }
    let Ok(values) = returned.cast::<PyDict>() else {
        return Err(TaskError::permanent(format!(
            "task `{}` returned `{}`; return a dict of context values to set, or None",
            spec.id,
            type_name(&returned)
        )));
    };
    for (key, value) in values.iter() {
        let key: String = key.extract().map_err(|_| {
            TaskError::permanent(format!("task `{}` returned a dict with a key of type `{}`", spec.id, type_name(&key)))
        })?;
        let value = from_python_into(&key, &value, context.blobs_mut()).map_err(|error| failure(py, spec, &error))?;
        context.set(key, value);
    }
    Ok(context)
}

/// Whether a value is a coroutine object.
pub fn is_coroutine(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    static IS_COROUTINE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    IS_COROUTINE.import(py, "inspect", "iscoroutine")?.call1((value,))?.is_truthy()
}

/// The attempt's failure: the exception's type, message and traceback, retryable unless the
/// task's policy lists the exception classes worth retrying and this is not one of them, or it
/// is a `SerializationError` (a value that cannot be stored stays so on every attempt).
fn failure(py: Python<'_>, spec: &TaskSpec, error: &PyErr) -> TaskError {
    let message = describe_exception(py, error);
    if is_serialization_error(py, error) {
        return TaskError::permanent(message);
    }
    let retryable = match spec.retry.as_ref().and_then(|retry| retry.get().retry_on.as_ref()) {
        Some(classes) if !classes.bind(py).is_empty() => is_instance_of_any(py, error, classes.bind(py)),
        _ => true,
    };
    if retryable { TaskError::new(message) } else { TaskError::permanent(message) }
}

fn is_instance_of_any(py: Python<'_>, error: &PyErr, classes: &Bound<'_, PyTuple>) -> bool {
    error.value(py).is_instance(classes).unwrap_or(false)
}

/// `"{type}: {message}\n\nTraceback (most recent call last):\n..."`.
pub fn describe_exception(py: Python<'_>, error: &PyErr) -> String {
    let value = error.value(py);
    let class = qualified_name(&value.get_type());
    let message = value.str().map(|text| text.to_string()).unwrap_or_default();
    let headline = if message.is_empty() { class } else { format!("{class}: {message}") };
    match format_traceback(py, error) {
        Some(traceback) => format!("{headline}{TRACEBACK_SEPARATOR}{traceback}"),
        None => headline,
    }
}

/// The traceback lines after `Traceback (most recent call last):`, ending with the exception.
fn format_traceback(py: Python<'_>, error: &PyErr) -> Option<String> {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let traceback = error.traceback(py)?;
    let format = FORMAT.import(py, "traceback", "format_exception").ok()?;
    let lines: Vec<String> = format.call1((error.get_type(py), error.value(py), traceback)).ok()?.extract().ok()?;
    let text = lines.concat();
    let body = text.strip_prefix("Traceback (most recent call last):\n").unwrap_or(&text);
    Some(body.trim_end().to_owned())
}
