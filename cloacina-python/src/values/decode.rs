//! Stored values to Python.
//!
//! A JSON object with the marker key is a tagged value: the tags of the types converted in
//! `encode.rs` are read here, every other tag through `cloacina._values.decode` with its header
//! and payload already read. A value that cannot be read (a class this process cannot find, a
//! pickle this executor does not read) raises `SerializationError` naming the context key.

use cloacina::blobs::Blobs;
use cloacina::values::{MARKER, binary_data};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple};

use serde_json::{Map, Value};

use crate::exceptions::{ErrorKind, error};
use crate::executor_set::ExecutorSet;

/// How stored values are read back into Python.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Whether `cloacina.Pickled` values are unpickled (otherwise reading one is an error).
    pub allow_pickle: bool,
}

/// This process's executors made with `allow_pickle=True`.
static PICKLE_READERS: ExecutorSet = ExecutorSet::new();

impl Reading {
    /// How the executor with id `owner_id` reads values (for its tasks and its results).
    pub fn of_executor(owner_id: &str) -> Self {
        Self { allow_pickle: PICKLE_READERS.contains(owner_id) }
    }

    /// Makes the executor with id `owner_id` read pickles.
    pub fn allow_pickle_for(owner_id: &str) {
        PICKLE_READERS.insert(owner_id);
    }

    /// The Python value of context key `key`, whose binary data kept beside the JSON is in (or
    /// loaded through) `blobs`.
    pub fn value<'py>(self, py: Python<'py>, key: &str, value: &Value, blobs: &Blobs) -> PyResult<Bound<'py, PyAny>> {
        Reader { reading: self, key, blobs, tags: true }.value(py, value)
    }

    /// Context values as a Python `dict`.
    pub fn values<'py>(self, py: Python<'py>, map: &Map<String, Value>, blobs: &Blobs) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, value) in map {
            dict.set_item(key, self.value(py, key, value, blobs)?)?;
        }
        Ok(dict)
    }
}

/// The stored JSON of a value as plain Python values (tags not read), for inspection.
pub fn raw<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let blobs = Blobs::default();
    Reader { reading: Reading::default(), key: "", blobs: &blobs, tags: false }.value(py, value)
}

fn scalar_to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => integer.into_pyobject(py)?.into_any(),
            (None, Some(integer)) => integer.into_pyobject(py)?.into_any(),
            _ => number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(text) => PyString::new(py, text).into_any(),
        _ => py.None().into_bound(py),
    })
}

struct Reader<'a> {
    reading: Reading,
    key: &'a str,
    blobs: &'a Blobs,
    /// Whether tagged objects are read as the values they stand for (`raw` reads them as dicts).
    tags: bool,
}

impl Reader<'_> {
    fn refuse(&self, problem: impl std::fmt::Display) -> PyErr {
        error(ErrorKind::Serialization, format!("context key `{}`: the value {problem}", self.key))
    }

    fn value<'py>(&self, py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
        match value {
            Value::Array(items) => self.list(py, items).map(Bound::into_any),
            Value::Object(map) => match map.get(MARKER).filter(|_| self.tags) {
                None => self.dict(py, map).map(Bound::into_any),
                Some(Value::String(tag)) => self.tagged(py, tag, map),
                Some(_) => Err(self.refuse(format!(
                    "is an object whose reserved key `{MARKER}` does not hold a tag; `context.raw(key)` shows it"
                ))),
            },
            scalar => scalar_to_python(py, scalar),
        }
    }

    fn list<'py>(&self, py: Python<'py>, items: &[Value]) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for item in items {
            list.append(self.value(py, item)?)?;
        }
        Ok(list)
    }

    fn dict<'py>(&self, py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (key, item) in map {
            dict.set_item(key, self.value(py, item)?)?;
        }
        Ok(dict)
    }

    fn tagged<'py>(&self, py: Python<'py>, tag: &str, map: &Map<String, Value>) -> PyResult<Bound<'py, PyAny>> {
        let payload = map.get("value").unwrap_or(&Value::Null);
        let malformed =
            || self.refuse(format!("is a stored `{tag}` whose form is not valid; `context.raw(key)` shows it"));
        match tag {
            "tuple" | "set" | "frozenset" => {
                let Value::Array(items) = payload else { return Err(malformed()) };
                let items = self.list(py, items)?;
                match tag {
                    "tuple" => Ok(PyTuple::new(py, items)?.into_any()),
                    "set" => Ok(PySet::new(py, items)?.into_any()),
                    _ => Ok(PyFrozenSet::new(py, items)?.into_any()),
                }
            }
            "dict" => match payload {
                Value::Object(entries) => self.dict(py, entries).map(Bound::into_any),
                Value::Array(pairs) => {
                    let dict = PyDict::new(py);
                    for pair in pairs {
                        let Some([key, item]) = pair.as_array().map(Vec::as_slice) else { return Err(malformed()) };
                        dict.set_item(self.value(py, key)?, self.value(py, item)?)?;
                    }
                    Ok(dict.into_any())
                }
                _ => Err(malformed()),
            },
            "int" => {
                let Value::String(digits) = payload else { return Err(malformed()) };
                py.get_type::<pyo3::types::PyInt>().call1((digits.as_str(),)).map_err(|_| malformed())
            }
            "float" => match payload.as_str() {
                Some("nan") => Ok(f64::NAN.into_pyobject(py)?.into_any()),
                Some("inf") => Ok(f64::INFINITY.into_pyobject(py)?.into_any()),
                Some("-inf") => Ok(f64::NEG_INFINITY.into_pyobject(py)?.into_any()),
                _ => Err(malformed()),
            },
            "bytes" | "bytearray" => {
                // Kept beside the JSON, it is loaded (without the GIL) when not in memory.
                let bytes = py
                    .detach(|| binary_data(map, self.blobs))
                    .map_err(|failure| self.refuse(format!("could not be read: {failure}")))?
                    .ok_or_else(malformed)?;
                Ok(if tag == "bytes" {
                    PyBytes::new(py, &bytes).into_any()
                } else {
                    PyByteArray::new(py, &bytes).into_any()
                })
            }
            _ => self.decoded(py, map, payload),
        }
    }

    /// A value of another tag, through `cloacina._values.decode`.
    fn decoded<'py>(&self, py: Python<'py>, map: &Map<String, Value>, payload: &Value) -> PyResult<Bound<'py, PyAny>> {
        static DECODE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let header = PyDict::new(py);
        for (name, field) in map.iter().filter(|(name, _)| name.as_str() != "value") {
            let field = if name == MARKER { scalar_to_python(py, field)? } else { self.value(py, field)? };
            header.set_item(name, field)?;
        }
        let payload = self.value(py, payload)?;
        DECODE
            .import(py, "cloacina._values", "decode")?
            .call1((header, payload, self.reading.allow_pickle))
            .map_err(|failure| super::codec_failure(py, failure, "could not be read", |problem| self.refuse(problem)))
    }
}
