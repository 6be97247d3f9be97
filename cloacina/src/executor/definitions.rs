//! Which definition of a workflow runs an execution's tasks.
//!
//! An execution runs with the version of its workflow it was created with, as long as this
//! process has that version (the registry keeps versions a later registration replaced). Failing
//! that, a registered version of the same shape (the same task ids and dependencies: only
//! settings such as retries, timeouts or trigger rules differ) runs it. Otherwise no definition
//! can: the execution fails with an error naming both versions, rather than waiting for ever
//! for a definition nobody has.

use std::sync::Arc;

use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{self, AnyConnection};
use crate::workflow::{Workflow, WorkflowRegistry};

/// What runs an execution of a workflow, as far as this process can tell.
pub(crate) enum Definition {
    /// This definition.
    Found(Arc<Workflow>),
    /// The workflow is not registered here: another process may run it.
    Unregistered,
    /// The workflow is registered, but with another shape: the execution cannot go on.
    Changed {
        /// Why, naming both versions.
        reason: String,
    },
}

/// The definition that runs the execution `execution_id` of version `version` of workflow
/// `name`; reads the execution's shape only when this process lacks that version.
pub(crate) fn definition(
    connection: &mut AnyConnection,
    registry: &WorkflowRegistry,
    execution_id: Uuid,
    name: &str,
    version: &str,
) -> Result<Definition, StoreError> {
    if let Some(workflow) = registry.get_version(name, version) {
        return Ok(Definition::Found(workflow));
    }
    let Some(current) = registry.get(name) else {
        return Ok(Definition::Unregistered);
    };
    let stored = store::execution_workflow(connection, &execution_id.to_string())?;
    if stored.as_ref().is_some_and(|(_, shape)| shape == current.shape()) {
        return Ok(Definition::Found(current));
    }
    Ok(Definition::Changed { reason: changed(execution_id, name, version, current.version()) })
}

/// The error of an execution no registered definition can run.
pub(crate) fn changed(execution_id: Uuid, name: &str, created_with: &str, registered: &str) -> String {
    format!(
        "execution `{execution_id}` was created with version {} of workflow `{name}`, which this process no \
         longer has, and the version it has ({}) has other tasks or dependencies; it cannot go on. Keep a \
         workflow's tasks and dependencies while executions of it run (a changed workflow may take a new \
         name), or start the execution again",
        short(created_with),
        short(registered)
    )
}

/// A version as shown in messages: its first 12 hex digits.
fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}
