//! Queries on the `execution_blobs` table: binary data of context values kept beside their JSON
//! (see `crate::blobs`), once per execution and digest.

use std::sync::Arc;

use diesel::prelude::*;
use diesel::sql_types::Binary;

use super::connection::AnyConnection;
use super::statement::{Statement, sql};
use crate::error::StoreError;

sql! {
    /// Stores binary data under its digest, unless the execution has it already.
    InsertBlob = "INSERT INTO execution_blobs (execution_id, digest, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
}

sql! {
    /// The binary data stored under a digest.
    LoadBlob = "SELECT data FROM execution_blobs WHERE execution_id = ? AND digest = ?";
}

/// Stores an execution's binary data (in the caller's transaction).
pub(crate) fn insert_blobs(
    connection: &mut AnyConnection,
    execution_id: &str,
    blobs: &[(String, Arc<[u8]>)],
) -> Result<(), StoreError> {
    for (digest, data) in blobs {
        Statement::<InsertBlob>::new().text(execution_id).text(digest.as_str()).binary(data).execute(connection)?;
    }
    Ok(())
}

/// The binary data an execution stored under `digest`, if any.
pub(crate) fn load_blob(
    connection: &mut AnyConnection,
    execution_id: &str,
    digest: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(Statement::<LoadBlob>::new()
        .text(execution_id)
        .text(digest)
        .returning::<Binary>()
        .get_result::<Vec<u8>>(connection)
        .optional()?)
}
