//! Queries on the `execution_events` table: the persisted log of state changes.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::connection::AnyConnection;
use super::schema::execution_events as events;
use super::statement::{Statement, sql};
use crate::error::StoreError;

/// A new event row.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct NewEventRow {
    pub execution_id: String,
    pub task_id: Option<String>,
    pub kind: String,
    pub attempt: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
}

sql! {
    /// Inserts events from a JSON array of event objects, in order, numbering each execution's
    /// events on from its row's count (PostgreSQL). The executions' rows are locked in id order,
    /// so that transactions numbering events of the same executions take turns without
    /// deadlocking, and each holds the numbers it took until it commits. The lock is the one an
    /// update of the row takes (`FOR NO KEY UPDATE`): rows inserted beside it that refer to the
    /// execution (task outputs, events) hold a key-share lock on it, which `FOR UPDATE` would
    /// wait for, deadlocking two transactions that each inserted such a row first. The rows are
    /// found by `id = ANY(ARRAY(...))`, which the planner answers from the primary key: it takes
    /// a set-returning function for 100 rows, and joined to that, it would read the whole table.
    InsertEvents = "WITH input AS ( \
                      SELECT value, position FROM jsonb_array_elements(CAST(? AS jsonb)) WITH ORDINALITY AS e(value, position)), \
                    counts AS ( \
                      SELECT value ->> 'execution_id' AS execution_id, count(*) AS added FROM input GROUP BY 1), \
                    locked AS MATERIALIZED ( \
                      SELECT x.id FROM executions AS x WHERE x.id = ANY(ARRAY(SELECT execution_id FROM counts)) \
                      ORDER BY x.id FOR NO KEY UPDATE), \
                    numbered AS ( \
                      UPDATE executions AS x SET event_count = x.event_count + c.added \
                      FROM counts AS c WHERE x.id = c.execution_id AND x.id = ANY(ARRAY(SELECT id FROM locked)) \
                      RETURNING x.id, x.event_count - c.added AS base) \
                    INSERT INTO execution_events (execution_id, task_id, kind, attempt, message, created_at, sequence) \
                    SELECT i.value ->> 'execution_id', i.value ->> 'task_id', i.value ->> 'kind', \
                           (i.value ->> 'attempt')::integer, i.value ->> 'message', (i.value ->> 'created_at')::bigint, \
                           n.base + row_number() OVER (PARTITION BY n.id ORDER BY i.position) \
                    FROM input AS i JOIN numbered AS n ON n.id = i.value ->> 'execution_id' \
                    ORDER BY i.position";
}

sql! {
    /// Takes the next `?` numbers of an execution's events; returns the last one taken.
    NumberEvents = "UPDATE executions SET event_count = event_count + ? WHERE id = ? RETURNING event_count";
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    /// Its place among its execution's events: 1, 2, 3, ... in the order they committed.
    pub sequence: i64,
    pub execution_id: String,
    pub task_id: Option<String>,
    pub kind: String,
    pub attempt: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
}

