//! Running tasks.
//!
//! Work is claimed inside the transactions that make it ready: recording finished attempts and
//! creating an execution both end by claiming what the free capacity allows, and the claimed
//! tasks start at once. The dispatcher claims whatever that leaves: work made ready by other
//! processes, due retries, and work found by the fallback poll.
//!
//! Finished attempts are recorded in batches (see `recording.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use tokio::time::Instant;
use uuid::Uuid;

use super::capacity::{Permits, TaskSlot};
use super::definitions::{self, Definition};
use super::engine::{Engine, lock};
use super::events::parse_id;
use super::scheduler::{AttemptOutcome, AttemptResult};
use super::{claiming, elsewhere, handover, recording};
use crate::context::{Attempt, Context};
use crate::error::{StoreError, TaskError};
use crate::limits;
use crate::logs::{AttemptLog, Logging};
use crate::result::ExecutionStatus;
use crate::stop::StopSignal;
use crate::store::{self, ClaimedTask, now_micros};
use crate::task::panic_message;
use crate::workflow::TaskNode;

/// Claims ready work whenever woken, and at least every poll interval.
pub(crate) async fn dispatch(engine: Arc<Engine>) {
    // Work stored to become ready later (a delayed start) wakes the dispatcher when due.
    let (names, now) = (engine.registry.names(), now_micros());
    if let Ok(ready) = engine.store.read(move |connection| store::ready_times(connection, &names, now)).await {
        // Work already due is claimed by the first look below; a time due makes the dispatcher
        // read again after it, and learn the time to come.
        if let Some(first) = ready.earliest_due.or(ready.next) {
            lock(&engine.next_retry).schedule(first);
        }
    }
    let mut failures: u32 = 0;
    loop {
        if engine.stopping.is_cancelled() {
            return;
        }
        match claim_all(&engine).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "claiming ready tasks failed; retrying");
            }
        }
        let deadline = next_deadline(&engine, failures).await;
        tokio::select! {
            _ = engine.stopping.cancelled() => return,
            _ = engine.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Claims batches while capacity and ready tasks last, and starts them.
async fn claim_all(engine: &Arc<Engine>) -> Result<(), StoreError> {
    loop {
        let permits = engine.take_permits(engine.config.max_concurrent_tasks);
        if permits.is_empty() {
            return Ok(());
        }
        let limit = permits.len();
        let request = engine.claim_request(limit);
        let claimed = engine.commit(move |connection| claiming::claim(connection, &request, Utc::now())).await?;
        let count = claimed.len();
        start_claimed(engine, claimed, permits);
        if count < limit {
            return Ok(());
        }
    }
}

/// When to look for work next: the poll interval, or sooner for a due retry; later after
/// repeated failures.
async fn next_deadline(engine: &Engine, failures: u32) -> Instant {
    let poll = engine.config.poll_interval;
    if failures > 0 {
        let backoff = Duration::from_millis(50).saturating_mul(1 << failures.min(10));
        return Instant::now() + backoff.min(poll);
    }
    let now = now_micros();
    let known = *lock(&engine.next_retry);
    let mut next_retry = known.at;
    if next_retry.is_some_and(|retry_at| retry_at <= now) {
        // The retry we slept for is due, and most likely was just claimed: look up what is due
        // and unclaimed, and the next time to wake for.
        let names = engine.registry.names();
        let ready =
            engine.store.read(move |connection| store::ready_times(connection, &names, now)).await.unwrap_or_default();
        let mut stored = lock(&engine.next_retry);
        if stored.scheduled == known.scheduled {
            next_retry = ready.next;
            if let Some(due) = ready.earliest_due {
                // Ready work is due and unclaimed. A retry whose delay is shorter than the way
                // from scheduling it to the claim came due after the claim had looked: look once
                // more, at once. Found again, it waits for capacity (whoever frees some claims
                // it) or for the poll, rather than being looked for in a loop; the time to come
                // stays known either way.
                engine.work_waits_for_capacity();
                if stored.rechecked != Some(due) {
                    stored.rechecked = Some(due);
                    next_retry = Some(now);
                }
            }
            stored.at = next_retry;
        } else {
            // A retry was scheduled while we read (perhaps after the read saw the database):
            // the stored time, due or not, makes the dispatcher look again, at once if due.
            next_retry = stored.at;
        }
    }
    let until_retry = next_retry.map(|retry_at| Duration::from_micros((retry_at - now).max(0) as u64));
    Instant::now() + until_retry.map_or(poll, |wait| wait.min(poll))
}

/// Starts claimed tasks, one slot each; slots left over are returned.
///
/// Work that became ready while these slots were held (by another transaction) may have found
/// none free, and the dispatcher that was woken for it may have found none either: returning
/// leftovers then wakes the dispatcher again, rather than leaving that work to the next poll.
pub(crate) fn start_claimed(engine: &Arc<Engine>, claimed: Vec<ClaimedTask>, mut permits: Permits) {
    for task in claimed {
        let Some(slot) = permits.take_one() else { break };
        engine.hold_lease(&task.execution_id, &task.task_id);
        let Err((task, slot)) = elsewhere::try_start(engine, task, slot) else { continue };
        let engine_for_attempt = Arc::clone(engine);
        engine.attempts.spawn(async move {
            let engine = engine_for_attempt;
            let (execution_id, task_id) = (task.execution_id.clone(), task.task_id.clone());
            let unwinding = ForgetLeaseOnPanic { engine: &engine, execution_id: &execution_id, task_id: &task_id };
            let outcome = run_attempt(&engine, task, slot.clone()).await;
            drop(unwinding);
            match outcome {
                // The slot stays taken until the outcome is recorded.
                Some(outcome) => recording::submit(&engine, outcome, slot),
                None => nothing_to_record(&engine, &execution_id, &task_id, slot),
            }
        });
    }
    let leftovers = !permits.is_empty();
    drop(permits);
    if leftovers && engine.has_backlog() {
        engine.wake.notify_one();
    }
}

/// Ends an attempt that has nothing to record (its execution ended meanwhile, its lease was
/// lost, or its task was handed back): the lease is no longer held, and its slot comes free
/// without a transaction to use it, so it is the dispatcher's turn (when a call still holding
/// the slot lets go of it, if one does).
pub(super) fn nothing_to_record(engine: &Engine, execution_id: &str, task_id: &str, slot: TaskSlot) {
    engine.drop_lease(execution_id, task_id);
    if engine.has_backlog() {
        slot.release(&engine.wake);
    } else {
        drop(slot);
    }
}

/// Forgets a task's lease if its attempt panics (a bug): a lease nobody works on must run out,
/// not be renewed for ever.
struct ForgetLeaseOnPanic<'a> {
    engine: &'a Engine,
    execution_id: &'a str,
    task_id: &'a str,
}

