//! A task's input: the execution's initial context with its ancestors' deltas applied in
//! topological order (ties by task id, as the workflow orders its tasks).
//!
//! Deltas written by this process are kept in memory while their execution runs, so that on the
//! hot path a task's input is built without reading the database; deltas written by other
//! processes are read once and kept too.

use std::collections::HashMap;
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

/// In-memory initial contexts and deltas of running executions.
#[derive(Default)]
pub(crate) struct InputCache {
    executions: Mutex<IndexMap<Uuid, Arc<CachedExecution>>>,
}

struct CachedExecution {
    initial: Map<String, Value>,
    /// What is known of each task's delta, by position.
    deltas: Mutex<Deltas>,
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
    /// Keeps the initial context of an execution this process created.
    pub fn remember_initial(&self, execution_id: Uuid, context: &Context) {
        self.insert(execution_id, context.as_map().clone());
    }

    /// Keeps the delta of a task this process completed.
    pub fn remember_delta(&self, execution_id: Uuid, position: usize, delta: Arc<ContextDelta>) {
        if let Some(entry) = self.entry(execution_id) {
            lock(&entry.deltas).insert(position, Some(delta));
        }
    }

    /// Drops what is kept for an execution that has finished.
    pub fn forget(&self, execution_id: Uuid) {
        lock(&self.executions).shift_remove(&execution_id);
    }

    /// Builds the input of the task at `position`, reading from the database only what is not
    /// kept in memory.
    pub async fn input(
        &self,
        store: &Store,
        execution_id: Uuid,
        workflow: &Workflow,
        position: usize,
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

        let mut context = Context::from_map(entry.initial.clone());
        let deltas = lock(&entry.deltas);
        for &position in ancestors {
            if let Some(Some(delta)) = deltas.get(position) {
                context.apply(delta);
            }
        }
        Ok(context)
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
                    let initial = if need_initial { Some(load_initial(connection, &key)?) } else { None };
                    let outputs = store::load_outputs(connection, &key, Some(&task_ids))?;
                    Ok((initial, outputs))
                })
                .await?;
            let entry = match cached {
                Some(entry) => entry,
                None => self.insert(execution_id, initial.unwrap_or_default()),
            };
            let mut found: HashMap<usize, Option<Arc<ContextDelta>>> = missing.iter().map(|&p| (p, None)).collect();
            for (task_id, text) in outputs {
                if let Some(position) = workflow.position(&task_id) {
                    found.insert(position, Some(Arc::new(parse_delta(&text)?)));
                }
            }
            {
                let mut deltas = lock(&entry.deltas);
                for (position, delta) in found {
                    deltas.insert(position, delta);
                }
            }
            Ok(entry)
        }
    }

    fn entry(&self, execution_id: Uuid) -> Option<Arc<CachedExecution>> {
        lock(&self.executions).get(&execution_id).cloned()
    }

    fn insert(&self, execution_id: Uuid, initial: Map<String, Value>) -> Arc<CachedExecution> {
        let mut executions = lock(&self.executions);
        if let Some(existing) = executions.get(&execution_id) {
            return Arc::clone(existing);
        }
        if executions.len() >= CAPACITY {
            executions.shift_remove_index(0);
        }
        let entry = Arc::new(CachedExecution { initial, deltas: Mutex::new(Deltas::default()) });
        executions.insert(execution_id, Arc::clone(&entry));
        entry
    }
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
    let row = store::find_execution(connection, key)?
        .ok_or_else(|| StoreError::Corrupt(format!("execution `{key}` has tasks but no execution row")))?;
    parse_context(&row.context)
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
