//! `cloacina.Context`: the data a task reads and writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cloacina::Context;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::exceptions::{BindingResult, ErrorKind, error};
use crate::values::{Reading, context_from_python, context_key, from_python_into, raw, type_name};

/// An ordered mapping from `str` keys to values, passed along the tasks of an execution.
///
/// `insert` adds a key and refuses to overwrite one; `update` changes a key and refuses to
/// create one; `set` (or `context[key] = value`) does either. Values are stored when written
/// and read back as a new object of the same type and value on every read: JSON types, tuples,
/// sets, bytes, ints of any size, every float, dicts with any keys, datetimes, UUIDs, decimals,
/// enums, dataclasses, Pydantic models, NumPy arrays, pandas, polars and pyarrow tables, and
/// classes with a codec (`cloacina.register_codec`), nested at most 100 levels deep and not
/// containing themselves; anything else raises `SerializationError`.
///
/// Args:
///     data: Initial keys and values: a `dict`, another `Context`, or `None`.
///
/// Raises:
///     SerializationError: A value of `data` cannot be stored.
#[pyclass(module = "cloacina", name = "Context", mapping)]
#[derive(Debug, Default, Clone)]
pub struct PyContext {
    pub(crate) inner: Context,
    /// Set when the attempt this context belongs to is cancelled or times out.
    cancelled: Option<Arc<AtomicBool>>,
    /// How values are read back.
    reading: Reading,
}

impl PyContext {
    /// Wraps an engine context.
    pub fn wrap(inner: Context, reading: Reading) -> Self {
        Self { inner, cancelled: None, reading }
    }

    /// Wraps the input of an attempt whose cancellation sets `cancelled`; it reads values back
    /// as the executor running the attempt does.
    pub fn for_attempt(inner: Context, cancelled: Arc<AtomicBool>) -> Self {
        let reading = inner.attempt().map(|attempt| Reading::of_executor(&attempt.owner_id)).unwrap_or_default();
        Self { inner, cancelled: Some(cancelled), reading }
    }

    /// Builds an engine context from `None`, a `dict` or a `Context`.
    pub fn from_argument(value: Option<&Bound<'_, PyAny>>) -> PyResult<Context> {
        let Some(value) = value.filter(|value| !value.is_none()) else {
            return Ok(Context::new());
        };
        if let Ok(context) = value.cast::<PyContext>() {
            return Ok(context.borrow().inner.clone());
        }
        if let Ok(dict) = value.cast::<PyDict>() {
            return context_from_python("the context", dict);
        }
        Err(error(
            ErrorKind::Serialization,
            format!("a context must be a dict, a cloacina.Context or None, not `{}`", type_name(value)),
        ))
    }

    /// The Python value of a key.
    fn read<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyString>,
        value: &serde_json::Value,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.reading.value(py, &key.to_string_lossy(), value, self.inner.blobs())
    }

    fn missing(key: &Bound<'_, PyString>) -> PyErr {
        let shown = key.to_cow().map(|key| key.into_owned()).unwrap_or_else(|_| key.to_string_lossy().into_owned());
        error(ErrorKind::ContextKey, format!("context key `{shown}` does not exist"))
    }

    /// The value of a key; none for a key that is not valid Unicode (it cannot be present).
    fn value(&self, key: &Bound<'_, PyString>) -> Option<&serde_json::Value> {
        key.to_cow().ok().and_then(|key| self.inner.get(&key))
    }
}

#[pymethods]
impl PyContext {
    #[new]
    #[pyo3(signature = (data = None))]
    fn new(data: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(Self::wrap(Self::from_argument(data)?, Reading::default()))
    }

