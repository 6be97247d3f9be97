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

use super::claiming::{ClaimRequest, admit_ready, make_ready};
use super::events::{EventKind, EventLog};
use super::inputs::load_input;
use super::mapping::{self, Gathered, Started};
use crate::context::ContextDelta;
use crate::error::StoreError;
use crate::logs::LogRecord;
use crate::result::{ExecutionStatus, TaskStatus};
use crate::store::{
    self, AnyConnection, AttemptEnd, ClaimedTask, EndedAttempt, FinishedDependencies, Lease, NewExecutionRow, NewTask,
    Notification,
};
use crate::trigger::{DependencyOutcomes, TriggerInput};
use crate::workflow::Workflow;

/// What a committed transaction changed, for the in-process announcements that follow it.
#[derive(Debug, Default)]
pub(crate) struct Transition {
    /// The events persisted, in order.
    pub events: Vec<super::Event>,
    /// Tasks that became `Ready` to run now, as (execution, task id).
    pub ready: Vec<(Uuid, String)>,
    /// Tasks this transaction found ready that are still `Pending` in the database: written
    /// (claimed, or made `Ready`) at the end of the transaction, see [`admit_ready`].
    pub pending_ready: Vec<FoundReady>,
    /// Ready tasks this transaction claimed for this process.
    pub claimed: usize,
    /// An oldest-first claim found fewer ready tasks than it could take: none is left waiting,
    /// unless work was announced after the number of announcements given here.
    pub backlog_drained: Option<u64>,
    /// Executions that reached a final state.
    pub finished: Vec<(Uuid, ExecutionStatus)>,
    /// The earliest retry scheduled, in microseconds since the epoch.
    pub next_retry: Option<i64>,
    /// Indices (into the recorded batch) of the outcomes recorded as completions.
    pub completed: Vec<usize>,
    /// Tasks finished by execution, counted at the end of the transaction.
    pub counts: Vec<FinishedCount>,
    /// An attempt of a concurrency-limited task ended (or may have): waiting limited work may
    /// be claimed now, here or by another process.
    pub slots_freed: bool,
    /// Outputs of mapped tasks gathered from their instances', for the input cache.
    pub gathered: Vec<Gathered>,
}

/// A task a transaction found ready, still `Pending` in the database.
#[derive(Debug, Clone)]
pub(crate) struct FoundReady {
    pub execution_id: Uuid,
    pub task_id: String,
    /// Its execution's workflow (task ids are only unique within one) and version.
    pub workflow_name: String,
    pub workflow_version: String,
    /// Whether it has a concurrency limit: claimed only by the claim that counts its key.
    pub limited: bool,
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
    /// The id of the task, or of the instance of a mapped task, as stored (`task[index]`).
    pub task_id: String,
    /// For an instance of a mapped task, its index.
    pub instance: Option<usize>,
    /// The start counter the lease was taken with.
    pub lease_attempt: i32,
    /// The attempt as retry policies count it.
    pub attempt: u32,
    pub result: AttemptResult,
    /// What the attempt logged, stored with its end.
    pub logs: Vec<LogRecord>,
}

/// What an execution is created with, besides its workflow.
pub(crate) struct Creation<'a> {
    pub execution_id: Uuid,
    /// The initial context as stored.
    pub context_json: &'a str,
    /// The binary data its values refer to.
    pub blobs: &'a [(String, Arc<[u8]>)],
    /// The trace it was started in.
    pub trace_context: Option<&'a str>,
    /// The key it is started under.
    pub key: Option<&'a str>,
    /// When its first tasks may start, in microseconds since the epoch, if later than now.
    pub start_at: Option<i64>,
}

