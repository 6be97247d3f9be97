//! Queries on the `task_executions` table: one row per task of an execution.

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::task_executions as tasks;
use crate::error::StoreError;
use crate::result::TaskStatus;

/// Rows per statement when many rows are written or named at once; well under both backends'
/// limits on bound parameters.
const CHUNK: usize = 500;

/// A new task row.
#[derive(Debug, Insertable)]
#[diesel(table_name = tasks, treat_none_as_default_value = false)]
pub(crate) struct NewTaskRow {
    pub execution_id: String,
    pub task_id: String,
    pub position: i32,
    pub workflow_name: String,
    pub status: String,
    pub waiting_on: i32,
    pub ready_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A stored task row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskRow {
    pub task_id: String,
    pub position: i32,
    pub status: String,
    pub attempt: i32,
    pub error: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Who holds a running task, and which attempt: a result is only recorded by its holder.
#[derive(Debug, Clone)]
pub(crate) struct Lease<'a> {
    pub execution_id: &'a str,
    pub task_id: &'a str,
    pub owner: &'a str,
    pub attempt: i32,
}

pub(crate) fn insert_tasks(connection: &mut AnyConnection, rows: &[NewTaskRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        // Multi-row inserts are built per backend: the shared dialect cannot express them.
        match connection {
            AnyConnection::Postgres(postgres) => diesel::insert_into(tasks::table).values(chunk).execute(postgres)?,
            AnyConnection::Sqlite(sqlite) => diesel::insert_into(tasks::table).values(chunk).execute(sqlite)?,
        };
    }
    Ok(())
}

pub(crate) fn load_tasks(connection: &mut AnyConnection, execution_id: &str) -> Result<Vec<TaskRow>, StoreError> {
    Ok(tasks::table
        .filter(tasks::execution_id.eq(execution_id))
        .order(tasks::position.asc())
        .select(TaskRow::as_select())
        .load(connection)?)
}

/// Statuses of some tasks of an execution.
pub(crate) fn task_statuses(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut statuses = Vec::with_capacity(task_ids.len());
    for chunk in task_ids.chunks(CHUNK) {
        statuses.extend(
            tasks::table
                .filter(tasks::execution_id.eq(execution_id))
                .filter(tasks::task_id.eq_any(chunk))
                .select((tasks::task_id, tasks::status))
                .load::<(String, String)>(connection)?,
        );
    }
    Ok(statuses)
}

/// `finished` fewer unfinished dependencies for each named `Pending` task; returns those now
/// waiting on nothing.
pub(crate) fn release_dependents(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
    finished: i32,
) -> Result<Vec<String>, StoreError> {
    let mut released = Vec::new();
    for chunk in task_ids.chunks(CHUNK) {
        let pending = tasks::table
            .filter(tasks::execution_id.eq(execution_id))
            .filter(tasks::task_id.eq_any(chunk))
            .filter(tasks::status.eq(TaskStatus::Pending.as_str()));
        diesel::update(pending.clone()).set(tasks::waiting_on.eq(tasks::waiting_on - finished)).execute(connection)?;
        released.extend(pending.filter(tasks::waiting_on.le(0)).select(tasks::task_id).load::<String>(connection)?);
    }
    Ok(released)
}

/// Moves `Pending` tasks to `Ready` (claimable from `now`) or to `Skipped`.
pub(crate) fn settle_pending(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: &[&str],
    status: TaskStatus,
    now: i64,
) -> Result<(), StoreError> {
    for chunk in task_ids.chunks(CHUNK) {
        let target = tasks::table
            .filter(tasks::execution_id.eq(execution_id))
            .filter(tasks::task_id.eq_any(chunk))
            .filter(tasks::status.eq(TaskStatus::Pending.as_str()));
        match status {
            TaskStatus::Ready => diesel::update(target)
                .set((tasks::status.eq(status.as_str()), tasks::ready_at.eq(now)))
                .execute(connection)?,
            _ => diesel::update(target)
                .set((tasks::status.eq(status.as_str()), tasks::finished_at.eq(now)))
                .execute(connection)?,
        };
    }
    Ok(())
}

/// Records the end of a leased attempt: `Completed` or `Failed` with `finished_at`, or back to
/// `Ready` at `retry_at` for another attempt. Returns false (and changes nothing) when the lease
/// is no longer held, for instance because the execution was cancelled.
pub(crate) fn finish_attempt(
    connection: &mut AnyConnection,
    lease: &Lease<'_>,
    status: TaskStatus,
    error: Option<&str>,
    retry_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let held = tasks::table
        .filter(tasks::execution_id.eq(lease.execution_id))
        .filter(tasks::task_id.eq(lease.task_id))
        .filter(tasks::status.eq(TaskStatus::Running.as_str()))
        .filter(tasks::lease_owner.eq(lease.owner))
        .filter(tasks::attempt.eq(lease.attempt));
    let no_owner: Option<String> = None;
    let no_expiry: Option<i64> = None;
    let changed = match retry_at {
        Some(retry_at) => diesel::update(held)
            .set((
                tasks::status.eq(TaskStatus::Ready.as_str()),
                tasks::ready_at.eq(retry_at),
                tasks::retry_at.eq(retry_at),
                tasks::error.eq(error),
                tasks::lease_owner.eq(no_owner),
                tasks::lease_expires_at.eq(no_expiry),
            ))
            .execute(connection)?,
        None => diesel::update(held)
            .set((
                tasks::status.eq(status.as_str()),
                tasks::finished_at.eq(now),
                tasks::error.eq(error),
                tasks::lease_owner.eq(no_owner),
                tasks::lease_expires_at.eq(no_expiry),
            ))
            .execute(connection)?,
    };
    Ok(changed == 1)
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

/// The earliest time a `Ready` task of the given workflows may be claimed, if any is waiting.
pub(crate) fn next_ready_at(
    connection: &mut AnyConnection,
    workflow_names: &[String],
) -> Result<Option<i64>, StoreError> {
    Ok(tasks::table
        .filter(tasks::status.eq(TaskStatus::Ready.as_str()))
        .filter(tasks::workflow_name.eq_any(workflow_names))
        .select(diesel::dsl::min(tasks::ready_at))
        .first::<Option<i64>>(connection)?)
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
