//! Re-running an execution from where it failed: a new execution of the same workflow version
//! and initial context that keeps the outputs of the tasks that completed and runs the others
//! (failed, skipped, cancelled) and every task downstream of them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::claiming::{ClaimRequest, admit_ready};
use super::definitions::{self, Definition};
use super::events::{EventKind, EventLog};
use super::scheduler::{ExecutionRef, Transition, finish_transaction, parse_status, settle};
use super::{ExecutionHandle, StartOptions, UnifiedExecutor, worker};
use crate::error::{ExecutorError, StoreError};
use crate::result::{ExecutionStatus, TaskStatus};
use crate::store::{self, AnyConnection, ClaimedTask, NewExecutionRow, NewTask};
use crate::trigger::DependencyOutcomes;
use crate::workflow::Workflow;

/// The execution a re-run starts from, as stored.
struct Source {
    id: Uuid,
    workflow_name: String,
    workflow_version: String,
    workflow_shape: String,
    context: String,
    /// Whether it has finished.
    finished: bool,
    /// Each task's state, by position in the workflow.
    statuses: Vec<TaskStatus>,
}

impl UnifiedExecutor {
    /// Starts a re-run of a finished execution that did not complete (see [`rerun_as`]).
    ///
    /// [`rerun_as`]: Self::rerun_as
    pub async fn rerun(&self, execution_id: Uuid) -> Result<ExecutionHandle, ExecutorError> {
        self.rerun_as(Self::new_execution_id(), execution_id).await
    }

    /// Starts, under the new id `rerun_id`, a re-run of execution `execution_id`: a new
    /// execution of the same workflow version and initial context, recording that it came from
    /// `execution_id` ([`ExecutionResult::rerun_of`](crate::ExecutionResult::rerun_of)). It
    /// keeps the outputs of the tasks that completed and runs only the others (failed, skipped,
    /// cancelled) and the tasks downstream of them; a kept task is `Completed` without an
    /// attempt.
    ///
    /// Fails with [`ExecutorError::CannotRerun`] when the execution has not finished, completed
    /// (nothing to run again), or was made by a version of its workflow whose tasks or
    /// dependencies this process no longer has.
    pub async fn rerun_as(&self, rerun_id: Uuid, execution_id: Uuid) -> Result<ExecutionHandle, ExecutorError> {
        self.rerun_with(rerun_id, execution_id, StartOptions::default()).await
    }

    /// [`rerun_as`](Self::rerun_as), with options (a trace context to store with the re-run).
    pub async fn rerun_with(
        &self,
        rerun_id: Uuid,
        execution_id: Uuid,
        options: StartOptions,
    ) -> Result<ExecutionHandle, ExecutorError> {
        self.ensure_running()?;
        let key = execution_id.to_string();
        let source = self
            .engine
            .store
            .read(move |connection| load_source(connection, execution_id, &key))
            .await?
            .ok_or(ExecutorError::ExecutionNotFound(execution_id))?;
        let workflow = self.rerun_definition(&source).await?;
        let rerun = plan(&workflow, &source.statuses);
        let source = Arc::new(source);
        let options = Arc::new(options);
        let permits = self.engine.take_permits(self.engine.config.max_concurrent_tasks);
        let request = self.engine.claim_request(permits.len());
        let claimed = self
            .engine
            .commit(move |connection| {
                create_rerun(connection, rerun_id, &source, &workflow, &rerun, &options, Utc::now(), &request)
            })
            .await?;
        worker::start_claimed(&self.engine, claimed, permits);
        Ok(ExecutionHandle::new(self.clone(), rerun_id))
    }

    /// The definition a re-run of `source` runs with, or why it cannot run.
    async fn rerun_definition(&self, source: &Source) -> Result<Arc<Workflow>, ExecutorError> {
        let cannot = |reason: String| ExecutorError::CannotRerun { execution_id: source.id, reason };
        if !source.finished {
            return Err(cannot("it has not finished; wait for it (or cancel it) before re-running it".to_owned()));
        }
        if source.statuses.iter().all(|status| *status == TaskStatus::Completed) {
            return Err(cannot(
                "every task of it completed, so nothing is left to run; start the workflow again to run it all"
                    .to_owned(),
            ));
        }
        let registry = Arc::clone(&self.engine.registry);
        let (id, name, version) = (source.id, source.workflow_name.clone(), source.workflow_version.clone());
        let found = self
            .engine
            .store
            .read(move |connection| definitions::definition(connection, &registry, id, &name, &version))
            .await?;
        match found {
            Definition::Found(workflow) => Ok(workflow),
            Definition::Unregistered => Err(ExecutorError::WorkflowNotFound {
                name: source.workflow_name.clone(),
                registered: self.engine.registry.names(),
            }),
            Definition::Changed { reason } => Err(cannot(reason)),
        }
    }
}

/// Reads the execution a re-run starts from; `None` if it does not exist.
fn load_source(connection: &mut AnyConnection, id: Uuid, key: &str) -> Result<Option<Source>, StoreError> {
    let Some(row) = store::find_execution(connection, key)? else {
        return Ok(None);
    };
    // Tasks come in position order; instances of mapped tasks run again with their task.
    let statuses = store::load_tasks(connection, key)?
        .into_iter()
        .filter(|task| task.map_index.is_none())
        .map(|task| parse_status::<TaskStatus>(&task.status))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let finished = parse_status::<ExecutionStatus>(&row.status)?.is_finished();
    Ok(Some(Source {
        id,
        workflow_name: row.workflow_name,
        workflow_version: row.workflow_version,
        workflow_shape: row.workflow_shape,
        context: row.context,
        finished,
        statuses,
    }))
}

