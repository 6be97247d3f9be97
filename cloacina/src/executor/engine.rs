//! The state an executor's background loops and its API share.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::capacity::{Permits, TaskSlot};
use super::claiming::ClaimRequest;
use super::config::ExecutorConfig;
use super::events::Event;
use super::inputs::InputCache;
use super::running::RunningAttempts;
use super::scheduler::{self, AttemptOutcome, Transition};
use super::waiters::Waiters;
use crate::error::StoreError;
use crate::result::ExecutionStatus;
use crate::store::{AnyConnection, Store};
use crate::workflow::WorkflowRegistry;

/// Capacity of the in-process event broadcast; a slower subscriber sees a gap, never a stall.
const EVENT_CAPACITY: usize = 16 * 1024;

pub(crate) struct Engine {
    pub store: Store,
    pub config: ExecutorConfig,
    pub registry: Arc<WorkflowRegistry>,
    /// This executor's lease owner id.
    pub owner: Arc<str>,
    /// Wakes the dispatcher: work may be ready, or capacity came free.
    pub wake: Arc<Notify>,
    /// Wakes the loop that serves schedules: one was created or changed here.
    pub schedules_changed: Notify,
    /// Set while ready work may be waiting for capacity in this process's view: transactions
    /// that free capacity then claim the oldest ready work too (see [`Backlog`]).
    backlog: Backlog,
    /// One permit per task this executor may run at once.
    pub permits: Arc<Semaphore>,
    /// Finished attempts waiting to be recorded, and whether an attempt is recording them.
    outcomes: Mutex<PendingOutcomes>,
    /// The leases this process holds: tasks claimed whose outcome is not recorded yet.
    leases: Mutex<HashSet<(String, String)>>,
    pub waiters: Waiters,
    pub events: broadcast::Sender<Event>,
    pub inputs: InputCache,
    /// The attempts running in this process.
    pub running: RunningAttempts,
    /// The earliest retry this process knows of.
    pub next_retry: Mutex<NextRetry>,
    /// Cancelled to stop claiming work.
    pub stopping: CancellationToken,
    /// Cancelled once the executor has stopped: no attempt runs, leases need no renewal.
    pub closed: CancellationToken,
    /// The attempts running in this process.
    pub attempts: TaskTracker,
    /// Held from the start of a write to the end of its announcement, so that events are
    /// announced in the order they were committed.
    commit_order: tokio::sync::Mutex<()>,
    /// The runtime the executor was opened in, for work started from threads outside it.
    pub runtime: tokio::runtime::Handle,
}

