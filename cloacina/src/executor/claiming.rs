//! Claiming ready tasks inside the transactions that make them ready, and in the dispatcher's.
//!
//! A transaction that finds tasks ready claims as many as this process has capacity for, straight
//! from `Pending`; the dispatcher claims the oldest `Ready` tasks, work made ready by other
//! processes, due retries and whatever the fallback poll finds. Each claim stamps a lease.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::events::{EventKind, EventLog};
use super::scheduler::{FoundReady, Transition, finish_transaction};
use crate::error::StoreError;
use crate::result::TaskStatus;
use crate::store::{self, AnyConnection, ClaimedTask};

/// What a transaction may claim for this process.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRequest {
    /// The lease owner.
    pub owner: Arc<str>,
    /// Only tasks of these workflows (the ones this process can run).
    pub workflow_names: Vec<String>,
    /// The registry revision `workflow_names` was read at.
    pub names_revision: u64,
    /// Whether a transaction that makes tasks ready also claims the oldest other ready tasks
    /// with the capacity its own leave (set while ready work waits for capacity).
    pub oldest_first: bool,
    /// The announcements of ready work this process had seen when the request was taken (see
    /// `engine::Backlog`).
    pub backlog_seen: u64,
    /// At most this many (the free capacity); 0 claims nothing.
    ///
    /// Transactions that make tasks ready claim those first (and only those): work an
    /// execution already started goes on at once. The dispatcher claims the rest, oldest first.
    pub limit: usize,
    /// How long the leases last, in microseconds.
    pub lease: i64,
    /// Whether a registered workflow has concurrency-limited tasks, which only
    /// [`store::claim_limited`] claims.
    pub limited: bool,
}

/// Claims up to `request.limit` ready tasks, oldest first, starting their executions where
/// needed.
pub(crate) fn claim(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<ClaimedTask>, Transition), StoreError> {
    let mut log = EventLog::at(now);
    let mut transition = Transition::default();
    let claimed = claim_into(connection, request, now, &mut log, &mut transition)?;
    Ok((claimed, finish_transaction(connection, log, transition)?))
}

pub(super) fn claim_into(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    now: DateTime<Utc>,
    log: &mut EventLog,
    transition: &mut Transition,
) -> Result<Vec<ClaimedTask>, StoreError> {
    let micros = now.timestamp_micros();
    let workflows = store::Claimable { names: &request.workflow_names, revision: request.names_revision };
    let mut claimed = store::claim_ready(connection, &request.owner, &workflows, request.limit, micros, request.lease)?;
    if request.limited && claimed.len() < request.limit {
        let left = request.limit - claimed.len();
        let names = &request.workflow_names;
        claimed.extend(store::claim_limited(connection, &request.owner, names, left, micros, request.lease)?);
    }
    if claimed.len() < request.limit {
        transition.backlog_drained = Some(request.backlog_seen);
    }
    record_claims(connection, &claimed, &request.owner, micros, true, log, transition)?;
    Ok(claimed)
}

