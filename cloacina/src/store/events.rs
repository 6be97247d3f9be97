//! Queries on the `execution_events` table: the persisted log of state changes.

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::execution_events as events;
use crate::error::StoreError;

/// A new event row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub(crate) struct NewEventRow {
    pub execution_id: String,
    pub task_id: Option<String>,
    pub kind: String,
    pub attempt: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub(crate) struct EventRow {
    pub execution_id: String,
    pub task_id: Option<String>,
    pub kind: String,
    pub attempt: Option<i32>,
    pub message: Option<String>,
    pub created_at: i64,
}

pub(crate) fn insert_events(connection: &mut AnyConnection, rows: &[NewEventRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(500) {
        // Multi-row inserts are built per backend: the shared dialect cannot express them.
        match connection {
            AnyConnection::Postgres(postgres) => diesel::insert_into(events::table).values(chunk).execute(postgres)?,
            AnyConnection::Sqlite(sqlite) => diesel::insert_into(events::table).values(chunk).execute(sqlite)?,
        };
    }
    Ok(())
}

/// An execution's events in the order they happened.
pub(crate) fn load_events(connection: &mut AnyConnection, execution_id: &str) -> Result<Vec<EventRow>, StoreError> {
    Ok(events::table
        .filter(events::execution_id.eq(execution_id))
        .order(events::id.asc())
        .select(EventRow::as_select())
        .load(connection)?)
}
