//! Context values between Python and their stored form (the format is described in
//! `docs/content/reference/value-format.md`): plain JSON stays JSON, every other value is a tagged JSON object.

mod decode;
mod encode;
mod names;

pub use decode::{Reading, raw};
pub use encode::{context_from_python, from_python, from_python_into};
pub use names::{context_key, name_from_python, qualified_name, quoted, type_name};

use pyo3::prelude::*;

use crate::exceptions::is_serialization_error;

/// A codec's exception as the `SerializationError` of a value: `refuse` makes it from the
/// exception's message when it is a `SerializationError` (whose messages say what the value
/// is), and from its type and message after `doing` (`"could not be stored"`) otherwise.
fn codec_failure(py: Python<'_>, failure: PyErr, doing: &str, refuse: impl FnOnce(String) -> PyErr) -> PyErr {
    let exception = failure.value(py);
    let message = exception.str().map(|text| text.to_string()).unwrap_or_default();
    let refused = if is_serialization_error(py, &failure) {
        refuse(message)
    } else {
        refuse(format!("{doing}: {}: {message}", type_name(exception.as_any())))
    };
    refused.set_cause(py, Some(failure));
    refused
}
