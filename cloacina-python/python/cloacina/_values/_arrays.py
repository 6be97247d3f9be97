"""NumPy arrays and scalars.

An array is stored in NumPy's own `.npy` format (dtype, shape and C or Fortran order kept), so
encoding it is a copy of its memory; a scalar as its dtype and its bytes. Arrays of Python
objects are refused: their elements are arbitrary objects. Only a process that has already
imported NumPy can hold such values, so nothing here imports it to write; reading imports it.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Callable

from cloacina._native import SerializationError

_MARKER = "$cloacina"

_Header = dict[str, Any]


def _numpy_for_reading() -> Any:
    try:
        import numpy
    except ImportError as error:
        raise SerializationError(
            "is a NumPy value, and NumPy is not installed here; `pip install numpy` (or `cloacina[dataframes]`)"
        ) from error
    return numpy


def encode(value: Any) -> tuple[_Header, Any] | None:
    """The tagged form of a NumPy array or scalar, or None."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    if type(value) is numpy.ndarray:
        if value.dtype.hasobject:
            raise SerializationError(
                f"is a NumPy array of dtype `{value.dtype}`, whose elements are Python objects; convert it to a "
                "list or an array of a fixed-width dtype, or wrap it in cloacina.Pickled"
            )
        buffer = io.BytesIO()
        numpy.lib.format.write_array(buffer, value, allow_pickle=False)
        return {_MARKER: "numpy.ndarray"}, buffer.getvalue()
    if isinstance(value, numpy.generic) and not value.dtype.hasobject:
        descr = numpy.lib.format.dtype_to_descr(value.dtype)
        return {_MARKER: "numpy.scalar", "dtype": descr}, value.tobytes()
    return None


def _decode_array(header: _Header, payload: Any) -> Any:
    numpy = _numpy_for_reading()
    return numpy.lib.format.read_array(io.BytesIO(payload), allow_pickle=False)


def _decode_scalar(header: _Header, payload: Any) -> Any:
    numpy = _numpy_for_reading()
    dtype = numpy.lib.format.descr_to_dtype(header["dtype"])
    return numpy.frombuffer(payload, dtype=dtype)[0]


DECODERS: dict[str, Callable[[_Header, Any], Any]] = {
    "numpy.ndarray": _decode_array,
    "numpy.scalar": _decode_scalar,
}
"""Decoders by tag."""
