//! Attempts handed to what runs their task outside the engine's threads (see `Task::start`).
//!
//! A task that runs elsewhere (a Python coroutine on its event loop) needs no runtime worker to
//! wait for it. Whoever claimed it (most often the job that recorded the task it depended on)
//! builds its input from memory and hands it over on the spot; its result comes back through a
//! completion that queues it for recording from the thread it finished on. Between a
//! dependency's end and its dependent's start, the work then crosses two threads, as it does
//! for a task the engine runs itself: the recording job's and the task's own.

use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::capacity::TaskSlot;
use super::engine::{Engine, lock};
use super::scheduler::AttemptOutcome;
use super::{recording, worker};
use crate::context::Context;
use crate::error::TaskError;
use crate::logs::AttemptLog;
use crate::store::ClaimedTask;
use crate::workflow::Workflow;

/// Hands a claimed task's attempt to what runs its task, if the task runs elsewhere, has no
/// timeout, and its definition and input are in memory; gives the claim back otherwise.
pub(crate) fn try_start(
    engine: &Arc<Engine>,
    claimed: ClaimedTask,
    slot: TaskSlot,
) -> Result<(), (ClaimedTask, TaskSlot)> {
    let Some(workflow) = engine.registry.get_version(&claimed.workflow_name, &claimed.workflow_version) else {
        return Err((claimed, slot));
    };
    let (Ok(execution_id), Some((position, instance))) =
        (Uuid::parse_str(&claimed.execution_id), workflow.locate(&claimed.task_id))
    else {
        return Err((claimed, slot));
    };
    let node = workflow.node(position);
    if !node.task().starts_elsewhere() || node.timeout().or(engine.config.task_timeout).is_some() {
        return Err((claimed, slot));
    }
    // An instance whose element cannot be read is failed by the engine's own path.
    let Some(Ok(mut input)) = engine.inputs.kept_input(execution_id, &workflow, position, instance) else {
        return Err((claimed, slot));
    };
    let attempt = claimed.counted_attempt();
    let task_id = claimed.task_id.as_str();
    let beginning =
        worker::Beginning { execution_id, workflow: workflow.name(), node, task_id, number: attempt, timeout: None };
    let (cancelled, log) = worker::begin_attempt(engine, &mut input, beginning, slot.clone());
    let pending = Arc::new(Mutex::new(Some(Pending {
        workflow: Arc::clone(&workflow),
        execution_id,
        position,
        task_id: claimed.task_id.clone(),
        instance,
        lease_attempt: claimed.attempt,
        attempt,
        log,
        slot,
        _tracked: engine.attempts.token(),
    })));
    let finisher = Finisher { engine: Arc::clone(engine), cancelled, pending: Arc::clone(&pending) };
    let done = Box::new(move |result| finisher.finish(result));
    match node.task().start(input, done) {
        Ok(canceller) => {
            engine.running.set_canceller(execution_id, &claimed.task_id, canceller);
            Ok(())
        }
        Err(declined) => {
            let crate::task::Declined { context: input, done } = *declined;
            // Declined after all: the engine runs it. Taken back first, the attempt is no
            // longer the completion's to record.
            drop(input);
            let taken = lock(&pending).take();
            drop(done);
            engine.running.end(execution_id, &claimed.task_id);
            Err((claimed, taken.map(|pending| pending.slot).unwrap_or_default()))
        }
    }
}

/// What recording a handed-over attempt needs.
struct Pending {
    workflow: Arc<Workflow>,
    execution_id: Uuid,
    position: usize,
    /// The id of the task, or of the instance, as stored.
    task_id: String,
    /// For an instance of a mapped task, its index.
    instance: Option<usize>,
    lease_attempt: i32,
    attempt: u32,
    /// The attempt's log records.
    log: AttemptLog,
    /// The attempt's task slot, held until its outcome is recorded.
    slot: TaskSlot,
    /// Keeps shutdown waiting for the attempt.
    _tracked: tokio_util::task::task_tracker::TaskTrackerToken,
}

/// Ends a handed-over attempt: queues its outcome for recording, or, if it was stopped, records
/// nothing. Dropped without a result, it fails the attempt.
struct Finisher {
    engine: Arc<Engine>,
    cancelled: tokio_util::sync::CancellationToken,
    /// The attempt, until it is finished (or taken back).
    pending: Arc<Mutex<Option<Pending>>>,
}

impl Finisher {
    fn finish(&self, result: Result<Context, TaskError>) {
        let Some(pending) = lock(&self.pending).take() else { return };
        let engine = &self.engine;
        let node = pending.workflow.node(pending.position);
        engine.running.end(pending.execution_id, &pending.task_id);
        if self.cancelled.is_cancelled() {
            // Stopped: its execution ended, its lease was lost, or the executor is stopping.
            worker::nothing_to_record(engine, &pending.execution_id.to_string(), &pending.task_id, pending.slot);
            return;
        }
        let outcome = AttemptOutcome {
            execution_id: pending.execution_id,
            result: worker::attempt_result(node, pending.attempt, result),
            logs: pending.log.take(),
            position: pending.position,
            task_id: pending.task_id,
            instance: pending.instance,
            lease_attempt: pending.lease_attempt,
            attempt: pending.attempt,
            workflow: pending.workflow,
        };
        recording::submit(engine, outcome, pending.slot);
    }
}

impl Drop for Finisher {
    fn drop(&mut self) {
        // A no-op once finished or taken back.
        self.finish(Err(TaskError::new(
            "the attempt ended without a result: what ran its task dropped it (an event loop that closed, say)",
        )));
    }
}
