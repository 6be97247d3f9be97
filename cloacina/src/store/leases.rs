//! Leases: renewing the ones a process holds, and finding the ones their holders gave up.

use diesel::sql_types::{Bool, Integer, Text};
use diesel::{PgConnection, RunQueryDsl};

use super::claims::{Claimable, sync_claimable};
use super::connection::AnyConnection;
use super::statement::{Statement, database_now, json_list, sql};
use crate::error::StoreError;

sql! {
    /// Extends the leases an owner holds of the tasks in a JSON array of
    /// `[execution_id, task_id]`; returns the tasks it still holds.
    RenewLeases {
        sqlite: "UPDATE task_executions SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'Running' \
                 AND (execution_id, task_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
                 RETURNING execution_id, task_id",
        postgres: concat!(
            "UPDATE task_executions SET lease_expires_at = ", database_now!(), " + ? \
             WHERE lease_owner = ? AND status = 'Running' \
               AND (execution_id, task_id) IN \
                   (SELECT value ->> 0, value ->> 1 FROM jsonb_array_elements(CAST(? AS jsonb))) \
             RETURNING execution_id, task_id"),
    }
}

/// The advisory lock key of a lease owner (PostgreSQL): the first 63 bits of the MD5 of its id,
/// so that any process can work out the key of any owner from its id alone.
macro_rules! owner_key {
    ($owner:literal) => {
        concat!("(('x' || substr(md5(", $owner, "), 1, 16))::bit(64)::bigint & 9223372036854775807)")
    };
}

/// Takes the session advisory lock of a lease owner (PostgreSQL): it is held for as long as
/// the connection that took it lives, which the owner keeps for as long as it runs.
const LOCK_OWNER: &str = concat!("SELECT pg_advisory_lock(", owner_key!("$1"), ")");

/// Keeps the server from closing the (idle) connection that holds the lock: were it closed
/// while the owner lives, others would take the owner for gone (PostgreSQL 14 and later have
/// `idle_session_timeout`).
const KEEP_SESSION: &str = "SELECT set_config('idle_session_timeout', '0', false) \
                            WHERE current_setting('server_version_num')::integer >= 140000";

sql! {
    /// Running tasks of the given workflows whose holder gave them up, oldest lease first: the
    /// lease expired, or (SQLite) the holder is one of a JSON array of owners whose process is
    /// gone, or (PostgreSQL) the holder's advisory lock is not held by any session, so its
    /// process (or at least its connection) is gone. Owner ids of another form (an older
    /// release's, which holds no lock) are judged by their leases alone. The last column says
    /// whether the lease expired.
    GivenUpLeases {
        sqlite: "SELECT execution_id, task_id, workflow_name, workflow_version, lease_owner, attempt, recoveries, \
                        lease_expires_at < ? \
                 FROM task_executions \
                 WHERE status = 'Running' \
                   AND (lease_expires_at < ? OR lease_owner IN (SELECT value FROM json_each(?))) \
                   AND workflow_name IN (SELECT name FROM temp.claimable_workflows) \
                 ORDER BY lease_expires_at LIMIT ?",
        postgres: concat!(
            "SELECT execution_id, task_id, workflow_name, workflow_version, lease_owner, attempt, recoveries, \
                    lease_expires_at < ", database_now!(), " + ? \
             FROM task_executions \
             WHERE status = 'Running' \
               AND (lease_expires_at < ", database_now!(), " + ? \
                    OR (lease_owner <> ? AND lease_owner LIKE '%/%/%/%/%' AND ", owner_key!("lease_owner"), " NOT IN \
                        (SELECT (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks AS l \
                         WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
                           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())))) \
               AND workflow_name", json_list!(postgres),
            " ORDER BY lease_expires_at LIMIT ? FOR UPDATE SKIP LOCKED"),
    }
}

sql! {
    /// The owners of running tasks other than one (SQLite), to find those whose process is gone.
    RunningOwners = "SELECT DISTINCT lease_owner FROM task_executions \
                     WHERE status = 'Running' AND lease_owner IS NOT NULL AND lease_owner <> ?";
}

sql! {
    /// Puts a task whose lease expired back in the queue, counting the recovery.
    RequeueExpired = "UPDATE task_executions SET status = 'Ready', ready_at = ?, recoveries = recoveries + 1, \
                      lease_owner = NULL, lease_expires_at = NULL \
                      WHERE execution_id = ? AND task_id = ? AND status = 'Running' AND lease_owner = ? AND attempt = ?";
}

/// A running task whose holder gave it up: it stopped renewing the lease, or its process is gone.
#[derive(Debug, Clone, diesel::Queryable)]
pub(crate) struct ExpiredLease {
    pub execution_id: String,
    pub task_id: String,
    pub workflow_name: String,
    pub workflow_version: String,
    pub owner: String,
    pub attempt: i32,
    pub recoveries: i32,
    /// Whether the lease expired (rather than its holder's process being known to be gone).
    pub expired: bool,
}

/// Extends the leases `owner` holds of the given tasks (`(execution_id, task_id)` each: the
/// tasks it is running or has results of to record) to `lease` microseconds from `now` (from the
/// database's clock on PostgreSQL); returns those it still holds. Leases of tasks it holds but no
/// longer works on are left to expire.
pub(crate) fn renew_leases(
    connection: &mut AnyConnection,
    owner: &str,
    tasks: &[(String, String)],
    now: i64,
    lease: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let pairs = serde_json::to_value(tasks).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Ok(Statement::<RenewLeases>::new()
        .big_per_backend(now.saturating_add(lease), lease)
        .text(owner)
        .json(&pairs)
        .returning::<(Text, Text)>()
        .load(connection)?)
}

