//! Queries on the `task_outputs` table: what each completed task wrote (its context delta).

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::task_outputs as outputs;
use super::statement::{Statement, sql};
use crate::error::StoreError;

sql! {
    /// Stores a completed task's delta.
    InsertOutput = "INSERT INTO task_outputs (execution_id, task_id, delta, created_at) VALUES (?, ?, ?, ?)";
}

pub(crate) fn insert_output(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: &str,
    delta: &str,
    now: i64,
) -> Result<(), StoreError> {
    Statement::<InsertOutput>::new().text(execution_id).text(task_id).text(delta).big(now).execute(connection)?;
    Ok(())
}

/// Deltas of an execution's tasks as `(task_id, delta)`: all of them, or only the named ones.
pub(crate) fn load_outputs(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_ids: Option<&[String]>,
) -> Result<Vec<(String, String)>, StoreError> {
    let query =
        outputs::table.filter(outputs::execution_id.eq(execution_id)).select((outputs::task_id, outputs::delta));
    match task_ids {
        None => Ok(query.load(connection)?),
        Some(task_ids) => {
            let mut rows = Vec::with_capacity(task_ids.len());
            for chunk in task_ids.chunks(500) {
                rows.extend(query.filter(outputs::task_id.eq_any(chunk)).load::<(String, String)>(connection)?);
            }
            Ok(rows)
        }
    }
}