/// Creates an execution and its task rows; root tasks whose trigger rule holds become `Ready`.
pub(crate) fn create_execution(
    connection: &mut AnyConnection,
    workflow: &Workflow,
    creation: &Creation<'_>,
    now: DateTime<Utc>,
    request: &ClaimRequest,
) -> Result<(Vec<ClaimedTask>, Transition), StoreError> {
    let &Creation { execution_id, context_json, blobs, trace_context, key, start_at } = creation;
    let micros = now.timestamp_micros();
    let id = execution_id.to_string();
    store::insert_execution(
        connection,
        &NewExecutionRow {
            id: id.clone(),
            workflow_name: workflow.name().to_owned(),
            workflow_version: workflow.version().to_owned(),
            status: ExecutionStatus::Pending.as_str().to_owned(),
            context: context_json.to_owned(),
            remaining_tasks: workflow.len() as i32,
            created_at: micros,
            workflow_shape: workflow.shape().to_owned(),
            rerun_of: None,
            workflow_graph: workflow.dependency_listing().to_owned(),
            trace_context: trace_context.map(str::to_owned),
            execution_key: key.map(str::to_owned),
        },
    )?;
    let tasks: Vec<NewTask<'_>> = workflow
        .tasks()
        .enumerate()
        .map(|(position, node)| NewTask {
            task_id: node.id(),
            position: position as i32,
            waiting_on: node.dependencies().len() as i32,
        })
        .collect();
    store::insert_tasks(connection, &id, (workflow.name(), workflow.version()), &tasks)?;
    set_concurrency(connection, &id, workflow)?;
    store::insert_blobs(connection, &id, blobs)?;

    let start_at = start_at.filter(|&start_at| start_at > micros);
    let mut log = EventLog::at(now);
    let delayed = start_at.map(|start_at| format!("starts at {}", store::to_datetime(start_at).to_rfc3339()));
    log.execution(execution_id, EventKind::ExecutionCreated, delayed);
    let mut transition = Transition::default();
    let roots: Vec<(usize, DependencyOutcomes)> = (0..workflow.len())
        .filter(|&p| workflow.node(p).dependencies().is_empty())
        .map(|p| (p, DependencyOutcomes::default()))
        .collect();
    let execution = ExecutionRef { id: execution_id, key: &id, workflow };
    settle(connection, &execution, Vec::new(), roots, 0, &mut log, micros, &mut transition)?;
    if let Some(start_at) = start_at {
        // A delayed start: its first tasks are ready at that time (whichever executor is
        // running then claims them, like a retry that is due), and become so then, not now.
        let pending = std::mem::take(&mut transition.pending_ready);
        make_ready(connection, &pending, start_at)?;
        log.forget(EventKind::TaskReady);
        transition.next_retry = Some(start_at);
        return Ok((Vec::new(), finish_transaction(connection, log, transition)?));
    }
    let claimed = admit_ready(connection, request, now, false, &mut log, &mut transition)?;
    Ok((claimed, finish_transaction(connection, log, transition)?))
}

/// Records the ends of attempts held by `request.owner`, then claims what is ready. An outcome
/// whose lease is no longer held (the execution was cancelled, or the lease passed to another
/// worker) changes nothing.
pub(crate) fn record_outcomes(
    connection: &mut AnyConnection,
    outcomes: &[AttemptOutcome],
    now: DateTime<Utc>,
    request: &ClaimRequest,
) -> Result<(Vec<ClaimedTask>, Transition), StoreError> {
    let owner = &*request.owner;
    let micros = now.timestamp_micros();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    // Tasks that reached a final state, grouped by execution so each execution settles once.
    let mut finished: FinishedByExecution = BTreeMap::new();

    let keys: Vec<String> = outcomes.iter().map(|outcome| outcome.execution_id.to_string()).collect();
    let ended: Vec<EndedAttempt<'_>> = outcomes
        .iter()
        .zip(&keys)
        .map(|(outcome, key)| EndedAttempt {
            lease: Lease { execution_id: key, task_id: &outcome.task_id, owner, attempt: outcome.lease_attempt },
            end: match &outcome.result {
                AttemptResult::Completed { json, delta } => AttemptEnd::Completed { output: json, blobs: &delta.blobs },
                AttemptResult::Retry { error, retry_at } => AttemptEnd::Retry { error, retry_at: *retry_at },
                AttemptResult::Failed { error } => AttemptEnd::Failed { error },
            },
        })
        .collect();
    let held = store::end_attempts(connection, &ended, micros)?;

    for (index, (outcome, key)) in outcomes.iter().zip(&keys).enumerate() {
        if !held[index] {
            continue;
        }
        if outcome.workflow.node(outcome.position).concurrency().is_some() {
            transition.slots_freed = true;
        }
        let task_id = outcome.task_id.as_str();
        let attempt = Some(outcome.attempt);
        if !outcome.logs.is_empty() {
            store::insert_logs(connection, key, task_id, outcome.attempt, &outcome.logs, micros)?;
        }
        match &outcome.result {
            AttemptResult::Completed { .. } => {
                // An instance's output is its mapped task's only once gathered.
                if outcome.instance.is_none() {
                    transition.completed.push(index);
                }
                log.task(outcome.execution_id, task_id, EventKind::TaskCompleted, attempt, None);
                finished_entry(&mut finished, outcome).push((outcome.position, TaskStatus::Completed));
            }
            AttemptResult::Retry { error, retry_at } => {
                log.task(outcome.execution_id, task_id, EventKind::TaskRetried, attempt, Some(error.clone()));
                transition.next_retry = Some(transition.next_retry.map_or(*retry_at, |next| next.min(*retry_at)));
            }
            AttemptResult::Failed { error } => {
                store::record_first_error(connection, key, &format!("task `{task_id}` failed: {error}"))?;
                log.task(outcome.execution_id, task_id, EventKind::TaskFailed, attempt, Some(error.clone()));
                finished_entry(&mut finished, outcome).push((outcome.position, TaskStatus::Failed));
            }
        }
    }

    for (execution_id, finished) in finished {
        settle_finished(connection, execution_id, finished, &mut log, micros, &mut transition)?;
    }
    let claimed = admit_ready(connection, request, now, true, &mut log, &mut transition)?;
    Ok((claimed, finish_transaction(connection, log, transition)?))
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
    store::finish_execution(connection, &key, status, micros)?;
    for task_id in store::cancel_unfinished_tasks(connection, &key, micros)? {
        log.task(execution_id, &task_id, EventKind::TaskCancelled, None, None);
    }
    let kind =
        if status == ExecutionStatus::Failed { EventKind::ExecutionFailed } else { EventKind::ExecutionCancelled };
    log.execution(execution_id, kind, Some(reason.to_owned()));
    transition.finished.push((execution_id, status));
    // Its running attempts of limited tasks no longer hold their keys.
    transition.slots_freed = true;
    let transition = finish_transaction(connection, log, transition)?;
    Ok((Some(status), transition))
}

