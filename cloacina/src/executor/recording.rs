//! Recording finished attempts.
//!
//! An attempt that finishes queues its outcome from whatever thread it finished on (a runtime
//! worker, an event loop's thread) and, if no one is recording, starts a recording job on a
//! blocking thread. That job records everything queued in one transaction, which also claims the
//! work it made ready, starts that work, and goes on while outcomes keep coming. So no runtime
//! worker has to wake up between a task's end and the transaction that records it, and whatever
//! finished during one transaction is recorded by the next.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::capacity::{Permits, TaskSlot};
use super::engine::Engine;
use super::scheduler::{self, AttemptOutcome, AttemptResult};
use super::worker;
use crate::error::StoreError;
use crate::limits;
use crate::result::ExecutionStatus;
use crate::store;

/// Outcomes recorded in one transaction at most.
const MAX_BATCH: usize = 512;

/// How often the database may fail a batch for a reason of its own before the batch counts as
/// refused: an error that is neither a lost connection nor a passing condition is most likely
/// about the data, but a few tries make sure.
const TRIES_BEFORE_REFUSAL: u32 = 3;

/// Queues a finished attempt with the slot it holds until it is recorded, and starts recording
/// if no one is. Callable from any thread.
pub(crate) fn submit(engine: &Arc<Engine>, outcome: AttemptOutcome, slot: TaskSlot) {
    if engine.queue_outcome(outcome, slot) {
        // Shutdown waits for the job, which runs until the queue is empty.
        let (recorder, tracked) = (Arc::clone(engine), engine.attempts.token());
        engine.runtime.spawn_blocking(move || {
            record_queued(&recorder);
            drop(tracked);
        });
    }
}

/// Records batches until the queue is empty (on a blocking thread).
fn record_queued(engine: &Arc<Engine>) {
    while let Some((batch, slots)) = engine.next_outcomes(MAX_BATCH) {
        record_batch(engine, batch, slots);
    }
}

/// Records a batch (see [`write_outcomes`]). A batch the database refuses for good (a value it
/// cannot store, say) is split until the outcome it refuses is found, and that attempt alone is
/// recorded as failed; the rest are recorded as they are.
fn record_batch(engine: &Arc<Engine>, batch: Vec<AttemptOutcome>, slots: Vec<TaskSlot>) {
    let mut batches = vec![(batch, slots)];
    while let Some((batch, slots)) = batches.pop() {
        let Err((mut batch, mut slots, error)) = write_outcomes(engine, batch, slots) else { continue };
        if batch.len() > 1 {
            let half = batch.len() / 2;
            let (later, later_slots) = (batch.split_off(half), slots.split_off(half));
            batches.push((later, later_slots));
            batches.push((batch, slots));
        } else if let (Some(outcome), Some(slot)) = (batch.pop(), slots.pop()) {
            record_refused(engine, outcome, slot, &error);
        }
    }
}

/// The database refused to record an attempt's outcome for good: records the attempt as failed
/// with the reason; if even that is refused, fails its execution. A failure to do either leaves
/// the lease to expire (it is no longer renewed), and the task to run again elsewhere.
fn record_refused(engine: &Arc<Engine>, outcome: AttemptOutcome, slot: TaskSlot, error: &StoreError) {
    let (execution_id, task_id) = (outcome.execution_id, outcome.task_id.clone());
    tracing::error!(%error, %execution_id, task_id, "the database refused a task's result; recording the attempt as failed");
    let reason = limits::sanitize_message(&format!("the task's result could not be stored: {error}"));
    let failed = AttemptOutcome { result: AttemptResult::Failed { error: reason.clone() }, ..outcome };
    let Err((_, _, error)) = write_outcomes(engine, vec![failed], vec![slot]) else { return };
    tracing::error!(%error, %execution_id, task_id, "the database refused the failure too; failing the execution");
    let why = format!("task `{task_id}` failed: {reason}");
    if let Err(error) = engine.runtime.block_on(engine.stop_execution(execution_id, ExecutionStatus::Failed, why)) {
        tracing::error!(%error, %execution_id, "could not fail the execution; its task will run again elsewhere");
    }
    engine.drop_lease(&execution_id.to_string(), &task_id);
}

