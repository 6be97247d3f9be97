//! A task's input: the execution's initial context with its ancestors' deltas applied in
//! topological order (ties by task id, as the workflow orders its tasks).
//!
//! Deltas written by this process are kept in memory while their execution runs, so that on the
//! hot path a task's input is built without reading the database; deltas written by other
//! processes are read once and kept too. What is kept is bounded by count and by size (as stored
//! JSON): past either bound the oldest executions are forgotten, and read again if needed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::context::{Context, ContextDelta};
use crate::error::StoreError;
use crate::store::{self, AnyConnection, Store};
use crate::workflow::Workflow;

/// Executions whose data is kept at most; the oldest entry goes first.
const CAPACITY: usize = 4096;

/// Bytes of stored JSON (initial contexts and deltas) kept at most.
const BUDGET: usize = 256 << 20;

/// In-memory initial contexts and deltas of running executions.
pub(crate) struct InputCache {
    cached: Mutex<Cached>,
    /// Bytes kept at most.
    budget: usize,
}

impl Default for InputCache {
    fn default() -> Self {
        Self::with_budget(BUDGET)
    }
}

/// The executions kept, oldest first, and their size.
#[derive(Default)]
struct Cached {
    executions: IndexMap<Uuid, Arc<CachedExecution>>,
    bytes: usize,
}

impl Cached {
    /// Forgets the oldest executions until the kept ones fit the bounds.
    fn evict(&mut self, budget: usize) {
        while (self.bytes > budget || self.executions.len() > CAPACITY) && !self.executions.is_empty() {
            if let Some((_, evicted)) = self.executions.shift_remove_index(0) {
                self.bytes = self.bytes.saturating_sub(evicted.bytes.load(Ordering::Relaxed));
            }
        }
    }
}

struct CachedExecution {
    /// The initial context, as a delta that writes every key (with the binary data its values
    /// refer to, when this process created the execution).
    initial: ContextDelta,
    /// What is known of each task's delta, by position.
    deltas: Mutex<Deltas>,
    /// The size of the initial context and the deltas, as stored JSON and binary data (changed
    /// only with the cache's lock held).
    bytes: AtomicUsize,
    /// The trace context the execution was started in.
    trace_context: Option<Arc<str>>,
}

/// Deltas by task position: `None` where not known here, `Some(None)` for a task that finished
/// without output.
#[derive(Default)]
struct Deltas(Vec<Option<Option<Arc<ContextDelta>>>>);

impl Deltas {
    fn get(&self, position: usize) -> Option<&Option<Arc<ContextDelta>>> {
        self.0.get(position).and_then(Option::as_ref)
    }

    fn contains(&self, position: usize) -> bool {
        self.get(position).is_some()
    }

    fn insert(&mut self, position: usize, delta: Option<Arc<ContextDelta>>) {
        if self.0.len() <= position {
            self.0.resize(position + 1, None);
        }
        self.0[position] = Some(delta);
    }
}

impl InputCache {
    /// A cache keeping at most `budget` bytes of stored JSON.
    pub fn with_budget(budget: usize) -> Self {
        Self { cached: Mutex::new(Cached::default()), budget }
    }

    /// Keeps the initial context of an execution this process created, with the binary data its
    /// values refer to (`bytes` long as stored).
    pub fn remember_initial(
        &self,
        execution_id: Uuid,
        context: &Context,
        blobs: Vec<(String, Arc<[u8]>)>,
        bytes: usize,
        trace_context: Option<Arc<str>>,
    ) {
        let initial = ContextDelta { written: context.as_map().clone(), removed: Vec::new(), blobs };
        self.insert(execution_id, initial, bytes, trace_context);
    }

    /// Keeps the delta of a task this process completed (`bytes` long as stored).
    pub fn remember_delta(&self, execution_id: Uuid, position: usize, delta: Arc<ContextDelta>, bytes: usize) {
        if let Some(entry) = self.entry(execution_id) {
            self.add_deltas(execution_id, &entry, vec![(position, Some(delta))], bytes);
        }
    }

    /// Adds deltas to an execution's entry, counting their size while the execution is kept
    /// (an entry already forgotten still serves the input being built with it).
    fn add_deltas(
        &self,
        execution_id: Uuid,
        entry: &Arc<CachedExecution>,
        deltas: Vec<(usize, Option<Arc<ContextDelta>>)>,
        bytes: usize,
    ) {
        {
            let mut kept = lock(&entry.deltas);
            for (position, delta) in deltas {
                kept.insert(position, delta);
            }
        }
        let mut cached = lock(&self.cached);
        if cached.executions.get(&execution_id).is_some_and(|kept| Arc::ptr_eq(kept, entry)) {
            entry.bytes.fetch_add(bytes, Ordering::Relaxed);
            cached.bytes += bytes;
            cached.evict(self.budget);
        }
    }

