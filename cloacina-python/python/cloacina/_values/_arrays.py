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
        return {_MARKER: "numpy.ndarray"}, _npy(numpy, value)
    if isinstance(value, numpy.generic) and not value.dtype.hasobject:
        descr = numpy.lib.format.dtype_to_descr(value.dtype)
        return {_MARKER: "numpy.scalar", "dtype": descr}, value.tobytes()
    return None


def _npy(numpy: Any, array: Any) -> bytearray:
    """The array in NumPy's `.npy` format: its header, then its memory, copied once into a
    `bytearray` (which the reader's array can then use as it is)."""
    stream = io.BytesIO()
    described = numpy.lib.format.header_data_from_array_1_0(array)
    numpy.lib.format.write_array_header_2_0(stream, described)
    header = stream.getvalue()
    order = "F" if described["fortran_order"] else "C"
    flat = numpy.ascontiguousarray(array) if order == "C" else array
    out = bytearray(len(header) + array.nbytes)
    out[: len(header)] = header
    if array.nbytes:
        target = numpy.frombuffer(out, dtype=numpy.uint8, offset=len(header))
        numpy.copyto(target, flat.reshape(-1, order=order).view(numpy.uint8))
    return out


def _decode_array(header: _Header, payload: Any) -> Any:
    """An array read from `.npy` data: one copy into memory the array owns and may write to."""
    numpy = _numpy_for_reading()
    stream = io.BytesIO(payload)
    version = numpy.lib.format.read_magic(stream)
    read_header = (
        numpy.lib.format.read_array_header_1_0 if version == (1, 0) else numpy.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read_header(stream)
    count = 1
    for length in shape:
        count *= length
    # Stored as a bytearray, read back as one: the array uses its memory, writable, uncopied.
    data = payload if isinstance(payload, bytearray) else bytearray(payload)
    array = numpy.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C")


def _decode_scalar(header: _Header, payload: Any) -> Any:
    numpy = _numpy_for_reading()
    dtype = numpy.lib.format.descr_to_dtype(header["dtype"])
    return numpy.frombuffer(payload, dtype=dtype)[0]


DECODERS: dict[str, Callable[[_Header, Any], Any]] = {
    "numpy.ndarray": _decode_array,
    "numpy.scalar": _decode_scalar,
}
"""Decoders by tag."""