/// Writes the tasks this transaction found ready (still `Pending` in the database): the first of
/// them, up to `request.limit`, are claimed straight from `Pending`, the rest become `Ready`.
/// Then, when ready work is waiting for capacity, claims the oldest other ready tasks with what
/// capacity is left. `running` says that the claimed tasks' executions have started already
/// (they are those of tasks that just finished).
pub(super) fn admit_ready(
    connection: &mut AnyConnection,
    request: &ClaimRequest,
    now: DateTime<Utc>,
    running: bool,
    log: &mut EventLog,
    transition: &mut Transition,
) -> Result<Vec<ClaimedTask>, StoreError> {
    let micros = now.timestamp_micros();
    let pending = std::mem::take(&mut transition.pending_ready);
    // Limited tasks are made `Ready` and claimed by the claim that counts their keys.
    let found_limited = pending.iter().any(|found| found.limited);
    let mut by_execution: BTreeMap<Uuid, (&FoundReady, Vec<&str>)> = BTreeMap::new();
    for found in pending.iter().filter(|found| !found.limited).take(request.limit) {
        by_execution.entry(found.execution_id).or_insert((found, Vec::new())).1.push(&found.task_id);
    }
    let mut claimed = Vec::new();
    let mut taken: HashSet<(Uuid, String)> = HashSet::new();
    for (execution_id, (found, task_ids)) in by_execution {
        let key = execution_id.to_string();
        for (task_id, attempt, recoveries) in
            store::claim_pending(connection, &request.owner, &key, &task_ids, micros, request.lease)?
        {
            taken.insert((execution_id, task_id.clone()));
            claimed.push(ClaimedTask {
                execution_id: key.clone(),
                task_id,
                workflow_name: found.workflow_name.clone(),
                workflow_version: found.workflow_version.clone(),
                attempt,
                recoveries,
            });
        }
    }
    // Whatever was not claimed (beyond the capacity, or not claimable) becomes `Ready`.
    let unclaimed: Vec<FoundReady> =
        pending.iter().filter(|found| !taken.contains(&(found.execution_id, found.task_id.clone()))).cloned().collect();
    make_ready(connection, &unclaimed, micros)?;
    transition.ready.extend(pending.into_iter().map(|found| (found.execution_id, found.task_id)));
    record_claims(connection, &claimed, &request.owner, micros, !running, log, transition)?;
    let left = request.limit - claimed.len();
    if request.limited && left > 0 && (found_limited || transition.slots_freed) && !request.oldest_first {
        let names = &request.workflow_names;
        let limited = store::claim_limited(connection, &request.owner, names, left, micros, request.lease)?;
        record_claims(connection, &limited, &request.owner, micros, true, log, transition)?;
        claimed.extend(limited);
    }
    let left = request.limit - claimed.len();
    if request.oldest_first && left > 0 {
        let oldest = ClaimRequest { limit: left, ..request.clone() };
        claimed.extend(claim_into(connection, &oldest, now, log, transition)?);
    }
    Ok(claimed)
}

/// Makes tasks found ready `Ready`, from `now`.
pub(super) fn make_ready(connection: &mut AnyConnection, tasks: &[FoundReady], now: i64) -> Result<(), StoreError> {
    let mut by_execution: BTreeMap<Uuid, Vec<&str>> = BTreeMap::new();
    for found in tasks {
        by_execution.entry(found.execution_id).or_default().push(&found.task_id);
    }
    for (execution_id, task_ids) in by_execution {
        store::settle_pending(connection, &execution_id.to_string(), &task_ids, TaskStatus::Ready, now)?;
    }
    Ok(())
}

/// Starts the executions of claimed tasks (where `start_executions` says they may not have
/// started) and records the claims as events, each naming the worker (`owner`) that runs it.
fn record_claims(
    connection: &mut AnyConnection,
    claimed: &[ClaimedTask],
    owner: &str,
    micros: i64,
    start_executions: bool,
    log: &mut EventLog,
    transition: &mut Transition,
) -> Result<(), StoreError> {
    if !claimed.is_empty() && start_executions {
        let mut executions: Vec<String> = claimed.iter().map(|task| task.execution_id.clone()).collect();
        executions.sort_unstable();
        executions.dedup();
        for started in store::mark_started(connection, &executions, micros)? {
            log.execution(super::events::parse_id(&started)?, EventKind::ExecutionStarted, None);
        }
    }
    if !claimed.is_empty() {
        for task in claimed {
            let execution_id = super::events::parse_id(&task.execution_id)?;
            let worker = Some(owner.to_owned());
            log.task(execution_id, &task.task_id, EventKind::TaskStarted, Some(task.counted_attempt()), worker);
        }
    }
    transition.claimed += claimed.len();
    Ok(())
}
