//! SQLite checkpoints off the commit path.
//!
//! In WAL mode a commit appends pages to the write-ahead log; a checkpoint copies them back into
//! the database file and syncs it. Left to SQLite, the commit that crosses the log's size limit
//! does that itself, and the task waiting on that commit waits milliseconds longer. The store's
//! connections turn that off and the executor checkpoints in the background instead, on a
//! reading connection, while commits go on.

use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl};

use super::connection::AnyConnection;
use crate::error::StoreError;

/// Frames in the log past which the checkpoint also waits for a pause in writing, so that the
/// log starts over instead of growing while commits never stop (8192 frames of 4 KiB: 32 MiB).
pub(crate) const RESTART_AFTER_FRAMES: i32 = 8192;

/// What `PRAGMA wal_checkpoint` reports.
#[derive(Debug, QueryableByName)]
pub(crate) struct Checkpointed {
    /// Frames in the log.
    #[diesel(sql_type = Integer)]
    pub log: i32,
    /// Frames copied into the database so far.
    #[diesel(sql_type = Integer)]
    pub checkpointed: i32,
}

/// Copies what it can of the log into the database without waiting for anyone.
pub(crate) fn passive(connection: &mut AnyConnection) -> Result<Checkpointed, StoreError> {
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(connection)?)
}

/// Copies the whole log into the database and makes the next commit start it over; run on the
/// writing connection, it holds off this process's commits while it works.
pub(crate) fn restart(connection: &mut AnyConnection) -> Result<Checkpointed, StoreError> {
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result(connection)?)
}
