//! Reading an execution back from the database as an [`ExecutionResult`].

use std::collections::HashMap;

use uuid::Uuid;

use super::events::parse_id;
use super::inputs::{parse_context, parse_delta};
use super::scheduler::parse_status;
use crate::context::Context;
use crate::error::StoreError;
use crate::logs::LogEntry;
use crate::result::{ExecutionResult, ExecutionSummary, TaskResult};
use crate::store::{self, AnyConnection, ExecutionSummaryRow, to_datetime};
use crate::timeline::{TaskEvent, task_timings};

/// The execution as stored now: final once it has finished, a snapshot before.
///
/// Its context is the initial context with the deltas of completed tasks applied in their
/// topological order, so a reader needs no workflow definition.
pub(crate) fn load_result(
    connection: &mut AnyConnection,
    execution_id: Uuid,
) -> Result<Option<ExecutionResult>, StoreError> {
    let key = execution_id.to_string();
    let Some(row) = store::find_execution(connection, &key)? else {
        return Ok(None);
    };
    let tasks = store::load_tasks(connection, &key)?;
    // Instances of mapped tasks (which have an index) are not applied: their gathered outputs are.
    let positions: HashMap<&str, (i32, bool)> =
        tasks.iter().map(|task| (task.task_id.as_str(), (task.position, task.map_index.is_some()))).collect();
    let mut outputs = store::load_outputs(connection, &key, None)?
        .into_iter()
        .map(|(task_id, text)| {
            let (position, instance) = positions.get(task_id.as_str()).copied().unwrap_or((i32::MAX, false));
            Ok((position, instance, task_id, parse_delta(&text)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    outputs.sort_by_key(|(position, _, _, _)| *position);
    let initial_context = Context::from_map(parse_context(&row.context)?);
    let mut context = initial_context.clone();
    for (_, instance, _, delta) in &outputs {
        if !instance {
            context.apply(delta);
        }
    }
    context.take_delta();
    let mut outputs: HashMap<String, Context> =
        outputs.into_iter().map(|(_, _, task_id, delta)| (task_id, Context::from_map(delta.written))).collect();

    let events = store::load_task_events(connection, &key)?
        .into_iter()
        .map(|row| {
            Ok(TaskEvent {
                kind: row.kind.parse().map_err(StoreError::Corrupt)?,
                attempt: row.attempt.map(|attempt| attempt.max(0) as u32),
                task_id: row.task_id,
                message: row.message,
                at: to_datetime(row.created_at),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut timings = task_timings(events);
    let mut graph = parse_graph(&row.workflow_graph)?;
    let mut logs: HashMap<String, Vec<LogEntry>> = HashMap::new();
    for entry in store::load_logs(connection, &key, None)? {
        logs.entry(entry.task_id.clone()).or_default().push(entry);
    }
    let task_results = tasks
        .into_iter()
        .map(|task| {
            let timing = timings.remove(&task.task_id).unwrap_or_default();
            Ok(TaskResult {
                dependencies: graph.remove(&task.task_id).unwrap_or_default(),
                output: outputs.remove(&task.task_id),
                logs: logs.remove(&task.task_id).unwrap_or_default(),
                ready_at: timing.ready_at,
                attempt_history: timing.attempts,
                status: parse_status(&task.status)?,
                attempts: (task.attempt - task.recoveries).max(0) as u32,
                recoveries: task.recoveries.max(0) as u32,
                started_at: task.started_at.map(to_datetime),
                finished_at: task.finished_at.map(to_datetime),
                error: task.error,
                map_index: task.map_index.and_then(|index| u32::try_from(index).ok()),
                task_id: task.task_id,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

    Ok(Some(ExecutionResult {
        execution_id,
        workflow_name: row.workflow_name,
        workflow_version: row.workflow_version,
        status: parse_status(&row.status)?,
        context,
        initial_context,
        task_results,
        error: row.error,
        created_at: to_datetime(row.created_at),
        started_at: row.started_at.map(to_datetime),
        finished_at: row.finished_at.map(to_datetime),
        rerun_of: row.rerun_of.as_deref().map(parse_id).transpose()?,
        key: row.execution_key,
    }))
}

/// Each task's dependencies from a stored graph (see `Workflow::dependency_listing`); none from
/// the empty graph of an execution stored before graphs were.
fn parse_graph(text: &str) -> Result<HashMap<String, Vec<String>>, StoreError> {
    if text.is_empty() {
        return Ok(HashMap::new());
    }
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("stored workflow graph: {error}")))
}

/// A listing row as a summary.
pub(crate) fn to_summary(row: ExecutionSummaryRow) -> Result<ExecutionSummary, StoreError> {
    Ok(ExecutionSummary {
        execution_id: parse_id(&row.id)?,
        workflow_name: row.workflow_name,
        status: parse_status(&row.status)?,
        error: row.error,
        created_at: to_datetime(row.created_at),
        finished_at: row.finished_at.map(to_datetime),
    })
}
