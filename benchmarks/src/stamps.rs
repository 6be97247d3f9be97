//! When each benchmark task ran, for the latency from a dependency to its dependent.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cloacina::Workflow;

static STAMPS: Mutex<Vec<(&'static str, Instant)>> = Mutex::new(Vec::new());

/// Notes that `task` runs now; every benchmark task's whole body.
pub fn mark(task: &'static str) {
    let now = Instant::now();
    STAMPS.lock().unwrap_or_else(PoisonError::into_inner).push((task, now));
}

/// Forgets the notes so far.
pub fn clear() {
    STAMPS.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

/// For each task of one execution with dependencies: the time from its last dependency
/// running to it running. Takes the notes, leaving none.
pub fn take_hops(workflow: &Workflow) -> Result<Vec<Duration>, String> {
    let stamps: HashMap<&str, Instant> =
        std::mem::take(&mut *STAMPS.lock().unwrap_or_else(PoisonError::into_inner)).into_iter().collect();
    let ran = |id: &str| stamps.get(id).copied().ok_or_else(|| format!("task `{id}` did not run"));
    let mut hops = Vec::new();
    for node in workflow.tasks() {
        let dependencies = node.task().dependencies();
        let mut released = None;
        for dependency in dependencies {
            let at = ran(dependency)?;
            released = Some(released.map_or(at, |latest: Instant| latest.max(at)));
        }
        if let Some(released) = released {
            hops.push(ran(node.id())?.saturating_duration_since(released));
        }
    }
    Ok(hops)
}
