//! Queries on the `task_executions` table: one row per task of an execution.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::connection::AnyConnection;
use super::schema::task_executions as tasks;
use super::statement::{Statement, json_list, sql};
use crate::error::StoreError;
use crate::result::TaskStatus;

/// Rows per statement when many rows are named at once; well under both backends' limits on
/// bound parameters.
const CHUNK: usize = 500;

sql! {
    /// Inserts a task of an execution as `Pending`.
    InsertTask = "INSERT INTO task_executions \
                  (execution_id, workflow_name, workflow_version, task_id, position, status, waiting_on) \
                  VALUES (?, ?, ?, ?, ?, 'Pending', ?)";
}

sql! {
    /// Inserts an execution's tasks as `Pending`, from a JSON array of `[task_id, position, waiting_on]`
    /// (PostgreSQL).
    InsertTasks = "INSERT INTO task_executions \
                   (execution_id, workflow_name, workflow_version, task_id, position, status, waiting_on) \
                   SELECT ?, ?, ?, value ->> 0, (value ->> 1)::integer, 'Pending', (value ->> 2)::integer \
                   FROM jsonb_array_elements(CAST(? AS jsonb)) AS value";
}

// Lists of rows: PostgreSQL takes the whole list as one JSON array (one round trip); SQLite runs
// the one-row form per row (in-process, a prepared statement per row costs less than planning
// the list form again each time, which SQLite does for statements over `json_each(?)`).

sql! {
    /// Counts finished dependencies of a `Pending` task and returns its new counts.
    ReleaseDependent = "UPDATE task_executions SET waiting_on = waiting_on - ?, \
                        failed_dependencies = failed_dependencies + ?, skipped_dependencies = skipped_dependencies + ? \
                        WHERE execution_id = ? AND status = 'Pending' AND task_id = ? \
                        RETURNING task_id, waiting_on, failed_dependencies, skipped_dependencies";
}

sql! {
    /// Counts finished dependencies of `Pending` tasks and returns their new counts.
    ReleaseDependents = concat!(
        "UPDATE task_executions SET waiting_on = waiting_on - ?, failed_dependencies = failed_dependencies + ?, \
         skipped_dependencies = skipped_dependencies + ? \
         WHERE execution_id = ? AND status = 'Pending' AND task_id", json_list!(postgres),
        " RETURNING task_id, waiting_on, failed_dependencies, skipped_dependencies");
}

sql! {
    /// Makes a `Pending` task `Ready` from a time.
    MakeReadyOne = "UPDATE task_executions SET status = 'Ready', ready_at = ? \
                    WHERE execution_id = ? AND status = 'Pending' AND task_id = ?";
}

sql! {
    /// Makes `Pending` tasks `Ready` from a time.
    MakeReady = concat!("UPDATE task_executions SET status = 'Ready', ready_at = ? \
                         WHERE execution_id = ? AND status = 'Pending' AND task_id", json_list!(postgres));
}

sql! {
    /// Skips a `Pending` task.
    SkipOne = "UPDATE task_executions SET status = 'Skipped', finished_at = ? \
               WHERE execution_id = ? AND status = 'Pending' AND task_id = ?";
}

sql! {
    /// Skips `Pending` tasks.
    Skip = concat!("UPDATE task_executions SET status = 'Skipped', finished_at = ? \
                    WHERE execution_id = ? AND status = 'Pending' AND task_id", json_list!(postgres));
}

/// A new task of an execution.
#[derive(Debug)]
pub(crate) struct NewTask<'a> {
    pub task_id: &'a str,
    pub position: i32,
    pub waiting_on: i32,
}

/// A `Pending` task after some of its dependencies finished.
#[derive(Debug, Clone)]
pub(crate) struct ReleasedTask {
    pub task_id: String,
    /// Dependencies not finished yet.
    pub waiting_on: i32,
    /// Dependencies that failed.
    pub failed_dependencies: i32,
    /// Dependencies that were skipped or cancelled.
    pub skipped_dependencies: i32,
}

