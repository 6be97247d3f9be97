//! The registry of workflows by name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::Workflow;

/// Workflows by name. Registering a name again replaces the earlier workflow.
///
/// Executors share the process-wide [`WorkflowRegistry::global`] registry unless they are given
/// their own.
#[derive(Debug, Default)]
pub struct WorkflowRegistry {
    workflows: RwLock<HashMap<String, Arc<Workflow>>>,
    /// Raised whenever the set of names changes.
    revision: AtomicU64,
}

impl WorkflowRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry.
    pub fn global() -> Arc<WorkflowRegistry> {
        static GLOBAL: OnceLock<Arc<WorkflowRegistry>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(WorkflowRegistry::new())))
    }

    /// Registers a workflow under its name, returning the one it replaced.
    pub fn register(&self, workflow: impl Into<Arc<Workflow>>) -> Option<Arc<Workflow>> {
        let workflow = workflow.into();
        let replaced = self.write().insert(workflow.name().to_owned(), workflow);
        if replaced.is_none() {
            self.revision.fetch_add(1, Ordering::AcqRel);
        }
        replaced
    }

    /// The workflow registered under this name.
    pub fn get(&self, name: &str) -> Option<Arc<Workflow>> {
        self.read().get(name).cloned()
    }

    /// Removes a workflow, returning it.
    pub fn remove(&self, name: &str) -> Option<Arc<Workflow>> {
        let removed = self.write().remove(name);
        if removed.is_some() {
            self.revision.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// A number that changes whenever a name is added or removed.
    pub fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Workflow>>> {
        // A panic while holding the lock cannot leave the map half-updated, so poisoning is ignored.
        self.workflows.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Workflow>>> {
        self.workflows.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, FunctionTask};

    fn workflow(name: &str, task: &str) -> Workflow {
        Workflow::builder(name)
            .task(FunctionTask::new(task, |context: Context| async move { Ok(context) }))
            .build()
            .unwrap()
    }

    #[test]
    fn registering_again_replaces() {
        let registry = WorkflowRegistry::new();
        assert!(registry.register(workflow("etl", "a")).is_none());
        let replaced = registry.register(workflow("etl", "b")).unwrap();
        assert_eq!(replaced.task_ids().collect::<Vec<_>>(), ["a"]);
        assert_eq!(registry.get("etl").unwrap().task_ids().collect::<Vec<_>>(), ["b"]);
        registry.register(workflow("alpha", "a"));
        assert_eq!(registry.names(), ["alpha", "etl"]);
        let revision = registry.revision();
        registry.register(workflow("etl", "c"));
        assert_eq!(registry.revision(), revision, "replacing keeps the set of names");
        assert!(registry.remove("alpha").is_some());
        assert_ne!(registry.revision(), revision);
        assert!(registry.get("alpha").is_none());
    }
}
