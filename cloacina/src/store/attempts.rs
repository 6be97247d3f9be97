//! Ending leased attempts: the holder of a task's lease records how its attempt ended (and a
//! completed task's output); an attempt whose lease passed to someone else records nothing.

use diesel::RunQueryDsl;
use diesel::sql_types::{Integer, Text};
use serde_json::json;

use super::blobs::insert_blobs;
use super::connection::AnyConnection;
use super::outputs::insert_output;
use super::statement::{Statement, sql};
use crate::error::StoreError;
use crate::result::TaskStatus;

sql! {
    /// Ends a leased attempt for good.
    EndAttempt = "UPDATE task_executions SET status = ?, finished_at = ?, error = ?, lease_owner = NULL, \
                  lease_expires_at = NULL \
                  WHERE execution_id = ? AND task_id = ? AND status = 'Running' AND lease_owner = ? AND attempt = ?";
}

sql! {
    /// Ends a leased attempt and schedules the next one.
    ScheduleRetry = "UPDATE task_executions SET status = 'Ready', ready_at = ?, retry_at = ?, error = ?, \
                     lease_owner = NULL, lease_expires_at = NULL \
                     WHERE execution_id = ? AND task_id = ? AND status = 'Running' AND lease_owner = ? AND attempt = ?";
}

sql! {
    /// Ends leased attempts from a JSON array of
    /// `[execution_id, task_id, owner, attempt, status, error, retry_at, output]` and stores the
    /// outputs of those that completed; returns the attempts whose lease was still held, as
    /// `(execution_id, task_id, attempt)` (PostgreSQL: one round trip for a whole batch).
    EndAttempts = "WITH input AS ( \
                     SELECT value ->> 0 AS execution_id, value ->> 1 AS task_id, value ->> 2 AS owner, \
                            (value ->> 3)::integer AS attempt, value ->> 4 AS status, value ->> 5 AS error, \
                            (value ->> 6)::bigint AS retry_at, value ->> 7 AS output \
                     FROM jsonb_array_elements(CAST(? AS jsonb)) AS value), \
                   ended AS ( \
                     UPDATE task_executions AS t \
                     SET status = i.status, error = i.error, lease_owner = NULL, lease_expires_at = NULL, \
                         finished_at = CASE WHEN i.retry_at IS NULL THEN ? ELSE t.finished_at END, \
                         ready_at = COALESCE(i.retry_at, t.ready_at), retry_at = COALESCE(i.retry_at, t.retry_at) \
                     FROM input AS i \
                     WHERE t.execution_id = i.execution_id AND t.task_id = i.task_id AND t.status = 'Running' \
                       AND t.lease_owner = i.owner AND t.attempt = i.attempt \
                     RETURNING t.execution_id, t.task_id, t.attempt), \
                   stored AS ( \
                     INSERT INTO task_outputs (execution_id, task_id, delta, created_at) \
                     SELECT i.execution_id, i.task_id, i.output, ? FROM input AS i \
                     JOIN ended AS e \
                       ON e.execution_id = i.execution_id AND e.task_id = i.task_id AND e.attempt = i.attempt \
                     WHERE i.output IS NOT NULL) \
                   SELECT execution_id, task_id, attempt FROM ended";
}

/// Who holds a running task, and which attempt: a result is only recorded by its holder.
#[derive(Debug, Clone)]
pub(crate) struct Lease<'a> {
    pub execution_id: &'a str,
    pub task_id: &'a str,
    pub owner: &'a str,
    pub attempt: i32,
}

/// How an attempt ended, as it is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttemptEnd<'a> {
    /// The task completed; its output (its context delta as JSON) is stored, with the binary
    /// data its values refer to.
    Completed { output: &'a str, blobs: &'a [(String, std::sync::Arc<[u8]>)] },
    /// The attempt failed and the task is `Ready` again from `retry_at`.
    Retry { error: &'a str, retry_at: i64 },
    /// The task failed for good.
    Failed { error: &'a str },
}

/// The end of one leased attempt.
#[derive(Debug, Clone)]
pub(crate) struct EndedAttempt<'a> {
    pub lease: Lease<'a>,
    pub end: AttemptEnd<'a>,
}

/// Records the end of a leased attempt: `Completed` or `Failed` with `finished_at`, or back to
/// `Ready` at `retry_at` for another attempt. Returns false (and changes nothing) when the lease
/// is no longer held, for instance because the execution was cancelled.
pub(crate) fn finish_attempt(
    connection: &mut AnyConnection,
    lease: &Lease<'_>,
    status: TaskStatus,
    error: Option<&str>,
    retry_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = match retry_at {
        Some(retry_at) => Statement::<ScheduleRetry>::new()
            .big(retry_at)
            .big(retry_at)
            .optional_text(error)
            .text(lease.execution_id)
            .text(lease.task_id)
            .text(lease.owner)
            .int(lease.attempt)
            .execute(connection)?,
        None => Statement::<EndAttempt>::new()
            .text(status.as_str())
            .big(now)
            .optional_text(error)
            .text(lease.execution_id)
            .text(lease.task_id)
            .text(lease.owner)
            .int(lease.attempt)
            .execute(connection)?,
    };
    Ok(changed == 1)
}