impl Drop for ForgetLeaseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.engine.drop_lease(self.execution_id, self.task_id);
        }
    }
}

/// Runs one attempt; `None` when there is nothing to record (the execution ended meanwhile, or
/// the task was handed back).
async fn run_attempt(engine: &Arc<Engine>, claimed: ClaimedTask, slot: TaskSlot) -> Option<AttemptOutcome> {
    let execution_id = match parse_id(&claimed.execution_id) {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "skipping a claimed task with a corrupt execution id");
            return None;
        }
    };
    let workflow = match resolve(engine, execution_id, &claimed).await {
        Ok(Definition::Found(workflow)) => workflow,
        Ok(Definition::Unregistered) => {
            // Unregistered between the claim and now: hand the task back for another executor.
            release(engine, vec![(execution_id, claimed.task_id.clone())]).await;
            return None;
        }
        Ok(Definition::Changed { reason }) => {
            if let Err(error) = engine.stop_execution(execution_id, ExecutionStatus::Failed, reason).await {
                tracing::error!(%error, %execution_id, "could not fail an execution of a changed workflow");
            }
            return None;
        }
        Err(error) => {
            tracing::warn!(%error, %execution_id, "could not read which workflow version runs a task; handing it back");
            release(engine, vec![(execution_id, claimed.task_id.clone())]).await;
            return None;
        }
    };
    let Some((position, instance)) = workflow.locate(&claimed.task_id) else {
        // A definition of the execution's shape has every task of it: only corrupt data lands here.
        let reason = definitions::changed(execution_id, workflow.name(), &claimed.workflow_version, workflow.version());
        if let Err(error) = engine.stop_execution(execution_id, ExecutionStatus::Failed, reason).await {
            tracing::error!(%error, %execution_id, "could not fail an execution of a changed workflow");
        }
        return None;
    };
    let (lease_attempt, attempt) = (claimed.attempt, claimed.counted_attempt());
    let node = workflow.node(position);
    let task_id = claimed.task_id;
    let result = match load_input(engine, execution_id, &workflow, position, instance).await {
        Ok(mut input) => {
            let timeout = node.timeout().or(engine.config.task_timeout);
            let beginning = Beginning {
                execution_id,
                workflow: workflow.name(),
                node,
                task_id: &task_id,
                number: attempt,
                timeout,
            };
            let (cancelled, log) = begin_attempt(engine, &mut input, beginning, slot);
            let result = tokio::select! {
                biased;
                _ = cancelled.cancelled() => None,
                // A task that blocked its thread until after it was cancelled has nothing to
                // record either.
                result = Logging::new(log.clone(), execute(node, input, timeout)) => {
                    (!cancelled.is_cancelled()).then_some(result)
                }
            };
            engine.running.end(execution_id, &task_id);
            (result?, log.take())
        }
        Err(error) => (Err(TaskError::new(format!("cannot load the task's input: {error}"))), Vec::new()),
    };
    let (result, logs) = result;
    Some(AttemptOutcome {
        execution_id,
        result: attempt_result(node, attempt, result),
        logs,
        workflow,
        position,
        task_id,
        instance,
        lease_attempt,
        attempt,
    })
}

