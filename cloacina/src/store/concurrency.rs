//! Concurrency-limited tasks in the database (see `crate::concurrency`): their key and limit,
//! and the claim that takes only the free slots of each key.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use super::claims::ClaimedTask;
use super::connection::AnyConnection;
use super::schema::task_executions as tasks;
use super::statement::{Statement, database_now, sql};
use crate::error::StoreError;

sql! {
    /// Gives a task of an execution its concurrency key and limit.
    SetConcurrency = "UPDATE task_executions SET concurrency_key = ?, concurrency_limit = ? \
                      WHERE execution_id = ? AND task_id = ?";
}

sql! {
    /// Holds a concurrency key until the end of the transaction (PostgreSQL; SQLite's write lock
    /// already holds every key).
    LockKey = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))";
}

sql! {
    /// Claims one `Ready` task.
    ClaimReadyTask {
        sqlite: "UPDATE task_executions \
                 SET status = 'Running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?, started_at = ? \
                 WHERE execution_id = ? AND task_id = ? AND status = 'Ready' \
                 RETURNING workflow_name, workflow_version, attempt, recoveries",
        postgres: concat!(
            "UPDATE task_executions \
             SET status = 'Running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ", database_now!(),
            " + ?, started_at = ? \
             WHERE execution_id = ? AND task_id = ? AND status = 'Ready' \
             RETURNING workflow_name, workflow_version, attempt, recoveries"),
    }
}

/// Stores the key and limit of each limited task of a new execution, as (task id, key, limit).
pub(crate) fn set_concurrency(
    connection: &mut AnyConnection,
    execution_id: &str,
    limited: &[(&str, &str, u32)],
) -> Result<(), StoreError> {
    for &(task_id, key, limit) in limited {
        Statement::<SetConcurrency>::new()
            .text(key)
            .int(limit.min(i32::MAX as u32) as i32)
            .text(execution_id)
            .text(task_id)
            .execute(connection)?;
    }
    Ok(())
}

/// Claims up to `limit` due `Ready` limited tasks of these workflows, oldest first within each
/// key, each only while fewer attempts holding its key run than its limit allows.
pub(crate) fn claim_limited(
    connection: &mut AnyConnection,
    owner: &str,
    workflows: &[String],
    limit: usize,
    now: i64,
    lease: i64,
) -> Result<Vec<ClaimedTask>, StoreError> {
    if workflows.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let postgres = matches!(connection, AnyConnection::Postgres(_));
    // Keys in one order in every transaction, so that two never wait on each other's keys.
    let keys: Vec<String> = tasks::table
        .filter(tasks::status.eq("Ready"))
        .filter(tasks::ready_at.le(now))
        .filter(tasks::concurrency_key.is_not_null())
        .filter(tasks::workflow_name.eq_any(workflows))
        .select(tasks::concurrency_key.assume_not_null())
        .distinct()
        .order(tasks::concurrency_key.asc())
        .load(connection)?;
    let mut claimed = Vec::new();
    for key in keys {
        let left = limit - claimed.len();
        if left == 0 {
            break;
        }
        if postgres {
            Statement::<LockKey>::new().text(&key).execute(connection)?;
        }
        let mut running: i64 = tasks::table
            .filter(tasks::status.eq("Running"))
            .filter(tasks::concurrency_key.eq(&key))
            .count()
            .get_result(connection)?;
        let waiting: Vec<(String, String, Option<i32>)> = tasks::table
            .filter(tasks::status.eq("Ready"))
            .filter(tasks::ready_at.le(now))
            .filter(tasks::concurrency_key.eq(&key))
            .filter(tasks::workflow_name.eq_any(workflows))
            .order(tasks::ready_at.asc())
            .limit(left as i64)
            .select((tasks::execution_id, tasks::task_id, tasks::concurrency_limit))
            .load(connection)?;
        for (execution_id, task_id, task_limit) in waiting {
            if running >= i64::from(task_limit.unwrap_or(1).max(1)) {
                continue;
            }
            let taken = Statement::<ClaimReadyTask>::new()
                .text(owner)
                .big_per_backend(now.saturating_add(lease), lease)
                .big(now)
                .text(&execution_id)
                .text(&task_id)
                .returning::<(Text, Text, Integer, Integer)>()
                .get_result::<(String, String, i32, i32)>(connection)
                .optional()?;
            if let Some((workflow_name, workflow_version, attempt, recoveries)) = taken {
                running += 1;
                claimed.push(ClaimedTask {
                    execution_id,
                    task_id,
                    workflow_name,
                    workflow_version,
                    attempt,
                    recoveries,
                });
            }
        }
    }
    Ok(claimed)
}
