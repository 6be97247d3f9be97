//! Claiming ready tasks: the one query that differs between backends.
//!
//! PostgreSQL lets many processes claim at once: `FOR UPDATE SKIP LOCKED` hands each a disjoint
//! batch without waiting. SQLite has one writer at a time, so a plain select-and-update inside
//! the write transaction is already exclusive.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, RunQueryDsl};

use super::connection::AnyConnection;
use super::statement::{Statement, database_now, json_list, sql};
use crate::error::StoreError;

sql! {
    /// Claims the oldest due `Ready` tasks of the given workflows.
    ClaimReady {
        sqlite: "UPDATE task_executions \
                 SET status = 'Running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?, started_at = ? \
                 WHERE rowid IN (SELECT rowid FROM task_executions \
                                 WHERE status = 'Ready' AND ready_at <= ? AND concurrency_key IS NULL \
                                   AND workflow_name IN (SELECT name FROM temp.claimable_workflows) \
                                 ORDER BY ready_at LIMIT ?) \
                 RETURNING execution_id, task_id, workflow_name, workflow_version, attempt, recoveries",
        postgres: concat!(
            "UPDATE task_executions AS t \
             SET status = 'Running', attempt = t.attempt + 1, lease_owner = ?, lease_expires_at = ", database_now!(),
            " + ?, started_at = ? \
             FROM (SELECT execution_id, task_id FROM task_executions \
                   WHERE status = 'Ready' AND ready_at <= ? AND concurrency_key IS NULL AND workflow_name", json_list!(postgres),
            " ORDER BY ready_at LIMIT ? FOR UPDATE SKIP LOCKED) AS c \
             WHERE t.execution_id = c.execution_id AND t.task_id = c.task_id \
             RETURNING t.execution_id, t.task_id, t.workflow_name, t.workflow_version, t.attempt, t.recoveries"),
    }
}

// SQLite keeps the claimable workflow names in a temporary table of the connection, refreshed
// when the registry's revision changes: a list bound to every claim would make SQLite plan the
// claim again each time.

sql! {
    /// The registry revision the connection's claimable names were written at.
    ClaimableRevision = "SELECT revision FROM temp.claimable_revision WHERE id = 1";
}

sql! {
    /// Forgets the connection's claimable names.
    ClearClaimable = "DELETE FROM temp.claimable_workflows";
}

sql! {
    /// Adds a claimable name.
    AddClaimable = "INSERT INTO temp.claimable_workflows (name) VALUES (?)";
}

sql! {
    /// Records the revision of the claimable names.
    SetClaimableRevision = "INSERT OR REPLACE INTO temp.claimable_revision (id, revision) VALUES (1, ?)";
}

/// The workflows a process may claim tasks of, and the registry revision they were read at.
pub(crate) struct Claimable<'a> {
    pub names: &'a [String],
    pub revision: u64,
}

/// A task this process now holds the lease of.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedTask {
    pub execution_id: String,
    pub task_id: String,
    pub workflow_name: String,
    /// The version of the workflow its execution was created with.
    pub workflow_version: String,
    /// Starts of the task so far, this one included; with the owner, it identifies the lease.
    pub attempt: i32,
    /// How many of those starts were abandoned by a worker that stopped renewing its lease.
    pub recoveries: i32,
}

impl ClaimedTask {
    /// The attempt as retry policies count it: starts that were not abandoned.
    pub fn counted_attempt(&self) -> u32 {
        (self.attempt - self.recoveries).max(1) as u32
    }
}

sql! {
    /// Claims a `Pending` task found ready in the same transaction (SQLite).
    ClaimPendingTask = "UPDATE task_executions \
                        SET status = 'Running', ready_at = ?, attempt = attempt + 1, lease_owner = ?, \
                            lease_expires_at = ?, started_at = ? \
                        WHERE execution_id = ? AND task_id = ? AND status = 'Pending' \
                        RETURNING task_id, attempt, recoveries";
}

