//! The state machine of an execution, as transaction bodies.
//!
//! Each function here runs inside one write transaction (see [`Store::write`]): it changes rows
//! and records the matching events in the same transaction, and returns a [`Transition`] saying
//! what to announce once the transaction has committed.
//!
//! [`Store::write`]: crate::store::Store

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{EventKind, EventLog};
use super::inputs::load_input;
use crate::context::{Context, ContextDelta};
use crate::error::StoreError;
use crate::result::{ExecutionStatus, TaskStatus};
use crate::store::{self, AnyConnection, ClaimedTask, Lease, NewExecutionRow, NewTaskRow};
use crate::trigger::TriggerInput;
use crate::workflow::Workflow;

/// What a committed transaction changed, for the in-process announcements that follow it.
#[derive(Debug, Default)]
pub(crate) struct Transition {
    /// The events persisted, in order.
    pub events: Vec<super::Event>,
    /// Tasks that became `Ready` to run now.
    pub ready: usize,
    /// Executions that reached a final state.
    pub finished: Vec<(Uuid, ExecutionStatus)>,
    /// The earliest retry scheduled, in microseconds since the epoch.
    pub next_retry: Option<i64>,
    /// Indices (into the recorded batch) of the outcomes recorded as completions.
    pub completed: Vec<usize>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub(crate) enum AttemptResult {
    /// The task completed with this delta (also as JSON, as stored).
    Completed { delta: Arc<ContextDelta>, json: String },
    /// The attempt failed and another is scheduled.
    Retry { error: String, retry_at: i64 },
    /// The task failed for good.
    Failed { error: String },
}

/// The end of one attempt, to be recorded.
#[derive(Debug, Clone)]
pub(crate) struct AttemptOutcome {
    pub execution_id: Uuid,
    pub workflow: Arc<Workflow>,
    pub position: usize,
    pub attempt: u32,
    pub result: AttemptResult,
}

/// Creates an execution and its task rows; root tasks whose trigger rule holds become `Ready`.
pub(crate) fn create_execution(
    connection: &mut AnyConnection,
    execution_id: Uuid,
    workflow: &Workflow,
    context: &Context,
    now: DateTime<Utc>,
) -> Result<((), Transition), StoreError> {
    let micros = now.timestamp_micros();
    let id = execution_id.to_string();
    let context_json =
        serde_json::to_string(context.as_map()).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    store::insert_execution(
        connection,
        &NewExecutionRow {
            id: id.clone(),
            workflow_name: workflow.name().to_owned(),
            workflow_version: workflow.version().to_owned(),
            status: ExecutionStatus::Pending.as_str().to_owned(),
            context: context_json,
            remaining_tasks: workflow.len() as i32,
            created_at: micros,
        },
    )?;
    let rows: Vec<NewTaskRow> = workflow
        .tasks()
        .enumerate()
        .map(|(position, node)| NewTaskRow {
            execution_id: id.clone(),
            task_id: node.id().to_owned(),
            position: position as i32,
            workflow_name: workflow.name().to_owned(),
            status: TaskStatus::Pending.as_str().to_owned(),
            waiting_on: node.dependencies().len() as i32,
            ready_at: None,
            finished_at: None,
        })
        .collect();
    store::insert_tasks(connection, &rows)?;

    let mut log = EventLog::at(now);
    log.execution(execution_id, EventKind::ExecutionCreated, None);
    let mut transition = Transition::default();
    let roots: Vec<usize> = (0..workflow.len()).filter(|&p| workflow.node(p).dependencies().is_empty()).collect();
    let execution = ExecutionRef { id: execution_id, key: &id, workflow };
    settle(connection, &execution, Vec::new(), roots, 0, &mut log, micros, &mut transition)?;
    Ok(((), finish_transaction(connection, log, transition)?))
}

/// Claims up to `limit` ready tasks for `owner`, starting their executions where needed.
pub(crate) fn claim(
    connection: &mut AnyConnection,
    owner: &str,
    workflow_names: &[String],
    limit: usize,
    now: DateTime<Utc>,
    lease_until: i64,
) -> Result<(Vec<ClaimedTask>, Transition), StoreError> {
    let micros = now.timestamp_micros();
    let claimed = store::claim_ready(connection, owner, workflow_names, limit, micros, lease_until)?;
    let mut log = EventLog::at(now);
    if !claimed.is_empty() {
        let mut executions: Vec<String> = claimed.iter().map(|task| task.execution_id.clone()).collect();
        executions.sort_unstable();
        executions.dedup();
        for started in store::mark_started(connection, &executions, micros)? {
            log.execution(super::events::parse_id(&started)?, EventKind::ExecutionStarted, None);
        }
        for task in &claimed {
            let execution_id = super::events::parse_id(&task.execution_id)?;
            log.task(execution_id, &task.task_id, EventKind::TaskStarted, Some(task.attempt as u32), None);
        }
    }
    let transition = finish_transaction(connection, log, Transition::default())?;
    Ok((claimed, transition))
}

/// Records the ends of attempts held by `owner`. An outcome whose lease is no longer held (the
/// execution was cancelled, or the lease passed to another worker) changes nothing.
pub(crate) fn record_outcomes(
    connection: &mut AnyConnection,
    owner: &str,
    outcomes: &[AttemptOutcome],
    now: DateTime<Utc>,
) -> Result<((), Transition), StoreError> {
    let micros = now.timestamp_micros();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    // Tasks that reached a final state, grouped by execution so each execution settles once.
    let mut finished: BTreeMap<Uuid, (Arc<Workflow>, Vec<usize>)> = BTreeMap::new();

    for (index, outcome) in outcomes.iter().enumerate() {
        let key = outcome.execution_id.to_string();
        let task_id = outcome.workflow.node(outcome.position).id();
        let lease = Lease { execution_id: &key, task_id, owner, attempt: outcome.attempt as i32 };
        let attempt = Some(outcome.attempt);
        match &outcome.result {
            AttemptResult::Completed { json, .. } => {
                if store::finish_attempt(connection, &lease, TaskStatus::Completed, None, None, micros)? {
                    store::insert_output(connection, &key, task_id, json, micros)?;
                    transition.completed.push(index);
                    log.task(outcome.execution_id, task_id, EventKind::TaskCompleted, attempt, None);
                    finished_entry(&mut finished, outcome).push(outcome.position);
                }
            }
            AttemptResult::Retry { error, retry_at } => {
                if store::finish_attempt(connection, &lease, TaskStatus::Ready, Some(error), Some(*retry_at), micros)? {
                    log.task(outcome.execution_id, task_id, EventKind::TaskRetried, attempt, Some(error.clone()));
                    transition.next_retry = Some(transition.next_retry.map_or(*retry_at, |next| next.min(*retry_at)));
                }
            }
            AttemptResult::Failed { error } => {
                if store::finish_attempt(connection, &lease, TaskStatus::Failed, Some(error), None, micros)? {
                    store::record_first_error(connection, &key, &format!("task `{task_id}` failed: {error}"))?;
                    log.task(outcome.execution_id, task_id, EventKind::TaskFailed, attempt, Some(error.clone()));
                    finished_entry(&mut finished, outcome).push(outcome.position);
                }
            }
        }
    }

    for (execution_id, (workflow, positions)) in finished {
        let key = execution_id.to_string();
        let execution = ExecutionRef { id: execution_id, key: &key, workflow: &workflow };
        let count = positions.len();
        settle(connection, &execution, positions, Vec::new(), count, &mut log, micros, &mut transition)?;
    }
    Ok(((), finish_transaction(connection, log, transition)?))
}

/// Ends an unfinished execution early with `status` (`Cancelled`, or `Failed` when it cannot go
/// on) and cancels its unfinished tasks. Returns the execution's final status (`status`, or the
/// one it had already reached), or `None` if it does not exist.
pub(crate) fn stop_execution(
    connection: &mut AnyConnection,
    execution_id: Uuid,
    status: ExecutionStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(Option<ExecutionStatus>, Transition), StoreError> {
    let key = execution_id.to_string();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    let Some(current) = store::execution_status(connection, &key)? else {
        return Ok((None, transition));
    };
    let current = parse_status::<ExecutionStatus>(&current)?;
    if current.is_finished() {
        return Ok((Some(current), transition));
    }
    let micros = now.timestamp_micros();
    store::record_first_error(connection, &key, reason)?;
    store::finish_execution(connection, &key, status, None, micros)?;
    for task_id in store::cancel_unfinished_tasks(connection, &key, micros)? {
        log.task(execution_id, &task_id, EventKind::TaskCancelled, None, None);
    }
    let kind =
        if status == ExecutionStatus::Failed { EventKind::ExecutionFailed } else { EventKind::ExecutionCancelled };
    log.execution(execution_id, kind, Some(reason.to_owned()));
    transition.finished.push((execution_id, status));
    let transition = finish_transaction(connection, log, transition)?;
    Ok((Some(status), transition))
}

struct ExecutionRef<'a> {
    id: Uuid,
    key: &'a str,
    workflow: &'a Workflow,
}

fn finished_entry<'a>(
    finished: &'a mut BTreeMap<Uuid, (Arc<Workflow>, Vec<usize>)>,
    outcome: &AttemptOutcome,
) -> &'a mut Vec<usize> {
    &mut finished.entry(outcome.execution_id).or_insert_with(|| (Arc::clone(&outcome.workflow), Vec::new())).1
}

