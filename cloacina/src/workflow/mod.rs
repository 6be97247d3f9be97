//! Workflows: a validated DAG of tasks, its builder, and the registry of workflows by name.

mod builder;
mod graph;
mod registry;
mod subset;
mod version;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use builder::WorkflowBuilder;
pub use registry::WorkflowRegistry;

use crate::concurrency::ConcurrencyLimit;
use crate::mapping::{self, Mapping};
use crate::retry::RetryPolicy;
use crate::task::Task;
use crate::trigger::TriggerRule;

/// A validated DAG of tasks with a name and a content version.
///
/// Tasks are kept in a deterministic topological order (ties broken by task id); that order is
/// the order in which the deltas of a task's ancestors are applied to build its input.
#[derive(Clone)]
pub struct Workflow {
    name: String,
    description: Option<String>,
    version: String,
    shape: String,
    dependency_listing: String,
    nodes: Vec<TaskNode>,
    positions: HashMap<String, usize>,
}

/// One task of a workflow with its settings and its place in the graph.
#[derive(Clone)]
pub struct TaskNode {
    task: Arc<dyn Task>,
    id: String,
    retry_policy: RetryPolicy,
    timeout: Option<Duration>,
    trigger_rule: TriggerRule,
    concurrency: Option<ConcurrencyLimit>,
    mapping: Option<Mapping>,
    dependencies: Vec<usize>,
    dependents: Vec<usize>,
    ancestors: Vec<usize>,
}

impl Workflow {
    /// Starts building a workflow with this name.
    pub fn builder(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder::new(name)
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The workflow's description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// A SHA-256 over the workflow's structure (task ids, dependencies, retry policies, timeouts
    /// and trigger rules), as lowercase hex. Equal structures have equal versions on every
    /// platform and Rust release.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A SHA-256 over the workflow's shape alone (task ids and their dependencies), as
    /// lowercase hex. Versions of a workflow with the same shape differ only in settings, so an
    /// execution created with one may run with the other.
    pub fn shape(&self) -> &str {
        &self.shape
    }

    /// The graph as JSON, stored with each execution so that readers can draw it without the
    /// definition: an object from each task id, in topological order, to the ids of its
    /// dependencies.
    pub fn dependency_listing(&self) -> &str {
        &self.dependency_listing
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether a task has a concurrency limit.
    pub fn has_concurrency_limits(&self) -> bool {
        self.nodes.iter().any(|node| node.concurrency.is_some())
    }

    /// Always false: a workflow has at least one task.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The tasks in topological order.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskNode> {
        self.nodes.iter()
    }

    /// Task ids in topological order.
    pub fn task_ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|node| node.id.as_str())
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<&TaskNode> {
        self.position(id).map(|position| &self.nodes[position])
    }

    /// The topological position of the task with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.positions.get(id).copied()
    }

    /// Where a stored task id belongs: the position of its task and, for an instance of a
    /// mapped task (`task[index]`, see [`crate::mapping`]), its index.
    pub fn locate(&self, id: &str) -> Option<(usize, Option<usize>)> {
        if let Some(position) = self.position(id) {
            return Some((position, None));
        }
        let (mapped, index) = mapping::parse_instance_id(id)?;
        let position = self.position(mapped)?;
        self.nodes[position].mapping.is_some().then_some((position, Some(index)))
    }

    /// The task at a topological position.
    pub fn node(&self, position: usize) -> &TaskNode {
        &self.nodes[position]
    }
}

impl TaskNode {
    /// The task itself.
    pub fn task(&self) -> &Arc<dyn Task> {
        &self.task
    }

    /// The task's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task's retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry_policy
    }

    /// The task's own timeout, if it set one.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The task's trigger rule.
    pub fn trigger_rule(&self) -> &TriggerRule {
        &self.trigger_rule
    }

    /// The task's concurrency limit, if it has one.
    pub fn concurrency(&self) -> Option<&ConcurrencyLimit> {
        self.concurrency.as_ref()
    }

    /// How the task maps over a list in its input, if it is a mapped task.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    /// Positions of the task's direct dependencies, in topological order.
    pub fn dependencies(&self) -> &[usize] {
        &self.dependencies
    }

    /// Positions of the tasks that depend directly on this one, in topological order.
    pub fn dependents(&self) -> &[usize] {
        &self.dependents
    }

    /// Positions of every task this one depends on, directly or not, in topological order.
    pub fn ancestors(&self) -> &[usize] {
        &self.ancestors
    }
}

impl fmt::Debug for Workflow {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Workflow")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("tasks", &self.task_ids().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for TaskNode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TaskNode")
            .field("id", &self.id)
            .field("dependencies", &self.dependencies)
            .finish_non_exhaustive()
    }
}
