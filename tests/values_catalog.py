"""Sample values of every kind a context can hold, and an exact comparison of two values.

Shared by tests/test_values.py and the fresh process it starts to read values back.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
import zoneinfo
from typing import Any


class Color(enum.Enum):
    RED = "red"
    BLUE = ("blue", 2)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Permission(enum.Flag):
    READ = 1
    WRITE = 2


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    placed: datetime.datetime
    amount: decimal.Decimal
    lines: list[Point]
    tags: frozenset[str] = frozenset()
    note: str = dataclasses.field(default="", init=False)


try:
    import pydantic

    class Customer(pydantic.BaseModel):
        name: str
        joined: datetime.datetime
        balance: decimal.Decimal
        tags: tuple[str, ...] = ()

except ImportError:  # pragma: no cover - the test environment installs pydantic
    Customer = None  # type: ignore[assignment,misc]


def standard_samples() -> dict[str, Any]:
    """Values of the language and its standard library."""
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    new_york = zoneinfo.ZoneInfo("America/New_York")
    order = Order(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        placed=datetime.datetime(2026, 3, 29, 2, 30, tzinfo=paris),
        amount=decimal.Decimal("1234.5000"),
        lines=[Point(1.5, -2.0), Point(0.0, 3.25)],
        tags=frozenset({"rush"}),
    )
    order.note = "set after init"
    return {
        "big_int": 2**200,
        "negative_big_int": -(3**100),
        "nan": math.nan,
        "infinity": math.inf,
        "negative_infinity": -math.inf,
        "negative_zero": -0.0,
        "tuple": (1, "two", (3.0, None)),
        "empty_tuple": (),
        "set": {1, 2, 3},
        "frozenset": frozenset({"a", "b"}),
        "int_keys": {1: "one", 2: "two"},
        "tuple_keys": {(1, 2): "pair", ("a",): [1]},
        "mixed_keys": {"text": 1, 2: "int", None: 3.5, frozenset({1}): "set"},
        "marker_key": {"$cloacina": "not a tag", "other": {"$cloacina": 1}},
        "bytes": b"\x00\xffbinary",
        "bytearray": bytearray(b"mutable"),
        "naive_datetime": datetime.datetime(2026, 12, 3, 15, 0, 0, 123456),
        "utc_datetime": datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.timezone.utc),
        "offset_datetime": datetime.datetime(
            2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-3))
        ),
        "zone_datetime": datetime.datetime(2026, 7, 14, 12, 0, tzinfo=paris),
        "fold_datetime": datetime.datetime(2026, 11, 1, 1, 30, tzinfo=new_york, fold=1),
        "skipped_datetime": datetime.datetime(2026, 3, 8, 2, 30, tzinfo=new_york),
        "date": datetime.date(1999, 12, 31),
        "time": datetime.time(23, 59, 59, 999999),
        "aware_time": datetime.time(8, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
        "timedelta": datetime.timedelta(days=-3, seconds=7, microseconds=11),
        "largest_timedelta": datetime.timedelta.max,
        "uuid": uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e"),
        "decimal": decimal.Decimal("3.14159265358979323846264338327950288419716939937510"),
        "decimal_exponent": decimal.Decimal("1.20E+5"),
        "decimal_nan": decimal.Decimal("NaN"),
        "decimal_infinity": decimal.Decimal("-Infinity"),
        "enum": Color.BLUE,
        "int_enum": Level.HIGH,
        "flag": Permission.READ | Permission.WRITE,
        "dataclass": order,
        "nested": {"when": [datetime.date(2020, 1, 1), {"ids": (uuid.UUID(int=1),)}]},
    }


def library_samples() -> dict[str, Any]:
    """Values of NumPy, pandas, polars, pyarrow and Pydantic."""
    import numpy
    import pandas
    import polars
    import pyarrow

    frame = pandas.DataFrame(
        {
            "ints": [1, 2, 3],
            "floats": [0.5, math.nan, -1.0],
            "nullable": pandas.array([1, None, 3], dtype="Int64"),
            "category": pandas.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
            "when": pandas.to_datetime(["2026-01-01", "2026-06-01", "2026-12-31"]).tz_localize("Europe/Paris"),
            "text": ["x", "y", None],
        },
        index=pandas.Index([10, 20, 30], name="row"),
    )
    samples: dict[str, Any] = {
        "array_float": numpy.arange(12, dtype=numpy.float64).reshape(3, 4),
        "array_fortran": numpy.asfortranarray(numpy.arange(6, dtype=numpy.int16).reshape(2, 3)),
        "array_bool": numpy.array([True, False]),
        "array_complex": numpy.array([1 + 2j, -0.5j], dtype=numpy.complex64),
        "array_datetime": numpy.array(["2026-01-01", "NaT"], dtype="datetime64[ms]"),
        "array_timedelta": numpy.array([1, -2], dtype="timedelta64[s]"),
        "array_text": numpy.array(["ab", "cde"], dtype="<U3"),
        "array_bytes": numpy.array([b"ab"], dtype="S2"),
        "array_empty": numpy.zeros((0, 3), dtype=numpy.uint8),
        "scalar_float": numpy.float64(2.5),
        "scalar_float32": numpy.float32(1.25),
        "scalar_int": numpy.int8(-7),
        "scalar_uint": numpy.uint64(2**64 - 1),
        "scalar_bool": numpy.bool_(True),
        "scalar_datetime": numpy.datetime64("2026-12-03T10:00", "m"),
        "scalar_text": numpy.str_("text"),
        "frame": frame,
        "frame_column_labels": pandas.DataFrame({1: [1.0], (2, "b"): ["x"], None: [True]}),
        "frame_multi_columns": pandas.DataFrame(
            [[1, 2]], columns=pandas.MultiIndex.from_tuples([("a", 1), ("a", 2)], names=["letter", 7])
        ),
        "frame_empty": pandas.DataFrame(),
        "series": pandas.Series([1.5, 2.5], index=pandas.Index(["a", "b"], name=3), name=("tuple", "name")),
        "polars": polars.DataFrame({"a": [1, 2], "b": ["x", None], "c": [[1], []]}),
        "arrow": pyarrow.table({"a": [1, 2], "b": ["x", "y"]}).replace_schema_metadata({"source": "test"}),
    }
    if Customer is not None:
        samples["pydantic"] = Customer(
            name="Ada",
            joined=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
            balance=decimal.Decimal("10.50"),
            tags=("gold", "early"),
        )
    return samples


def same(left: Any, right: Any) -> bool:
    """True when two values are of the same type and equal, exactly (NaN equals NaN, a
    datetime's zone and fold count, an array's dtype and order count)."""
    if type(left) is not type(right):
        return False
    module = type(left).__module__.partition(".")[0]
    if module == "numpy":
        return _same_numpy(left, right)
    if module == "pandas":
        return _same_pandas(left, right)
    if module == "polars":
        return bool(left.equals(right, null_equal=True)) and left.schema == right.schema
    if module == "pyarrow":
        return bool(left.equals(right, check_metadata=True))
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1, left) == math.copysign(1, right)
        )
    if isinstance(left, decimal.Decimal):
        return str(left) == str(right)
    if isinstance(left, (datetime.datetime, datetime.time)):
        return (
            left.isoformat() == right.isoformat()
            and left.fold == right.fold
            and _zone_key(left.tzinfo) == _zone_key(right.tzinfo)
        )
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[key], right[key]) for key in left)
    if dataclasses.is_dataclass(left):
        return all(same(getattr(left, field.name), getattr(right, field.name)) for field in dataclasses.fields(left))
    if hasattr(left, "model_dump"):
        return same(left.model_dump(), right.model_dump())
    return bool(left == right)


def _zone_key(tzinfo: Any) -> Any:
    return getattr(tzinfo, "key", None) if tzinfo is not None else None


def _same_numpy(left: Any, right: Any) -> bool:
    import numpy

    if left.dtype != right.dtype:
        return False
    if isinstance(left, numpy.ndarray):
        same_layout = left.shape == right.shape and left.flags.f_contiguous == right.flags.f_contiguous
        equal_nan = left.dtype.kind in "fcmM"
        return same_layout and bool(numpy.array_equal(left, right, equal_nan=equal_nan))
    return left.tobytes() == right.tobytes()


def _same_pandas(left: Any, right: Any) -> bool:
    import pandas.testing

    try:
        if hasattr(left, "columns"):
            pandas.testing.assert_frame_equal(
                left, right, check_exact=True, check_index_type=True, check_column_type=True
            )
        else:
            pandas.testing.assert_series_equal(left, right, check_exact=True, check_index_type=True)
    except AssertionError:
        return False
    return True


__all__ = ["Color", "Order", "Point", "library_samples", "same", "standard_samples"]