/// Decides the dependents of tasks that just finished, cascading through skips, then counts the
/// finished tasks and ends the execution when none is left.
///
/// `finished` are positions that reached a final state in this transaction (their dependents
/// wait on one dependency less); `released` are positions already waiting on nothing (roots);
/// `finished_count` is how many tasks the caller finished.
#[allow(clippy::too_many_arguments)]
fn settle(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    mut finished: Vec<usize>,
    mut released: Vec<usize>,
    mut finished_count: usize,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<(), StoreError> {
    let workflow = execution.workflow;
    loop {
        if !finished.is_empty() {
            // A dependent of several tasks finished here waits on that many fewer.
            let mut decrements: BTreeMap<usize, i32> = BTreeMap::new();
            for &position in &finished {
                for &dependent in workflow.node(position).dependents() {
                    *decrements.entry(dependent).or_default() += 1;
                }
            }
            let mut by_count: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
            for (dependent, count) in decrements {
                by_count.entry(count).or_default().push(workflow.node(dependent).id());
            }
            for (count, task_ids) in by_count {
                for task_id in store::release_dependents(connection, execution.key, &task_ids, count)? {
                    released.extend(workflow.position(&task_id));
                }
            }
            finished.clear();
        }
        if released.is_empty() {
            break;
        }
        released.sort_unstable();
        let (ready, skipped) = decide(connection, execution, &released)?;
        released.clear();
        let ids = |positions: &[usize]| positions.iter().map(|&p| workflow.node(p).id()).collect::<Vec<_>>();
        store::settle_pending(connection, execution.key, &ids(&ready), TaskStatus::Ready, now)?;
        store::settle_pending(connection, execution.key, &ids(&skipped), TaskStatus::Skipped, now)?;
        for &position in &ready {
            log.task(execution.id, workflow.node(position).id(), EventKind::TaskReady, None, None);
        }
        for &position in &skipped {
            log.task(execution.id, workflow.node(position).id(), EventKind::TaskSkipped, None, None);
        }
        transition.ready += ready.len();
        finished_count += skipped.len();
        finished = skipped;
    }

    if finished_count > 0 {
        let (remaining, error) = store::count_finished_tasks(connection, execution.key, finished_count as i32)?;
        if remaining <= 0 {
            let status = if error.is_some() { ExecutionStatus::Failed } else { ExecutionStatus::Completed };
            if store::finish_execution(connection, execution.key, status, None, now)? {
                let kind = if status == ExecutionStatus::Failed {
                    EventKind::ExecutionFailed
                } else {
                    EventKind::ExecutionCompleted
                };
                log.execution(execution.id, kind, error);
                transition.finished.push((execution.id, status));
            }
        }
    }
    Ok(())
}

/// Splits tasks whose dependencies have all finished into those that run and those skipped.
fn decide(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    released: &[usize],
) -> Result<(Vec<usize>, Vec<usize>), StoreError> {
    let workflow = execution.workflow;
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    // Statuses of every dependency involved, read once.
    let mut dependency_ids: Vec<&str> =
        released.iter().flat_map(|&p| workflow.node(p).dependencies().iter().map(|&d| workflow.node(d).id())).collect();
    dependency_ids.sort_unstable();
    dependency_ids.dedup();
    let statuses: HashMap<String, TaskStatus> = store::task_statuses(connection, execution.key, &dependency_ids)?
        .into_iter()
        .map(|(id, status)| parse_status(&status).map(|status| (id, status)))
        .collect::<Result<_, _>>()?;

    for &position in released {
        let node = workflow.node(position);
        let dependency_statuses: Vec<TaskStatus> = node
            .dependencies()
            .iter()
            .map(|&d| statuses.get(workflow.node(d).id()).copied().unwrap_or(TaskStatus::Pending))
            .collect();
        let context = if node.trigger_rule().needs_context() {
            Some(load_input(connection, execution.key, workflow, position)?)
        } else {
            None
        };
        let input = TriggerInput { dependency_statuses: &dependency_statuses, context: context.as_ref() };
        if node.trigger_rule().evaluate(&input) {
            ready.push(position);
        } else {
            skipped.push(position);
        }
    }
    Ok((ready, skipped))
}

fn finish_transaction(
    connection: &mut AnyConnection,
    log: EventLog,
    mut transition: Transition,
) -> Result<Transition, StoreError> {
    store::insert_events(connection, &log.rows())?;
    transition.events = log.into_events();
    Ok(transition)
}

/// Parses a stored status.
pub(crate) fn parse_status<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(StoreError::Corrupt)
}

/// Hands tasks this process holds but will not run back to the queue, to be claimed at once.
pub(crate) fn release(
    connection: &mut AnyConnection,
    owner: &str,
    tasks: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> Result<((), Transition), StoreError> {
    let micros = now.timestamp_micros();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    for (execution_id, task_id) in tasks {
        let key = execution_id.to_string();
        if store::release_leases(connection, &key, &[task_id.as_str()], owner, micros)? > 0 {
            log.task(
                *execution_id,
                task_id,
                EventKind::TaskReady,
                None,
                Some("released by a stopping worker".to_owned()),
            );
            transition.ready += 1;
        }
    }
    Ok(((), finish_transaction(connection, log, transition)?))
}
