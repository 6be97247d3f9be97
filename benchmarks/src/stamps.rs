//! When each benchmark task ran, for the latency from a dependency to its dependent.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use cloacina::Workflow;

static STAMPS: Mutex<Vec<(Cow<'static, str>, Instant)>> = Mutex::new(Vec::new());

/// Notes that `task` runs now; every benchmark task's whole body.
pub fn mark(task: &'static str) {
    let now = Instant::now();
    STAMPS.lock().unwrap_or_else(PoisonError::into_inner).push((Cow::Borrowed(task), now));
}

/// Notes that the instance `index` of the mapped task `task` runs now (as `task[index]`).
pub fn mark_instance(task: &str, index: usize) {
    let now = Instant::now();
    let id = cloacina::mapping::instance_id(task, index);
    STAMPS.lock().unwrap_or_else(PoisonError::into_inner).push((Cow::Owned(id), now));
}

/// Forgets the notes so far.
pub fn clear() {
    STAMPS.lock().unwrap_or_else(PoisonError::into_inner).clear();
}

/// For each task of one execution with dependencies (each instance of a mapped task): the time
/// from its last dependency running to it running. A mapped task counts as running when its
/// last instance does. Takes the notes, leaving none.
pub fn take_hops(workflow: &Workflow) -> Result<Vec<Duration>, String> {
    let mut stamps: HashMap<Cow<'static, str>, Instant> =
        std::mem::take(&mut *STAMPS.lock().unwrap_or_else(PoisonError::into_inner)).into_iter().collect();
    let mut instances: HashMap<String, Vec<Instant>> = HashMap::new();
    for (id, at) in &stamps {
        if let Some((task, _)) = cloacina::mapping::parse_instance_id(id) {
            instances.entry(task.to_owned()).or_default().push(*at);
        }
    }
    let mut hops = Vec::new();
    for node in workflow.tasks() {
        let ran = |id: &str| stamps.get(id).copied().ok_or_else(|| format!("task `{id}` did not run"));
        let mut released = None;
        for dependency in node.task().dependencies() {
            let at = ran(dependency)?;
            released = Some(released.map_or(at, |latest: Instant| latest.max(at)));
        }
        if node.mapping().is_some() {
            let runs = instances.remove(node.id()).ok_or_else(|| format!("no instance of `{}` ran", node.id()))?;
            if let Some(released) = released {
                hops.extend(runs.iter().map(|at| at.saturating_duration_since(released)));
            }
            let last = runs.into_iter().max().expect("a mapped task that ran has instances");
            stamps.insert(Cow::Owned(node.id().to_owned()), last);
        } else if let Some(released) = released {
            hops.push(ran(node.id())?.saturating_duration_since(released));
        }
    }
    Ok(hops)
}
