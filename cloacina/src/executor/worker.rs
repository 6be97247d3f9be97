//! The executor's background work: the dispatcher claims ready tasks, each attempt runs as its
//! own tokio task, and the recorder writes finished attempts in batches (one transaction for
//! everything that finished meanwhile).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use uuid::Uuid;

use super::engine::{Engine, lock};
use super::events::parse_id;
use super::scheduler::{self, AttemptOutcome, AttemptResult};
use crate::context::Context;
use crate::error::{StoreError, TaskError};
use crate::result::ExecutionStatus;
use crate::store::{self, ClaimedTask, now_micros};
use crate::workflow::TaskNode;

/// Outcomes recorded in one transaction at most.
const MAX_BATCH: usize = 512;

/// Claims ready work whenever woken, and at least every poll interval.
pub(crate) async fn dispatch(engine: Arc<Engine>) {
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
        let capacity = engine.permits.available_permits();
        if capacity == 0 {
            engine.set_saturated(true);
            return Ok(());
        }
        engine.set_saturated(false);
        let names = engine.registry.names();
        let owner = engine.owner.clone();
        let lease = chrono::Duration::from_std(engine.config.lease_duration).unwrap_or(chrono::Duration::MAX);
        let claimed = engine
            .commit(move |connection| {
                let now = Utc::now();
                let lease_until = (now + lease).timestamp_micros();
                scheduler::claim(connection, &owner, &names, capacity, now, lease_until)
            })
            .await?;
        let count = claimed.len();
        for task in claimed {
            match Arc::clone(&engine.permits).try_acquire_owned() {
                Ok(permit) => spawn_attempt(engine, task, permit),
                Err(_) => tracing::error!(task = %task.task_id, "claimed a task without a free permit"),
            }
        }
        if count < capacity {
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
    let mut next_retry = *lock(&engine.next_retry);
    if next_retry.is_some_and(|retry_at| retry_at <= now) {
        // The retry we slept for is due and was just claimed: look up the next one.
        let names = engine.registry.names();
        next_retry = engine
            .store
            .read(move |connection| store::next_ready_at(connection, &names))
            .await
            .ok()
            .flatten()
            .filter(|&retry_at| retry_at > now);
        *lock(&engine.next_retry) = next_retry;
    }
    let until_retry = next_retry.map(|retry_at| Duration::from_micros((retry_at - now).max(0) as u64));
    Instant::now() + until_retry.map_or(poll, |wait| wait.min(poll))
}

fn spawn_attempt(engine: &Arc<Engine>, claimed: ClaimedTask, permit: OwnedSemaphorePermit) {
    let engine = Arc::clone(engine);
    let tracker = engine.attempts.clone();
    tracker.spawn(async move {
        let outcome = run_attempt(&engine, claimed).await;
        if let Some(outcome) = outcome {
            // The recorder only goes away once every attempt has reported or been abandoned.
            let _ = engine.outcomes.send(outcome);
        }
        drop(permit);
        if engine.is_saturated() {
            engine.wake.notify_one();
        }
    });
}

/// Runs one attempt; `None` when there is nothing to record (the execution ended meanwhile, or
/// the task was handed back).
async fn run_attempt(engine: &Arc<Engine>, claimed: ClaimedTask) -> Option<AttemptOutcome> {
    let execution_id = match parse_id(&claimed.execution_id) {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "skipping a claimed task with a corrupt execution id");
            return None;
        }
    };
    let Some(workflow) = engine.registry.get(&claimed.workflow_name) else {
        // Unregistered between the claim and now: hand the task back for another executor.
        let task = (execution_id, claimed.task_id.clone());
        release(engine, vec![task]).await;
        return None;
    };
    let Some(position) = workflow.position(&claimed.task_id) else {
        let reason = format!(
            "task `{}` is not part of workflow `{}` as registered now (version {}); the workflow changed \
             since this execution was created",
            claimed.task_id,
            workflow.name(),
            workflow.version()
        );
        if let Err(error) = engine.stop_execution(execution_id, ExecutionStatus::Failed, reason).await {
            tracing::error!(%error, %execution_id, "could not fail an execution of a changed workflow");
        }
        return None;
    };
    let attempt = claimed.attempt.max(1) as u32;
    let node = workflow.node(position);
    let result = match engine.inputs.input(&engine.store, execution_id, &workflow, position).await {
        Ok(input) => {
            let cancelled = engine.start_attempt(execution_id, node.id());
            let timeout = node.timeout().or(engine.config.task_timeout);
            let result = tokio::select! {
                result = execute(node, input, timeout) => Some(result),
                _ = cancelled.cancelled() => None,
            };
            engine.end_attempt(execution_id, node.id());
            result?
        }
        Err(error) => Err(TaskError::new(format!("cannot load the task's input: {error}"))),
    };
    Some(AttemptOutcome { execution_id, result: attempt_result(node, attempt, result), workflow, position, attempt })
}

