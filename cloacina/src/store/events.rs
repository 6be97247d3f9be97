//! Queries on the `execution_events` table: the persisted log of state changes.

use diesel::prelude::*;

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
    /// Inserts events from a JSON array of event objects, in order (PostgreSQL).
    InsertEvents = "INSERT INTO execution_events (execution_id, task_id, kind, attempt, message, created_at) \
                    SELECT value ->> 'execution_id', value ->> 'task_id', value ->> 'kind', \
                           (value ->> 'attempt')::integer, value ->> 'message', (value ->> 'created_at')::bigint \
                    FROM jsonb_array_elements(CAST(? AS jsonb)) WITH ORDINALITY AS e(value, position) \
                    ORDER BY position";
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    pub id: i64,
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
                "INSERT INTO execution_events (execution_id, task_id, kind, attempt, message, created_at) VALUES ",
                $($row),+
            );
        }
    };
}

insert_events_sql!(
    /// Inserts one event.
    InsertEvent, "(?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts two events, in order.
    InsertTwoEvents, "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts three events, in order.
    InsertThreeEvents, "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?)"
);
insert_events_sql!(
    /// Inserts four events, in order.
    InsertFourEvents, "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?), ", "(?, ?, ?, ?, ?, ?)"
);

/// Inserts events in order: on SQLite up to four rows per statement (a transaction that records
/// a task and starts the next writes three), on PostgreSQL all in one.
pub(crate) fn insert_events(connection: &mut AnyConnection, rows: &[NewEventRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if matches!(connection, AnyConnection::Sqlite(_)) {
        for chunk in rows.chunks(4) {
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

fn bind_rows<S: super::statement::Sql>(mut statement: Statement<S>, rows: &[NewEventRow]) -> Statement<S> {
    for row in rows {
        statement = statement
            .text(row.execution_id.as_str())
            .optional_text(row.task_id.as_deref())
            .text(row.kind.as_str())
            .optional_int(row.attempt)
            .optional_text(row.message.as_deref())
            .big(row.created_at);
    }
    statement
}

/// An execution's events after position `after` (0 for all), in the order they happened, at
/// most `limit`.
pub(crate) fn load_events(
    connection: &mut AnyConnection,
    execution_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::execution_id.eq(execution_id))
        .filter(events::id.gt(after))
        .order(events::id.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(connection)?)
}
