//! Mapped tasks: a task that runs once per element of a list only known at run time.
//!
//! When a mapped task's dependencies have finished, the transaction that finds it ready reads
//! the list under its [`Mapping::key`] in its input and stores one *instance* per element, with
//! the id `task[index]` ([`instance_id`]). Each instance is claimed and run like any task, with
//! its own attempts, retries and timeout. Its input is the task's without the list (so that `n`
//! instances do not copy `n` elements each), with its element as `context["item"]` and its
//! position as `context["item_index"]`. The task itself stays running while its instances do;
//! the transaction that records the last of them gathers what they wrote ([`gather`]): each key
//! becomes a list in instance order, and the task completes with those lists as its output (or
//! fails, naming the instances that failed). Its dependents then see only the gathered lists.
//!
//! An empty list completes the task at once, with an empty list under each of its declared
//! [`Mapping::outputs`]; a missing key or a value that is not a list fails it. At most
//! [`MAX_INSTANCES`] instances; with [`Mapping::max_parallel`], only that many are ready or
//! running at once, the next made ready as each finishes.

use serde_json::{Map, Value};

use crate::context::{Context, ContextDelta};
use crate::limits;
use crate::values;

/// The most instances one mapped task may have: a longer list fails the task.
pub const MAX_INSTANCES: usize = 10_000;

/// The key under which an instance sees its element.
pub const ITEM_KEY: &str = "item";

/// The key under which an instance sees its element's position in the list, from 0.
pub const ITEM_INDEX_KEY: &str = "item_index";

/// How a task maps over a list in its input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Mapping {
    /// The context key holding the list (`"items"`).
    pub key: String,
    /// At most this many instances are ready or running at once; all of them when `None`.
    pub max_parallel: Option<u32>,
    /// Keys the instances write, gathered as lists even when no instance wrote them (an empty
    /// list, or instances that left them out): downstream tasks can always read them.
    pub outputs: Vec<String>,
}

impl Mapping {
    /// Maps over the list under `key`, every instance free to run at once.
    pub fn over(key: impl Into<String>) -> Self {
        Self { key: key.into(), max_parallel: None, outputs: Vec::new() }
    }

    /// Lets at most `limit` instances be ready or running at once.
    pub fn max_parallel(mut self, limit: u32) -> Self {
        self.max_parallel = Some(limit);
        self
    }

    /// Declares the keys the instances write (see [`Mapping::outputs`]).
    pub fn outputs<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.outputs = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Why the mapping cannot be used, if it cannot: a bad key, or a bound out of range.
    pub fn problem(&self) -> Option<String> {
        if let Err(problem) = limits::check_name(&self.key) {
            return Some(format!("its map_over key {problem}"));
        }
        if let Some(limit) = self.max_parallel
            && !(1..=MAX_INSTANCES as u32).contains(&limit)
        {
            return Some(format!(
                "its max_parallel is {limit}; it must be from 1 to {MAX_INSTANCES} instances at once"
            ));
        }
        for key in &self.outputs {
            if let Err(problem) = limits::check_name(key) {
                return Some(format!("its map output key `{key}` {problem}"));
            }
        }
        None
    }

    /// How many instances are ready or running at most, for a list of `count` elements.
    pub fn parallel(&self, count: usize) -> usize {
        self.max_parallel.map_or(count, |limit| count.min(limit as usize))
    }
}

/// The id of the instance at `index` of the mapped task `task_id`: `task_id[index]`.
pub fn instance_id(task_id: &str, index: usize) -> String {
    format!("{task_id}[{index}]")
}

/// The mapped task's id and the index of an instance id made by [`instance_id`]; `None` for an
/// id of another form.
pub fn parse_instance_id(id: &str) -> Option<(&str, usize)> {
    let inner = id.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let digits = &inner[open + 1..];
    let canonical = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
    // One spelling per index: `x[01]` is not instance 1.
    if !canonical || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((&inner[..open], digits.parse().ok()?))
}