/// Records the ends of leased attempts, and the outputs of those that completed; returns, for
/// each attempt in order, whether its lease was still held (an attempt whose lease was not
/// changes nothing).
///
/// SQLite runs the one-attempt statements (prepared once, in-process); PostgreSQL records the
/// whole batch in one statement, as a round trip per attempt would dominate a batch's cost.
pub(crate) fn end_attempts(
    connection: &mut AnyConnection,
    attempts: &[EndedAttempt<'_>],
    now: i64,
) -> Result<Vec<bool>, StoreError> {
    if matches!(connection, AnyConnection::Sqlite(_)) {
        return attempts.iter().map(|attempt| end_one(connection, attempt, now)).collect();
    }
    let held = end_in_batches(connection, attempts, now)?;
    for (attempt, &held) in attempts.iter().zip(&held) {
        if let (true, AttemptEnd::Completed { blobs, .. }) = (held, attempt.end)
            && !blobs.is_empty()
        {
            insert_blobs(connection, attempt.lease.execution_id, blobs)?;
        }
    }
    Ok(held)
}

/// The longest string a PostgreSQL `jsonb` value holds (2^28 - 1 bytes). Each output travels
/// to the database as one such string, so a longer one is refused whatever it holds.
const MAX_JSONB_STRING: usize = (1 << 28) - 1;

/// [`end_attempts`] on PostgreSQL: as few statements as the outputs' size allows. An output
/// longer than [`MAX_JSONB_STRING`] fails the batch before anything is sent: the database would
/// refuse it, after reading it all.
fn end_in_batches(
    connection: &mut AnyConnection,
    attempts: &[EndedAttempt<'_>],
    now: i64,
) -> Result<Vec<bool>, StoreError> {
    if let Some(size) = attempts.iter().map(output_size).find(|&size| size > MAX_JSONB_STRING) {
        let reason = format!(
            "the output is {size} bytes of JSON; PostgreSQL stores at most {MAX_JSONB_STRING} \
             (write large data as bytes, which are stored apart from the JSON)"
        );
        return Err(StoreError::Query(diesel::result::Error::SerializationError(reason.into())));
    }
    let mut held = Vec::with_capacity(attempts.len());
    let mut start = 0;
    while start < attempts.len() {
        // Each statement's outputs travel in one jsonb value, which PostgreSQL caps (at 255 MB):
        // a batch of large outputs takes several statements.
        let mut end = start + 1;
        let mut bytes = output_size(&attempts[start]);
        while end < attempts.len() && bytes + output_size(&attempts[end]) <= MAX_STATEMENT_OUTPUTS {
            bytes += output_size(&attempts[end]);
            end += 1;
        }
        held.extend(end_batch(connection, &attempts[start..end], now)?);
        start = end;
    }
    Ok(held)
}

/// Bytes of task output one PostgreSQL statement carries at most (unless a single output is
/// larger).
const MAX_STATEMENT_OUTPUTS: usize = 16 << 20;

fn output_size(attempt: &EndedAttempt<'_>) -> usize {
    match attempt.end {
        AttemptEnd::Completed { output, .. } => output.len(),
        AttemptEnd::Retry { error, .. } | AttemptEnd::Failed { error } => error.len(),
    }
}

/// [`end_attempts`] in one PostgreSQL statement.
fn end_batch(connection: &mut AnyConnection, attempts: &[EndedAttempt<'_>], now: i64) -> Result<Vec<bool>, StoreError> {
    let rows: Vec<serde_json::Value> = attempts
        .iter()
        .map(|EndedAttempt { lease, end }| {
            let (status, error, retry_at, output) = match *end {
                AttemptEnd::Completed { output, .. } => (TaskStatus::Completed, None, None, Some(output)),
                AttemptEnd::Retry { error, retry_at } => (TaskStatus::Ready, Some(error), Some(retry_at), None),
                AttemptEnd::Failed { error } => (TaskStatus::Failed, Some(error), None, None),
            };
            json!([
                lease.execution_id,
                lease.task_id,
                lease.owner,
                lease.attempt,
                status.as_str(),
                error,
                retry_at,
                output
            ])
        })
        .collect();
    let ended: std::collections::HashSet<(String, String, i32)> = Statement::<EndAttempts>::new()
        .json(&serde_json::Value::Array(rows))
        .big(now)
        .big(now)
        .returning::<(Text, Text, Integer)>()
        .load::<(String, String, i32)>(connection)?
        .into_iter()
        .collect();
    Ok(attempts
        .iter()
        .map(|attempt| {
            let lease = &attempt.lease;
            ended.contains(&(lease.execution_id.to_owned(), lease.task_id.to_owned(), lease.attempt))
        })
        .collect())
}

fn end_one(connection: &mut AnyConnection, attempt: &EndedAttempt<'_>, now: i64) -> Result<bool, StoreError> {
    let lease = &attempt.lease;
    match attempt.end {
        AttemptEnd::Completed { output, blobs } => {
            let held = finish_attempt(connection, lease, TaskStatus::Completed, None, None, now)?;
            if held {
                insert_output(connection, lease.execution_id, lease.task_id, output, now)?;
                insert_blobs(connection, lease.execution_id, blobs)?;
            }
            Ok(held)
        }
        AttemptEnd::Retry { error, retry_at } => {
            finish_attempt(connection, lease, TaskStatus::Ready, Some(error), Some(retry_at), now)
        }
        AttemptEnd::Failed { error } => finish_attempt(connection, lease, TaskStatus::Failed, Some(error), None, now),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::testing::{drop_schema, execution_row, stores};
    use crate::store::{NewTask, claim_pending, insert_execution};
    use crate::store::{insert_tasks, load_outputs};

    /// One execution with the tasks `first` and `second`, both claimed by `holder`.
    pub(crate) fn claimed_by(connection: &mut AnyConnection, holder: &str) -> Result<(), StoreError> {
        insert_execution(connection, &execution_row("e1", 4))?;
        let ids = ["first", "second", "flaky", "broken"];
        let tasks: Vec<NewTask<'_>> = ids
            .iter()
            .enumerate()
            .map(|(position, id)| NewTask { task_id: id, position: position as i32, waiting_on: 0 })
            .collect();
        insert_tasks(connection, "e1", ("w", "v"), &tasks)?;
        let claimed = claim_pending(connection, holder, "e1", &ids, 2, 1_000)?;
        assert_eq!(claimed.len(), 4);
        Ok(())
    }

    /// A task's row as (status, error, ready_at, retry_at, finished_at, lease_owner).
    type Row = (String, Option<String>, Option<i64>, Option<i64>, Option<i64>, Option<String>);

    fn row(connection: &mut AnyConnection, task_id: &str) -> Result<Row, StoreError> {
        use crate::store::schema::task_executions as tasks;
        use diesel::prelude::*;
        Ok(tasks::table
            .filter(tasks::execution_id.eq("e1"))
            .filter(tasks::task_id.eq(task_id))
            .select((
                tasks::status,
                tasks::error,
                tasks::ready_at,
                tasks::retry_at,
                tasks::finished_at,
                tasks::lease_owner,
            ))
            .first(connection)?)
    }

    fn ended<'a>(owner: &'a str, attempt: i32, task_id: &'a str, output: &'a str) -> EndedAttempt<'a> {
        EndedAttempt {
            lease: Lease { execution_id: "e1", task_id, owner, attempt },
            end: AttemptEnd::Completed { output, blobs: &[] },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_holder_of_a_lease_records_its_end() {
        let directory = tempfile::tempdir().unwrap();
        for (store, schema) in stores(&directory).await {
            let outputs = store
                .write(|connection| {
                    claimed_by(connection, "holder")?;
                    // Another owner, and the holder's earlier attempt, change nothing.
                    let stale = [
                        ended("former", 1, "first", r#"{"by":"former"}"#),
                        ended("holder", 0, "second", r#"{"by":"old attempt"}"#),
                    ];
                    assert_eq!(end_attempts(connection, &stale, 5)?, [false, false]);
                    assert!(load_outputs(connection, "e1", None)?.is_empty());
                    // The holder's current attempts are recorded, once, also beside a stale attempt
                    // of the same task in the same batch.
                    let current = [
                        ended("holder", 0, "first", r#"{"by":"old attempt"}"#),
                        ended("holder", 1, "first", r#"{"by":"holder"}"#),
                        ended("holder", 1, "second", r#"{"by":"holder"}"#),
                        EndedAttempt {
                            lease: Lease { execution_id: "e1", task_id: "flaky", owner: "holder", attempt: 1 },
                            end: AttemptEnd::Retry { error: "busy", retry_at: 99 },
                        },
                        EndedAttempt {
                            lease: Lease { execution_id: "e1", task_id: "broken", owner: "holder", attempt: 1 },
                            end: AttemptEnd::Failed { error: "boom" },
                        },
                    ];
                    assert_eq!(end_attempts(connection, &current, 6)?, [false, true, true, true, true]);
                    assert_eq!(end_attempts(connection, &current, 7)?, [false; 5]);
                    let completed = ("Completed".to_owned(), None, Some(2), None, Some(6), None);
                    assert_eq!(row(connection, "first")?, completed);
                    let retried = ("Ready".to_owned(), Some("busy".to_owned()), Some(99), Some(99), None, None);
                    assert_eq!(row(connection, "flaky")?, retried);
                    let failed = ("Failed".to_owned(), Some("boom".to_owned()), Some(2), None, Some(6), None);
                    assert_eq!(row(connection, "broken")?, failed);
                    let mut outputs = load_outputs(connection, "e1", None)?;
                    outputs.sort();
                    Ok(outputs)
                })
                .await
                .unwrap();
            let holder = r#"{"by":"holder"}"#.to_owned();
            assert_eq!(outputs, [("first".to_owned(), holder.clone()), ("second".to_owned(), holder)]);
            drop_schema(&store, schema).await;
        }
    }
}
