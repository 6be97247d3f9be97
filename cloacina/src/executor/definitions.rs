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
    let key = execution_id.to_string();
    let Some((stored_version, stored_shape)) = store::execution_workflow(connection, &key)? else {
        return Ok(Definition::Changed { reason: changed(execution_id, name, version, current.version()) });
    };
    // Tasks written by an older release name no version: the execution's row does.
    if let Some(workflow) = registry.get_version(name, &stored_version) {
        return Ok(Definition::Found(workflow));
    }
    let same_shape = if stored_shape.is_empty() {
        // Created by an older release, which kept no shape: the same task ids will do.
        let mut stored: Vec<String> = store::load_tasks(connection, &key)?
            .into_iter()
            .filter(|task| task.map_index.is_none())
            .map(|task| task.task_id)
            .collect();
        let mut registered: Vec<String> = current.task_ids().map(str::to_owned).collect();
        stored.sort();
        registered.sort();
        stored == registered
    } else {
        stored_shape == current.shape()
    };
    if same_shape {
        return Ok(Definition::Found(current));
    }
    Ok(Definition::Changed { reason: changed(execution_id, name, &stored_version, current.version()) })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{drop_schema, execution_row, stores};
    use crate::store::{NewExecutionRow, NewTask, insert_execution, insert_tasks};
    use crate::{Context, FunctionTask};

    fn workflow(tasks: &[&str]) -> Workflow {
        tasks
            .iter()
            .fold(Workflow::builder("etl"), |builder, id| {
                builder.task(FunctionTask::new(*id, |context: Context| async move { Ok(context) }))
            })
            .build()
            .unwrap()
    }

    /// An execution as an older release stored it: no shape, tasks without a version.
    fn stored_by_an_older_release(connection: &mut AnyConnection, id: Uuid, tasks: &[&str]) -> Result<(), StoreError> {
        let row = NewExecutionRow {
            workflow_name: "etl".into(),
            workflow_version: "an older version".into(),
            workflow_shape: String::new(),
            ..execution_row(&id.to_string(), tasks.len() as i32)
        };
        insert_execution(connection, &row)?;
        let rows: Vec<NewTask<'_>> = tasks
            .iter()
            .enumerate()
            .map(|(position, task_id)| NewTask { task_id, position: position as i32, waiting_on: 0 })
            .collect();
        insert_tasks(connection, &id.to_string(), ("etl", ""), &rows)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn executions_of_an_older_release_run_with_a_definition_of_the_same_tasks() {
        let directory = tempfile::tempdir().unwrap();
        for (store, schema) in stores(&directory).await {
            let found = store
                .write(|connection| {
                    let registry = WorkflowRegistry::new();
                    registry.register(workflow(&["load", "extract"]));
                    let (same, other) = (Uuid::new_v4(), Uuid::new_v4());
                    stored_by_an_older_release(connection, same, &["extract", "load"])?;
                    stored_by_an_older_release(connection, other, &["extract", "clean", "load"])?;
                    let same = definition(connection, &registry, same, "etl", "")?;
                    let other = definition(connection, &registry, other, "etl", "")?;
                    Ok((matches!(same, Definition::Found(_)), other))
                })
                .await
                .unwrap();
            assert!(found.0, "the same task ids run with the registered definition");
            let Definition::Changed { reason } = found.1 else { panic!("other tasks cannot run") };
            assert!(reason.contains("was created with version an older v"), "{reason}");
            drop_schema(&store, schema).await;
        }
    }
}
