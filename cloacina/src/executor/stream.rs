//! [`EventStream`]: an execution's events, past and to come, read from its stored log.

use std::collections::VecDeque;

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::{Event, UnifiedExecutor};
use crate::error::ExecutorError;

/// Events read from the database per query.
const PAGE: i64 = 256;

/// The events of one execution in the order they were committed, ending after the event that
/// ends the execution.
///
/// Reading the stored log (rather than only this process's broadcast) keeps the stream complete
/// and ordered whichever process commits the events; this process's own commits, and
/// notifications from others, wake it at once.
pub struct EventStream {
    executor: UnifiedExecutor,
    execution_id: Uuid,
    after: i64,
    pending: VecDeque<Event>,
    ended: bool,
    wake: Receiver<Event>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("EventStream").field("execution_id", &self.execution_id).finish_non_exhaustive()
    }
}

impl EventStream {
    pub(super) fn new(executor: UnifiedExecutor, execution_id: Uuid) -> Self {
        let wake = executor.subscribe();
        Self { executor, execution_id, after: 0, pending: VecDeque::new(), ended: false, wake }
    }

    /// The execution this stream follows.
    pub fn execution_id(&self) -> Uuid {
        self.execution_id
    }

    /// The next event, or `None` once the event ending the execution has been returned.
    pub async fn next(&mut self) -> Option<Result<Event, ExecutorError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.ended = event.kind.ends_execution();
                return Some(Ok(event));
            }
            if self.ended {
                return None;
            }
            let mut waiter = self.executor.engine.waiters.register(self.execution_id);
            match self.executor.events_after(self.execution_id, self.after, PAGE).await {
                Ok(events) if !events.is_empty() => {
                    self.after = events.last().and_then(|event| event.sequence).unwrap_or(self.after);
                    self.pending.extend(events);
                    continue;
                }
                Ok(_) => {}
                Err(error) => return Some(Err(error)),
            }
            // Nothing new: wait for this process to commit something for this execution, for
            // news of its end from another process, or for the poll interval.
            let poll = tokio::time::sleep(self.executor.engine.config.poll_interval);
            tokio::select! {
                _ = poll => {}
                _ = &mut waiter.finished => {}
                _ = waiter.rechecks.changed() => {}
                _ = Self::own_event(&mut self.wake, self.execution_id) => {}
            }
        }
    }

    async fn own_event(wake: &mut Receiver<Event>, execution_id: Uuid) {
        loop {
            match wake.recv().await {
                Ok(event) if event.execution_id == execution_id => return,
                Ok(_) => {}
                // Missed some: read the log again.
                Err(RecvError::Lagged(_)) => return,
                Err(RecvError::Closed) => std::future::pending().await,
            }
        }
    }
}
