//! Values between Python and JSON.
//!
//! Context values are JSON: `None`, `bool`, `int`, `float`, `str`, `list`/`tuple` and `dict`
//! with `str` keys, nested up to [`MAX_NESTING_DEPTH`] levels. Anything else (another type, a
//! str with a lone surrogate, a value that contains itself, deeper nesting) is refused with a
//! `SerializationError` naming the context key, the place inside the value, and the problem.
//! The conversion never recurses deeper than the limit, so no value can exhaust a thread's stack.

use std::borrow::Cow;

use cloacina::WorkflowError;
use cloacina::limits::{MAX_NESTING_DEPTH, check_name};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::exceptions::{BindingError, ErrorKind, error};

/// The problem of a str that is not valid Unicode, for messages.
const LONE_SURROGATE: &str = "is not valid Unicode: it contains a lone surrogate";

/// The JSON value as a Python object.
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => integer.into_pyobject(py)?.into_any(),
            (None, Some(integer)) => integer.into_pyobject(py)?.into_any(),
            _ => number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(text) => PyString::new(py, text).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => object_to_python(py, map)?.into_any(),
    })
}

/// A JSON object as a Python `dict`.
pub fn object_to_python<'py>(py: Python<'py>, map: &Map<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in map {
        dict.set_item(key, to_python(py, value)?)?;
    }
    Ok(dict)
}

/// The Python value of context key `key` as JSON.
pub fn from_python(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    convert(value, &mut Path { key, steps: Vec::new(), containers: Vec::new() })
}

/// A Python `dict` with `str` keys as a JSON object; `what` names the dict in errors.
pub fn dict_from_python(what: &str, dict: &Bound<'_, PyDict>) -> PyResult<Map<String, Value>> {
    let mut map = Map::with_capacity(dict.len());
    for (key, value) in dict.iter() {
        let Ok(key) = key.cast::<PyString>() else {
            return Err(error(
                ErrorKind::Serialization,
                format!("{what} has a key of type `{}`; keys must be str", type_name(&key)),
            ));
        };
        let key = context_key(key)?.into_owned();
        let value = from_python(&key, &value)?;
        map.insert(key, value);
    }
    Ok(map)
}

/// A context key as text; a `SerializationError` if it holds a lone surrogate (it could not be
/// stored).
pub fn context_key<'a>(key: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    key.to_cow().map_err(|_| {
        error(ErrorKind::Serialization, format!("a context key {LONE_SURROGATE} (`{}`)", escaped(key.as_any())))
    })
}

/// A workflow name or task id as text, checked like the engine checks it (see
/// `cloacina::limits::check_name`); `what` is `"workflow name"` or `"task id"`.
pub fn name_from_python(what: &str, value: &Bound<'_, PyAny>) -> Result<String, BindingError> {
    let Ok(text) = value.cast::<PyString>() else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "a {what} must be a str, not `{}`",
            type_name(value)
        ))
        .into());
    };
    let (name, problem) = match text.to_cow() {
        Ok(name) => {
            let problem = check_name(&name).err();
            (name.into_owned(), problem)
        }
        Err(_) => (escaped(value), Some(LONE_SURROGATE.to_owned())),
    };
    match problem {
        None => Ok(name),
        Some(problem) if what == "workflow name" => Err(WorkflowError::InvalidName { name, problem }.into()),
        Some(problem) => Err(WorkflowError::InvalidTaskId { task: name, problem }.into()),
    }
}

/// A str with lone surrogates shown as `\udc80` escapes.
fn escaped(value: &Bound<'_, PyAny>) -> String {
    value
        .call_method1("encode", ("utf-8", "backslashreplace"))
        .and_then(|bytes| bytes.extract::<Vec<u8>>())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Where in a context value the conversion is, for messages (`key[2]['name']`), and the
/// containers it is inside of (to refuse a value that contains itself).
struct Path<'a> {
    key: &'a str,
    steps: Vec<String>,
    /// The addresses of the lists, tuples and dicts being converted, outermost first.
    containers: Vec<usize>,
}

impl Path<'_> {
    fn describe(&self) -> String {
        format!("{}{}", self.key, self.steps.concat())
    }

    fn refuse(&self, problem: String) -> PyErr {
        let place = if self.steps.is_empty() { String::new() } else { format!(" at `{}`", self.describe()) };
        error(ErrorKind::Serialization, format!("context key `{}`: the value{place} {problem}", self.key))
    }

    /// Enters a list, tuple or dict: refused past the depth limit, or if it is one of the
    /// containers it is inside of.
    fn enter(&mut self, container: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.containers.len() >= MAX_NESTING_DEPTH {
            return Err(self.refuse(format!(
                "nests deeper than {MAX_NESTING_DEPTH} levels of lists and dicts (the limit), which cannot be \
                 stored; flatten it"
            )));
        }
        let address = container.as_ptr() as usize;
        if self.containers.contains(&address) {
            return Err(self.refuse("contains itself (a reference cycle), which cannot be stored".to_owned()));
        }
        self.containers.push(address);
        Ok(())
    }

    fn leave(&mut self) {
        self.containers.pop();
    }
}

fn convert(value: &Bound<'_, PyAny>, path: &mut Path<'_>) -> PyResult<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(integer) = value.extract::<i64>() {
            return Ok(Value::from(integer));
        }
        if let Ok(integer) = value.extract::<u64>() {
            return Ok(Value::from(integer));
        }
        return Err(path.refuse("is an int outside the 64-bit range JSON numbers are stored in".to_owned()));
    }
    if let Ok(float) = value.cast::<PyFloat>() {
        let float = float.value();
        return Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| path.refuse(format!("is the float `{float}`, which JSON cannot represent")));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return match text.to_cow() {
            Ok(text) => Ok(Value::String(text.into_owned())),
            Err(_) => Err(path.refuse(format!(
                "is a str with a lone surrogate (`{}`), which is not valid Unicode and cannot be stored",
                escaped(value)
            ))),
        };
    }
    if let Ok(list) = value.cast::<PyList>() {
        path.enter(value)?;
        let converted = sequence(list.iter(), list.len(), path);
        path.leave();
        return converted;
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        path.enter(value)?;
        let converted = sequence(tuple.iter(), tuple.len(), path);
        path.leave();
        return converted;
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        path.enter(value)?;
        let converted = object(dict, path);
        path.leave();
        return converted;
    }
    Err(path.refuse(format!(
        "has type `{}`, which is not JSON; use None, bool, int, float, str, list, tuple or dict",
        type_name(value)
    )))
}

fn object(dict: &Bound<'_, PyDict>, path: &mut Path<'_>) -> PyResult<Value> {
    let mut map = Map::with_capacity(dict.len());
    for (key, item) in dict.iter() {
        let Ok(key) = key.cast::<PyString>() else {
            return Err(
                path.refuse(format!("is a dict with a key of type `{}`; dict keys must be str", type_name(&key)))
            );
        };
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
    Ok(Value::Object(map))
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

/// Text as Python's `repr` shows it (`'etl'`, `"it's"`), for the classes' reprs.
pub fn quoted(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

/// The qualified name of an object's type: `datetime.datetime`, `int`.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    qualified_name(&value.get_type())
}

/// The qualified name of a class; built-ins without their module.
pub fn qualified_name(class: &Bound<'_, pyo3::types::PyType>) -> String {
    let name = class.qualname().map(|name| name.to_string()).unwrap_or_else(|_| "object".to_owned());
    match class.module().map(|module| module.to_string()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}