/// Tasks that reached a final state in a transaction, by execution.
pub(super) type FinishedByExecution = BTreeMap<Uuid, Finished>;

/// Tasks of one execution that reached a final state in a transaction.
pub(super) struct Finished {
    pub workflow: Arc<Workflow>,
    /// Tasks, by position, with their state.
    pub tasks: Vec<(usize, TaskStatus)>,
    /// Instances of mapped tasks, by their task's position, with their state.
    pub instances: Vec<(usize, TaskStatus)>,
}

impl Finished {
    /// Nothing finished yet, of an execution of `workflow`.
    pub fn of(workflow: &Arc<Workflow>) -> Self {
        Self { workflow: Arc::clone(workflow), tasks: Vec::new(), instances: Vec::new() }
    }
}

/// Settles an execution after some of its tasks and instances finished: mapped tasks whose last
/// instance finished end, then the dependents of every task that ended are decided.
pub(super) fn settle_finished(
    connection: &mut AnyConnection,
    execution_id: Uuid,
    finished: Finished,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<(), StoreError> {
    let Finished { workflow, mut tasks, instances } = finished;
    let key = execution_id.to_string();
    let execution = ExecutionRef { id: execution_id, key: &key, workflow: &workflow };
    if !instances.is_empty() {
        tasks.extend(mapping::finish_instances(connection, &execution, &instances, log, now, transition)?);
    }
    let count = tasks.len();
    settle(connection, &execution, tasks, Vec::new(), count, log, now, transition)
}

/// An execution as the transaction bodies refer to it.
pub(super) struct ExecutionRef<'a> {
    pub id: Uuid,
    pub key: &'a str,
    pub workflow: &'a Workflow,
}

/// Where an outcome's task (or instance) goes among the finished.
fn finished_entry<'a>(
    finished: &'a mut FinishedByExecution,
    outcome: &AttemptOutcome,
) -> &'a mut Vec<(usize, TaskStatus)> {
    let entry = finished.entry(outcome.execution_id).or_insert_with(|| Finished::of(&outcome.workflow));
    if outcome.instance.is_some() { &mut entry.instances } else { &mut entry.tasks }
}