    /// Drops what is kept for an execution that has finished.
    pub fn forget(&self, execution_id: Uuid) {
        let mut cached = lock(&self.cached);
        if let Some(entry) = cached.executions.shift_remove(&execution_id) {
            cached.bytes = cached.bytes.saturating_sub(entry.bytes.load(Ordering::Relaxed));
        }
    }

    /// The bytes kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        lock(&self.cached).bytes
    }

    /// Builds the input of the task at `position` (of its instance at `instance`, for a mapped
    /// task: see [`build`]), reading from the database only what is not kept in memory.
    pub async fn input(
        &self,
        store: &Store,
        execution_id: Uuid,
        workflow: &Workflow,
        position: usize,
        instance: Option<usize>,
    ) -> Result<Context, StoreError> {
        let ancestors = workflow.node(position).ancestors();
        let cached = self.entry(execution_id);
        let missing: Vec<usize> = match &cached {
            Some(entry) => {
                let deltas = lock(&entry.deltas);
                ancestors.iter().copied().filter(|&p| !deltas.contains(p)).collect()
            }
            None => ancestors.to_vec(),
        };
        let entry = match cached {
            Some(entry) if missing.is_empty() => entry,
            cached => self.fetch(store, execution_id, workflow, cached, missing).await?,
        };
        build(&entry, workflow, position, instance)
    }

    /// The input of the task at `position` (or of its instance at `instance`) if everything it
    /// is built from is kept in memory.
    pub fn kept_input(
        &self,
        execution_id: Uuid,
        workflow: &Workflow,
        position: usize,
        instance: Option<usize>,
    ) -> Option<Result<Context, StoreError>> {
        let entry = self.entry(execution_id)?;
        let ancestors = workflow.node(position).ancestors();
        let complete = {
            let deltas = lock(&entry.deltas);
            ancestors.iter().all(|&ancestor| deltas.contains(ancestor))
        };
        complete.then(|| build(&entry, workflow, position, instance))
    }

    /// Reads what the cache lacks (the initial context, the `missing` ancestors' deltas) and
    /// keeps it.
    async fn fetch(
        &self,
        store: &Store,
        execution_id: Uuid,
        workflow: &Workflow,
        cached: Option<Arc<CachedExecution>>,
        missing: Vec<usize>,
    ) -> Result<Arc<CachedExecution>, StoreError> {
        {
            let key = execution_id.to_string();
            let task_ids: Vec<String> = missing.iter().map(|&p| workflow.node(p).id().to_owned()).collect();
            let need_initial = cached.is_none();
            let (initial, outputs) = store
                .read(move |connection| {
                    let initial = if need_initial { Some(load_initial_row(connection, &key)?) } else { None };
                    let outputs = store::load_outputs(connection, &key, Some(&task_ids))?;
                    Ok((initial, outputs))
                })
                .await?;
            let entry = match (cached, initial) {
                (Some(entry), _) => entry,
                (None, initial) => {
                    let (text, trace_context) = initial.unwrap_or_else(|| ("{}".to_owned(), None));
                    let initial = ContextDelta { written: parse_context(&text)?, ..ContextDelta::default() };
                    self.insert(execution_id, initial, text.len(), trace_context.map(Arc::from))
                }
            };
            let mut found: HashMap<usize, Option<Arc<ContextDelta>>> = missing.iter().map(|&p| (p, None)).collect();
            let mut bytes = 0;
            for (task_id, text) in outputs {
                if let Some(position) = workflow.position(&task_id) {
                    bytes += text.len();
                    found.insert(position, Some(Arc::new(parse_delta(&text)?)));
                }
            }
            self.add_deltas(execution_id, &entry, found.into_iter().collect(), bytes);
            Ok(entry)
        }
    }

    fn entry(&self, execution_id: Uuid) -> Option<Arc<CachedExecution>> {
        lock(&self.cached).executions.get(&execution_id).cloned()
    }

    /// Keeps an execution's initial context (unless it is kept already) and returns its entry,
    /// which the caller may use even if the bounds forget it at once.
    fn insert(
        &self,
        execution_id: Uuid,
        initial: ContextDelta,
        bytes: usize,
        trace_context: Option<Arc<str>>,
    ) -> Arc<CachedExecution> {
        let mut cached = lock(&self.cached);
        if let Some(existing) = cached.executions.get(&execution_id) {
            return Arc::clone(existing);
        }
        let entry = Arc::new(CachedExecution {
            initial,
            deltas: Mutex::new(Deltas::default()),
            bytes: AtomicUsize::new(bytes),
            trace_context,
        });
        cached.executions.insert(execution_id, Arc::clone(&entry));
        cached.bytes += bytes;
        cached.evict(self.budget);
        entry
    }
}