/// Whether a failed write is the database refusing the batch (counting the tries): not a lost
/// connection, a conflict to run again, or a passing condition (those are retried for as long
/// as they last).
fn refused(error: &StoreError, refusals: &mut u32) -> bool {
    if store::is_connection_lost(error) || store::is_transient(error) || store::is_passing(error) {
        return false;
    }
    *refusals += 1;
    *refusals >= TRIES_BEFORE_REFUSAL
}

/// A batch the database refused for good, with the slots of its attempts and the reason.
type Refused = (Vec<AttemptOutcome>, Vec<TaskSlot>, StoreError);

/// Records a batch in one transaction that also claims newly ready work (with the batch's slots
/// and any free ones), then starts that work. A write that fails because the database is out of
/// reach, busy, or for a while unable to write is retried with backoff (while stopping, it is
/// given up after a few tries: the leases then expire and the tasks run again elsewhere); a
/// write that fails otherwise [`TRIES_BEFORE_REFUSAL`] times is the database refusing the
/// batch, which is handed back.
fn write_outcomes(engine: &Arc<Engine>, batch: Vec<AttemptOutcome>, slots: Vec<TaskSlot>) -> Result<(), Refused> {
    let batch = Arc::new(batch);
    // The batch's own slots, kept across tries; free ones are taken again on each.
    let mut own = Permits::none();
    for slot in slots {
        own.absorb(slot, &engine.wake);
    }
    let mut delay = Duration::from_millis(10);
    let (mut failures, mut refusals) = (0, 0);
    loop {
        let free = engine.take_permits(engine.config.max_concurrent_tasks.saturating_sub(own.len()));
        // A stopping executor records what finished and claims nothing more.
        let capacity = if engine.stopping.is_cancelled() { 0 } else { own.len() + free.len() };
        let request = engine.claim_request(capacity);
        let outcomes = Arc::clone(&batch);
        let written = engine.commit_here(
            move |connection| scheduler::record_outcomes(connection, &outcomes, Utc::now(), &request),
            // Keep the new deltas before anyone is woken to build an input from them.
            |transition| {
                for &index in &transition.completed {
                    let outcome = &batch[index];
                    if let AttemptResult::Completed { delta, json } = &outcome.result {
                        let (execution_id, position) = (outcome.execution_id, outcome.position);
                        let bytes = json.len() + delta.blobs.iter().map(|(_, data)| data.len()).sum::<usize>();
                        engine.inputs.remember_delta(execution_id, position, Arc::clone(delta), bytes);
                    }
                }
                for gathered in &transition.gathered {
                    let delta = Arc::clone(&gathered.delta);
                    engine.inputs.remember_delta(gathered.execution_id, gathered.position, delta, gathered.bytes);
                }
            },
        );
        match written {
            Ok(claimed) => {
                for outcome in batch.iter() {
                    engine.drop_lease(&outcome.execution_id.to_string(), &outcome.task_id);
                }
                own.absorb_all(free);
                worker::start_claimed(engine, claimed, own);
                return Ok(());
            }
            Err(error) if refused(&error, &mut refusals) => {
                let batch = Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
                // The slots go back with their outcomes (those whose slot a running call holds
                // get none: that call frees it).
                let slots = (0..batch.len()).map(|_| own.take_one().unwrap_or_default()).collect();
                return Err((batch, slots, error));
            }
            Err(error) => {
                drop(free);
                failures += 1;
                if engine.stopping.is_cancelled() && failures >= 5 {
                    tracing::error!(%error, tasks = batch.len(), "giving up recording task results while stopping; their leases will expire and the tasks run again");
                    for outcome in batch.iter() {
                        engine.drop_lease(&outcome.execution_id.to_string(), &outcome.task_id);
                    }
                    return Ok(());
                }
                tracing::warn!(%error, tasks = batch.len(), "recording task results failed; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
