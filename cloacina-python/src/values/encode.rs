//! Python values to their stored form.
//!
//! JSON types convert directly, checked by exact type so that a subclass (an `IntEnum` member,
//! a NumPy float) keeps its type through a codec. Tuples, sets, bytes, ints past 64 bits,
//! non-finite floats and dicts with other keys than `str` are tagged here; every other value
//! goes to `cloacina._values.encode`. A value that cannot be stored is refused with a
//! `SerializationError` naming the context key, the place inside the value, the type, and what
//! to do. The conversion never recurses deeper than the nesting limit, so no value can exhaust a
//! thread's stack.

use std::borrow::Cow;

use cloacina::Context;
use cloacina::blobs::Blobs;
use cloacina::limits::MAX_NESTING_DEPTH;
use cloacina::values::{MARKER, binary_to_stored, tagged};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTuple,
};
use serde_json::{Map, Number, Value};

use super::names::{LONE_SURROGATE, context_key, escaped, type_name};
use crate::exceptions::{ErrorKind, error};

/// The stored form of the Python value of context key `key`, with every binary payload in the
/// JSON (for a value that is compared, not stored: a trigger's condition).
pub fn from_python(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    convert(value, &mut Path::new(key, None))
}

/// The stored form of the Python value of context key `key`; binary payloads larger than
/// [`cloacina::blobs::INLINE_BINARY_BYTES`] go to `blobs`, the context's, and the JSON refers to them.
pub fn from_python_into(key: &str, value: &Bound<'_, PyAny>, blobs: &mut Blobs) -> PyResult<Value> {
    convert(value, &mut Path::new(key, Some(blobs)))
}

/// A Python `dict` with `str` keys as a context (its keys not recorded as written); `what`
/// names the dict in errors.
pub fn context_from_python(what: &str, dict: &Bound<'_, PyDict>) -> PyResult<Context> {
    let (mut map, mut blobs) = (Map::with_capacity(dict.len()), Blobs::default());
    for (key, value) in dict.iter() {
        let Ok(key) = key.cast::<PyString>() else {
            return Err(error(
                ErrorKind::Serialization,
                format!("{what} has a key of type `{}`; keys must be str", type_name(&key)),
            ));
        };
        let key = context_key(key)?.into_owned();
        let value = from_python_into(&key, &value, &mut blobs)?;
        map.insert(key, value);
    }
    Ok(Context::from_parts(map, blobs))
}

/// Where in a context value the conversion is, for messages (`key[2]['name']`), how deeply the
/// stored form nests there, and the containers it is inside of (to refuse a value that contains
/// itself).
struct Path<'a> {
    key: &'a str,
    /// Where binary payloads too large for the JSON go; none to keep them all in it.
    blobs: Option<&'a mut Blobs>,
    steps: Vec<String>,
    /// The addresses of the containers being converted, outermost first, with the levels of
    /// nesting each adds to the stored form.
    containers: Vec<(usize, usize)>,
    /// How deeply the stored form nests at this point.
    depth: usize,
}

impl<'a> Path<'a> {
    fn new(key: &'a str, blobs: Option<&'a mut Blobs>) -> Self {
        Self { key, blobs, steps: Vec::new(), containers: Vec::new(), depth: 0 }
    }

    fn describe(&self) -> String {
        format!("{}{}", self.key, self.steps.concat())
    }

    fn refuse(&self, problem: impl std::fmt::Display) -> PyErr {
        let place = if self.steps.is_empty() { String::new() } else { format!(" at `{}`", self.describe()) };
        error(ErrorKind::Serialization, format!("context key `{}`: the value{place} {problem}", self.key))
    }

    /// Enters a container whose stored form nests `levels` deep: refused past the depth limit,
    /// or if it is one of the containers it is inside of.
    fn enter(&mut self, container: &Bound<'_, PyAny>, levels: usize) -> PyResult<()> {
        if self.depth + levels > MAX_NESTING_DEPTH {
            return Err(self.refuse(format!(
                "nests deeper than {MAX_NESTING_DEPTH} levels (the limit; a tuple, set or other value that is not \
                 JSON counts as two), which cannot be stored; flatten it"
            )));
        }
        let address = container.as_ptr() as usize;
        if self.containers.iter().any(|(inside, _)| *inside == address) {
            return Err(self.refuse("contains itself (a reference cycle), which cannot be stored"));
        }
        self.containers.push((address, levels));
        self.depth += levels;
        Ok(())
    }