/// The elements a mapped task runs over: the list (or tuple) under `mapping.key` in `input`,
/// or why there is none, said of the task `task_id`.
pub fn items<'a>(task_id: &str, mapping: &Mapping, input: &'a Context) -> Result<&'a [Value], String> {
    list(task_id, &mapping.key, input.get(&mapping.key))
}

/// The list (or tuple) `value` holds, the value of the key `key` a mapped task maps over, or why
/// it holds none (`None`: the key is absent).
fn list<'a>(task_id: &str, key: &str, value: Option<&'a Value>) -> Result<&'a [Value], String> {
    let Some(value) = value else {
        return Err(format!(
            "task `{task_id}` maps over `{key}`, which its input does not have; a task it depends on (or the \
             initial context) must write a list under `{key}`"
        ));
    };
    let list = match value {
        Value::Array(list) => list,
        value => match (values::tag_of(value), value.get("value")) {
            (Some("tuple"), Some(Value::Array(list))) => list,
            (Some(tag), _) => {
                return Err(format!(
                    "task `{task_id}` maps over `{key}`, which holds a {tag}, not a list; write a list (or tuple) \
                     under `{key}`{}",
                    if matches!(tag, "set" | "frozenset") { " (a set has no order: sort it into a list)" } else { "" }
                ));
            }
            (None, _) => {
                return Err(format!(
                    "task `{task_id}` maps over `{key}`, which holds a JSON {}, not a list; write a list under `{key}`",
                    crate::context::json_type_name(value)
                ));
            }
        },
    };
    if list.len() > MAX_INSTANCES {
        return Err(format!(
            "task `{task_id}` maps over `{key}`, which has {} elements, more than the {MAX_INSTANCES} instances a \
             mapped task may have; split the list, or map over batches of it",
            list.len()
        ));
    }
    Ok(list)
}

/// The element of the instance at `index` of the mapped task `task_id`, from `value`, the
/// value of the key it maps over.
pub fn element(task_id: &str, mapping: &Mapping, value: Option<&Value>, index: usize) -> Result<Value, String> {
    list(task_id, &mapping.key, value)?.get(index).cloned().ok_or_else(|| {
        format!("instance {index} of task `{task_id}` has no element: the list under `{}` is shorter", mapping.key)
    })
}

/// Gives an instance's input its element under [`ITEM_KEY`] and its index under
/// [`ITEM_INDEX_KEY`], not counted as the instance's writes.
pub fn give_element(input: &mut Context, item: Value, index: usize) {
    let mut given = Map::with_capacity(2);
    given.insert(ITEM_KEY.to_owned(), item);
    given.insert(ITEM_INDEX_KEY.to_owned(), Value::from(index));
    input.apply(&ContextDelta { written: given, ..ContextDelta::default() });
}

