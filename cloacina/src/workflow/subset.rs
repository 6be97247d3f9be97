//! A workflow of some of another's tasks: for running part of a workflow, in a test say.

use std::sync::Arc;
use std::time::Duration;

use super::Workflow;
use super::graph::closest_id;
use crate::concurrency::ConcurrencyLimit;
use crate::context::Context;
use crate::error::{TaskError, WorkflowError};
use crate::limits::MAX_NAME_LENGTH;
use crate::logs::LogLevel;
use crate::mapping::Mapping;
use crate::retry::RetryPolicy;
use crate::task::{Canceller, Completion, Declined, Task};
use crate::trigger::TriggerRule;

/// A task with its dependencies cut down to those in a subset; everything else is the task's.
struct WithinSubset {
    task: Arc<dyn Task>,
    dependencies: Vec<String>,
}

#[async_trait::async_trait]
impl Task for WithinSubset {
    fn id(&self) -> &str {
        self.task.id()
    }

    fn dependencies(&self) -> &[String] {
        &self.dependencies
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.task.retry_policy()
    }

    fn timeout(&self) -> Option<Duration> {
        self.task.timeout()
    }

    fn log_level(&self) -> Option<LogLevel> {
        self.task.log_level()
    }

    fn trigger_rule(&self) -> TriggerRule {
        self.task.trigger_rule()
    }

    fn concurrency(&self) -> Option<ConcurrencyLimit> {
        self.task.concurrency()
    }

    fn mapping(&self) -> Option<Mapping> {
        self.task.mapping()
    }

    async fn execute(&self, context: Context) -> Result<Context, TaskError> {
        self.task.execute(context).await
    }

    fn starts_elsewhere(&self) -> bool {
        self.task.starts_elsewhere()
    }

    fn start(&self, context: Context, done: Completion) -> Result<Canceller, Box<Declined>> {
        self.task.start(context, done)
    }
}

impl Workflow {
    /// A workflow of only the tasks named, each depending only on those of its dependencies
    /// that are among them: what the others would have written must be in the initial context.
    ///
    /// It is named `"{name} (subset: {ids})"` (or, when that is too long, `"{name} (subset of
    /// {n} tasks)"`), so that registering it leaves the whole workflow registered.
    pub fn subset<'a>(&self, task_ids: impl IntoIterator<Item = &'a str>) -> Result<Workflow, WorkflowError> {
        let mut chosen = Vec::new();
        for id in task_ids {
            let Some(position) = self.position(id) else {
                return Err(WorkflowError::UnknownTask {
                    workflow: self.name.clone(),
                    task: id.to_owned(),
                    suggestion: closest_id(id, self.task_ids()),
                });
            };
            if !chosen.contains(&position) {
                chosen.push(position);
            }
        }
        chosen.sort_unstable();
        let ids: Vec<&str> = chosen.iter().map(|&position| self.nodes[position].id.as_str()).collect();
        let mut name = format!("{} (subset: {})", self.name, ids.join(", "));
        if name.chars().count() > MAX_NAME_LENGTH {
            name = format!("{} (subset of {} tasks)", self.name, ids.len());
        }
        let mut builder = Workflow::builder(name);
        if let Some(description) = &self.description {
            builder = builder.description(description.clone());
        }
        for &position in &chosen {
            let node = &self.nodes[position];
            let dependencies = node
                .dependencies
                .iter()
                .filter(|dependency| chosen.contains(dependency))
                .map(|&dependency| self.nodes[dependency].id.clone())
                .collect();
            builder = builder.shared_task(Arc::new(WithinSubset { task: Arc::clone(&node.task), dependencies }));
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, FunctionTask, Workflow};

    fn noop(id: &str, dependencies: &[&str]) -> FunctionTask {
        FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies.iter().copied())
    }

    #[test]
    fn a_subset_keeps_the_dependencies_among_its_tasks() {
        let workflow = Workflow::builder("etl")
            .task(noop("extract", &[]))
            .task(noop("transform", &["extract"]))
            .task(noop("load", &["transform"]))
            .task(noop("audit", &["extract", "load"]))
            .build()
            .unwrap();
        let subset = workflow.subset(["audit", "transform", "load"]).unwrap();
        assert_eq!(subset.name(), "etl (subset: transform, load, audit)");
        assert_eq!(subset.dependency_listing(), r#"{"transform":[],"load":["transform"],"audit":["load"]}"#);
        let error = workflow.subset(["lode"]).unwrap_err().to_string();
        assert_eq!(error, "workflow `etl` has no task `lode`; did you mean `load`?");
    }
}