sql! {
    /// Claims `Pending` tasks of an execution found ready in the same transaction (PostgreSQL).
    ClaimPendingTasks = concat!(
        "UPDATE task_executions \
         SET status = 'Running', ready_at = ?, attempt = attempt + 1, lease_owner = ?, lease_expires_at = ",
        database_now!(), " + ?, started_at = ? \
         WHERE execution_id = ? AND status = 'Pending' AND task_id", json_list!(postgres),
        " RETURNING task_id, attempt, recoveries");
}

/// Claims the named tasks of an execution, which the current transaction found ready while they
/// are still `Pending` in the database (so that one statement moves each from `Pending` to
/// `Running`), leased for `lease` microseconds; returns each claimed task with its start and
/// recovery counts.
pub(crate) fn claim_pending(
    connection: &mut AnyConnection,
    owner: &str,
    execution_id: &str,
    task_ids: &[&str],
    now: i64,
    lease: i64,
) -> Result<Vec<(String, i32, i32)>, StoreError> {
    let lease_until = now.saturating_add(lease);
    let mut claimed = Vec::with_capacity(task_ids.len());
    if matches!(connection, AnyConnection::Sqlite(_)) {
        for task_id in task_ids {
            claimed.extend(
                Statement::<ClaimPendingTask>::new()
                    .big(now)
                    .text(owner)
                    .big(lease_until)
                    .big(now)
                    .text(execution_id)
                    .text(*task_id)
                    .returning::<(Text, Integer, Integer)>()
                    .get_result::<(String, i32, i32)>(connection)
                    .optional()?,
            );
        }
    } else {
        for chunk in task_ids.chunks(500) {
            claimed.extend(
                Statement::<ClaimPendingTasks>::new()
                    .big(now)
                    .text(owner)
                    .big(lease)
                    .big(now)
                    .text(execution_id)
                    .list(chunk)
                    .returning::<(Text, Integer, Integer)>()
                    .load::<(String, i32, i32)>(connection)?,
            );
        }
    }
    Ok(claimed)
}

/// Brings the SQLite connection's claimable names up to the registry's revision.
pub(crate) fn sync_claimable(connection: &mut AnyConnection, workflows: &Claimable<'_>) -> Result<(), StoreError> {
    let revision = workflows.revision as i64;
    let stored: Option<i64> =
        Statement::<ClaimableRevision>::new().returning::<BigInt>().get_result(connection).optional()?;
    if stored != Some(revision) {
        Statement::<ClearClaimable>::new().execute(connection)?;
        for name in workflows.names {
            Statement::<AddClaimable>::new().text(name).execute(connection)?;
        }
        Statement::<SetClaimableRevision>::new().big(revision).execute(connection)?;
    }
    Ok(())
}

/// Claims up to `limit` tasks that are `Ready` (and due by `now`) for workflows in
/// `workflow_names`, oldest first: each becomes `Running`, leased to `owner` for `lease`
/// microseconds (by the database's clock on PostgreSQL), with its attempt counter raised.
pub(crate) fn claim_ready(
    connection: &mut AnyConnection,
    owner: &str,
    workflows: &Claimable<'_>,
    limit: usize,
    now: i64,
    lease: i64,
) -> Result<Vec<ClaimedTask>, StoreError> {
    if workflows.names.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let statement =
        Statement::<ClaimReady>::new().text(owner).big_per_backend(now.saturating_add(lease), lease).big(now).big(now);
    let statement = if matches!(connection, AnyConnection::Sqlite(_)) {
        sync_claimable(connection, workflows)?;
        statement
    } else {
        statement.list(workflows.names)
    };
    let rows: Vec<(String, String, String, String, i32, i32)> = statement
        .big(limit.min(i32::MAX as usize) as i64)
        .returning::<(Text, Text, Text, Text, Integer, Integer)>()
        .load(connection)?;
    Ok(rows
        .into_iter()
        .map(|(execution_id, task_id, workflow_name, workflow_version, attempt, recoveries)| ClaimedTask {
            execution_id,
            task_id,
            workflow_name,
            workflow_version,
            attempt,
            recoveries,
        })
        .collect())
}