/// The output of a mapped task whose `count` instances completed with `deltas` (by index, in
/// any order): every key written by an instance or declared in `mapping.outputs` becomes a list
/// of `count` values in instance order, `null` where an instance did not write it. Keys come in
/// the order declared, then in the order first written. Keys instances removed are not gathered.
pub fn gather(
    mapping: &Mapping,
    count: usize,
    deltas: impl IntoIterator<Item = (usize, ContextDelta)>,
) -> ContextDelta {
    let mut deltas: Vec<(usize, ContextDelta)> = deltas.into_iter().filter(|(index, _)| *index < count).collect();
    deltas.sort_by_key(|(index, _)| *index);
    let mut lists: Map<String, Value> = Map::new();
    let empty = || Value::Array(vec![Value::Null; count]);
    for key in &mapping.outputs {
        lists.entry(key.clone()).or_insert_with(empty);
    }
    let mut blobs = Vec::new();
    for (index, delta) in deltas {
        for (key, value) in delta.written {
            if let Value::Array(list) = lists.entry(key).or_insert_with(empty) {
                list[index] = value;
            }
        }
        blobs.extend(delta.blobs);
    }
    ContextDelta { written: lists, removed: Vec::new(), blobs }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn instance_ids_round_trip_and_other_ids_are_not_instances() {
        assert_eq!(instance_id("square", 12), "square[12]");
        assert_eq!(parse_instance_id("square[12]"), Some(("square", 12)));
        assert_eq!(parse_instance_id("a[b][0]"), Some(("a[b]", 0)));
        for id in ["square", "square[]", "square[01]", "square[-1]", "square[1", "[x]", "square[1a]"] {
            assert_eq!(parse_instance_id(id), None, "{id}");
        }
    }

    #[test]
    fn items_are_a_list_or_a_tuple_and_anything_else_is_explained() {
        let mapping = Mapping::over("items");
        let input = Context::from_value(json!({
            "items": [1, 2],
            "pair": {"$cloacina": "tuple", "value": [3, 4]},
        }))
        .unwrap();
        assert_eq!(items("t", &mapping, &input).unwrap(), [json!(1), json!(2)]);
        assert_eq!(items("t", &Mapping::over("pair"), &input).unwrap(), [json!(3), json!(4)]);

        let missing = items("t", &Mapping::over("absent"), &Context::new()).unwrap_err();
        assert!(missing.contains("task `t` maps over `absent`, which its input does not have"), "{missing}");
        let text = Context::from_value(json!({"items": "abc"})).unwrap();
        let error = items("t", &mapping, &text).unwrap_err();
        assert!(error.contains("holds a JSON string, not a list"), "{error}");
        let set = Context::from_value(json!({"items": {"$cloacina": "set", "value": [1]}})).unwrap();
        let error = items("t", &mapping, &set).unwrap_err();
        assert!(error.contains("holds a set, not a list") && error.contains("sort it"), "{error}");
        let long = Context::from_value(json!({"items": vec![0; MAX_INSTANCES + 1]})).unwrap();
        let error = items("t", &mapping, &long).unwrap_err();
        assert!(error.contains(&format!("has {} elements", MAX_INSTANCES + 1)), "{error}");
    }

    #[test]
    fn an_instance_sees_its_element_and_index_without_writing_them() {
        let mapping = Mapping::over("items");
        let list = json!(["a", "b"]);
        let mut input = Context::from_value(json!({"item": "shadowed"})).unwrap();
        give_element(&mut input, element("t", &mapping, Some(&list), 1).unwrap(), 1);
        assert_eq!(input.get(ITEM_KEY), Some(&json!("b")));
        assert_eq!(input.get(ITEM_INDEX_KEY), Some(&json!(1)));
        assert!(input.delta().is_empty(), "the element is input, not output");
        let error = element("t", &mapping, Some(&list), 2).unwrap_err();
        assert!(error.contains("instance 2 of task `t` has no element"), "{error}");
        assert!(element("t", &mapping, None, 0).unwrap_err().contains("which its input does not have"));
    }

    #[test]
    fn gathered_outputs_are_lists_in_instance_order_with_nulls_for_gaps() {
        let delta =
            |value: Value| ContextDelta { written: value.as_object().unwrap().clone(), ..ContextDelta::default() };
        let mapping = Mapping::over("items").outputs(["declared"]);
        let gathered = gather(
            &mapping,
            3,
            [
                (2, delta(json!({"square": 4}))),
                (0, delta(json!({"square": 0, "note": "first"}))),
                (1, delta(json!({}))),
            ],
        );
        assert_eq!(
            Value::Object(gathered.written),
            json!({"declared": [null, null, null], "square": [0, null, 4], "note": ["first", null, null]})
        );
        let keys: Vec<String> = gather(&mapping, 0, [])
            .written
            .into_iter()
            .map(|(key, value)| {
                assert_eq!(value, json!([]));
                key
            })
            .collect();
        assert_eq!(keys, ["declared"], "an empty list still gives the declared keys, as empty lists");
    }

    #[test]
    fn bad_mappings_are_explained() {
        assert!(Mapping::over("items").problem().is_none());
        assert!(Mapping::over("").problem().unwrap().contains("map_over key"));
        assert!(Mapping::over("items").max_parallel(0).problem().unwrap().contains("max_parallel is 0"));
        assert!(Mapping::over("items").outputs([""]).problem().unwrap().contains("map output key"));
        assert_eq!(Mapping::over("items").max_parallel(4).parallel(10), 4);
        assert_eq!(Mapping::over("items").parallel(10), 10);
    }
}