/// Decides the dependents of tasks that just finished, cascading through skips, then counts the
/// finished tasks and ends the execution when none is left.
///
/// `finished` are tasks that reached a final state in this transaction, with that state (their
/// dependents wait on one dependency less); `roots` are tasks waiting on nothing from the start,
/// with how their dependencies ended (none, or all completed in a re-run);
/// `finished_count` is how many tasks the caller finished.
#[allow(clippy::too_many_arguments)]
pub(super) fn settle(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    mut finished: Vec<(usize, TaskStatus)>,
    roots: Vec<(usize, DependencyOutcomes)>,
    mut finished_count: usize,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<(), StoreError> {
    let workflow = execution.workflow;
    let mut released = roots;
    loop {
        if !finished.is_empty() {
            released.extend(release_dependents(connection, execution, &finished)?);
            finished.clear();
        }
        if released.is_empty() {
            break;
        }
        released.sort_unstable_by_key(|(position, _)| *position);
        let (ready, skipped) = decide(connection, execution, &released)?;
        released.clear();
        let ids = |positions: &[usize]| positions.iter().map(|&p| workflow.node(p).id()).collect::<Vec<_>>();
        store::settle_pending(connection, execution.key, &ids(&skipped), TaskStatus::Skipped, now)?;
        for &position in &ready {
            log.task(execution.id, workflow.node(position).id(), EventKind::TaskReady, None, None);
        }
        for &position in &skipped {
            log.task(execution.id, workflow.node(position).id(), EventKind::TaskSkipped, None, None);
        }
        finished_count += skipped.len();
        finished = skipped.into_iter().map(|position| (position, TaskStatus::Skipped)).collect();
        for position in ready {
            let node = workflow.node(position);
            if node.mapping().is_some() {
                // A mapped task runs as its instances; one over no list (or an empty one) ends here.
                match mapping::start(connection, execution, position, log, now, transition)? {
                    Started::Instances(instances) => transition.pending_ready.extend(instances),
                    Started::Ended(status) => {
                        finished_count += 1;
                        finished.push((position, status));
                    }
                    Started::Unchanged => {}
                }
                continue;
            }
            transition.pending_ready.push(FoundReady {
                execution_id: execution.id,
                task_id: node.id().to_owned(),
                workflow_name: workflow.name().to_owned(),
                workflow_version: workflow.version().to_owned(),
                limited: node.concurrency().is_some(),
            });
        }
    }

    if finished_count > 0 {
        // Counted at the end of the transaction (see `count_finished`).
        transition.counts.push(FinishedCount { execution_id: execution.id, count: finished_count as i32 });
    }
    Ok(())
}

/// How many tasks of an execution a transaction finished.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinishedCount {
    pub execution_id: Uuid,
    pub count: i32,
}

/// Counts the tasks each execution finished in the transaction and ends those with none left.
///
/// Done last, so that the execution's row, which this update locks until the commit (on
/// PostgreSQL, against the other processes working on the same execution), is held as briefly as
/// can be. On SQLite the same statement takes the numbers of the execution's events logged so
/// far, and the one that ends it the number of its own: the first number taken, by execution.
fn count_finished(
    connection: &mut AnyConnection,
    log: &mut EventLog,
    transition: &mut Transition,
) -> Result<HashMap<String, i64>, StoreError> {
    let numbering = matches!(connection, AnyConnection::Sqlite(_));
    let logged = if numbering { log.counts() } else { HashMap::new() };
    let mut taken = HashMap::new();
    for FinishedCount { execution_id, count } in std::mem::take(&mut transition.counts) {
        let key = execution_id.to_string();
        let key = key.as_str();
        let (remaining, error) = if numbering {
            let events = logged.get(&execution_id).copied().unwrap_or(0) as i64;
            let (remaining, error, last) = store::count_finished_numbering(connection, key, count, events)?;
            taken.insert(key.to_owned(), last - events + 1);
            (remaining, error)
        } else {
            store::count_finished_tasks(connection, key, count)?
        };
        if remaining > 0 {
            continue;
        }
        let status = if error.is_some() { ExecutionStatus::Failed } else { ExecutionStatus::Completed };
        let now = log.micros();
        let finished = if numbering {
            // Its number follows those just taken, as its event follows theirs.
            store::finish_execution_numbering(connection, key, status, now)?.is_some()
        } else {
            store::finish_execution(connection, key, status, now)?
        };
        if finished {
            let kind = if status == ExecutionStatus::Failed {
                EventKind::ExecutionFailed
            } else {
                EventKind::ExecutionCompleted
            };
            log.execution(execution_id, kind, error);
            transition.finished.push((execution_id, status));
        }
    }
    Ok(taken)
}