    fn leave(&mut self) {
        if let Some((_, levels)) = self.containers.pop() {
            self.depth -= levels;
        }
    }

    /// Converts a container's contents with `convert` between entering and leaving it.
    fn inside<T>(
        &mut self,
        container: &Bound<'_, PyAny>,
        levels: usize,
        convert: impl FnOnce(&mut Self) -> PyResult<T>,
    ) -> PyResult<T> {
        self.enter(container, levels)?;
        let converted = convert(self);
        self.leave();
        converted
    }
}

fn convert(value: &Bound<'_, PyAny>, path: &mut Path<'_>) -> PyResult<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.cast_exact::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if value.is_exact_instance_of::<PyInt>() {
        return Ok(integer(value));
    }
    if let Ok(float) = value.cast_exact::<PyFloat>() {
        return Ok(real(float.value()));
    }
    if let Ok(text) = value.cast_exact::<PyString>() {
        return string(text, path);
    }
    if let Ok(items) = value.cast_exact::<PyList>() {
        return list(items, path);
    }
    if let Ok(dict) = value.cast_exact::<PyDict>() {
        return object(dict, path);
    }
    if let Ok(items) = value.cast_exact::<PyTuple>() {
        return tuple(items, path);
    }
    if let Ok(bytes) = value.cast_exact::<PyBytes>() {
        return binary("bytes", Cow::Borrowed(bytes.as_bytes()), path);
    }
    if let Ok(bytes) = value.cast_exact::<PyByteArray>() {
        return binary("bytearray", Cow::Owned(bytes.to_vec()), path);
    }
    if let Ok(set) = value.cast_exact::<PySet>() {
        return path.inside(value, 2, |path| Ok(tagged("set", sequence(set.iter(), set.len(), path)?)));
    }
    if let Ok(set) = value.cast_exact::<PyFrozenSet>() {
        return path.inside(value, 2, |path| Ok(tagged("frozenset", sequence(set.iter(), set.len(), path)?)));
    }
    if let Some(encoded) = encoded(value, path)? {
        return Ok(encoded);
    }
    base_type(value, path)
}

/// Bytes, in the engine's stored form (see [`binary_to_stored`]): beside the JSON when large
/// and the value is stored, refused past the limit.
fn binary(tag: &str, bytes: Cow<'_, [u8]>, path: &mut Path<'_>) -> PyResult<Value> {
    let stored = binary_to_stored(tag, bytes, path.blobs.as_deref_mut());
    stored.map_err(|problem| path.refuse(problem))
}

/// An int: a JSON number within 64 bits, its digits past that.
fn integer(value: &Bound<'_, PyAny>) -> Value {
    if let Ok(integer) = value.extract::<i64>() {
        return Value::from(integer);
    }
    if let Ok(integer) = value.extract::<u64>() {
        return Value::from(integer);
    }
    let digits = value.str().map(|digits| digits.to_string()).unwrap_or_default();
    tagged("int", Value::String(digits))
}

/// A float: a JSON number when finite, `nan`, `inf` or `-inf` otherwise.
fn real(float: f64) -> Value {
    match Number::from_f64(float) {
        Some(number) => Value::Number(number),
        None if float.is_nan() => tagged("float", "nan".into()),
        None if float > 0.0 => tagged("float", "inf".into()),
        None => tagged("float", "-inf".into()),
    }
}

fn string(text: &Bound<'_, PyString>, path: &Path<'_>) -> PyResult<Value> {
    match text.to_cow() {
        Ok(text) => Ok(Value::String(text.into_owned())),
        Err(_) => Err(path.refuse(format!(
            "is a str with a lone surrogate (`{}`), which is not valid Unicode and cannot be stored",
            escaped(text.as_any())
        ))),
    }
}