/// The input of the task at `position`: the initial context with the deltas of its ancestors
/// (those kept) applied in order.
///
/// For the instance at `instance` of a mapped task, the list it maps over is left out (each of
/// `n` instances would copy `n` elements) and its element given instead (see
/// [`crate::mapping`]); an element that cannot be read is an error of the stored data, as the
/// task read the same list to make its instances.
fn build(
    entry: &CachedExecution,
    workflow: &Workflow,
    position: usize,
    instance: Option<usize>,
) -> Result<Context, StoreError> {
    let node = workflow.node(position);
    let ancestors = node.ancestors();
    let mapped = instance.and_then(|index| node.mapping().map(|mapping| (mapping, index)));
    let skipped = mapped.map(|(mapping, _)| mapping.key.as_str());
    let initial = &entry.initial.written;
    let mut context = match skipped {
        None => Context::from_map(initial.clone()),
        Some(key) => Context::from_map(
            initial.iter().filter(|(name, _)| *name != key).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
    };
    context.keep_blobs(&entry.initial.blobs);
    context.set_trace_context(entry.trace_context.clone());
    let deltas = lock(&entry.deltas);
    let kept = || ancestors.iter().filter_map(|&ancestor| deltas.get(ancestor).and_then(Option::as_ref));
    for delta in kept() {
        context.apply_without(delta, skipped);
    }
    if let Some((mapping, index)) = mapped {
        // The list as the last ancestor that wrote (or removed) it left it.
        let key = mapping.key.as_str();
        let last = kept().rev().find(|delta| delta.written.contains_key(key) || delta.removed.iter().any(|k| k == key));
        let list = match last {
            Some(delta) => delta.written.get(key),
            None => initial.get(key),
        };
        let item = crate::mapping::element(node.id(), mapping, list, index).map_err(StoreError::Corrupt)?;
        crate::mapping::give_element(&mut context, item, index);
    }
    Ok(context)
}

/// Builds a task's input from the database alone (used inside transactions).
pub(crate) fn load_input(
    connection: &mut AnyConnection,
    key: &str,
    workflow: &Workflow,
    position: usize,
) -> Result<Context, StoreError> {
    let mut context = Context::from_map(load_initial(connection, key)?);
    let ancestors = workflow.node(position).ancestors();
    let task_ids: Vec<String> = ancestors.iter().map(|&p| workflow.node(p).id().to_owned()).collect();
    let mut outputs: Vec<(usize, ContextDelta)> = Vec::new();
    for (task_id, text) in store::load_outputs(connection, key, Some(&task_ids))? {
        if let Some(position) = workflow.position(&task_id) {
            outputs.push((position, parse_delta(&text)?));
        }
    }
    outputs.sort_by_key(|(position, _)| *position);
    for (_, delta) in &outputs {
        context.apply(delta);
    }
    Ok(context)
}

/// The initial context of an execution.
pub(crate) fn load_initial(connection: &mut AnyConnection, key: &str) -> Result<Map<String, Value>, StoreError> {
    parse_context(&load_initial_row(connection, key)?.0)
}

/// The initial context of an execution as stored, and the trace context it was started in.
fn load_initial_row(connection: &mut AnyConnection, key: &str) -> Result<(String, Option<String>), StoreError> {
    let row = store::find_execution(connection, key)?
        .ok_or_else(|| StoreError::Corrupt(format!("execution `{key}` has tasks but no execution row")))?;
    Ok((row.context, row.trace_context))
}

/// Parses a stored context.
pub(crate) fn parse_context(text: &str) -> Result<Map<String, Value>, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("stored context: {error}")))
}

/// Parses a stored delta.
pub(crate) fn parse_delta(text: &str) -> Result<ContextDelta, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("stored task output: {error}")))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent even if a holder panicked.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_is_kept_is_bounded_by_size_oldest_forgotten_first() {
        let cache = InputCache::with_budget(1_000);
        let context = Context::from_value(json!({"a": 1})).unwrap();
        let (first, second, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.remember_initial(first, &context, Vec::new(), 400, None);
        cache.remember_initial(second, &context, Vec::new(), 400, None);
        cache.remember_delta(first, 0, Arc::new(ContextDelta::default()), 100);
        assert_eq!(cache.bytes(), 900);
        // Past the budget: the oldest execution goes, with its deltas.
        cache.remember_initial(third, &context, Vec::new(), 300, None);
        assert!(cache.entry(first).is_none());
        assert!(cache.entry(second).is_some() && cache.entry(third).is_some());
        assert_eq!(cache.bytes(), 700);
        // A delta of an execution no longer kept is not counted.
        cache.remember_delta(first, 1, Arc::new(ContextDelta::default()), 500);
        assert_eq!(cache.bytes(), 700);
        cache.forget(second);
        assert_eq!(cache.bytes(), 300);
        // One execution larger than the budget is not kept at all.
        cache.remember_initial(first, &context, Vec::new(), 5_000, None);
        assert!(cache.entry(first).is_none());
        assert_eq!(cache.bytes(), 0);
    }
}
