//! Queries on the `executions` table.

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::executions;
use crate::error::StoreError;
use crate::result::ExecutionStatus;

/// A new execution row.
#[derive(Debug, Insertable)]
#[diesel(table_name = executions)]
pub(crate) struct NewExecutionRow {
    pub id: String,
    pub workflow_name: String,
    pub workflow_version: String,
    pub status: String,
    pub context: String,
    pub remaining_tasks: i32,
    pub created_at: i64,
}

/// A stored execution.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = executions)]
pub(crate) struct ExecutionRow {
    pub workflow_name: String,
    pub workflow_version: String,
    pub status: String,
    pub context: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// An execution without its context, for listings.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = executions)]
pub(crate) struct ExecutionSummaryRow {
    pub id: String,
    pub workflow_name: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Which executions a listing returns.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only executions of this workflow.
    pub workflow_name: Option<String>,
    /// Only executions in this state.
    pub status: Option<ExecutionStatus>,
    /// At most this many, newest first (100 when `None`).
    pub limit: Option<usize>,
}

impl ExecutionFilter {
    /// Every execution, newest first, up to the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only executions of this workflow.
    pub fn workflow(mut self, name: impl Into<String>) -> Self {
        self.workflow_name = Some(name.into());
        self
    }

    /// Only executions in this state.
    pub fn status(mut self, status: ExecutionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most this many.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

pub(crate) fn insert_execution(connection: &mut AnyConnection, row: &NewExecutionRow) -> Result<(), StoreError> {
    diesel::insert_into(executions::table).values(row).execute(connection)?;
    Ok(())
}

pub(crate) fn find_execution(connection: &mut AnyConnection, id: &str) -> Result<Option<ExecutionRow>, StoreError> {
    Ok(executions::table.find(id).select(ExecutionRow::as_select()).first(connection).optional()?)
}

pub(crate) fn execution_status(connection: &mut AnyConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(executions::table.find(id).select(executions::status).first(connection).optional()?)
}

pub(crate) fn list_executions(
    connection: &mut AnyConnection,
    filter: &ExecutionFilter,
) -> Result<Vec<ExecutionSummaryRow>, StoreError> {
    let mut query = executions::table
        .select(ExecutionSummaryRow::as_select())
        .order((executions::created_at.desc(), executions::id.desc()))
        .limit(filter.limit.unwrap_or(100).min(i64::MAX as usize) as i64)
        .into_boxed();
    if let Some(name) = &filter.workflow_name {
        query = query.filter(executions::workflow_name.eq(name.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(executions::status.eq(status.as_str()));
    }
    Ok(query.load(connection)?)
}

/// Moves the given executions from `Pending` to `Running`; returns the ids that moved.
pub(crate) fn mark_started(
    connection: &mut AnyConnection,
    ids: &[String],
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let pending: Vec<String> = executions::table
        .filter(executions::id.eq_any(ids))
        .filter(executions::status.eq(ExecutionStatus::Pending.as_str()))
        .select(executions::id)
        .load(connection)?;
    if !pending.is_empty() {
        diesel::update(executions::table.filter(executions::id.eq_any(&pending)))
            .set((executions::status.eq(ExecutionStatus::Running.as_str()), executions::started_at.eq(now)))
            .execute(connection)?;
    }
    Ok(pending)
}

/// Counts `finished` more tasks as done; returns how many remain and the first error, if any.
pub(crate) fn count_finished_tasks(
    connection: &mut AnyConnection,
    id: &str,
    finished: i32,
) -> Result<(i32, Option<String>), StoreError> {
    diesel::update(executions::table.find(id))
        .set(executions::remaining_tasks.eq(executions::remaining_tasks - finished))
        .execute(connection)?;
    Ok(executions::table.find(id).select((executions::remaining_tasks, executions::error)).first(connection)?)
}

/// Records the execution's first error; later errors leave it unchanged.
pub(crate) fn record_first_error(connection: &mut AnyConnection, id: &str, error: &str) -> Result<(), StoreError> {
    diesel::update(executions::table.find(id).filter(executions::error.is_null()))
        .set(executions::error.eq(error))
        .execute(connection)?;
    Ok(())
}

/// Moves an unfinished execution to a final state; returns false if it had already finished.
pub(crate) fn finish_execution(
    connection: &mut AnyConnection,
    id: &str,
    status: ExecutionStatus,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let unfinished = [ExecutionStatus::Pending.as_str(), ExecutionStatus::Running.as_str()];
    let target = executions::table.find(id).filter(executions::status.eq_any(unfinished));
    let changed = match error {
        Some(error) => diesel::update(target)
            .set((executions::status.eq(status.as_str()), executions::finished_at.eq(now), executions::error.eq(error)))
            .execute(connection)?,
        None => diesel::update(target)
            .set((executions::status.eq(status.as_str()), executions::finished_at.eq(now)))
            .execute(connection)?,
    };
    Ok(changed == 1)
}
