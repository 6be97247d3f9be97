//! Mapped tasks in the database (see `crate::mapping`): their instances' rows, the count of
//! instances not finished, and what the instances wrote.

use diesel::OptionalExtension;
use diesel::RunQueryDsl;
use diesel::sql_types::{Integer, Nullable, Text};

use super::connection::AnyConnection;
use super::statement::{Statement, sql};
use crate::error::StoreError;
use crate::result::TaskStatus;

sql! {
    /// Inserts the instances `0..count` of a mapped task as `Pending`, with the task's
    /// concurrency key and limit, if it has them.
    InsertInstances = "WITH RECURSIVE indices (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM indices WHERE i + 1 < ?) \
                       INSERT INTO task_executions \
                       (execution_id, workflow_name, workflow_version, task_id, position, status, waiting_on, \
                        map_index, concurrency_key, concurrency_limit) \
                       SELECT ?, ?, ?, ? || '[' || CAST(i AS TEXT) || ']', ?, 'Pending', 0, i, ?, ? FROM indices";
}

sql! {
    /// Starts a mapped task found ready: it runs while its `count` instances do.
    StartMapped = "UPDATE task_executions SET status = 'Running', waiting_on = ?, map_count = ?, started_at = ?, \
                   ready_at = ?, concurrency_key = NULL \
                   WHERE execution_id = ? AND task_id = ? AND status = 'Pending'";
}

sql! {
    /// Counts instances of a running mapped task that finished; returns how many are left and
    /// how many it has.
    InstancesFinished = "UPDATE task_executions SET waiting_on = waiting_on - ? \
                         WHERE execution_id = ? AND task_id = ? AND status = 'Running' \
                         RETURNING waiting_on, map_count";
}

sql! {
    /// Ends a mapped task (running, or found ready with no list to run over).
    FinishMapped = "UPDATE task_executions SET status = ?, error = ?, finished_at = ?, waiting_on = 0, \
                    started_at = COALESCE(started_at, ?), concurrency_key = NULL \
                    WHERE execution_id = ? AND task_id = ? AND status IN ('Pending', 'Running')";
}

sql! {
    /// How a mapped task's instances ended, with their indices, errors and outputs.
    InstanceEnds = "SELECT t.map_index, t.status, t.error, o.delta FROM task_executions AS t \
                    LEFT JOIN task_outputs AS o ON o.execution_id = t.execution_id AND o.task_id = t.task_id \
                    WHERE t.execution_id = ? AND t.position = ? AND t.map_index IS NOT NULL";
}

/// A mapped task of an execution, as its instances' rows name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MappedTask<'a> {
    pub execution_id: &'a str,
    /// The execution's workflow (name, version).
    pub workflow: (&'a str, &'a str),
    pub task_id: &'a str,
    pub position: i32,
}

/// How an instance of a mapped task ended.
#[derive(Debug, Clone)]
pub(crate) struct InstanceEnd {
    pub index: usize,
    pub status: String,
    pub error: Option<String>,
    /// What it wrote (its delta as stored), if it completed.
    pub output: Option<String>,
}

/// Stores `count` instances of a mapped task (each `Pending`, under `task[index]`) and starts
/// the task; false (and nothing stored) if the task was no longer `Pending`.
pub(crate) fn start_mapped(
    connection: &mut AnyConnection,
    task: MappedTask<'_>,
    count: usize,
    concurrency: Option<(&str, u32)>,
    now: i64,
) -> Result<bool, StoreError> {
    let count = i32::try_from(count).map_err(|_| StoreError::Corrupt(format!("{count} instances")))?;
    let started = Statement::<StartMapped>::new()
        .int(count)
        .int(count)
        .big(now)
        .big(now)
        .text(task.execution_id)
        .text(task.task_id)
        .execute(connection)?;
    if started != 1 {
        return Ok(false);
    }
    let (key, limit) = match concurrency {
        Some((key, limit)) => (Some(key), Some(limit.min(i32::MAX as u32) as i32)),
        None => (None, None),
    };
    Statement::<InsertInstances>::new()
        .int(count)
        .text(task.execution_id)
        .text(task.workflow.0)
        .text(task.workflow.1)
        .text(task.task_id)
        .int(task.position)
        .optional_text(key)
        .optional_int(limit)
        .execute(connection)?;
    Ok(true)
}

/// Counts `finished` more instances of a running mapped task as finished; returns how many
/// are left and how many it has, or `None` if it is not running (it was cancelled).
pub(crate) fn instances_finished(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: &str,
    finished: usize,
) -> Result<Option<(usize, usize)>, StoreError> {
    let row: Option<(i32, Option<i32>)> = Statement::<InstancesFinished>::new()
        .int(finished.min(i32::MAX as usize) as i32)
        .text(execution_id)
        .text(task_id)
        .returning::<(Integer, Nullable<Integer>)>()
        .get_result(connection)
        .optional()?;
    Ok(row.map(|(left, count)| (left.max(0) as usize, count.unwrap_or(0).max(0) as usize)))
}

/// Ends a mapped task with `status` and `error`; false if it had already finished.
pub(crate) fn finish_mapped(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: &str,
    status: TaskStatus,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = Statement::<FinishMapped>::new()
        .text(status.as_str())
        .optional_text(error)
        .big(now)
        .big(now)
        .text(execution_id)
        .text(task_id)
        .execute(connection)?;
    Ok(changed == 1)
}

/// How the instances of the mapped task at `position` ended, in no particular order.
pub(crate) fn load_instance_ends(
    connection: &mut AnyConnection,
    execution_id: &str,
    position: i32,
) -> Result<Vec<InstanceEnd>, StoreError> {
    type Row = (Option<i32>, String, Option<String>, Option<String>);
    let rows: Vec<Row> = Statement::<InstanceEnds>::new()
        .text(execution_id)
        .int(position)
        .returning::<(Nullable<Integer>, Text, Nullable<Text>, Nullable<Text>)>()
        .load(connection)?;
    Ok(rows
        .into_iter()
        .filter_map(|(index, status, error, output)| {
            Some(InstanceEnd { index: usize::try_from(index?).ok()?, status, error, output })
        })
        .collect())
}