/// Takes the advisory lock that tells other processes `owner` is alive, on a connection the
/// owner keeps for as long as it runs.
pub(crate) fn lock_owner(connection: &mut PgConnection, owner: &str) -> Result<(), StoreError> {
    diesel::sql_query(KEEP_SESSION).execute(connection)?;
    diesel::sql_query(LOCK_OWNER).bind::<Text, _>(owner).execute(connection)?;
    Ok(())
}

/// Up to `limit` running tasks of the given workflows whose holder gave them up: their lease
/// expired before `now` (the database's clock on PostgreSQL), or their holder (not `owner`, the
/// caller) is gone. `gone` tells, on SQLite, whether the process behind an owner id has ended.
pub(crate) fn given_up_leases(
    connection: &mut AnyConnection,
    workflows: &Claimable<'_>,
    owner: &str,
    gone: &dyn Fn(&str) -> bool,
    now: i64,
    limit: usize,
) -> Result<Vec<ExpiredLease>, StoreError> {
    if workflows.names.is_empty() {
        return Ok(Vec::new());
    }
    let statement = if matches!(connection, AnyConnection::Sqlite(_)) {
        let owners: Vec<String> = Statement::<RunningOwners>::new().text(owner).returning::<Text>().load(connection)?;
        let dead: Vec<String> = owners.into_iter().filter(|other| gone(other)).collect();
        sync_claimable(connection, workflows)?;
        Statement::<GivenUpLeases>::new().big(now).big(now).list(&dead)
    } else {
        Statement::<GivenUpLeases>::new().big(0).big(0).text(owner).list(workflows.names)
    };
    type Row = (Text, Text, Text, Text, Text, Integer, Integer, Bool);
    Ok(statement.big(limit as i64).returning::<Row>().load::<ExpiredLease>(connection)?)
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
    use crate::store::testing::{drop_schema, postgres_store, stores};
    use diesel::prelude::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_leases_of_tasks_worked_on_are_renewed() {
        let directory = tempfile::tempdir().unwrap();
        for (store, schema) in stores(&directory).await {
            let expiries = store
                .write(|connection| {
                    claimed_by(connection, "holder")?;
                    let working = [("e1".to_owned(), "first".to_owned()), ("e1".to_owned(), "second".to_owned())];
                    let mut renewed = renew_leases(connection, "holder", &working, 0, 1 << 52)?;
                    renewed.sort();
                    assert_eq!(renewed, working);
                    assert!(renew_leases(connection, "someone else", &working, 0, 1 << 52)?.is_empty());
                    assert!(renew_leases(connection, "holder", &[], 0, 1 << 52)?.is_empty());
                    Ok(tasks::table
                        .filter(tasks::execution_id.eq("e1"))
                        .order(tasks::task_id.asc())
                        .select((tasks::task_id, tasks::lease_expires_at))
                        .load::<(String, Option<i64>)>(connection)?)
                })
                .await
                .unwrap();
            // `flaky` and `broken` are held too but not worked on: their leases run out.
            let renewed: Vec<bool> =
                expiries.iter().map(|(_, until)| until.is_some_and(|until| until >= 1 << 52)).collect();
            let tasks: Vec<&str> = expiries.iter().map(|(task, _)| task.as_str()).collect();
            assert_eq!(tasks, ["broken", "first", "flaky", "second"]);
            assert_eq!(renewed, [false, true, false, true]);
            drop_schema(&store, schema).await;
        }
    }

    /// On PostgreSQL a lease is stamped and judged by the database's clock: a host whose clock
    /// runs an hour behind still leases a task for the lease's length from now, and a host whose
    /// clock runs an hour ahead does not take a live lease for expired.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_leases_follow_the_database_clock() {
        let Some((store, schema)) = postgres_store().await else { return };
        let hour = 3_600_000_000;
        let (expiry, found) = store
            .write(move |connection| {
                claimed_by(connection, "holder")?;
                let now = chrono::Utc::now().timestamp_micros();
                let claimable = Claimable { names: &["w".to_owned()], revision: 1 };
                let renewed = [("e1".to_owned(), "first".to_owned())];
                renew_leases(connection, "holder", &renewed, now - hour, 60_000_000)?;
                let expiry: Option<i64> = tasks::table
                    .filter(tasks::execution_id.eq("e1"))
                    .filter(tasks::task_id.eq("first"))
                    .select(tasks::lease_expires_at)
                    .first(connection)?;
                let never_gone = |_: &str| false;
                // The other tasks' one-millisecond leases from the claim run out meanwhile.
                std::thread::sleep(std::time::Duration::from_millis(5));
                let found = given_up_leases(connection, &claimable, "holder", &never_gone, now + hour, 10)?;
                Ok((expiry.unwrap() - now, found.len()))
            })
            .await
            .unwrap();
        assert!((59_000_000..61_000_000).contains(&expiry), "the lease runs {expiry} us from now");
        // `first` is renewed for a minute: only the other three ran out.
        assert_eq!(found, 3);
        drop_schema(&store, Some(schema)).await;
    }
}