/// Declares an insert of `$rows` events at once (SQLite: a statement per row count, each
/// prepared once).
macro_rules! insert_events_sql {
    ($(#[$doc:meta])* $name:ident, $($row:literal),+) => {
        sql! {
            $(#[$doc])*
            $name = concat!(
                "INSERT INTO execution_events (execution_id, task_id, kind, attempt, message, created_at, sequence) \
                 VALUES ",
                $($row),+
            );
        }
    };
}

insert_events_sql!(
    /// Inserts one event.
    InsertEvent, "(?, ?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts two events, in order.
    InsertTwoEvents, "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts three events, in order.
    InsertThreeEvents, "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts four events, in order.
    InsertFourEvents,
    "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?, ?)"
);

/// Inserts events, numbering each execution's events on from the last number it took.
#[cfg(test)]
pub(crate) fn insert_events(connection: &mut AnyConnection, rows: &[NewEventRow]) -> Result<(), StoreError> {
    insert_numbered_events(connection, rows, &HashMap::new())
}

/// Inserts events in order, numbering each execution's events on from the last number it took:
/// on SQLite (where one transaction writes at a time) a statement per execution takes the
/// numbers, unless the execution is in `taken` (it took its events' numbers already, from the
/// one given on, in the order of `rows`), and up to four rows go per insert (a transaction that
/// records a task and starts the next writes three); on PostgreSQL, where `taken` is empty, one
/// statement does it all.
pub(crate) fn insert_numbered_events(
    connection: &mut AnyConnection,
    rows: &[NewEventRow],
    taken: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if matches!(connection, AnyConnection::Sqlite(_)) {
        let mut numbered = Vec::with_capacity(rows.len());
        let mut next: HashMap<&str, i64> = taken.iter().map(|(key, &first)| (key.as_str(), first)).collect();
        let mut start = 0;
        // Rows come grouped by execution, mostly: each run of one execution takes its numbers.
        while start < rows.len() {
            let execution_id = rows[start].execution_id.as_str();
            let end = start + rows[start..].iter().take_while(|row| row.execution_id == execution_id).count();
            let count = (end - start) as i64;
            let first = match next.get_mut(execution_id) {
                Some(first) => std::mem::replace(first, *first + count),
                None => {
                    let last: i64 = Statement::<NumberEvents>::new()
                        .big(count)
                        .text(execution_id)
                        .returning::<BigInt>()
                        .get_result(connection)?;
                    last - count + 1
                }
            };
            numbered.extend(rows[start..end].iter().zip(first..));
            start = end;
        }
        for chunk in numbered.chunks(4) {
            match chunk.len() {
                1 => bind_rows(Statement::<InsertEvent>::new(), chunk).execute(connection)?,
                2 => bind_rows(Statement::<InsertTwoEvents>::new(), chunk).execute(connection)?,
                3 => bind_rows(Statement::<InsertThreeEvents>::new(), chunk).execute(connection)?,
                _ => bind_rows(Statement::<InsertFourEvents>::new(), chunk).execute(connection)?,
            };
        }
        return Ok(());
    }
    let rows = serde_json::to_value(rows).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    Statement::<InsertEvents>::new().json(&rows).execute(connection)?;
    Ok(())
}

fn bind_rows<S: super::statement::Sql>(mut statement: Statement<S>, rows: &[(&NewEventRow, i64)]) -> Statement<S> {
    for (row, sequence) in rows {
        statement = statement
            .text(row.execution_id.as_str())
            .optional_text(row.task_id.as_deref())
            .text(row.kind.as_str())
            .optional_int(row.attempt)
            .optional_text(row.message.as_deref())
            .big(row.created_at)
            .big(*sequence);
    }
    statement
}

/// An execution's events numbered after `after` (0 for all), in the order they committed, at
/// most `limit`. Numbers are taken in commit order, so no event numbered below one returned
/// can commit later: paging by number skips none.
pub(crate) fn load_events(
    connection: &mut AnyConnection,
    execution_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::execution_id.eq(execution_id))
        .filter(events::sequence.gt(after))
        .order(events::sequence.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(connection)?)
}

/// A task's stored event, with only what timings are read from.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct TaskEventRow {
    pub task_id: String,
    pub kind: String,
    pub attempt: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
}

