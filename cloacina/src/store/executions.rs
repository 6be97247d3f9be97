//! Queries on the `executions` table.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use super::connection::AnyConnection;
use super::schema::executions;
use super::statement::{Statement, json_list, sql};
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
    /// The workflow's shape (see `Workflow::shape`).
    pub workflow_shape: String,
    /// The execution a re-run came from.
    pub rerun_of: Option<String>,
    /// The workflow's graph (see `Workflow::dependency_listing`).
    pub workflow_graph: String,
    /// The trace context the execution was started in (see `StartOptions::trace_context`).
    pub trace_context: Option<String>,
    /// The key it was started under (see `StartOptions::key`).
    pub execution_key: Option<String>,
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
    pub workflow_shape: String,
    pub rerun_of: Option<String>,
    pub workflow_graph: String,
    pub trace_context: Option<String>,
    pub execution_key: Option<String>,
}

pub(crate) fn insert_execution(connection: &mut AnyConnection, row: &NewExecutionRow) -> Result<(), StoreError> {
    diesel::insert_into(executions::table).values(row).execute(connection)?;
    Ok(())
}

/// The id and initial context of the execution of `workflow` started under `key`, if any.
pub(crate) fn find_by_key(
    connection: &mut AnyConnection,
    workflow: &str,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(executions::table
        .filter(executions::workflow_name.eq(workflow))
        .filter(executions::execution_key.eq(key))
        .select((executions::id, executions::context))
        .first(connection)
        .optional()?)
}

pub(crate) fn find_execution(connection: &mut AnyConnection, id: &str) -> Result<Option<ExecutionRow>, StoreError> {
    Ok(executions::table.find(id).select(ExecutionRow::as_select()).first(connection).optional()?)
}

/// The version and shape of the workflow an execution was created with.
pub(crate) fn execution_workflow(
    connection: &mut AnyConnection,
    id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(executions::table
        .find(id)
        .select((executions::workflow_version, executions::workflow_shape))
        .first(connection)
        .optional()?)
}

pub(crate) fn execution_status(connection: &mut AnyConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(executions::table.find(id).select(executions::status).first(connection).optional()?)
}

sql! {
    /// Starts a `Pending` execution; returns its id if it started.
    StartExecution = "UPDATE executions SET status = 'Running', started_at = ? \
                      WHERE status = 'Pending' AND id = ? RETURNING id";
}

sql! {
    /// Starts `Pending` executions; returns the ids that started.
    StartExecutions = concat!("UPDATE executions SET status = 'Running', started_at = ? \
                               WHERE status = 'Pending' AND id", json_list!(postgres), " RETURNING id");
}

sql! {
    /// Counts finished tasks; returns how many remain and the first error.
    CountFinished = "UPDATE executions SET remaining_tasks = remaining_tasks - ? WHERE id = ? \
                     RETURNING remaining_tasks, error";
}

sql! {
    /// Counts finished tasks and takes the next `?` numbers of the execution's events (SQLite,
    /// where one transaction writes at a time); returns how many tasks remain, the first error,
    /// and the last number taken.
    CountFinishedNumbering = "UPDATE executions SET remaining_tasks = remaining_tasks - ?, event_count = event_count + ? \
                              WHERE id = ? RETURNING remaining_tasks, error, event_count";
}

sql! {
    /// Ends an unfinished execution and takes the next number of its events for the event that
    /// says so (SQLite); returns that number.
    FinishExecutionNumbering = "UPDATE executions SET status = ?, finished_at = ?, event_count = event_count + 1 \
                                WHERE id = ? AND status IN ('Pending', 'Running') RETURNING event_count";
}

sql! {
    /// Records the first error of an execution.
    RecordFirstError = "UPDATE executions SET error = ? WHERE id = ? AND error IS NULL";
}

sql! {
    /// Ends an unfinished execution.
    FinishExecution = "UPDATE executions SET status = ?, finished_at = ? \
                       WHERE id = ? AND status IN ('Pending', 'Running')";
}

/// Workflows with unfinished executions, and how many each has.
pub(crate) fn unfinished_workflows(connection: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(executions::table
        .filter(executions::status.eq_any([ExecutionStatus::Pending.as_str(), ExecutionStatus::Running.as_str()]))
        .group_by(executions::workflow_name)
        .select((executions::workflow_name, diesel::dsl::count_star()))
        .load(connection)?)
}

/// Moves the given executions from `Pending` to `Running`; returns the ids that moved.
pub(crate) fn mark_started(
    connection: &mut AnyConnection,
    ids: &[String],
    now: i64,
) -> Result<Vec<String>, StoreError> {
    if matches!(connection, AnyConnection::Sqlite(_)) {
        let mut started = Vec::new();
        for id in ids {
            started.extend(
                Statement::<StartExecution>::new()
                    .big(now)
                    .text(id)
                    .returning::<Text>()
                    .get_result(connection)
                    .optional()?,
            );
        }
        Ok(started)
    } else {
        Ok(Statement::<StartExecutions>::new().big(now).list(ids).returning::<Text>().load(connection)?)
    }
}

/// Counts `finished` more tasks as done; returns how many remain and the first error, if any.
pub(crate) fn count_finished_tasks(
    connection: &mut AnyConnection,
    id: &str,
    finished: i32,
) -> Result<(i32, Option<String>), StoreError> {
    Ok(Statement::<CountFinished>::new()
        .int(finished)
        .text(id)
        .returning::<(Integer, Nullable<Text>)>()
        .get_result(connection)?)
}

/// Like [`count_finished_tasks`], also taking the next `events` numbers of the execution's
/// events in the same statement (SQLite only): returns the tasks remaining, the first error and
/// the last number taken.
pub(crate) fn count_finished_numbering(
    connection: &mut AnyConnection,
    id: &str,
    finished: i32,
    events: i64,
) -> Result<(i32, Option<String>, i64), StoreError> {
    Ok(Statement::<CountFinishedNumbering>::new()
        .int(finished)
        .big(events)
        .text(id)
        .returning::<(Integer, Nullable<Text>, BigInt)>()
        .get_result(connection)?)
}

/// Like [`finish_execution`], also taking the number of the event that says so (SQLite only):
/// `None` if the execution had already finished.
pub(crate) fn finish_execution_numbering(
    connection: &mut AnyConnection,
    id: &str,
    status: ExecutionStatus,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(Statement::<FinishExecutionNumbering>::new()
        .text(status.as_str())
        .big(now)
        .text(id)
        .returning::<BigInt>()
        .get_result(connection)
        .optional()?)
}

/// Records the execution's first error; later errors leave it unchanged.
pub(crate) fn record_first_error(connection: &mut AnyConnection, id: &str, error: &str) -> Result<(), StoreError> {
    Statement::<RecordFirstError>::new().text(error).text(id).execute(connection)?;
    Ok(())
}

/// Moves an unfinished execution to a final state; returns false if it had already finished.
pub(crate) fn finish_execution(
    connection: &mut AnyConnection,
    id: &str,
    status: ExecutionStatus,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = Statement::<FinishExecution>::new().text(status.as_str()).big(now).text(id).execute(connection)?;
    Ok(changed == 1)
}
