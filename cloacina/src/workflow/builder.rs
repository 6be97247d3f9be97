//! Building and validating a [`Workflow`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::graph::{GraphNode, topological_order, unique};
use super::{TaskNode, Workflow, version};
use crate::error::WorkflowError;
use crate::task::Task;
use crate::{limits, mapping};

/// Collects tasks, then validates them into a [`Workflow`].
pub struct WorkflowBuilder {
    name: String,
    description: Option<String>,
    tasks: Vec<Arc<dyn Task>>,
}

impl WorkflowBuilder {
    /// A builder for a workflow with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), description: None, tasks: Vec::new() }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a task.
    pub fn task(self, task: impl Task) -> Self {
        self.shared_task(Arc::new(task))
    }

    /// Adds a task that is shared with other workflows.
    pub fn shared_task(mut self, task: Arc<dyn Task>) -> Self {
        self.tasks.push(task);
        self
    }

    /// Validates the graph and builds the workflow.
    ///
    /// Fails on an empty name, no tasks, an empty or duplicate task id, a dependency on an id
    /// that no task has (naming the closest existing id), or a cycle (naming its path).
    pub fn build(self) -> Result<Workflow, WorkflowError> {
        if self.name.trim().is_empty() {
            return Err(WorkflowError::EmptyName);
        }
        if let Err(problem) = limits::check_name(&self.name) {
            return Err(WorkflowError::InvalidName { name: self.name, problem });
        }
        if self.tasks.is_empty() {
            return Err(WorkflowError::Empty { workflow: self.name });
        }
        for task in &self.tasks {
            // An empty id is reported with the workflow's name, below.
            if !task.id().is_empty()
                && let Err(problem) = limits::check_name(task.id())
            {
                return Err(WorkflowError::InvalidTaskId { task: task.id().to_owned(), problem });
            }
            if let Some(problem) = task.concurrency().and_then(|limit| limit.problem()) {
                return Err(WorkflowError::InvalidConcurrency { task: task.id().to_owned(), problem });
            }
            if let Some(problem) = task.mapping().and_then(|mapping| mapping.problem()) {
                return Err(WorkflowError::InvalidMapping { task: task.id().to_owned(), problem });
            }
        }
        // An instance of a mapped task is stored as `task[index]`: no other task may have such an id.
        for task in &self.tasks {
            if let Some((mapped, _)) = mapping::parse_instance_id(task.id())
                && self.tasks.iter().any(|other| other.id() == mapped && other.mapping().is_some())
            {
                return Err(WorkflowError::InvalidMapping {
                    task: mapped.to_owned(),
                    problem: format!("task `{}` has the id of one of its instances; rename that task", task.id()),
                });
            }
        }
        let graph: Vec<GraphNode<'_>> =
            self.tasks.iter().map(|task| GraphNode { id: task.id(), dependencies: task.dependencies() }).collect();
        let order = topological_order(&self.name, &graph)?;

        let positions: HashMap<String, usize> = order
            .iter()
            .enumerate()
            .map(|(position, &listed)| (self.tasks[listed].id().to_owned(), position))
            .collect();
        let mut nodes: Vec<TaskNode> = order
            .iter()
            .map(|&listed| {
                let task = Arc::clone(&self.tasks[listed]);
                let mut dependencies: Vec<usize> =
                    unique(task.dependencies()).into_iter().map(|d| positions[d.as_str()]).collect();
                dependencies.sort_unstable();
                TaskNode {
                    id: task.id().to_owned(),
                    retry_policy: task.retry_policy(),
                    timeout: task.timeout(),
                    trigger_rule: task.trigger_rule(),
                    concurrency: task.concurrency(),
                    mapping: task.mapping(),
                    task,
                    dependencies,
                    dependents: Vec::new(),
                    ancestors: Vec::new(),
                }
            })
            .collect();

        // Positions are topological, so every dependency's ancestors are known before its dependents'.
        for position in 0..nodes.len() {
            let mut ancestors = BTreeSet::new();
            for &dependency in &nodes[position].dependencies {
                ancestors.insert(dependency);
                ancestors.extend(nodes[dependency].ancestors.iter().copied());
            }
            nodes[position].ancestors = ancestors.into_iter().collect();
            for index in 0..nodes[position].dependencies.len() {
                let dependency = nodes[position].dependencies[index];
                nodes[dependency].dependents.push(position);
            }
        }

        let version = version::content_version(&self.name, &nodes);
        let shape = version::content_shape(&nodes);
        let listing: serde_json::Map<String, serde_json::Value> = nodes
            .iter()
            .map(|node| {
                let dependencies = node.dependencies.iter().map(|&d| serde_json::Value::from(nodes[d].id.clone()));
                (node.id.clone(), serde_json::Value::Array(dependencies.collect()))
            })
            .collect();
        let dependency_listing = serde_json::Value::Object(listing).to_string();
        Ok(Workflow {
            name: self.name,
            description: self.description,
            version,
            shape,
            dependency_listing,
            nodes,
            positions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, FunctionTask};

    fn noop(id: &str, dependencies: &[&str]) -> FunctionTask {
        FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies.iter().copied())
    }

    fn diamond(listing: [(&str, &[&str]); 4]) -> Workflow {
        listing
            .into_iter()
            .fold(Workflow::builder("diamond"), |builder, (id, dependencies)| builder.task(noop(id, dependencies)))
            .build()
            .unwrap()
    }

    #[test]
    fn builds_a_diamond_in_topological_order() {
        let workflow =
            diamond([("join", &["left", "right"]), ("left", &["root"]), ("right", &["root"]), ("root", &[])]);
        assert_eq!(workflow.task_ids().collect::<Vec<_>>(), ["root", "left", "right", "join"]);
        let join = workflow.task("join").unwrap();
        assert_eq!(join.dependencies(), [1, 2]);
        assert_eq!(join.ancestors(), [0, 1, 2]);
        assert_eq!(workflow.task("root").unwrap().dependents(), [1, 2]);
    }

    #[test]
    fn the_version_depends_on_structure_not_listing_order() {
        let first = diamond([("root", &[]), ("left", &["root"]), ("right", &["root"]), ("join", &["left", "right"])]);
        let second = diamond([("join", &["right", "left"]), ("right", &["root"]), ("left", &["root"]), ("root", &[])]);
        assert_eq!(first.version(), second.version());
        assert_eq!(first.version().len(), 64);
        let changed = diamond([("root", &[]), ("left", &["root"]), ("right", &["left"]), ("join", &["left", "right"])]);
        assert_ne!(first.version(), changed.version());
        assert_ne!(first.shape(), changed.shape());
        // Settings change the version, not the shape.
        let retried = Workflow::builder("diamond")
            .task(noop("root", &[]).retry(crate::RetryPolicy::attempts(3)))
            .task(noop("left", &["root"]))
            .task(noop("right", &["root"]))
            .task(noop("join", &["left", "right"]))
            .build()
            .unwrap();
        assert_ne!(first.version(), retried.version());
        assert_eq!(first.shape(), retried.shape());
    }

    #[test]
    fn names_and_ids_are_checked() {
        let long = "n".repeat(300);
        let error = Workflow::builder(long.as_str()).task(noop("a", &[])).build().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "workflow name `{}...` is 300 characters long; the limit is 255; workflow names and task ids are \
                 1 to 255 printable characters",
                "n".repeat(60)
            )
        );
        let error = Workflow::builder("etl").task(noop("bad\0id", &[])).build().unwrap_err();
        assert_eq!(
            error.to_string(),
            "task id `bad\\0id` contains the control character \\u{0}; use printable characters; workflow names \
             and task ids are 1 to 255 printable characters"
        );
    }

    #[test]
    fn empty_workflows_are_refused() {
        assert_eq!(
            Workflow::builder("nothing").build().unwrap_err().to_string(),
            "workflow `nothing` has no tasks; add at least one task"
        );
        assert_eq!(Workflow::builder(" ").task(noop("a", &[])).build().unwrap_err(), WorkflowError::EmptyName);
    }
}
