//! Claiming ready tasks: the one query that differs between backends.
//!
//! PostgreSQL lets many processes claim at once: `FOR UPDATE SKIP LOCKED` hands each a disjoint
//! batch without waiting. SQLite has one writer at a time, so a plain select-and-update inside
//! the write transaction is already exclusive.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text};

use super::connection::AnyConnection;
use crate::error::StoreError;

/// A task this process now holds the lease of.
#[derive(Debug, Clone, QueryableByName)]
pub(crate) struct ClaimedTask {
    #[diesel(sql_type = Text)]
    pub execution_id: String,
    #[diesel(sql_type = Text)]
    pub task_id: String,
    #[diesel(sql_type = Text)]
    pub workflow_name: String,
    /// The attempt now starting (1 for the first).
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
}

/// Claims up to `limit` tasks that are `Ready` (and due by `now`) for workflows in
/// `workflow_names`, oldest first: each becomes `Running`, leased to `owner` until `lease_until`,
/// with its attempt counter raised.
pub(crate) fn claim_ready(
    connection: &mut AnyConnection,
    owner: &str,
    workflow_names: &[String],
    limit: usize,
    now: i64,
    lease_until: i64,
) -> Result<Vec<ClaimedTask>, StoreError> {
    if workflow_names.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let limit = limit.min(i32::MAX as usize) as i64;
    let claimed = match connection {
        AnyConnection::Postgres(postgres) => diesel::sql_query(
            "UPDATE task_executions AS t \
             SET status = 'Running', attempt = t.attempt + 1, lease_owner = $1, lease_expires_at = $2, started_at = $3 \
             FROM (SELECT execution_id, task_id FROM task_executions \
                   WHERE status = 'Ready' AND ready_at <= $3 AND workflow_name = ANY($4) \
                   ORDER BY ready_at LIMIT $5 FOR UPDATE SKIP LOCKED) AS c \
             WHERE t.execution_id = c.execution_id AND t.task_id = c.task_id \
             RETURNING t.execution_id, t.task_id, t.workflow_name, t.attempt",
        )
        .bind::<Text, _>(owner)
        .bind::<BigInt, _>(lease_until)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(workflow_names)
        .bind::<BigInt, _>(limit)
        .load(postgres)?,
        AnyConnection::Sqlite(sqlite) => {
            let placeholders = vec!["?"; workflow_names.len()].join(", ");
            let sql = format!(
                "UPDATE task_executions \
                 SET status = 'Running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?, started_at = ? \
                 WHERE rowid IN (SELECT rowid FROM task_executions \
                                 WHERE status = 'Ready' AND ready_at <= ? AND workflow_name IN ({placeholders}) \
                                 ORDER BY ready_at LIMIT ?) \
                 RETURNING execution_id, task_id, workflow_name, attempt"
            );
            let mut query = diesel::sql_query(sql)
                .into_boxed()
                .bind::<Text, _>(owner)
                .bind::<BigInt, _>(lease_until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(now);
            for name in workflow_names {
                query = query.bind::<Text, _>(name);
            }
            query.bind::<BigInt, _>(limit).load(sqlite)?
        }
    };
    Ok(claimed)
}
