//! Names and text for messages: context keys, workflow names and task ids, type names.

use std::borrow::Cow;

use cloacina::WorkflowError;
use cloacina::limits::check_name;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::exceptions::{BindingError, ErrorKind, error};

/// The problem of a str that is not valid Unicode, for messages.
pub const LONE_SURROGATE: &str = "is not valid Unicode: it contains a lone surrogate";

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
pub fn escaped(value: &Bound<'_, PyAny>) -> String {
    value
        .call_method1("encode", ("utf-8", "backslashreplace"))
        .and_then(|bytes| bytes.extract::<Vec<u8>>())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
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
