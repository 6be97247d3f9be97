//! The data a task reads and writes: an ordered map from keys to JSON values.
//!
//! A [`Context`] remembers which keys were written or removed since it was created (or since
//! [`Context::take_delta`]); that record is the task's [`ContextDelta`], the only thing the engine
//! stores for a finished task. The input of a task is the initial context of its execution with
//! the deltas of its ancestors applied in a deterministic order.

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ContextError;
use crate::executor::TaskSlot;
use crate::limits::{self, MAX_NESTING_DEPTH};
use crate::logs::AttemptLog;
use std::sync::Arc;

use crate::blobs::{BlobSource, Blobs};
use crate::stop::StopSignal;
use crate::values::{self, ContextValue};

/// An ordered map from string keys to JSON values, shared along the tasks of an execution.
///
/// `insert` refuses to overwrite, `update` refuses to create, `set` does either. Every write is
/// recorded so that the engine can store only what a task changed.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: Map<String, Value>,
    written: IndexSet<String>,
    removed: IndexSet<String>,
    attempt: Option<Attempt>,
    /// Binary data of values kept beside the JSON (see [`crate::blobs`]).
    blobs: Blobs,
    /// The trace context of the execution this is a task's input of, for its attempt.
    trace_context: Option<Arc<str>>,
}

/// Which attempt of which task a context is the input of (set by the executor; not data, so
/// neither stored nor compared).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The execution.
    pub execution_id: uuid::Uuid,
    /// The name of the workflow it runs.
    pub workflow: String,
    /// The task.
    pub task_id: String,
    /// The id of the executor running the attempt (see `UnifiedExecutor::owner_id`).
    pub owner_id: std::sync::Arc<str>,
    /// The attempt, counting from 1 (starts abandoned by a stopped worker not counted).
    pub number: u32,
    /// The trace context the execution was started in (W3C `traceparent` and `tracestate` as
    /// a JSON object), for a tracer to make the attempt's span a child of the execution's;
    /// `None` when the execution was started untraced.
    pub trace_context: Option<Arc<str>>,
    /// Turns on when the attempt should stop (see [`StopSignal`]).
    pub stop: StopSignal,
    /// The executor's task slot the attempt takes; code that starts a call the engine cannot
    /// stop keeps a clone until the call returns (see [`TaskSlot`]).
    pub slot: TaskSlot,
    /// Where the attempt's log records go (see [`crate::logs`]).
    pub log: AttemptLog,
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.written == other.written && self.removed == other.removed
    }
}

/// What one task changed in its context: keys written (with their final values) and keys removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextDelta {
    /// Keys the task inserted, set or updated, with the values they ended with.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub written: Map<String, Value>,
    /// Keys the task removed (and did not write again afterwards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Binary data the written values refer to, stored beside the delta by digest (see
    /// [`crate::blobs`]); not part of the delta's JSON.
    #[serde(skip)]
    pub blobs: Vec<(String, Arc<[u8]>)>,
}

impl ContextDelta {
    /// True when the task changed nothing.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }

    /// Checks that every written value can be stored and read back (see [`Context::check_storable`]).
    pub fn check_storable(&self) -> Result<(), ContextError> {
        check_nesting(&self.written)
    }
}

