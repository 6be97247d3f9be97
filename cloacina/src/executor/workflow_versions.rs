//! The workflow versions stored executions ran, and their task graphs: what a reader without
//! the definitions (a dashboard, a command) can show of a workflow.

use super::UnifiedExecutor;
use crate::error::ExecutorError;
use crate::error::StoreError;
use crate::result::WorkflowVersion;
use crate::store::{self, to_datetime};

impl UnifiedExecutor {
    /// The versions of workflows that stored executions ran (of the workflow named, or of all),
    /// the most recently run first, with how many executions ran each and when.
    pub async fn workflow_versions(&self, workflow_name: Option<&str>) -> Result<Vec<WorkflowVersion>, ExecutorError> {
        let name = workflow_name.map(str::to_owned);
        let rows =
            self.engine.store.read(move |connection| store::workflow_versions(connection, name.as_deref())).await?;
        Ok(rows
            .into_iter()
            .map(|row| WorkflowVersion {
                workflow_name: row.workflow_name,
                version: row.workflow_version,
                executions: u64::try_from(row.executions).unwrap_or_default(),
                first_created_at: to_datetime(row.first_created_at),
                last_created_at: to_datetime(row.last_created_at),
            })
            .collect())
    }

    /// The task graph of a workflow version as its latest stored execution kept it: each task
    /// id in topological order with the ids of its dependencies. `None` when no stored
    /// execution ran that version, or when those that did were stored before graphs were.
    pub async fn workflow_graph(
        &self,
        workflow_name: &str,
        version: &str,
    ) -> Result<Option<Vec<(String, Vec<String>)>>, ExecutorError> {
        let (name, version) = (workflow_name.to_owned(), version.to_owned());
        let text = self.engine.store.read(move |connection| store::version_graph(connection, &name, &version)).await?;
        if text.is_empty() {
            return Ok(None);
        }
        let graph: indexmap::IndexMap<String, Vec<String>> = serde_json::from_str(&text)
            .map_err(|error| StoreError::Corrupt(format!("stored workflow graph: {error}")))?;
        Ok(Some(graph.into_iter().collect()))
    }
}
