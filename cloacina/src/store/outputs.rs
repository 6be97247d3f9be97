//! Queries on the `task_outputs` table: what each completed task wrote (its context delta).

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::task_outputs as outputs;
use crate::error::StoreError;

pub(crate) fn insert_output(
    connection: &mut AnyConnection,
    execution_id: &str,
    task_id: &str,
    delta: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::insert_into(outputs::table)
        .values((
            outputs::execution_id.eq(execution_id),
            outputs::task_id.eq(task_id),
            outputs::delta.eq(delta),
            outputs::created_at.eq(now),
        ))
        .execute(connection)?;
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