/// Fails on the first value nesting deeper than [`MAX_NESTING_DEPTH`].
fn check_nesting(values: &Map<String, Value>) -> Result<(), ContextError> {
    match values.iter().find(|(_, value)| limits::nesting_depth(value) > MAX_NESTING_DEPTH) {
        Some((key, _)) => Err(ContextError::TooDeep { key: key.clone(), limit: MAX_NESTING_DEPTH }),
        None => Ok(()),
    }
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a context from a JSON value, which must be an object.
    ///
    /// The keys of the object are not recorded as written: they are the starting point.
    pub fn from_value(value: Value) -> Result<Self, ContextError> {
        match value {
            Value::Object(values) => Ok(Self::from_map(values)),
            other => Err(ContextError::NotAnObject { found: json_type_name(&other) }),
        }
    }

    /// Builds a context from a JSON object map, without recording any write.
    pub fn from_map(values: Map<String, Value>) -> Self {
        Self {
            values,
            written: IndexSet::new(),
            removed: IndexSet::new(),
            attempt: None,
            blobs: Blobs::default(),
            trace_context: None,
        }
    }

    /// Builds a context from a JSON object map whose values may refer to the binary data in
    /// `blobs`, without recording any write.
    pub fn from_parts(values: Map<String, Value>, blobs: Blobs) -> Self {
        Self { blobs, ..Self::from_map(values) }
    }

    /// The binary data this context holds, to add data that a value written next refers to
    /// (with [`crate::blobs::reference`]): it is stored with the task's
    /// output or the execution, once per execution.
    pub fn blobs_mut(&mut self) -> &mut Blobs {
        &mut self.blobs
    }

    /// The binary data this context holds, and where it loads the rest from.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Where binary data this context does not hold is loaded from.
    pub(crate) fn set_blob_source(&mut self, source: Arc<dyn BlobSource>) {
        self.blobs.set_source(source);
    }

    /// Checks that every value can be stored and read back: none nests lists and objects deeper
    /// than [`MAX_NESTING_DEPTH`] (counted without recursion, so any value may be checked).
    pub fn check_storable(&self) -> Result<(), ContextError> {
        check_nesting(&self.values)
    }

    /// The attempt this context is the input of, when a task is running with it.
    pub fn attempt(&self) -> Option<&Attempt> {
        self.attempt.as_ref()
    }

    /// Takes the attempt's task slot out of the context, for code that starts a call the engine
    /// cannot stop and must keep the slot taken exactly as long as that call runs (the context
    /// itself may be kept longer). Empty for a context that is not an attempt's input.
    pub fn take_slot(&mut self) -> TaskSlot {
        self.attempt.as_mut().map(|attempt| std::mem::take(&mut attempt.slot)).unwrap_or_default()
    }

    /// Marks the context as the input of an attempt.
    pub(crate) fn set_attempt(&mut self, attempt: Attempt) {
        self.attempt = Some(attempt);
    }

    /// Notes the trace context of the execution this context is a task's input of.
    pub(crate) fn set_trace_context(&mut self, trace_context: Option<Arc<str>>) {
        self.trace_context = trace_context;
    }

    /// Takes the trace context noted with [`set_trace_context`](Self::set_trace_context).
    pub(crate) fn take_trace_context(&mut self) -> Option<Arc<str>> {
        self.trace_context.take()
    }

    /// Adds a new key; fails with [`ContextError::KeyExists`] if the key is already present.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<(), ContextError> {
        let key = key.into();
        if self.values.contains_key(&key) {
            return Err(ContextError::KeyExists { key });
        }
        self.write(key, value.into());
        Ok(())
    }

    /// Sets a key whether or not it exists, returning the previous value if there was one.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.write(key.into(), value.into())
    }

    /// Replaces the value of an existing key; fails with [`ContextError::KeyNotFound`] otherwise.
    pub fn update(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<Value, ContextError> {
        let key = key.into();
        if !self.values.contains_key(&key) {
            return Err(ContextError::KeyNotFound { key });
        }
        Ok(self.write(key, value.into()).expect("the key was checked to be present"))
    }

    /// The value of a key, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// The value of a key as a Rust type with a stored form that other languages share (a
    /// datetime, UUID, decimal, bytes, ...; see [`ContextValue`]).
    ///
    /// Fails with [`ContextError::KeyNotFound`] when the key is absent, with
    /// [`ContextError::WrongType`] when its value is not of that type, and with
    /// [`ContextError::Unreadable`] when it is but cannot be read (its binary data cannot be
    /// loaded, say).
    pub fn get_as<T: ContextValue>(&self, key: &str) -> Result<T, ContextError> {
        let value = self.values.get(key).ok_or_else(|| ContextError::KeyNotFound { key: key.to_owned() })?;
        let read = T::from_stored(value, &self.blobs)
            .map_err(|reason| ContextError::Unreadable { key: key.to_owned(), reason })?;
        read.ok_or_else(|| ContextError::WrongType {
            key: key.to_owned(),
            expected: T::EXPECTED,
            found: match values::tag_of(value) {
                Some(tag) => format!("a value tagged `{tag}`"),
                None => format!("a JSON {}", json_type_name(value)),
            },
        })
    }

    /// Adds a new key holding a value in its shared stored form (see [`ContextValue`]), which a
    /// Python task reads as the matching Python type. Fails like [`Context::insert`], and with
    /// [`ContextError::Unstorable`] when the value cannot be stored (binary data over
    /// [`MAX_BINARY_BYTES`](crate::limits::MAX_BINARY_BYTES)); nothing is written then.
    pub fn insert_as<T: ContextValue>(&mut self, key: impl Into<String>, value: &T) -> Result<(), ContextError> {
        let key = key.into();
        let stored = self.stored_form(&key, value)?;
        self.insert(key, stored)
    }

    /// Sets a key to a value in its shared stored form (see [`ContextValue`]), returning the
    /// previous value if there was one. Fails with [`ContextError::Unstorable`] when the value
    /// cannot be stored; nothing is written then.
    pub fn set_as<T: ContextValue>(
        &mut self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<Option<Value>, ContextError> {
        let key = key.into();
        let stored = self.stored_form(&key, value)?;
        Ok(self.write(key, stored))
    }

    fn stored_form<T: ContextValue>(&mut self, key: &str, value: &T) -> Result<Value, ContextError> {
        value.to_stored(&mut self.blobs).map_err(|reason| ContextError::Unstorable { key: key.to_owned(), reason })
    }

    /// Removes a key, returning its value if it was present.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let previous = self.values.shift_remove(key);
        if previous.is_some() {
            self.written.shift_remove(key);
            self.removed.insert(key.to_owned());
        }
        previous
    }

    /// True when the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the context holds no key.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Keys and values in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.values.iter()
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.values.keys()
    }

    /// The values as a JSON object map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.values
    }

    /// The values as a JSON object, consuming the context.
    pub fn into_value(self) -> Value {
        Value::Object(self.values)
    }

    /// The values as a JSON object map, consuming the context.
    pub fn into_map(self) -> Map<String, Value> {
        self.values
    }

    /// The changes recorded since the context was built, without clearing them.
    pub fn delta(&self) -> ContextDelta {
        let written: Map<String, Value> = self
            .written
            .iter()
            .filter_map(|key| self.values.get(key).map(|value| (key.clone(), value.clone())))
            .collect();
        let blobs = self.blobs.written_for(written.values());
        ContextDelta { written, removed: self.removed.iter().cloned().collect(), blobs }
    }

    /// The changes recorded so far; afterwards the context records from a clean slate.
    pub fn take_delta(&mut self) -> ContextDelta {
        let delta = self.delta();
        self.written.clear();
        self.removed.clear();
        self.blobs.clear_added();
        delta
    }

    /// Binary data written into this context that its values refer to, to store with it.
    pub fn written_blobs(&self) -> Vec<(String, Arc<[u8]>)> {
        self.blobs.written_for(self.values.values())
    }

    /// Applies another task's delta without recording it as a write of this context.
    pub fn apply(&mut self, delta: &ContextDelta) {
        for key in &delta.removed {
            self.values.shift_remove(key);
        }
        for (key, value) in &delta.written {
            self.values.insert(key.clone(), value.clone());
        }
        self.keep_blobs(&delta.blobs);
    }

    /// [`apply`](Self::apply), leaving the key `skipped` (if any) as it is.
    pub(crate) fn apply_without(&mut self, delta: &ContextDelta, skipped: Option<&str>) {
        let Some(skipped) = skipped else {
            self.apply(delta);
            return;
        };
        for key in delta.removed.iter().filter(|key| *key != skipped) {
            self.values.shift_remove(key);
        }
        for (key, value) in delta.written.iter().filter(|(key, _)| *key != skipped) {
            self.values.insert(key.clone(), value.clone());
        }
        self.keep_blobs(&delta.blobs);
    }

    /// Holds binary data stored elsewhere (another task's output, the initial context) in memory.
    pub(crate) fn keep_blobs(&mut self, blobs: &[(String, Arc<[u8]>)]) {
        for (digest, data) in blobs {
            self.blobs.keep(digest, data);
        }
    }

    fn write(&mut self, key: String, value: Value) -> Option<Value> {
        self.removed.shift_remove(&key);
        let previous = self.values.insert(key.clone(), value);
        self.written.insert(key);
        previous
    }
}

