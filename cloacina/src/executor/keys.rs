//! Idempotent starts: an execution started under a key is started once per workflow and key;
//! a later start with the same workflow and key, in any process, gets that execution instead
//! (a unique index on both decides between processes that start it at the same moment).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::{Map, Value};

use super::events::parse_id;
use super::inputs::parse_context;
use super::{ExecutionHandle, UnifiedExecutor};
use crate::error::{ExecutorError, StoreError};
use crate::limits;
use crate::store;

/// Checks a key as a name: 1 to 255 printable characters.
pub(super) fn check_key(key: &str) -> Result<(), ExecutorError> {
    limits::check_name(key).map_err(|problem| ExecutorError::InvalidKey { problem })
}

/// Whether a failed insert may have met another execution under the same key.
pub(super) fn is_duplicate(error: &StoreError) -> bool {
    matches!(error, StoreError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)))
}

impl UnifiedExecutor {
    /// The execution started under `key` for `workflow`, if there is one; an error if it was
    /// started with another initial context than `context`.
    pub(super) async fn keyed(
        &self,
        workflow: &str,
        key: &str,
        context: &Map<String, Value>,
    ) -> Result<Option<ExecutionHandle>, ExecutorError> {
        let (name, wanted) = (workflow.to_owned(), key.to_owned());
        let found = self.engine.store.read(move |connection| store::find_by_key(connection, &name, &wanted)).await?;
        let Some((id, stored)) = found else {
            return Ok(None);
        };
        let execution_id = parse_id(&id)?;
        if &parse_context(&stored)? != context {
            return Err(ExecutorError::KeyInUse { workflow: workflow.to_owned(), key: key.to_owned(), execution_id });
        }
        Ok(Some(ExecutionHandle::existing(self.clone(), execution_id)))
    }
}