/// Which tasks run again, by position: those that did not complete, and every task downstream
/// of one (positions are in topological order, so one pass sees each dependency first).
fn plan(workflow: &Workflow, statuses: &[TaskStatus]) -> Vec<bool> {
    let mut rerun: Vec<bool> = Vec::with_capacity(workflow.len());
    for position in 0..workflow.len() {
        let completed = statuses.get(position) == Some(&TaskStatus::Completed);
        let upstream = workflow.node(position).dependencies().iter().any(|&dependency| rerun[dependency]);
        rerun.push(!completed || upstream);
    }
    rerun
}

/// Creates the re-run's execution and task rows, keeps the outputs of the tasks that do not run
/// again, and makes ready the tasks that run again and wait on none of them.
#[allow(clippy::too_many_arguments)]
fn create_rerun(
    connection: &mut AnyConnection,
    rerun_id: Uuid,
    source: &Source,
    workflow: &Workflow,
    rerun: &[bool],
    options: &StartOptions,
    now: DateTime<Utc>,
    request: &ClaimRequest,
) -> Result<(Vec<ClaimedTask>, Transition), StoreError> {
    let micros = now.timestamp_micros();
    let (id, source_key) = (rerun_id.to_string(), source.id.to_string());
    store::insert_execution(
        connection,
        &NewExecutionRow {
            id: id.clone(),
            workflow_name: source.workflow_name.clone(),
            workflow_version: source.workflow_version.clone(),
            status: ExecutionStatus::Pending.as_str().to_owned(),
            context: source.context.clone(),
            remaining_tasks: workflow.len() as i32,
            created_at: micros,
            workflow_shape: source.workflow_shape.clone(),
            rerun_of: Some(source_key.clone()),
            workflow_graph: workflow.dependency_listing().to_owned(),
            trace_context: options.trace_context.clone(),
            execution_key: None,
        },
    )?;
    let waiting_on = |position: usize| {
        workflow.node(position).dependencies().iter().filter(|&&dependency| rerun[dependency]).count()
    };
    let tasks: Vec<NewTask<'_>> = workflow
        .tasks()
        .enumerate()
        .map(|(position, node)| NewTask {
            task_id: node.id(),
            position: position as i32,
            waiting_on: if rerun[position] { waiting_on(position) as i32 } else { 0 },
        })
        .collect();
    store::insert_tasks(connection, &id, (&source.workflow_name, &source.workflow_version), &tasks)?;
    super::scheduler::set_concurrency(connection, &id, workflow)?;
    let kept: Vec<&str> = (0..workflow.len()).filter(|&p| !rerun[p]).map(|p| workflow.node(p).id()).collect();
    store::keep_outputs(connection, &source_key, &id, &kept, micros)?;

    let mut log = EventLog::at(now);
    log.execution(rerun_id, EventKind::ExecutionCreated, Some(format!("re-run of execution `{source_key}`")));
    for task_id in &kept {
        log.task(
            rerun_id,
            task_id,
            EventKind::TaskCompleted,
            None,
            Some(format!("kept from execution `{source_key}`")),
        );
    }
    // The tasks that run again first: all their dependencies were kept, so completed.
    let first: Vec<(usize, DependencyOutcomes)> = (0..workflow.len())
        .filter(|&position| rerun[position] && waiting_on(position) == 0)
        .map(|position| {
            let completed = workflow.node(position).dependencies().len();
            (position, DependencyOutcomes { completed, failed: 0, skipped: 0 })
        })
        .collect();
    let mut transition = Transition::default();
    let execution = ExecutionRef { id: rerun_id, key: &id, workflow };
    settle(connection, &execution, Vec::new(), first, kept.len(), &mut log, micros, &mut transition)?;
    let claimed = admit_ready(connection, request, now, false, &mut log, &mut transition)?;
    Ok((claimed, finish_transaction(connection, log, transition)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FunctionTask;
    use crate::context::Context;

    fn noop(id: &str, dependencies: &[&str]) -> FunctionTask {
        FunctionTask::new(id, |context: Context| async move { Ok(context) }).depends_on(dependencies.iter().copied())
    }

    #[test]
    fn what_did_not_complete_runs_again_with_everything_downstream() {
        // a -> b -> d, a -> c -> d, e alone.
        let workflow = Workflow::builder("diamond")
            .task(noop("a", &[]))
            .task(noop("b", &["a"]))
            .task(noop("c", &["a"]))
            .task(noop("d", &["b", "c"]))
            .task(noop("e", &[]))
            .build()
            .unwrap();
        let status = |id: &str| match id {
            "c" => TaskStatus::Failed,
            "d" => TaskStatus::Skipped,
            // A task that completed downstream of one that failed (by its trigger rule).
            _ => TaskStatus::Completed,
        };
        let statuses: Vec<TaskStatus> = workflow.tasks().map(|node| status(node.id())).collect();
        let rerun = plan(&workflow, &statuses);
        let again: Vec<&str> = workflow.tasks().zip(&rerun).filter(|(_, again)| **again).map(|(n, _)| n.id()).collect();
        assert_eq!(again, ["c", "d"]);
    }
}