/// Tells the dependents of finished tasks how those ended; returns the dependents now waiting on
/// nothing, with how all their dependencies ended.
fn release_dependents(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    finished: &[(usize, TaskStatus)],
) -> Result<Vec<(usize, DependencyOutcomes)>, StoreError> {
    let workflow = execution.workflow;
    // What each dependent learns; a dependent of several finished tasks learns it all at once.
    let mut learned: BTreeMap<usize, FinishedDependencies> = BTreeMap::new();
    for &(position, status) in finished {
        for &dependent in workflow.node(position).dependents() {
            let entry = learned.entry(dependent).or_insert(FinishedDependencies { finished: 0, failed: 0, skipped: 0 });
            entry.finished += 1;
            entry.failed += i32::from(status == TaskStatus::Failed);
            entry.skipped += i32::from(status != TaskStatus::Failed && status != TaskStatus::Completed);
        }
    }
    // One statement per distinct combination; usually there is one.
    let mut grouped: BTreeMap<FinishedDependencies, Vec<&str>> = BTreeMap::new();
    for (dependent, counts) in learned {
        grouped.entry(counts).or_default().push(workflow.node(dependent).id());
    }
    let mut released = Vec::new();
    for (counts, task_ids) in grouped {
        for task in store::release_dependents(connection, execution.key, &task_ids, counts)? {
            let Some(position) = workflow.position(&task.task_id) else { continue };
            if task.waiting_on <= 0 {
                let total = workflow.node(position).dependencies().len();
                let failed = task.failed_dependencies.max(0) as usize;
                let skipped = task.skipped_dependencies.max(0) as usize;
                let completed = total.saturating_sub(failed + skipped);
                released.push((position, DependencyOutcomes { completed, failed, skipped }));
            }
        }
    }
    Ok(released)
}

/// Splits tasks whose dependencies have all finished into those that run and those skipped.
fn decide(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    released: &[(usize, DependencyOutcomes)],
) -> Result<(Vec<usize>, Vec<usize>), StoreError> {
    let workflow = execution.workflow;
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for &(position, dependencies) in released {
        let rule = workflow.node(position).trigger_rule();
        let context =
            if rule.needs_context() { Some(load_input(connection, execution.key, workflow, position)?) } else { None };
        if rule.evaluate(&TriggerInput { dependencies, context: context.as_ref() }) {
            ready.push(position);
        } else {
            skipped.push(position);
        }
    }
    Ok((ready, skipped))
}

pub(super) fn finish_transaction(
    connection: &mut AnyConnection,
    mut log: EventLog,
    mut transition: Transition,
) -> Result<Transition, StoreError> {
    // Tasks found ready that no claim took (a transaction that claims nothing).
    let pending = std::mem::take(&mut transition.pending_ready);
    make_ready(connection, &pending, log.micros())?;
    transition.ready.extend(pending.into_iter().map(|found| (found.execution_id, found.task_id)));
    let taken = count_finished(connection, &mut log, &mut transition)?;
    store::insert_numbered_events(connection, &log.rows(), &taken)?;
    // Other processes hear of work left unclaimed and of executions that ended.
    let mut notifications: Vec<Notification> = transition
        .finished
        .iter()
        .map(|&(execution_id, status)| Notification::Finished { execution_id, status })
        .collect();
    if transition.ready.len() > transition.claimed || transition.slots_freed {
        notifications.push(Notification::Ready);
    }
    store::notify(connection, &notifications)?;
    transition.events = log.into_events();
    Ok(transition)
}

/// Stores the key and limit of each of a new execution's concurrency-limited tasks.
pub(super) fn set_concurrency(
    connection: &mut AnyConnection,
    key: &str,
    workflow: &Workflow,
) -> Result<(), StoreError> {
    if !workflow.has_concurrency_limits() {
        return Ok(());
    }
    let limited: Vec<(&str, &str, u32)> = workflow
        .tasks()
        .filter_map(|node| node.concurrency().map(|limit| (node.id(), limit.key.as_str(), limit.limit)))
        .collect();
    store::set_concurrency(connection, key, &limited)
}

/// Parses a stored status.
pub(crate) fn parse_status<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(StoreError::Corrupt)
}