impl Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::from_map)
    }
}

impl TryFrom<Value> for Context {
    type Error = ContextError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<Map<String, Value>> for Context {
    fn from(values: Map<String, Value>) -> Self {
        Self::from_map(values)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Context {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self::from_map(pairs.into_iter().map(|(key, value)| (key.into(), value.into())).collect())
    }
}

/// The JSON type of a value, as a word for error messages.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::blobs;

    #[test]
    fn insert_refuses_an_existing_key() {
        let mut context = Context::new();
        context.insert("a", 1).unwrap();
        let error = context.insert("a", 2).unwrap_err();
        assert_eq!(error.to_string(), "context key `a` already exists; use `set` or `update` to change it");
        assert_eq!(context.get("a"), Some(&json!(1)));
    }

    #[test]
    fn update_refuses_a_missing_key() {
        let mut context = Context::new();
        let error = context.update("missing", 1).unwrap_err();
        assert!(matches!(error, ContextError::KeyNotFound { ref key } if key == "missing"));
        context.set("present", 1);
        assert_eq!(context.update("present", 2).unwrap(), json!(1));
        assert_eq!(context.get("present"), Some(&json!(2)));
    }

    #[test]
    fn keys_keep_insertion_order() {
        let mut context = Context::new();
        for key in ["zeta", "alpha", "mid"] {
            context.insert(key, true).unwrap();
        }
        assert_eq!(context.keys().collect::<Vec<_>>(), ["zeta", "alpha", "mid"]);
    }

    #[test]
    fn delta_records_only_what_changed() {
        let mut context = Context::from_value(json!({"kept": 1, "dropped": 2, "changed": 3})).unwrap();
        context.update("changed", 30).unwrap();
        context.remove("dropped");
        context.insert("new", "value").unwrap();
        let delta = context.delta();
        assert_eq!(Value::Object(delta.written.clone()), json!({"changed": 30, "new": "value"}));
        assert_eq!(delta.removed, ["dropped"]);
    }

    #[test]
    fn removing_then_writing_again_is_a_write() {
        let mut context = Context::from_value(json!({"key": 1})).unwrap();
        context.remove("key");
        context.set("key", 2);
        let delta = context.delta();
        assert!(delta.removed.is_empty());
        assert_eq!(delta.written.get("key"), Some(&json!(2)));
    }

    #[test]
    fn apply_replays_a_delta_without_recording_it() {
        let mut source = Context::from_value(json!({"gone": 0})).unwrap();
        source.insert("added", [1, 2]).unwrap();
        source.remove("gone");
        let delta = source.take_delta();
        assert!(source.delta().is_empty());

        let mut target = Context::from_value(json!({"gone": 0, "other": 1})).unwrap();
        target.apply(&delta);
        assert_eq!(target.clone().into_value(), json!({"other": 1, "added": [1, 2]}));
        assert!(target.delta().is_empty());
    }

    #[test]
    fn values_nested_past_the_limit_cannot_be_stored() {
        let mut value = json!(1);
        for _ in 0..MAX_NESTING_DEPTH {
            value = json!([value]);
        }
        let mut context = Context::new();
        context.insert("deepest", value.clone()).unwrap();
        context.check_storable().unwrap();
        context.insert("too_deep", json!({"one more": value})).unwrap();
        let error = context.delta().check_storable().unwrap_err();
        assert_eq!(error, ContextError::TooDeep { key: "too_deep".into(), limit: MAX_NESTING_DEPTH });
        assert!(error.to_string().starts_with("context key `too_deep`: the value nests deeper than 100 levels"));
        assert_eq!(context.check_storable(), Err(error));
    }

    #[test]
    fn typed_values_are_written_and_read_in_the_shared_form() {
        let mut context = Context::new();
        let id = uuid::Uuid::parse_str("a8098c1a-f86e-11da-bd1a-00112444be1e").unwrap();
        context.insert_as("id", &id).unwrap();
        assert_eq!(
            context.get("id"),
            Some(&json!({"$cloacina": "uuid", "value": "a8098c1a-f86e-11da-bd1a-00112444be1e"}))
        );
        assert_eq!(context.get_as::<uuid::Uuid>("id").unwrap(), id);
        assert!(matches!(context.insert_as("id", &id), Err(ContextError::KeyExists { .. })));
        context.set_as("amount", &rust_decimal::Decimal::new(12345, 2)).unwrap();
        assert_eq!(context.delta().written.keys().collect::<Vec<_>>(), ["id", "amount"]);

        context.set("plain", "a8098c1a-f86e-11da-bd1a-00112444be1e");
        let error = context.get_as::<uuid::Uuid>("plain").unwrap_err();
        assert_eq!(error.to_string(), "context key `plain`: expected a UUID (tag `uuid`), found a JSON string");
        let error = context.get_as::<uuid::Uuid>("amount").unwrap_err();
        assert_eq!(
            error.to_string(),
            "context key `amount`: expected a UUID (tag `uuid`), found a value tagged `decimal`"
        );
        assert!(matches!(context.get_as::<uuid::Uuid>("absent"), Err(ContextError::KeyNotFound { .. })));
    }

    #[test]
    fn large_binary_values_are_kept_beside_the_json() {
        let mut context = Context::new();
        let small = vec![7u8; 16];
        let large: Vec<u8> = (0..blobs::INLINE_BINARY_BYTES + 1).map(|index| (index % 251) as u8).collect();
        context.insert_as("small", &small).unwrap();
        context.insert_as("large", &large).unwrap();
        assert_eq!(context.get("small"), Some(&json!({"$cloacina": "bytes", "value": "BwcHBwcHBwcHBwcHBwcHBw=="})));
        let reference = context.get("large").unwrap();
        assert_eq!(reference["size"], json!(large.len()));
        assert_eq!(reference["blob"], json!(blobs::digest(&large)));
        assert_eq!(context.get_as::<Vec<u8>>("small").unwrap(), small);
        assert_eq!(context.get_as::<Vec<u8>>("large").unwrap(), large);

        // A reference to data this context does not hold, with no database to load it from.
        let orphan = Context::from_map(context.delta().written.clone().into_iter().collect());
        let error = orphan.get_as::<Vec<u8>>("large").unwrap_err();
        assert!(matches!(error, ContextError::Unreadable { .. }), "{error}");
        assert!(error.to_string().contains("has no database to load from"), "{error}");
    }

    #[test]
    fn only_objects_become_contexts() {
        let error = Context::from_value(json!([1, 2])).unwrap_err();
        assert_eq!(error.to_string(), "a context must be a JSON object, found array");
    }

    #[test]
    fn delta_round_trips_through_json() {
        let mut context = Context::new();
        context.set("x", json!({"nested": [1, null]}));
        let delta = context.delta();
        let text = serde_json::to_string(&delta).unwrap();
        assert_eq!(serde_json::from_str::<ContextDelta>(&text).unwrap(), delta);
        assert_eq!(serde_json::to_string(&ContextDelta::default()).unwrap(), "{}");
    }
}
