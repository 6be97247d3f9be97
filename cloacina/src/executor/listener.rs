//! PostgreSQL notifications from other processes: work they left ready, executions they ended.
//!
//! A dedicated thread keeps one `LISTEN`ing connection and reads what arrived every few
//! milliseconds (reading the socket's buffer, not querying the database), reconnecting with
//! backoff when the connection drops. The same connection holds the executor's advisory lock,
//! which tells other processes it is alive (see `owner.rs`).

use std::sync::Arc;
use std::time::Duration;

use super::engine::Engine;
use crate::error::StoreError;
use crate::store::{Listener, Notification};

/// How often the listening connection's buffer is read.
const READ_INTERVAL: Duration = Duration::from_millis(5);

/// Starts the listener on PostgreSQL (nothing on SQLite): connects and takes the lock that tells
/// other processes this executor is alive, before the executor claims anything, then hands the
/// connection to a thread of its own.
pub(crate) async fn start(engine: &Arc<Engine>) -> Result<(), StoreError> {
    let connecting = Arc::clone(engine);
    let first = tokio::task::spawn_blocking(move || connecting.store.listener(&connecting.owner))
        .await
        .map_err(|error| StoreError::Pool(format!("connecting the notification listener failed: {error}")))??;
    let Some(first) = first else { return Ok(()) };
    let engine = Arc::clone(engine);
    let spawned =
        std::thread::Builder::new().name("cloacina-listener".to_owned()).spawn(move || listen(&engine, Some(first)));
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the notification listener; other processes' work is found by polling");
    }
    Ok(())
}

fn listen(engine: &Engine, mut connected: Option<Listener>) {
    let mut delay = Duration::from_millis(50);
    while !engine.closed.is_cancelled() {
        let next = match connected.take() {
            Some(listener) => Ok(Some(listener)),
            None => engine.store.listener(&engine.owner),
        };
        let mut listener = match next {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "the notification listener cannot connect; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(50);
        // Notifications may have been missed while disconnected: look for work once, and let
        // waiters read the status of what they wait for.
        engine.work_available();
        engine.waiters.recheck();
        if let Err(error) = receive(engine, &mut listener) {
            tracing::warn!(%error, "the notification listener lost its connection; reconnecting");
        }
    }
}

/// Hands notifications to the engine until the executor closes or the connection fails.
fn receive(engine: &Engine, listener: &mut Listener) -> Result<(), crate::StoreError> {
    while !engine.closed.is_cancelled() {
        for notification in listener.receive()? {
            match notification {
                Notification::Ready => engine.work_available(),
                Notification::Finished { execution_id, status } => engine.execution_finished(execution_id, status),
            }
        }
        std::thread::sleep(READ_INTERVAL);
    }
    Ok(())
}