/// The task events of an execution, in order: what its timings are read from (fewer columns
/// than [`load_events`], for a result read after every execution).
pub(crate) fn load_task_events(
    connection: &mut AnyConnection,
    execution_id: &str,
) -> Result<Vec<TaskEventRow>, StoreError> {
    Ok(events::table
        .filter(events::execution_id.eq(execution_id))
        .filter(events::task_id.is_not_null())
        .order(events::sequence.asc())
        .select((events::task_id.assume_not_null(), events::kind, events::attempt, events::message, events::created_at))
        .load(connection)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::insert_execution;
    use crate::store::testing::execution_row;
    use crate::store::testing::{drop_schema, stores};

    fn event(kind: &str) -> NewEventRow {
        NewEventRow {
            execution_id: "e1".into(),
            task_id: None,
            kind: kind.into(),
            attempt: None,
            message: None,
            created_at: 1,
        }
    }

    fn wait_for(flag: &AtomicBool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A transaction that numbers events of an execution holds the numbers until it commits:
    /// another one numbering events of the same execution waits, so a reader never sees a later
    /// number before an earlier one has committed (and skips none by paging past it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn events_are_numbered_in_commit_order_without_gaps() {
        let directory = tempfile::tempdir().unwrap();
        for (store, schema) in stores(&directory).await {
            let store = Arc::new(store);
            store
                .write(|connection| {
                    insert_execution(connection, &execution_row("e1", 1))?;
                    insert_events(connection, &[event("first"), event("second")])
                })
                .await
                .unwrap();
            let (inserted, release, later_inserted) =
                (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
            let (holding, released) = (Arc::clone(&inserted), Arc::clone(&release));
            let writer = Arc::clone(&store);
            let early = tokio::spawn(async move {
                writer
                    .write(move |connection| {
                        insert_events(connection, &[event("early")])?;
                        holding.store(true, Ordering::SeqCst);
                        wait_for(&released);
                        Ok(())
                    })
                    .await
            });
            let waiting = Arc::clone(&inserted);
            tokio::task::spawn_blocking(move || wait_for(&waiting)).await.unwrap();
            let (writer, done) = (Arc::clone(&store), Arc::clone(&later_inserted));
            let later = tokio::spawn(async move {
                writer
                    .write(move |connection| {
                        insert_events(connection, &[event("later")])?;
                        done.store(true, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!later_inserted.load(Ordering::SeqCst), "the later transaction numbered its event first");
            let seen = store.read(|connection| load_events(connection, "e1", 2, 100)).await.unwrap();
            assert!(seen.is_empty(), "{seen:?}");
            release.store(true, Ordering::SeqCst);
            early.await.unwrap().unwrap();
            later.await.unwrap().unwrap();
            let all = store.read(|connection| load_events(connection, "e1", 0, 100)).await.unwrap();
            let numbered: Vec<(i64, &str)> = all.iter().map(|row| (row.sequence, row.kind.as_str())).collect();
            assert_eq!(numbered, [(1, "first"), (2, "second"), (3, "early"), (4, "later")]);
            let after = store.read(|connection| load_events(connection, "e1", 2, 1)).await.unwrap();
            assert_eq!(after.iter().map(|row| row.sequence).collect::<Vec<_>>(), [3]);
            drop_schema(&store, schema).await;
        }
    }

    /// Two transactions that each store a task's output (which key-share locks the execution's
    /// row) and then number events of that execution take turns: neither waits for the other's
    /// key-share lock, so they cannot deadlock (run once each, without the store's retries).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn numbering_events_does_not_deadlock_with_rows_that_refer_to_the_execution() {
        let Some((store, schema)) = crate::store::testing::postgres_store().await else { return };
        let store = Arc::new(store);
        store.write(|connection| insert_execution(connection, &execution_row("e1", 2))).await.unwrap();
        let stored = [Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false))];
        let mut transactions = Vec::new();
        for (own, task) in [(0, "first"), (1, "second")] {
            let (store, stored) = (Arc::clone(&store), stored.clone());
            transactions.push(tokio::spawn(async move {
                store
                    .read(move |connection| {
                        crate::store::connection::write_transaction(connection, |connection| {
                            crate::store::outputs::insert_output(connection, "e1", task, "{}", 1)?;
                            stored[own].store(true, Ordering::SeqCst);
                            // Both have stored their output before either numbers events.
                            wait_for(&stored[1 - own]);
                            insert_events(connection, &[event(task)])
                        })
                    })
                    .await
            }));
        }
        for transaction in transactions {
            transaction.await.unwrap().unwrap();
        }
        let numbered = store.read(|connection| load_events(connection, "e1", 0, 10)).await.unwrap();
        assert_eq!(numbered.iter().map(|row| row.sequence).collect::<Vec<_>>(), [1, 2]);
        drop_schema(&store, Some(schema)).await;
    }
}