/// The definition that runs a claimed task (see `definitions.rs`): in memory when this process
/// has the version the execution was created with, else read from the database.
async fn resolve(engine: &Arc<Engine>, execution_id: Uuid, claimed: &ClaimedTask) -> Result<Definition, StoreError> {
    if let Some(workflow) = engine.registry.get_version(&claimed.workflow_name, &claimed.workflow_version) {
        return Ok(Definition::Found(workflow));
    }
    let (registry, name, version) =
        (Arc::clone(&engine.registry), claimed.workflow_name.clone(), claimed.workflow_version.clone());
    engine
        .store
        .read(move |connection| definitions::definition(connection, &registry, execution_id, &name, &version))
        .await
}

/// Makes `input` the input of attempt `number` of `node`: registers the attempt as running
/// (returning the token that cancels it, and the attempt's log), and gives the context its
/// attempt, with its stop signal, task slot and log, and a way to load the execution's binary
/// data.
pub(super) fn begin_attempt(
    engine: &Arc<Engine>,
    input: &mut Context,
    beginning: Beginning<'_>,
    slot: TaskSlot,
) -> (tokio_util::sync::CancellationToken, AttemptLog) {
    let Beginning { execution_id, workflow, node, task_id, number, timeout } = beginning;
    super::stored_blobs::attach(engine, execution_id, input);
    let cancelled = engine.running.start(execution_id, task_id);
    let stop = StopSignal::new(cancelled.clone(), timeout);
    let owner_id = Arc::clone(&engine.owner);
    let log = AttemptLog::new(node.task().log_level().unwrap_or(engine.config.task_log_level));
    let (workflow, task_id) = (workflow.to_owned(), task_id.to_owned());
    let trace_context = input.take_trace_context();
    let log_kept = log.clone();
    input.set_attempt(Attempt {
        execution_id,
        workflow,
        task_id,
        owner_id,
        number,
        trace_context,
        stop,
        slot,
        log: log_kept,
    });
    (cancelled, log)
}

/// Which attempt begins: of which task, of which execution, with what timeout.
pub(super) struct Beginning<'a> {
    pub execution_id: Uuid,
    pub workflow: &'a str,
    pub node: &'a TaskNode,
    /// The id of the task, or of the instance of a mapped task, as stored.
    pub task_id: &'a str,
    pub number: u32,
    pub timeout: Option<Duration>,
}

/// The task's input; waits out a database that is briefly out of reach (such a failure is not
/// the task's).
async fn load_input(
    engine: &Engine,
    execution_id: Uuid,
    workflow: &crate::Workflow,
    position: usize,
    instance: Option<usize>,
) -> Result<Context, StoreError> {
    let mut delay = Duration::from_millis(20);
    loop {
        match engine.inputs.input(&engine.store, execution_id, workflow, position, instance).await {
            Err(error) if store::is_connection_lost(&error) && !engine.stopping.is_cancelled() => {
                tracing::warn!(%error, "loading a task's input failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// Runs the task, turning a panic into a failure of this attempt and enforcing the timeout (also
/// on a task that blocked past it). Dropping the returned future (on cancellation) stops the task.
async fn execute(node: &TaskNode, input: Context, timeout: Option<Duration>) -> Result<Context, TaskError> {
    let running = AssertUnwindSafe(node.task().execute(input)).catch_unwind();
    let finished = match timeout {
        Some(limit) => {
            let started = Instant::now();
            let finished = tokio::time::timeout(limit, running).await.map_err(|_| TaskError::Timeout(limit))?;
            if started.elapsed() >= limit {
                return Err(TaskError::Timeout(limit));
            }
            finished
        }
        None => running.await,
    };
    finished.unwrap_or_else(|panic| Err(TaskError::Panicked(panic_message(&*panic))))
}

/// Turns an attempt's result into what is recorded: a completion, a retry, or a failure.
pub(super) fn attempt_result(node: &TaskNode, attempt: u32, result: Result<Context, TaskError>) -> AttemptResult {
    let result = result.and_then(|context| {
        let delta = context.delta();
        delta.check_storable()?;
        Ok(delta)
    });
    match result {
        Ok(delta) => match serde_json::to_string(&delta) {
            Ok(json) => AttemptResult::Completed { delta: Arc::new(delta), json },
            Err(error) => AttemptResult::Failed {
                error: limits::sanitize_message(&format!("the task's output is not serializable: {error}")),
            },
        },
        Err(error) => {
            // Stored as text (and in events): without NUL, and cut if very long.
            let message = limits::sanitize_message(&error.to_string());
            let policy = node.retry_policy();
            if error.is_retryable() && policy.allows_retry_after(attempt) {
                let delay = policy.delay_after(attempt);
                AttemptResult::Retry { error: message, retry_at: now_micros().saturating_add(limits::micros(delay)) }
            } else {
                AttemptResult::Failed { error: message }
            }
        }
    }
}

/// Hands tasks back to the queue.
pub(crate) async fn release(engine: &Engine, tasks: Vec<(Uuid, String)>) {
    let owner = engine.owner.clone();
    let tasks = Arc::new(tasks);
    let written = engine.commit(move |connection| handover::release(connection, &owner, &tasks, Utc::now())).await;
    if let Err(error) = written {
        tracing::warn!(%error, "could not hand tasks back; their leases will expire instead");
    }
}