impl Engine {
    pub fn new(store: Store, config: ExecutorConfig, registry: Arc<WorkflowRegistry>) -> Self {
        Self {
            store,
            permits: Arc::new(Semaphore::new(config.max_concurrent_tasks)),
            config,
            registry,
            owner: super::owner::new_owner_id().into(),
            wake: Arc::new(Notify::new()),
            schedules_changed: Notify::new(),
            backlog: Backlog::default(),
            outcomes: Mutex::new(PendingOutcomes::default()),
            leases: Mutex::new(HashSet::new()),
            waiters: Waiters::default(),
            events: broadcast::channel(EVENT_CAPACITY).0,
            inputs: InputCache::default(),
            running: RunningAttempts::default(),
            next_retry: Mutex::new(NextRetry::default()),
            stopping: CancellationToken::new(),
            closed: CancellationToken::new(),
            attempts: TaskTracker::new(),
            commit_order: tokio::sync::Mutex::new(()),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Runs a state change in one transaction, then announces it.
    pub async fn commit<T, F>(&self, body: F) -> Result<T, StoreError>
    where
        F: Fn(&mut AnyConnection) -> Result<(T, Transition), StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.commit_then(body, |_| {}).await
    }

    /// Like [`commit`](Self::commit), running `after_commit` before the announcement.
    pub async fn commit_then<T, F, A>(&self, body: F, after_commit: A) -> Result<T, StoreError>
    where
        F: Fn(&mut AnyConnection) -> Result<(T, Transition), StoreError> + Send + 'static,
        T: Send + 'static,
        A: FnOnce(&Transition),
    {
        let _order = self.commit_order.lock().await;
        let (value, transition) = self.store.write(body).await?;
        after_commit(&transition);
        self.announce(transition);
        Ok(value)
    }

    /// Like [`commit_then`](Self::commit_then), on this thread, which must be one that may
    /// block (a blocking thread of the runtime, not one of its workers).
    pub fn commit_here<T, F, A>(&self, body: F, after_commit: A) -> Result<T, StoreError>
    where
        F: Fn(&mut AnyConnection) -> Result<(T, Transition), StoreError>,
        A: FnOnce(&Transition),
    {
        let _order = self.commit_order.blocking_lock();
        let (value, transition) = self.store.write_here(body)?;
        after_commit(&transition);
        self.announce(transition);
        Ok(value)
    }

    /// Acts on a committed transaction: broadcasts its events, wakes the dispatcher if work is
    /// ready, stops local attempts of executions that ended, and answers their waiters.
    fn announce(&self, transition: Transition) {
        for event in transition.events {
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
        if let Some(retry_at) = transition.next_retry {
            lock(&self.next_retry).schedule(retry_at);
            self.wake.notify_one();
        }
        // Work made ready that the transaction could not claim waits for capacity.
        if transition.ready.len() > transition.claimed {
            self.backlog.announce();
            self.wake.notify_one();
        } else if let Some(seen) = transition.backlog_drained {
            self.backlog.drained(seen);
        }
        for (execution_id, status) in transition.finished {
            self.execution_finished(execution_id, status);
        }
    }

    /// An execution ended (here or, told by the database, in another process): stops its
    /// attempts running here, forgets its inputs and answers its waiters.
    pub fn execution_finished(&self, execution_id: Uuid, status: ExecutionStatus) {
        self.inputs.forget(execution_id);
        self.running.cancel_execution(execution_id);
        self.waiters.finished(execution_id, status);
    }

    /// Workflows were registered under new names: their schedules may be due, and their work
    /// stored to become ready later (a delayed start) is looked up.
    pub fn workflows_added(&self) {
        self.schedules_changed.notify_one();
        lock(&self.next_retry).schedule(crate::store::now_micros());
        self.wake.notify_one();
    }

    /// Ready work is due that no capacity was free for: whoever frees capacity claims it (the
    /// oldest ready work first), without waking the dispatcher now.
    pub fn work_waits_for_capacity(&self) {
        self.backlog.announce();
    }

    /// Ready work may be waiting: claim it.
    pub fn work_available(&self) {
        self.backlog.announce();
        self.wake.notify_one();
    }

    /// Ends an unfinished execution early and announces it.
    pub async fn stop_execution(
        &self,
        execution_id: Uuid,
        status: ExecutionStatus,
        reason: String,
    ) -> Result<Option<ExecutionStatus>, StoreError> {
        self.commit(move |connection| scheduler::stop_execution(connection, execution_id, status, &reason, Utc::now()))
            .await
    }

    /// What a transaction may claim for this process: up to `limit` ready tasks of the
    /// workflows it has registered.
    pub fn claim_request(&self, limit: usize) -> ClaimRequest {
        ClaimRequest {
            owner: self.owner.clone(),
            names_revision: self.registry.revision(),
            oldest_first: self.has_backlog(),
            backlog_seen: self.backlog.seen(),
            workflow_names: if limit == 0 { Vec::new() } else { self.registry.names() },
            limited: limit > 0 && self.registry.has_concurrency_limits(),
            limit,
            lease: crate::limits::micros(self.config.lease_duration),
        }
    }

    /// Takes up to `max` free permits at once (none once the executor is stopping, or if it
    /// does not run tasks).
    pub fn take_permits(&self, max: usize) -> Permits {
        if self.stopping.is_cancelled() || !self.config.run_tasks {
            return Permits::none();
        }
        Permits::take(&self.permits, max)
    }

    /// Queues a finished attempt with the slot it holds until it is recorded (so that at most
    /// `max_concurrent_tasks` outcomes ever wait). Returns true when the caller must record the
    /// queue (no one else is), false when the attempt recording now will pick it up.
    pub fn queue_outcome(&self, outcome: AttemptOutcome, slot: TaskSlot) -> bool {
        let mut pending = lock(&self.outcomes);
        pending.queue.push((outcome, slot));
        !std::mem::replace(&mut pending.recording, true)
    }

    /// The next batch to record, with the slots its attempts hold, or `None` (and the recorder
    /// role given up) when none is left.
    pub fn next_outcomes(&self, max: usize) -> Option<(Vec<AttemptOutcome>, Vec<TaskSlot>)> {
        let mut pending = lock(&self.outcomes);
        if pending.queue.is_empty() {
            pending.recording = false;
            return None;
        }
        let take = pending.queue.len().min(max);
        Some(pending.queue.drain(..take).unzip())
    }

    /// Notes that this process holds the lease of a task (from its claim until its outcome is
    /// recorded or it is handed back): only such leases are renewed.
    pub fn hold_lease(&self, execution_id: &str, task_id: &str) {
        lock(&self.leases).insert((execution_id.to_owned(), task_id.to_owned()));
    }

    /// Notes that this process is done with the lease of a task.
    pub fn drop_lease(&self, execution_id: &str, task_id: &str) {
        lock(&self.leases).remove(&(execution_id.to_owned(), task_id.to_owned()));
    }

    /// The leases this process holds, as (execution id, task id).
    pub fn held_leases(&self) -> Vec<(String, String)> {
        lock(&self.leases).iter().cloned().collect()
    }

    /// Whether ready work may be waiting for capacity.
    pub fn has_backlog(&self) -> bool {
        self.backlog.is_set()
    }
}

/// Whether ready work may be waiting for capacity, and how many times work was announced.
///
/// A transaction that claimed fewer tasks than it could says the backlog is drained, but it saw
/// the database as of its own start: work another process announced meanwhile (its tasks ready
/// from a time after this transaction's start, so not claimable by it) must not be forgotten, or
/// every process could go idle until the poll while tasks wait. So the flag is cleared only if
/// nothing was announced since the transaction took its claim request ([`Backlog::seen`]).
#[derive(Default)]
pub(crate) struct Backlog {
    /// The announcements so far times two, plus one while the flag is set.
    state: AtomicU64,
}

impl Backlog {
    /// Work may be waiting: sets the flag, counting the announcement.
    pub fn announce(&self) {
        // Adding 2 counts it; the low bit is the flag.
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| Some((state + 2) | 1));
    }

    /// The announcements so far, for a transaction about to claim.
    pub fn seen(&self) -> u64 {
        self.state.load(Ordering::Acquire) >> 1
    }

    /// A transaction that took its request after `seen` announcements found no more ready work:
    /// clears the flag unless work was announced since.
    pub fn drained(&self, seen: u64) {
        let _ = self.state.compare_exchange((seen << 1) | 1, seen << 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) & 1 == 1
    }
}

/// Finished attempts not yet recorded.
#[derive(Default)]
struct PendingOutcomes {
    queue: Vec<(AttemptOutcome, TaskSlot)>,
    /// An attempt is recording the queue; others only add to it.
    recording: bool,
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The earliest retry a process knows of, in microseconds since the epoch, and how many retries
/// were scheduled since the executor opened: the dispatcher stores what it read of the next
/// retry only if none was scheduled while it read, or it would forget that one.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NextRetry {
    pub at: Option<i64>,
    pub scheduled: u64,
    /// The due time of ready work the dispatcher looked for once more at once, because it came
    /// due after a claim had looked (see `worker::next_deadline`).
    pub rechecked: Option<i64>,
}

impl NextRetry {
    /// Notes a retry at `retry_at`. An earlier time is kept even when it is due: the dispatcher
    /// then looks up in the database what comes after it.
    pub fn schedule(&mut self, retry_at: i64) {
        self.at = Some(self.at.map_or(retry_at, |current| current.min(retry_at)));
        self.scheduled += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{Backlog, NextRetry};

    #[test]
    fn a_drained_backlog_is_cleared_only_if_no_work_was_announced_since_the_claim_began() {
        let backlog = Backlog::default();
        assert!(!backlog.is_set());
        backlog.announce();
        let seen = backlog.seen();
        // Work announced while a transaction that began earlier was claiming.
        backlog.announce();
        backlog.drained(seen);
        assert!(backlog.is_set(), "a stale transaction cleared newer work");
        // A transaction that began after every announcement clears it.
        backlog.drained(backlog.seen());
        assert!(!backlog.is_set());
        // Clearing an unset flag changes nothing.
        backlog.drained(backlog.seen());
        assert!(!backlog.is_set());
    }

    #[test]
    fn the_earliest_retry_is_kept_and_each_one_counted() {
        let mut next = NextRetry::default();
        next.schedule(200);
        next.schedule(100);
        next.schedule(300);
        assert_eq!((next.at, next.scheduled), (Some(100), 3));
    }
}
