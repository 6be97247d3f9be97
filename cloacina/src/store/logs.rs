//! Queries on the `task_logs` table: the records each attempt logged (see `crate::logs`).

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::task_logs as logs;
use super::statement::{Statement, sql};
use crate::error::StoreError;
use crate::logs::{LogEntry, LogRecord};

sql! {
    /// Stores an attempt's records.
    InsertLogs = "INSERT INTO task_logs (execution_id, task_id, attempt, records, created_at) VALUES (?, ?, ?, ?, ?)";
}

/// Stores the records of an attempt (in the transaction that records its end).
pub(crate) fn insert_logs(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: &str,
    attempt: u32,
    records: &[LogRecord],
    now: i64,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(records)
        .map_err(|error| StoreError::Corrupt(format!("a task's log records cannot be written as JSON: {error}")))?;
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    Statement::<InsertLogs>::new()
        .text(execution_id)
        .text(task_id)
        .int(attempt)
        .text(text)
        .big(now)
        .execute(connection)?;
    Ok(())
}

/// The records of an execution's attempts (of one task, when named), by task, attempt and time.
pub(crate) fn load_logs(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: Option<&str>,
) -> Result<Vec<LogEntry>, StoreError> {
    if task_id.is_some_and(|task_id| !super::can_be_stored(task_id)) {
        return Ok(Vec::new());
    }
    let query = logs::table
        .filter(logs::execution_id.eq(execution_id))
        .select((logs::task_id, logs::attempt, logs::records))
        .order_by((logs::task_id, logs::attempt, logs::created_at));
    let rows: Vec<(String, i32, String)> = match task_id {
        Some(task_id) => query.filter(logs::task_id.eq(task_id)).load(connection)?,
        None => query.load(connection)?,
    };
    let mut entries = Vec::new();
    for (task_id, attempt, text) in rows {
        let records: Vec<LogRecord> = serde_json::from_str(&text).map_err(|error| {
            StoreError::Corrupt(format!(
                "the log records of task `{task_id}` attempt {attempt} are unreadable: {error}"
            ))
        })?;
        let attempt = attempt.max(0) as u32;
        entries.extend(records.into_iter().map(|record| LogEntry { task_id: task_id.clone(), attempt, record }));
    }
    Ok(entries)
}
