//! Copying what a re-run keeps from the execution it came from: the outputs of the tasks it
//! keeps, and the binary data of the execution's values.

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::statement::{Statement, sql};
use crate::error::StoreError;

sql! {
    /// Copies a task's output from one execution to another.
    CopyOutput = "INSERT INTO task_outputs (execution_id, task_id, delta, created_at) \
                  SELECT ?, task_id, delta, created_at FROM task_outputs WHERE execution_id = ? AND task_id = ?";
}

sql! {
    /// Copies an execution's binary data to another.
    CopyBlobs = "INSERT INTO execution_blobs (execution_id, digest, data) \
                 SELECT ?, digest, data FROM execution_blobs WHERE execution_id = ?";
}

sql! {
    /// Marks a `Pending` task `Completed` without running it: its output was kept.
    KeepCompleted = "UPDATE task_executions SET status = 'Completed', finished_at = ? \
                     WHERE execution_id = ? AND status = 'Pending' AND task_id = ?";
}

/// Gives execution `to` the outputs of `task_ids` from execution `from` (whose tasks in `to` are
/// still `Pending`), marks those tasks `Completed` at `now`, and copies `from`'s binary data,
/// which those outputs and the initial context may refer to.
pub(crate) fn keep_outputs(
    connection: &mut AnyConnection,
    from: &str,
    to: &str,
    task_ids: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    for task_id in task_ids {
        Statement::<CopyOutput>::new().text(to).text(from).text(*task_id).execute(connection)?;
        Statement::<KeepCompleted>::new().big(now).text(to).text(*task_id).execute(connection)?;
    }
    Statement::<CopyBlobs>::new().text(to).text(from).execute(connection)?;
    Ok(())
}
