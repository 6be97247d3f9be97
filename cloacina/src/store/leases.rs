//! Leases: renewing the ones a process holds, and finding the ones their holders gave up.

use diesel::RunQueryDsl;
use diesel::sql_types::{Integer, Text};

use super::claims::{Claimable, sync_claimable};
use super::connection::AnyConnection;
use super::statement::{Statement, json_list, sql};
use crate::error::StoreError;

sql! {
    /// Extends the leases an owner holds of the tasks in a JSON array of
    /// `[execution_id, task_id]`; returns the tasks it still holds.
    RenewLeases {
        sqlite: "UPDATE task_executions SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'Running' \
                 AND (execution_id, task_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
                 RETURNING execution_id, task_id",
        postgres: "UPDATE task_executions SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'Running' \
                   AND (execution_id, task_id) IN \
                       (SELECT value ->> 0, value ->> 1 FROM jsonb_array_elements(CAST(? AS jsonb))) \
                   RETURNING execution_id, task_id",
    }
}

sql! {
    /// Running tasks of the given workflows whose lease expired, oldest first.
    ExpiredLeases {
        sqlite: "SELECT execution_id, task_id, workflow_name, workflow_version, lease_owner, attempt, recoveries \
                 FROM task_executions \
                 WHERE status = 'Running' AND lease_expires_at < ? \
                   AND workflow_name IN (SELECT name FROM temp.claimable_workflows) \
                 ORDER BY lease_expires_at LIMIT ?",
        postgres: concat!(
            "SELECT execution_id, task_id, workflow_name, workflow_version, lease_owner, attempt, recoveries \
             FROM task_executions \
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
    pub workflow_version: String,
    pub owner: String,
    pub attempt: i32,
    pub recoveries: i32,
}

/// Extends to `until` the leases `owner` holds of the given tasks (`(execution_id, task_id)`
/// each: the tasks it is running or has results of to record); returns those it still holds.
/// Leases of tasks it holds but no longer works on are left to expire.
pub(crate) fn renew_leases(
    connection: &mut AnyConnection,
    owner: &str,
    tasks: &[(String, String)],
    until: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let pairs = serde_json::to_value(tasks).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(Statement::<RenewLeases>::new()
        .big(until)
        .text(owner)
        .json(&pairs)
        .returning::<(Text, Text)>()
        .load(connection)?)
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
    type Row = (Text, Text, Text, Text, Text, Integer, Integer);
    let rows: Vec<(String, String, String, String, String, i32, i32)> =
        statement.big(limit as i64).returning::<Row>().load(connection)?;
    Ok(rows
        .into_iter()
        .map(|(execution_id, task_id, workflow_name, workflow_version, owner, attempt, recoveries)| ExpiredLease {
            execution_id,
            task_id,
            workflow_name,
            workflow_version,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::attempts::tests::claimed_by;
    use crate::store::schema::task_executions as tasks;
    use crate::store::testing::{drop_schema, stores};
    use diesel::prelude::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_leases_of_tasks_worked_on_are_renewed() {
        let directory = tempfile::tempdir().unwrap();
        for (store, schema) in stores(&directory).await {
            let expiries = store
                .write(|connection| {
                    claimed_by(connection, "holder")?;
                    let working = [("e1".to_owned(), "first".to_owned()), ("e1".to_owned(), "second".to_owned())];
                    let mut renewed = renew_leases(connection, "holder", &working, 5_000)?;
                    renewed.sort();
                    assert_eq!(renewed, working);
                    assert!(renew_leases(connection, "someone else", &working, 9_000)?.is_empty());
                    assert!(renew_leases(connection, "holder", &[], 9_000)?.is_empty());
                    Ok(tasks::table
                        .filter(tasks::execution_id.eq("e1"))
                        .order(tasks::task_id.asc())
                        .select((tasks::task_id, tasks::lease_expires_at))
                        .load::<(String, Option<i64>)>(connection)?)
                })
                .await
                .unwrap();
            // `flaky` and `broken` are held too but not worked on: their leases run out.
            let expected = [("broken", 1_000), ("first", 5_000), ("flaky", 1_000), ("second", 5_000)];
            let expected: Vec<(String, Option<i64>)> =
                expected.iter().map(|(task, until)| ((*task).to_owned(), Some(*until))).collect();
            assert_eq!(expiries, expected);
            drop_schema(&store, schema).await;
        }
    }
}
