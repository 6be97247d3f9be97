//! Mapped tasks in an execution's transactions (see [`crate::mapping`]): starting one when it
//! is found ready, and ending it when its last instance finishes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::events::{EventKind, EventLog};
use super::inputs::{load_input, parse_delta};
use super::scheduler::{ExecutionRef, FoundReady, Transition, parse_status};
use crate::context::ContextDelta;
use crate::error::StoreError;
use crate::limits;
use crate::mapping;
use crate::result::TaskStatus;
use crate::store::{self, AnyConnection, MappedTask};
use crate::workflow::TaskNode;

/// A mapped task's output, gathered in a transaction, for the input cache once it commits.
#[derive(Debug, Clone)]
pub(crate) struct Gathered {
    pub execution_id: uuid::Uuid,
    pub position: usize,
    pub delta: Arc<ContextDelta>,
    /// Its size as stored.
    pub bytes: usize,
}

/// What became of a mapped task found ready.
pub(super) enum Started {
    /// It runs: these instances are ready (the rest wait for `max_parallel`).
    Instances(Vec<FoundReady>),
    /// It ended at once in this state: completed over an empty list, or failed without a list.
    Ended(TaskStatus),
    /// It was no longer waiting to start.
    Unchanged,
}

/// Starts the mapped task at `position`, found ready: reads its list and stores one instance per
/// element, the first of them (up to its `max_parallel`) ready.
pub(super) fn start(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    position: usize,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<Started, StoreError> {
    let workflow = execution.workflow;
    let node = workflow.node(position);
    let Some(mapping) = node.mapping() else {
        return Err(StoreError::Corrupt(format!("task `{}` is not mapped", node.id())));
    };
    let input = load_input(connection, execution.key, workflow, position)?;
    let count = match mapping::items(node.id(), mapping, &input) {
        Ok(items) => items.len(),
        Err(problem) => {
            let ended = fail(connection, execution, node, &limits::sanitize_message(&problem), log, now)?;
            return Ok(ended.map_or(Started::Unchanged, Started::Ended));
        }
    };
    if count == 0 {
        log.task(execution.id, node.id(), EventKind::TaskMapped, None, Some("0 instances".to_owned()));
        let ended = complete(connection, execution, position, mapping::gather(mapping, 0, []), log, now, transition)?;
        return Ok(ended.map_or(Started::Unchanged, Started::Ended));
    }
    let task = MappedTask {
        execution_id: execution.key,
        workflow: (workflow.name(), workflow.version()),
        task_id: node.id(),
        position: position as i32,
    };
    let concurrency = node.concurrency().map(|limit| (limit.key.as_str(), limit.limit));
    if !store::start_mapped(connection, task, count, concurrency, now)? {
        return Ok(Started::Unchanged);
    }
    let noun = if count == 1 { "instance" } else { "instances" };
    log.task(execution.id, node.id(), EventKind::TaskMapped, None, Some(format!("{count} {noun}")));
    Ok(Started::Instances(release(execution, node, 0..mapping.parallel(count), log)))
}

/// Counts finished instances (by the position of their mapped task, with how each ended),
/// makes the next ones ready where `max_parallel` held them back, and ends each mapped task
/// whose last instance finished. Returns the mapped tasks that ended, with their state.
pub(super) fn finish_instances(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    instances: &[(usize, TaskStatus)],
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<Vec<(usize, TaskStatus)>, StoreError> {
    let workflow = execution.workflow;
    let mut by_task: BTreeMap<usize, usize> = BTreeMap::new();
    for &(position, _) in instances {
        *by_task.entry(position).or_default() += 1;
    }
    let mut ended = Vec::new();
    for (position, finished) in by_task {
        let node = workflow.node(position);
        let Some(mapping) = node.mapping() else { continue };
        let Some((left, count)) = store::instances_finished(connection, execution.key, node.id(), finished)? else {
            // No longer running: its execution was stopped.
            continue;
        };
        // One instance is made ready as each finishes, until all have been.
        let done = count - left;
        let parallel = mapping.parallel(count);
        let next = (parallel + done - finished).min(count)..(parallel + done).min(count);
        transition.pending_ready.extend(release(execution, node, next, log));
        if left == 0
            && let Some(status) = end(connection, execution, position, count, log, now, transition)?
        {
            ended.push((position, status));
        }
    }
    Ok(ended)
}

/// The instances `indices` of a mapped task, found ready.
fn release(
    execution: &ExecutionRef<'_>,
    node: &TaskNode,
    indices: std::ops::Range<usize>,
    log: &mut EventLog,
) -> Vec<FoundReady> {
    let workflow = execution.workflow;
    indices
        .map(|index| {
            let task_id = mapping::instance_id(node.id(), index);
            log.task(execution.id, &task_id, EventKind::TaskReady, None, None);
            FoundReady {
                execution_id: execution.id,
                task_id,
                workflow_name: workflow.name().to_owned(),
                workflow_version: workflow.version().to_owned(),
                limited: node.concurrency().is_some(),
            }
        })
        .collect()
}

/// Ends a mapped task whose `count` instances have all finished: completed with their gathered
/// outputs when all completed, failed (naming the first failure) otherwise. Returns the state
/// it ended in (`None` if it had ended already).
fn end(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    position: usize,
    count: usize,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<Option<TaskStatus>, StoreError> {
    let node = execution.workflow.node(position);
    let Some(mapping) = node.mapping() else { return Ok(None) };
    let (mut failed, mut deltas) = (Vec::new(), Vec::with_capacity(count));
    for instance in store::load_instance_ends(connection, execution.key, position as i32)? {
        if parse_status::<TaskStatus>(&instance.status)? != TaskStatus::Completed {
            failed.push((instance.index, instance.error.unwrap_or_default()));
        } else if let Some(output) = &instance.output {
            deltas.push((instance.index, parse_delta(output)?));
        }
    }
    if let Some((index, error)) = failed.iter().min_by_key(|(index, _)| *index) {
        let message = format!(
            "{} of its {count} instances did not complete; the first, `{}`: {error}",
            failed.len(),
            mapping::instance_id(node.id(), *index)
        );
        return fail(connection, execution, node, &limits::sanitize_message(&message), log, now);
    }
    let gathered = mapping::gather(mapping, count, deltas);
    complete(connection, execution, position, gathered, log, now, transition)
}

/// Completes a mapped task with its gathered output (failing it if that cannot be stored);
/// returns the state it ended in (`None` if it had ended already).
fn complete(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    position: usize,
    gathered: ContextDelta,
    log: &mut EventLog,
    now: i64,
    transition: &mut Transition,
) -> Result<Option<TaskStatus>, StoreError> {
    let node = execution.workflow.node(position);
    if let Err(error) = gathered.check_storable() {
        let message = format!("its instances' outputs cannot be gathered: {error}");
        return fail(connection, execution, node, &limits::sanitize_message(&message), log, now);
    }
    let json = serde_json::to_string(&gathered)
        .map_err(|error| StoreError::Corrupt(format!("a gathered output is not serializable: {error}")))?;
    if !store::finish_mapped(connection, execution.key, node.id(), TaskStatus::Completed, None, now)? {
        return Ok(None);
    }
    store::insert_output(connection, execution.key, node.id(), &json, now)?;
    log.task(execution.id, node.id(), EventKind::TaskCompleted, None, None);
    transition.gathered.push(Gathered {
        execution_id: execution.id,
        position,
        bytes: json.len(),
        delta: Arc::new(gathered),
    });
    Ok(Some(TaskStatus::Completed))
}

/// Fails a mapped task with `error`; returns the state it ended in (`None` if it had ended
/// already).
fn fail(
    connection: &mut AnyConnection,
    execution: &ExecutionRef<'_>,
    node: &TaskNode,
    error: &str,
    log: &mut EventLog,
    now: i64,
) -> Result<Option<TaskStatus>, StoreError> {
    if !store::finish_mapped(connection, execution.key, node.id(), TaskStatus::Failed, Some(error), now)? {
        return Ok(None);
    }
    store::record_first_error(connection, execution.key, &format!("task `{}` failed: {error}", node.id()))?;
    log.task(execution.id, node.id(), EventKind::TaskFailed, None, Some(error.to_owned()));
    Ok(Some(TaskStatus::Failed))
}
