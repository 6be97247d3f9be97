//! The registry of workflows by name.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::Workflow;

/// How many earlier versions of each workflow a registry keeps for the executions created with
/// them.
pub const KEPT_VERSIONS: usize = 16;

/// Workflows by name. Registering a name again replaces the workflow new executions get; the
/// versions it replaced are kept (the last 16, `KEPT_VERSIONS`) so that executions created with
/// them finish with the definition they were created with.
///
/// Executors share the process-wide [`WorkflowRegistry::global`] registry unless they are given
/// their own.
#[derive(Debug, Default)]
pub struct WorkflowRegistry {
    workflows: RwLock<HashMap<String, Versions>>,
    /// Raised whenever the set of names changes.
    revision: AtomicU64,
    /// Set once a workflow with a concurrency-limited task is registered.
    limited: AtomicBool,
}

/// The registered versions of one workflow.
#[derive(Debug)]
struct Versions {
    current: Arc<Workflow>,
    /// Versions replaced by a later registration, most recent first.
    earlier: VecDeque<Arc<Workflow>>,
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

    /// Registers a workflow under its name, returning the one new executions got before. A
    /// replaced workflow of another version is kept for the executions created with it.
    pub fn register(&self, workflow: impl Into<Arc<Workflow>>) -> Option<Arc<Workflow>> {
        let workflow = workflow.into();
        if workflow.has_concurrency_limits() {
            self.limited.store(true, Ordering::Release);
        }
        let mut workflows = self.write();
        let Some(versions) = workflows.get_mut(workflow.name()) else {
            let name = workflow.name().to_owned();
            workflows.insert(name, Versions { current: workflow, earlier: VecDeque::new() });
            self.revision.fetch_add(1, Ordering::AcqRel);
            return None;
        };
        let replaced = std::mem::replace(&mut versions.current, workflow);
        let current_version = versions.current.version().to_owned();
        versions
            .earlier
            .retain(|earlier| earlier.version() != current_version && earlier.version() != replaced.version());
        if replaced.version() != current_version {
            versions.earlier.push_front(Arc::clone(&replaced));
            versions.earlier.truncate(KEPT_VERSIONS);
        }
        Some(replaced)
    }

    /// Whether a workflow with a concurrency-limited task was ever registered here: only then
    /// does claiming look for limited tasks.
    pub fn has_concurrency_limits(&self) -> bool {
        self.limited.load(Ordering::Acquire)
    }

    /// The workflow registered under this name (the latest registration).
    pub fn get(&self, name: &str) -> Option<Arc<Workflow>> {
        self.read().get(name).map(|versions| Arc::clone(&versions.current))
    }

    /// The workflow registered under this name with this version: the latest registration, or
    /// one it replaced that is still kept.
    pub fn get_version(&self, name: &str, version: &str) -> Option<Arc<Workflow>> {
        let workflows = self.read();
        let versions = workflows.get(name)?;
        std::iter::once(&versions.current).chain(&versions.earlier).find(|w| w.version() == version).cloned()
    }

    /// Removes a workflow and every kept version of it, returning the latest.
    pub fn remove(&self, name: &str) -> Option<Arc<Workflow>> {
        let removed = self.write().remove(name);
        if removed.is_some() {
            self.revision.fetch_add(1, Ordering::AcqRel);
        }
        removed.map(|versions| versions.current)
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Versions>> {
        // A panic while holding the lock cannot leave the map half-updated, so poisoning is ignored.
        self.workflows.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Versions>> {
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

    #[test]
    fn replaced_versions_are_kept_for_their_executions() {
        let registry = WorkflowRegistry::new();
        registry.register(workflow("etl", "a"));
        let first = registry.get("etl").unwrap();
        let second = workflow("etl", "b");
        let second_version = second.version().to_owned();
        registry.register(second);
        assert_eq!(registry.get("etl").unwrap().version(), second_version);
        assert_eq!(registry.get_version("etl", first.version()).unwrap().version(), first.version());
        assert!(registry.get_version("etl", "unknown").is_none());
        // Only the last KEPT_VERSIONS replaced versions are kept.
        for index in 0..KEPT_VERSIONS {
            registry.register(workflow("etl", &format!("task_{index}")));
        }
        assert!(registry.get_version("etl", &second_version).is_some());
        registry.register(workflow("etl", "last"));
        assert!(registry.get_version("etl", first.version()).is_none());
        assert!(registry.get_version("etl", &second_version).is_none());
    }
}
