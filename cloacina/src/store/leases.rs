//! Leases: renewing the ones a process holds, and finding the ones their holders gave up.

use diesel::RunQueryDsl;
use diesel::sql_types::{Integer, Text};

use super::claims::{Claimable, sync_claimable};
use super::connection::AnyConnection;
use super::statement::{Statement, json_list, sql};
use crate::error::StoreError;

sql! {
    /// Extends every lease an owner holds; returns the tasks it still holds.
    RenewLeases = "UPDATE task_executions SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'Running' \
                   RETURNING execution_id, task_id";
}

sql! {
    /// Running tasks of the given workflows whose lease expired, oldest first.
    ExpiredLeases {
        sqlite: "SELECT execution_id, task_id, workflow_name, lease_owner, attempt, recoveries FROM task_executions \
                 WHERE status = 'Running' AND lease_expires_at < ? \
                   AND workflow_name IN (SELECT name FROM temp.claimable_workflows) \
                 ORDER BY lease_expires_at LIMIT ?",
        postgres: concat!(
            "SELECT execution_id, task_id, workflow_name, lease_owner, attempt, recoveries FROM task_executions \
             WHERE status = 'Running' AND lease_expires_at < ? AND workflow_name", json_list!(postgres),
            " ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED"),
    }
}

sql! {
    /// Puts a task whose lease expired back in the queue, counting the recovery.
    RequeueExpired = "UPDATE task_executions SET status = 'Ready', ready_at = ?, recoveries = recoveries + 1, \
                      lease_owner = NULL, lease_expires_at = NULL \
                      WHERE execution_id = ? AND task_id = ? AND status = 'Running' AND lease_owner = ? AND attempt = ?";
}

/// A running task whose holder stopped renewing its lease.
#[derive(Debug, Clone)]
pub(crate) struct ExpiredLease {
    pub execution_id: String,
    pub task_id: String,
    pub workflow_name: String,
    pub owner: String,
    pub attempt: i32,
    pub recoveries: i32,
}

/// Extends the leases `owner` holds to `until`; returns `(execution_id, task_id)` of each.
pub(crate) fn renew_leases(
    connection: &mut AnyConnection,
    owner: &str,
    until: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(Statement::<RenewLeases>::new().big(until).text(owner).returning::<(Text, Text)>().load(connection)?)
}

/// Up to `limit` running tasks of the given workflows whose lease expired before `now`.
pub(crate) fn expired_leases(
    connection: &mut AnyConnection,
    workflows: &Claimable<'_>,
    now: i64,
    limit: usize,
) -> Result<Vec<ExpiredLease>, StoreError> {
    if workflows.names.is_empty() {
        return Ok(Vec::new());
    }
    let statement = Statement::<ExpiredLeases>::new().big(now);
    let statement = if matches!(connection, AnyConnection::Sqlite(_)) {
        sync_claimable(connection, workflows)?;
        statement
    } else {
        statement.list(workflows.names)
    };
    let rows: Vec<(String, String, String, String, i32, i32)> =
        statement.big(limit as i64).returning::<(Text, Text, Text, Text, Integer, Integer)>().load(connection)?;
    Ok(rows
        .into_iter()
        .map(|(execution_id, task_id, workflow_name, owner, attempt, recoveries)| ExpiredLease {
            execution_id,
            task_id,
            workflow_name,
            owner,
            attempt,
            recoveries,
        })
        .collect())
}

/// Puts an expired task back in the queue, claimable from `now`; false if its holder finished
/// it meanwhile.
pub(crate) fn requeue_expired(
    connection: &mut AnyConnection,
    lease: &ExpiredLease,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = Statement::<RequeueExpired>::new()
        .big(now)
        .text(lease.execution_id.as_str())
        .text(lease.task_id.as_str())
        .text(lease.owner.as_str())
        .int(lease.attempt)
        .execute(connection)?;
    Ok(changed == 1)
}
