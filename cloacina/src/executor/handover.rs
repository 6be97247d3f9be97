//! Leases given up: tasks a stopping worker hands back, and tasks whose holder stopped renewing
//! its lease (re-queued, or failed as abandoned after too many recoveries).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::claiming::ClaimRequest;
use super::definitions::{Definition, definition};
use super::events::{EventKind, EventLog};
use super::scheduler::{Finished, FinishedByExecution, Transition, finish_transaction, settle_finished};
use crate::error::StoreError;
use crate::result::TaskStatus;
use crate::store::{self, AnyConnection, Lease};
use crate::workflow::WorkflowRegistry;

/// Hands tasks this process holds but will not run back to the queue, to be claimed at once.
pub(crate) fn release(
    connection: &mut AnyConnection,
    owner: &str,
    tasks: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> Result<((), Transition), StoreError> {
    let micros = now.timestamp_micros();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    for (execution_id, task_id) in tasks {
        let key = execution_id.to_string();
        if store::release_leases(connection, &key, &[task_id.as_str()], owner, micros)? > 0 {
            log.task(
                *execution_id,
                task_id,
                EventKind::TaskReady,
                None,
                Some("released by a stopping worker".to_owned()),
            );
            transition.ready.push((*execution_id, task_id.clone()));
        }
    }
    Ok(((), finish_transaction(connection, log, transition)?))
}

/// Up to `limit` running tasks of the requesting process's workflows whose holder gave them up:
/// the lease expired by `now`, or the holder's process is gone.
fn given_up(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    now: i64,
    limit: usize,
) -> Result<Vec<store::ExpiredLease>, StoreError> {
    let claimable = store::Claimable { names: &request.workflow_names, revision: request.names_revision };
    let gone = |owner: &str| super::owner::is_gone(owner);
    store::given_up_leases(connection, &claimable, &request.owner, &gone, now, limit)
}

/// Whether any task [`recover_expired`] would deal with is there: a read, so that looking every
/// few seconds takes no write lock when there is nothing to recover.
pub(crate) fn any_given_up(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(!given_up(connection, request, now.timestamp_micros(), 1)?.is_empty())
}

/// Deals with running tasks of registered workflows whose holder gave them up (its lease expired,
/// or its process is known to be gone): each goes back to the queue, or fails as abandoned once it has been recovered
/// `max_recoveries` times (where a definition of its execution's workflow can settle its
/// dependents; elsewhere it goes back to the queue, and whoever claims it decides).
pub(crate) fn recover_expired(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    registry: &WorkflowRegistry,
    max_recoveries: u32,
    now: DateTime<Utc>,
) -> Result<((), Transition), StoreError> {
    let micros = now.timestamp_micros();
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    let mut finished: FinishedByExecution = BTreeMap::new();
    for lease in given_up(connection, request, micros, 256)? {
        let execution_id = super::events::parse_id(&lease.execution_id)?;
        let abandoned = if lease.recoveries.max(0) as u32 >= max_recoveries {
            let (name, version) = (&lease.workflow_name, &lease.workflow_version);
            match definition(connection, registry, execution_id, name, version)? {
                Definition::Found(workflow) => workflow.locate(&lease.task_id).map(|place| (workflow, place)),
                Definition::Unregistered | Definition::Changed { .. } => None,
            }
        } else {
            None
        };
        if let Some((workflow, (position, instance))) = abandoned {
            let error = format!(
                "task abandoned: the worker running it stopped renewing its lease, {} times counting this one",
                lease.recoveries + 1
            );
            let held = Lease {
                execution_id: &lease.execution_id,
                task_id: &lease.task_id,
                owner: &lease.owner,
                attempt: lease.attempt,
            };
            if store::finish_attempt(connection, &held, TaskStatus::Failed, Some(&error), None, micros)? {
                let first_error = format!("task `{}` failed: {error}", lease.task_id);
                store::record_first_error(connection, &lease.execution_id, &first_error)?;
                log.task(execution_id, &lease.task_id, EventKind::TaskFailed, None, Some(error));
                let entry = finished.entry(execution_id).or_insert_with(|| Finished::of(&workflow));
                let finished = if instance.is_some() { &mut entry.instances } else { &mut entry.tasks };
                finished.push((position, TaskStatus::Failed));
            }
        } else if store::requeue_expired(connection, &lease, micros)? {
            let reason = if lease.expired {
                format!("recovered: the lease of `{}` expired", lease.owner)
            } else {
                format!("recovered: the lease of `{}` was left by a process that is gone", lease.owner)
            };
            log.task(execution_id, &lease.task_id, EventKind::TaskReady, None, Some(reason));
            transition.ready.push((execution_id, lease.task_id.clone()));
        }
    }
    for (execution_id, finished) in finished {
        settle_finished(connection, execution_id, finished, &mut log, micros, &mut transition)?;
    }
    Ok(((), finish_transaction(connection, log, transition)?))
}