/// A stored task row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskRow {
    pub task_id: String,
    pub position: i32,
    pub status: String,
    pub attempt: i32,
    pub recoveries: i32,
    pub error: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// For an instance of a mapped task (at that task's position), its index.
    pub map_index: Option<i32>,
}

/// How many dependencies just finished, and how many of those failed or were skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct FinishedDependencies {
    pub finished: i32,
    pub failed: i32,
    pub skipped: i32,
}

/// Inserts an execution's tasks as `Pending`, each naming the workflow (and its version) the
/// execution was created with.
pub(crate) fn insert_tasks(
    connection: &mut AnyConnection,
    execution_id: &str,
    workflow: (&str, &str),
    rows: &[NewTask<'_>],
) -> Result<(), StoreError> {
    let (workflow_name, workflow_version) = workflow;
    if matches!(connection, AnyConnection::Sqlite(_)) {
        for row in rows {
            Statement::<InsertTask>::new()
                .text(execution_id)
                .text(workflow_name)
                .text(workflow_version)
                .text(row.task_id)
                .int(row.position)
                .int(row.waiting_on)
                .execute(connection)?;
        }
        return Ok(());
    }
    let rows: Vec<serde_json::Value> =
        rows.iter().map(|row| serde_json::json!([row.task_id, row.position, row.waiting_on])).collect();
    Statement::<InsertTasks>::new()
        .text(execution_id)
        .text(workflow_name)
        .text(workflow_version)
        .json(&serde_json::Value::Array(rows))
        .execute(connection)?;
    Ok(())
}

/// Records finished dependencies of the named `Pending` tasks; returns their new counts.
pub(crate) fn release_dependents(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
    finished: FinishedDependencies,
) -> Result<Vec<ReleasedTask>, StoreError> {
    type Row = (Text, Integer, Integer, Integer);
    let mut rows: Vec<(String, i32, i32, i32)> = Vec::with_capacity(task_ids.len());
    if matches!(connection, AnyConnection::Sqlite(_)) {
        for task_id in task_ids {
            rows.extend(
                Statement::<ReleaseDependent>::new()
                    .int(finished.finished)
                    .int(finished.failed)
                    .int(finished.skipped)
                    .text(execution_id)
                    .text(*task_id)
                    .returning::<Row>()
                    .get_result::<(String, i32, i32, i32)>(connection)
                    .optional()?,
            );
        }
    } else {
        for chunk in task_ids.chunks(CHUNK) {
            rows.extend(
                Statement::<ReleaseDependents>::new()
                    .int(finished.finished)
                    .int(finished.failed)
                    .int(finished.skipped)
                    .text(execution_id)
                    .list(chunk)
                    .returning::<Row>()
                    .load::<(String, i32, i32, i32)>(connection)?,
            );
        }
    }
    Ok(rows
        .into_iter()
        .map(|(task_id, waiting_on, failed_dependencies, skipped_dependencies)| ReleasedTask {
            task_id,
            waiting_on,
            failed_dependencies,
            skipped_dependencies,
        })
        .collect())
}

/// Moves `Pending` tasks to `Ready` (claimable from `now`) or to `Skipped`.
pub(crate) fn settle_pending(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
    status: TaskStatus,
    now: i64,
) -> Result<(), StoreError> {
    let ready = status == TaskStatus::Ready;
    if matches!(connection, AnyConnection::Sqlite(_)) {
        for task_id in task_ids {
            if ready {
                Statement::<MakeReadyOne>::new().big(now).text(execution_id).text(*task_id).execute(connection)?;
            } else {
                Statement::<SkipOne>::new().big(now).text(execution_id).text(*task_id).execute(connection)?;
            }
        }
    } else {
        for chunk in task_ids.chunks(CHUNK) {
            if ready {
                Statement::<MakeReady>::new().big(now).text(execution_id).list(chunk).execute(connection)?;
            } else {
                Statement::<Skip>::new().big(now).text(execution_id).list(chunk).execute(connection)?;
            }
        }
    }
    Ok(())
}

/// The tasks of an execution in position order, each mapped task followed by its instances in
/// index order.
pub(crate) fn load_tasks(connection: &mut AnyConnection, execution_id: &str) -> Result<Vec<TaskRow>, StoreError> {
    let mut rows: Vec<TaskRow> =
        tasks::table.filter(tasks::execution_id.eq(execution_id)).select(TaskRow::as_select()).load(connection)?;
    // Sorted here: the backends order a missing index differently.
    rows.sort_by_key(|row| (row.position, row.map_index.map_or(-1, i64::from)));
    Ok(rows)
}

/// Cancels every unfinished task of an execution; returns their ids.
pub(crate) fn cancel_unfinished_tasks(
    connection: &mut AnyConnection,
    execution_id: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let unfinished = [TaskStatus::Pending.as_str(), TaskStatus::Ready.as_str(), TaskStatus::Running.as_str()];
    let target = tasks::table.filter(tasks::execution_id.eq(execution_id)).filter(tasks::status.eq_any(unfinished));
    let ids: Vec<String> = target.clone().select(tasks::task_id).load(connection)?;
    let no_owner: Option<String> = None;
    diesel::update(target)
        .set((
            tasks::status.eq(TaskStatus::Cancelled.as_str()),
            tasks::finished_at.eq(now),
            tasks::lease_owner.eq(no_owner),
        ))
        .execute(connection)?;
    Ok(ids)
}

/// When `Ready` tasks of the given workflows may be claimed, seen at `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReadyTimes {
    /// The earliest ready time of work already due (ready at or before `now`): work waiting to
    /// be claimed.
    pub earliest_due: Option<i64>,
    /// The earliest ready time after `now`: the next retry or delayed start to wake for.
    pub next: Option<i64>,
}

