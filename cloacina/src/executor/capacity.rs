//! An executor's capacity: `max_concurrent_tasks` slots, one taken by each attempt from its claim
//! until its outcome is recorded, and for as long as a call it started still runs.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Slots taken together for one claim: each claimed task takes one, and the rest go back when
/// this is dropped. Taking them in one step keeps a claim's cost independent of
/// `max_concurrent_tasks`.
#[derive(Debug)]
pub struct Permits(Option<OwnedSemaphorePermit>);

impl Permits {
    /// No slot.
    pub fn none() -> Self {
        Self(None)
    }

    /// Up to `max` of the semaphore's free slots, taken at once.
    pub fn take(semaphore: &Arc<Semaphore>, max: usize) -> Self {
        loop {
            let available = semaphore.available_permits().min(max);
            if available == 0 {
                return Self(None);
            }
            let count = u32::try_from(available).unwrap_or(u32::MAX);
            // Another taker may have got there first: look again at what is left.
            if let Ok(permits) = Arc::clone(semaphore).try_acquire_many_owned(count) {
                return Self(Some(permits));
            }
        }
    }

    /// How many slots are held.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// Whether no slot is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One slot, for one task.
    pub fn take_one(&mut self) -> Option<TaskSlot> {
        let held = self.0.as_mut()?;
        let one = if held.num_permits() > 1 { held.split(1) } else { self.0.take() };
        one.map(|permit| TaskSlot(Some(Arc::new(Held { permit: Some(permit), wake: Mutex::new(None) }))))
    }

    /// Adds other slots to these.
    pub fn absorb_all(&mut self, other: Permits) {
        let Some(permit) = other.0 else { return };
        match &mut self.0 {
            Some(held) => held.merge(permit),
            None => self.0 = Some(permit),
        }
    }

    /// Adds the slot of an attempt whose outcome is being recorded, if nothing else holds it:
    /// the transaction that records it may claim the next task with it. If a call still holds
    /// it, `wake` is notified when that call lets go of it (the slot then comes free with no
    /// transaction to use it).
    pub fn absorb(&mut self, slot: TaskSlot, wake: &Arc<Notify>) {
        if let Some(permit) = slot.into_permit(wake) {
            self.absorb_all(Permits(Some(permit)));
        }
    }
}

/// One of an executor's task slots (`max_concurrent_tasks`), taken by an attempt from its claim
/// until its outcome is recorded.
///
/// A clone keeps the slot taken: code that starts a call the engine cannot stop (a blocking
/// thread, another language's runtime) keeps a clone until the call returns, so that an attempt
/// that timed out but still occupies a thread counts against the executor's capacity, and the
/// executor claims no more work than it can start at once. The default holds no slot.
#[derive(Debug, Clone, Default)]
pub struct TaskSlot(Option<Arc<Held>>);

/// A slot shared by its holders.
#[derive(Debug)]
pub struct Held {
    permit: Option<OwnedSemaphorePermit>,
    /// Notified when the last holder lets go (set when a holder other than the attempt's
    /// recorder may be the last).
    wake: Mutex<Option<Arc<Notify>>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let wake = self.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let (Some(wake), Some(permit)) = (wake, self.permit.take()) {
            drop(permit);
            wake.notify_one();
        }
    }
}

impl TaskSlot {
    /// Lets go of this holder's share of the slot: returns the permit if this was the last
    /// holder; otherwise arranges for `wake` to be notified when the last one lets go.
    fn into_permit(self, wake: &Arc<Notify>) -> Option<OwnedSemaphorePermit> {
        let shared = self.0?;
        match Arc::try_unwrap(shared) {
            Ok(mut held) => held.permit.take(),
            Err(shared) => {
                *shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(wake));
                None
            }
        }
    }

    /// Lets go of this holder's share of the slot, notifying `wake` once the slot is free (now,
    /// or when the last holder lets go).
    pub fn release(self, wake: &Arc<Notify>) {
        if let Some(permit) = self.into_permit(wake) {
            drop(permit);
            wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_returns_when_its_last_holder_lets_go() {
        let wake = Arc::new(Notify::new());
        let semaphore = Arc::new(Semaphore::new(3));
        let mut permits = Permits::take(&semaphore, 10);
        assert_eq!(permits.len(), 3);
        let slot = permits.take_one().unwrap();
        let kept_by_a_call = slot.clone();
        drop(permits);
        assert_eq!(semaphore.available_permits(), 2);
        // Recording the attempt cannot take over a slot a call still holds...
        let mut recording = Permits::none();
        recording.absorb(slot, &wake);
        assert_eq!((recording.len(), semaphore.available_permits()), (0, 2));
        // ...and the slot comes free when the call lets go of it, waking whoever may use it.
        let woken = wake.notified();
        drop(kept_by_a_call);
        assert_eq!(semaphore.available_permits(), 3);
        tokio::time::timeout(std::time::Duration::from_secs(1), woken).await.expect("woken when the slot came free");
        let mut again = Permits::take(&semaphore, 1);
        let only = again.take_one().unwrap();
        let mut merged = Permits::take(&semaphore, 10);
        merged.absorb(only, &wake);
        assert_eq!((merged.len(), semaphore.available_permits()), (3, 0));
    }
}
