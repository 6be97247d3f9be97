"""Tables: pandas `DataFrame` and `Series`, polars `DataFrame` and pyarrow `Table`.

Every table is stored in the Arrow IPC stream format, so encoding it copies its columns'
memory instead of converting them to text. A pandas frame goes through pyarrow, which keeps its
dtypes (categorical, nullable, tz-aware datetimes) and its index; its column labels and index
names, which Arrow would turn into text, are stored beside it as values of their own. Nothing
here imports a library to write (only a process that imported one can hold its values);
reading imports the library the value needs.
"""

from __future__ import annotations

import importlib
import io
import sys
from typing import Any, Callable

from cloacina._native import SerializationError

_MARKER = "$cloacina"

_Header = dict[str, Any]


def _require(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise SerializationError(
            f"is {what}, which needs `{module}`, and it is not installed here; `pip install cloacina[dataframes]`"
        ) from error


def _arrow_stream(table: Any) -> bytes:
    pyarrow = sys.modules["pyarrow"]
    sink = pyarrow.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _arrow_table(payload: Any, what: str) -> Any:
    pyarrow = _require("pyarrow", what)
    return pyarrow.ipc.open_stream(payload).read_all()


def _labels(index: Any) -> dict[str, Any]:
    """A pandas index of column labels as values that round-trip exactly."""
    pandas = sys.modules["pandas"]
    if isinstance(index, pandas.RangeIndex):
        return {"range": (index.start, index.stop, index.step), "name": index.name}
    if isinstance(index, pandas.MultiIndex):
        return {"tuples": list(index), "names": list(index.names)}
    return {"labels": list(index), "dtype": str(index.dtype), "name": index.name}


def _index(labels: dict[str, Any]) -> Any:
    pandas = sys.modules["pandas"]
    if "range" in labels:
        return pandas.RangeIndex(*labels["range"], name=labels["name"])
    if "tuples" in labels:
        return pandas.MultiIndex.from_tuples(labels["tuples"], names=labels["names"])
    return pandas.Index(labels["labels"], dtype=labels["dtype"], name=labels["name"])


def _encode_pandas_frame(frame: Any, tag: str, header: _Header) -> tuple[_Header, Any]:
    _require("pyarrow", f"a pandas {tag.split('.')[-1]}")
    pyarrow = sys.modules["pyarrow"]
    header.update({_MARKER: tag, "version": 1, "columns": _labels(frame.columns), "index": list(frame.index.names)})
    # Arrow names columns with text: store positions, and the labels beside the table.
    renamed = frame.copy(deep=False)
    renamed.columns = [str(position) for position in range(len(frame.columns))]
    renamed.index = renamed.index.set_names([None] * frame.index.nlevels)
    table = pyarrow.Table.from_pandas(renamed)
    _refuse_nested_objects(frame, table, tag)
    return header, _arrow_stream(table)


def _refuse_nested_objects(frame: Any, table: Any, tag: str) -> None:
    """Refuses a column of Python lists, tuples or dicts: Arrow stores it as a nested column,
    which reads back changed (lists and tuples as NumPy arrays, dicts with every key any row of
    the column has, integers among missing values as floats)."""
    pyarrow = sys.modules["pyarrow"]
    for position, (label, dtype) in enumerate(zip(frame.columns, frame.dtypes)):
        if dtype.kind != "O":
            continue
        stored = table.schema.field(str(position)).type
        if pyarrow.types.is_nested(stored):
            if tag == "pandas.Series":
                where, column, whole = "a pandas Series whose values are", "series", "the series"
            else:
                where, column, whole = (
                    f"a pandas DataFrame whose column {label!r} holds",
                    f"frame[{label!r}]",
                    "the frame",
                )
            raise SerializationError(
                f"is {where} Python objects that Arrow stores as `{stored}`, which would read back changed "
                "(lists and tuples as NumPy arrays, dicts with every key of the column); store them as typed "
                f"columns, as JSON text (`{column}.map(json.dumps)`), or wrap {whole} in cloacina.Pickled"
            )


def _decode_pandas_frame(header: _Header, payload: Any) -> Any:
    frame = _arrow_table(payload, "a pandas value").to_pandas()
    frame.columns = _index(header["columns"])
    frame.index = frame.index.set_names(header["index"])
    return frame


def encode(value: Any) -> tuple[_Header, Any] | None:
    """The tagged form of a table, or None."""
    kind = type(value)
    module = kind.__module__.partition(".")[0]
    if module == "pandas":
        pandas = sys.modules["pandas"]
        if kind is pandas.DataFrame:
            return _encode_pandas_frame(value, "pandas.DataFrame", {})
        if kind is pandas.Series:
            return _encode_pandas_frame(value.to_frame(name=0), "pandas.Series", {"name": value.name})
    elif module == "polars" and kind is sys.modules["polars"].DataFrame:
        buffer = io.BytesIO()
        value.write_ipc_stream(buffer)
        return {_MARKER: "polars.DataFrame"}, buffer.getvalue()
    elif module == "pyarrow" and kind is sys.modules["pyarrow"].Table:
        return {_MARKER: "pyarrow.Table"}, _arrow_stream(value)
    return None


def _decode_series(header: _Header, payload: Any) -> Any:
    series = _decode_pandas_frame(header, payload).iloc[:, 0]
    series.name = header["name"]
    return series


def _decode_polars(header: _Header, payload: Any) -> Any:
    polars = _require("polars", "a polars DataFrame")
    return polars.read_ipc_stream(io.BytesIO(payload))


DECODERS: dict[str, Callable[[_Header, Any], Any]] = {
    "pandas.DataFrame": _decode_pandas_frame,
    "pandas.Series": _decode_series,
    "polars.DataFrame": _decode_polars,
    "pyarrow.Table": lambda header, payload: _arrow_table(payload, "a pyarrow Table"),
}
"""Decoders by tag."""