/// When `Ready` tasks of the given workflows may be claimed: the earliest of those due at `now`,
/// and the earliest of those still to come. Both are needed: work waiting for capacity is
/// always due, and taking its time for the next wake-up would forget a retry still to come.
pub(crate) fn ready_times(
    connection: &mut AnyConnection,
    workflow_names: &[String],
    now: i64,
) -> Result<ReadyTimes, StoreError> {
    let ready = || {
        tasks::table
            .filter(tasks::status.eq(TaskStatus::Ready.as_str()))
            .filter(tasks::workflow_name.eq_any(workflow_names))
    };
    let earliest_due =
        ready().filter(tasks::ready_at.le(now)).select(diesel::dsl::min(tasks::ready_at)).first(connection)?;
    let next = ready().filter(tasks::ready_at.gt(now)).select(diesel::dsl::min(tasks::ready_at)).first(connection)?;
    Ok(ReadyTimes { earliest_due, next })
}

/// Hands leased tasks back: `Running` tasks held by `owner` become `Ready` at `now`, and the
/// attempt they were on is not counted. Returns how many were released.
pub(crate) fn release_leases(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
    owner: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let no_owner: Option<String> = None;
    let no_expiry: Option<i64> = None;
    let mut released = 0;
    for chunk in task_ids.chunks(CHUNK) {
        released += diesel::update(
            tasks::table
                .filter(tasks::execution_id.eq(execution_id))
                .filter(tasks::task_id.eq_any(chunk))
                .filter(tasks::status.eq(TaskStatus::Running.as_str()))
                .filter(tasks::lease_owner.eq(owner)),
        )
        .set((
            tasks::status.eq(TaskStatus::Ready.as_str()),
            tasks::attempt.eq(tasks::attempt - 1),
            tasks::ready_at.eq(now),
            tasks::lease_owner.eq(no_owner.clone()),
            tasks::lease_expires_at.eq(no_expiry),
        ))
        .execute(connection)?;
    }
    Ok(released)
}