/// The value through `cloacina._values.encode` (a codec, a class, an array or a table), or
/// none when no codec takes it.
fn encoded(value: &Bound<'_, PyAny>, path: &mut Path<'_>) -> PyResult<Option<Value>> {
    static ENCODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    let returned = ENCODE
        .import(py, "cloacina._values", "encode")?
        .call1((value,))
        .map_err(|failure| super::codec_failure(py, failure, "could not be stored", |problem| path.refuse(problem)))?;
    if returned.is_none() {
        return Ok(None);
    }
    let (header, payload): (Bound<'_, PyDict>, Bound<'_, PyAny>) = returned.extract()?;
    path.inside(value, 1, |path| {
        let mut map = Map::with_capacity(header.len() + 1);
        for (name, field) in header.iter() {
            let name: String = name.extract()?;
            let field = if name == MARKER { Value::String(field.extract()?) } else { convert(&field, path)? };
            map.insert(name, field);
        }
        map.insert("value".to_owned(), convert(&payload, path)?);
        Ok(Some(Value::Object(map)))
    })
}

/// A subclass of a JSON type that no codec takes, stored as its base type; any other value is
/// refused.
fn base_type(value: &Bound<'_, PyAny>, path: &mut Path<'_>) -> PyResult<Value> {
    if value.is_instance_of::<PyInt>() {
        return Ok(integer(value));
    }
    if let Ok(float) = value.cast::<PyFloat>() {
        return Ok(real(float.value()));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return string(text, path);
    }
    if let Ok(items) = value.cast::<PyList>() {
        return list(items, path);
    }
    if let Ok(items) = value.cast::<PyTuple>() {
        return tuple(items, path);
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        return object(dict, path);
    }
    Err(path.refuse(format!(
        "has type `{}`, which cloacina cannot store; convert it to a supported type, register a codec for it \
         with cloacina.register_codec, or wrap it in cloacina.Pickled",
        type_name(value)
    )))
}

/// A list: a JSON array.
fn list(items: &Bound<'_, PyList>, path: &mut Path<'_>) -> PyResult<Value> {
    path.inside(items.as_any(), 1, |path| sequence(items.iter(), items.len(), path))
}

/// A tuple: a JSON array inside a `tuple` tag.
fn tuple(items: &Bound<'_, PyTuple>, path: &mut Path<'_>) -> PyResult<Value> {
    path.inside(items.as_any(), 2, |path| Ok(tagged("tuple", sequence(items.iter(), items.len(), path)?)))
}

/// A dict: a JSON object when its keys are `str` (tagged when one of them is the marker),
/// tagged `[key, value]` pairs otherwise.
fn object(dict: &Bound<'_, PyDict>, path: &mut Path<'_>) -> PyResult<Value> {
    let keys_are_text = dict.iter().all(|(key, _)| key.is_exact_instance_of::<PyString>());
    if !keys_are_text {
        return path.inside(dict.as_any(), 3, |path| pairs(dict, path));
    }
    let has_marker = dict.contains(pyo3::intern!(dict.py(), MARKER))?;
    let levels = 1 + usize::from(has_marker);
    let map = path.inside(dict.as_any(), levels, |path| {
        let mut map = Map::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            let key = key.cast_into::<PyString>().map_err(PyErr::from)?;
            let Ok(key) = key.to_cow() else {
                return Err(path.refuse(format!(
                    "is a dict with a key that {LONE_SURROGATE} (`{}`), which cannot be stored",
                    escaped(key.as_any())
                )));
            };
            let key = key.into_owned();
            path.steps.push(format!("[{key:?}]"));
            let converted = convert(&item, path)?;
            path.steps.pop();
            map.insert(key, converted);
        }
        Ok(map)
    })?;
    // A dict of the user's that uses the marker key is stored inside a tag, not mistaken for one.
    Ok(if has_marker { tagged("dict", Value::Object(map)) } else { Value::Object(map) })
}

fn pairs(dict: &Bound<'_, PyDict>, path: &mut Path<'_>) -> PyResult<Value> {
    let mut pairs = Vec::with_capacity(dict.len());
    for (key, item) in dict.iter() {
        path.steps.push(format!("[{}]", key.repr().map(|text| text.to_string()).unwrap_or_default()));
        let converted_key = convert(&key, path)?;
        let converted = convert(&item, path)?;
        path.steps.pop();
        pairs.push(Value::Array(vec![converted_key, converted]));
    }
    Ok(tagged("dict", Value::Array(pairs)))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    length: usize,
    path: &mut Path<'_>,
) -> PyResult<Value> {
    let mut converted = Vec::with_capacity(length);
    for (index, item) in items.enumerate() {
        path.steps.push(format!("[{index}]"));
        converted.push(convert(&item, path)?);
        path.steps.pop();
    }
    Ok(Value::Array(converted))
}