/// Runs the task on its own tokio task, so that a panic stays inside the attempt and a timeout
/// or cancellation can abort it.
async fn execute(node: &TaskNode, input: Context, timeout: Option<Duration>) -> Result<Context, TaskError> {
    let task = Arc::clone(node.task());
    let mut handle = tokio::spawn(async move { task.execute(input).await });
    // Dropping this future (on cancellation) must stop the task too.
    let guard = AbortOnDrop(handle.abort_handle());
    let joined = match timeout {
        Some(limit) => match tokio::time::timeout(limit, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => return Err(TaskError::Timeout(limit)),
        },
        None => (&mut handle).await,
    };
    drop(guard);
    match joined {
        Ok(result) => result,
        Err(error) if error.is_panic() => Err(TaskError::Panicked(panic_message(error.into_panic()))),
        Err(_) => Err(TaskError::new("the task was aborted")),
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a panic without a message".to_owned(),
        },
    }
}

/// Turns an attempt's result into what is recorded: a completion, a retry, or a failure.
fn attempt_result(node: &TaskNode, attempt: u32, result: Result<Context, TaskError>) -> AttemptResult {
    match result {
        Ok(context) => {
            let delta = context.delta();
            match serde_json::to_string(&delta) {
                Ok(json) => AttemptResult::Completed { delta: Arc::new(delta), json },
                Err(error) => {
                    AttemptResult::Failed { error: format!("the task's output is not serializable: {error}") }
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            let policy = node.retry_policy();
            if error.is_retryable() && policy.allows_retry_after(attempt) {
                let delay = policy.delay_after(attempt);
                AttemptResult::Retry { error: message, retry_at: now_micros() + delay.as_micros() as i64 }
            } else {
                AttemptResult::Failed { error: message }
            }
        }
    }
}

/// Hands tasks back to the queue, retrying the write until it lands or the executor closes.
pub(crate) async fn release(engine: &Engine, tasks: Vec<(Uuid, String)>) {
    let owner = engine.owner.clone();
    let tasks = Arc::new(tasks);
    let written = engine.commit(move |connection| scheduler::release(connection, &owner, &tasks, Utc::now())).await;
    if let Err(error) = written {
        tracing::warn!(%error, "could not hand tasks back; their leases will expire instead");
    }
}

/// Records finished attempts in batches until the executor closes and nothing is left.
pub(crate) async fn record(engine: Arc<Engine>, mut outcomes: mpsc::UnboundedReceiver<AttemptOutcome>) {
    loop {
        let first = tokio::select! {
            biased;
            received = outcomes.recv() => match received {
                Some(outcome) => outcome,
                None => return,
            },
            _ = engine.closing.cancelled() => match outcomes.try_recv() {
                Ok(outcome) => outcome,
                Err(_) => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match outcomes.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        record_batch(&engine, batch).await;
    }
}

async fn record_batch(engine: &Engine, batch: Vec<AttemptOutcome>) {
    let batch = Arc::new(batch);
    let mut delay = Duration::from_millis(10);
    let mut failures = 0;
    loop {
        let owner = engine.owner.clone();
        let outcomes = Arc::clone(&batch);
        let written = engine
            .commit_then(
                move |connection| scheduler::record_outcomes(connection, &owner, &outcomes, Utc::now()),
                // Keep the new deltas before anyone is woken to build an input from them.
                |transition| {
                    for &index in &transition.completed {
                        let outcome = &batch[index];
                        if let AttemptResult::Completed { delta, .. } = &outcome.result {
                            engine.inputs.remember_delta(outcome.execution_id, outcome.position, Arc::clone(delta));
                        }
                    }
                },
            )
            .await;
        match written {
            Ok(()) => return,
            Err(error) => {
                failures += 1;
                if engine.closing.is_cancelled() && failures >= 5 {
                    tracing::error!(%error, tasks = batch.len(), "giving up recording task results while closing; their leases will expire and the tasks run again");
                    return;
                }
                tracing::warn!(%error, tasks = batch.len(), "recording task results failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