    /// True once the task's attempt has been cancelled (its execution was cancelled, it timed
    /// out, or its executor is stopping). A long-running `def` task should check it and
    /// return: a plain function cannot be interrupted from outside.
    #[getter]
    fn cancelled(&self) -> bool {
        self.cancelled.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst))
            || self.inner.attempt().is_some_and(|attempt| attempt.stop.is_stopped())
    }

    /// Adds a new key.
    ///
    /// Raises:
    ///     ContextKeyError: The key already exists (use `set` or `update` to change it).
    ///     SerializationError: The value is not JSON.
    #[pyo3(signature = (key, value))]
    fn insert(&mut self, key: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> BindingResult<()> {
        let key = context_key(key)?;
        let value = from_python_into(&key, value, self.inner.blobs_mut())?;
        Ok(self.inner.insert(key, value)?)
    }

    /// Sets a key, whether or not it exists.
    ///
    /// Raises:
    ///     SerializationError: The value is not JSON.
    #[pyo3(signature = (key, value))]
    fn set(&mut self, key: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = context_key(key)?;
        let value = from_python_into(&key, value, self.inner.blobs_mut())?;
        self.inner.set(key, value);
        Ok(())
    }

    /// Changes the value of an existing key.
    ///
    /// Raises:
    ///     ContextKeyError: The key does not exist (use `insert` or `set` to add it).
    ///     SerializationError: The value is not JSON.
    #[pyo3(signature = (key, value))]
    fn update(&mut self, key: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> BindingResult<()> {
        let key = context_key(key)?;
        let value = from_python_into(&key, value, self.inner.blobs_mut())?;
        self.inner.update(key, value)?;
        Ok(())
    }

    /// The value of a key, or `default` when it is absent.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyString>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.value(key) {
            Some(value) => self.read(py, key, value),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// Removes a key and returns its value, or `None` when it was absent.
    #[pyo3(signature = (key))]
    fn remove<'py>(&mut self, py: Python<'py>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        // A key that is not valid Unicode cannot be present.
        let Ok(name) = key.to_cow() else { return Ok(py.None().into_bound(py)) };
        let Some(value) = self.inner.get(&name) else { return Ok(py.None().into_bound(py)) };
        // Read before removing: a value that cannot be read here stays, and the error says why.
        let read = self.read(py, key, value)?;
        self.inner.remove(&name);
        Ok(read)
    }

    /// The keys, in insertion order.
    fn keys(&self) -> Vec<String> {
        self.inner.keys().cloned().collect()
    }

    /// The values, in key order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let values = PyList::empty(py);
        for (key, value) in self.inner.iter() {
            values.append(self.reading.value(py, key, value, self.inner.blobs())?)?;
        }
        Ok(values)
    }

    /// `(key, value)` pairs, in key order.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = PyList::empty(py);
        for (key, value) in self.inner.iter() {
            items.append(PyTuple::new(
                py,
                [key.into_pyobject(py)?.into_any(), self.reading.value(py, key, value, self.inner.blobs())?],
            )?)?;
        }
        Ok(items)
    }

    /// A `dict` copy of every key and value.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.reading.values(py, self.inner.as_map(), self.inner.blobs())
    }

    /// The stored JSON of a key's value, tags and all, as plain Python values (see the format
    /// in the documentation): for looking at a value that cannot be read back here.
    ///
    /// Raises:
    ///     ContextKeyError: The key does not exist.
    fn raw<'py>(&self, py: Python<'py>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        match self.value(key) {
            Some(value) => raw(py, value),
            None => Err(Self::missing(key)),
        }
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        match self.value(key) {
            Some(value) => self.read(py, key, value),
            None => Err(Self::missing(key)),
        }
    }

    fn __setitem__(&mut self, key: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.set(key, value)
    }

    fn __delitem__(&mut self, key: &Bound<'_, PyString>) -> PyResult<()> {
        match key.to_cow().ok().and_then(|text| self.inner.remove(&text)) {
            Some(_) => Ok(()),
            None => Err(Self::missing(key)),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        key.cast::<PyString>().is_ok_and(|key| self.value(key).is_some())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.inner.keys())?.try_iter().map(Bound::into_any)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(other) = other.cast::<PyContext>() {
            return other.borrow().inner.as_map() == self.inner.as_map();
        }
        if let Ok(other) = other.cast::<PyDict>() {
            return context_from_python("", other).is_ok_and(|context| context.as_map() == self.inner.as_map());
        }
        false
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // A value that cannot be read back here shows as its stored JSON.
        let shown = PyDict::new(py);
        for (key, value) in self.inner.iter() {
            let value = self.reading.value(py, key, value, self.inner.blobs()).or_else(|_| raw(py, value))?;
            shown.set_item(key, value)?;
        }
        Ok(format!("Context({})", shown.repr()?))
    }
}
