//! Leases, kept alive and cleaned up: every third of the lease duration the executor renews the
//! leases it holds (stopping local attempts whose lease it lost), and every few seconds it
//! recovers tasks of its workflows whose holder gave them up (its lease expired, or its process
//! is gone). On a SQLite file it also checkpoints the write-ahead log, off the commit path.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use uuid::Uuid;

use super::engine::Engine;
use super::events::parse_id;
use super::handover;
use crate::error::StoreError;
use crate::store;

/// How often, at most, the executor looks for tasks whose holder is gone: a worker that dies
/// while others run has its tasks resumed within about this long.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(2);

/// Renews and recovers leases until the executor closes.
pub(crate) async fn maintain(engine: Arc<Engine>) {
    let renewal = (engine.config.lease_duration / 3).max(Duration::from_millis(100));
    let interval = renewal.min(RECOVERY_INTERVAL);
    let mut next_renewal = Instant::now();
    loop {
        if Instant::now() >= next_renewal {
            next_renewal = Instant::now() + renewal;
            if let Err(error) = renew(&engine).await {
                tracing::warn!(%error, "renewing leases failed; retrying");
            }
        }
        if !engine.stopping.is_cancelled()
            && let Err(error) = recover(&engine).await
        {
            tracing::warn!(%error, "recovering abandoned tasks failed; retrying");
        }
        tokio::select! {
            _ = engine.closed.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// How often a SQLite file's write-ahead log is checkpointed.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Checkpoints a SQLite file's write-ahead log until the executor closes (see
/// `store/checkpoint.rs`).
pub(crate) async fn checkpoint(engine: Arc<Engine>) {
    loop {
        tokio::select! {
            _ = engine.closed.cancelled() => return,
            _ = tokio::time::sleep(CHECKPOINT_INTERVAL) => {}
        }
        if let Err(error) = engine.store.checkpoint().await {
            tracing::warn!(%error, "checkpointing the write-ahead log failed; retrying");
        }
    }
}

/// Extends this executor's leases and stops local attempts whose lease is gone.
async fn renew(engine: &Engine) -> Result<(), StoreError> {
    let checked_at = Instant::now();
    let owner = engine.owner.clone();
    let lease = crate::limits::micros(engine.config.lease_duration);
    let tasks = engine.held_leases();
    let held = engine
        .store
        .write(move |connection| store::renew_leases(connection, &owner, &tasks, Utc::now().timestamp_micros(), lease))
        .await?;
    let held: HashSet<(Uuid, String)> = held
        .into_iter()
        .filter_map(|(execution_id, task_id)| parse_id(&execution_id).ok().map(|id| (id, task_id)))
        .collect();
    let stopped = engine.running.cancel_unheld(&held, checked_at);
    if stopped > 0 {
        tracing::warn!(stopped, "stopped attempts whose lease this executor no longer holds");
    }
    Ok(())
}

/// Requeues (or, past the limit, fails) tasks of registered workflows whose lease expired.
async fn recover(engine: &Engine) -> Result<(), StoreError> {
    let request = engine.claim_request(1);
    let looking = request.clone();
    if !engine.store.read(move |connection| handover::any_given_up(connection, &looking, Utc::now())).await? {
        return Ok(());
    }
    let registry = Arc::clone(&engine.registry);
    let max_recoveries = engine.config.max_recoveries;
    engine
        .commit(move |connection| {
            handover::recover_expired(connection, &request, &registry, max_recoveries, Utc::now())
        })
        .await
}
