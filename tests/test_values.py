"""Rich values in the context: every kind round-trips exactly, in process, through the store,
and read by a fresh process; what cannot be stored or read back fails with a message that names
the key, the place, the type and the fix."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import math
import subprocess
import sys
import textwrap
import uuid
import zoneinfo
from pathlib import Path
from typing import Any

import numpy
import pandas
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from values_catalog import Color, Point, library_samples, same, standard_samples

import cloacina
from cloacina import Context, Pickled, SerializationError, UnifiedExecutor, task, workflow

TESTS = Path(__file__).parent

SAMPLES = {**standard_samples(), **library_samples()}


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_kind_round_trips_in_process(key):
    context = Context()
    context[key] = SAMPLES[key]
    assert same(context[key], SAMPLES[key]), context.raw(key)


def test_the_comparison_tells_near_misses_apart():
    near_misses = [
        ((1, 2), [1, 2]),
        (numpy.float32(1.5), numpy.float64(1.5)),
        (numpy.arange(4).reshape(2, 2), numpy.asfortranarray(numpy.arange(4).reshape(2, 2))),
        (
            datetime.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
            datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        ),
        (datetime.datetime(2026, 11, 1, 1, 30, fold=1), datetime.datetime(2026, 11, 1, 1, 30)),
        (decimal.Decimal("1.0"), decimal.Decimal("1.00")),
        (0.0, -0.0),
        (pandas.Series([1], dtype="int64"), pandas.Series([1], dtype="Int64")),
        ({1: "a", 2: "b"}, {2: "b", 1: "a"}),
    ]
    for left, right in near_misses:
        assert not same(left, right), (left, right)
        assert same(left, left)


@task(id="write_every_kind")
def write_every_kind(context):
    import values_catalog

    for key, value in {**values_catalog.standard_samples(), **values_catalog.library_samples()}.items():
        context[key] = value


@task(id="read_every_kind", dependencies=["write_every_kind"])
def read_every_kind(context):
    import values_catalog

    expected = {**values_catalog.standard_samples(), **values_catalog.library_samples()}
    context["differ"] = sorted(key for key, value in expected.items() if not values_catalog.same(context[key], value))


workflow(name="every_kind", tasks=[write_every_kind, read_every_kind])


def test_every_kind_flows_between_tasks_and_back_to_the_caller(executor):
    result = executor.execute("every_kind")
    result.raise_for_status()
    context = result.context
    assert context["differ"] == []
    assert sorted(key for key, value in SAMPLES.items() if not same(context[key], value)) == []


READ_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import values_catalog
    from cloacina import UnifiedExecutor

    expected = {**values_catalog.standard_samples(), **values_catalog.library_samples()}
    with UnifiedExecutor(sys.argv[1]) as executor:
        context = executor.get_execution(sys.argv[2]).context
        differ = [key for key, value in expected.items() if not values_catalog.same(context[key], value)]
        print(json.dumps(sorted(differ)))
    """
)


@pytest.fixture(params=["sqlite_file", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'values.db'}"
    return request.getfixturevalue("postgres_url")


def run_python(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, cwd=TESTS, timeout=120, check=False
    )


def test_a_fresh_process_reads_every_kind_back(shared_url):
    with UnifiedExecutor(shared_url) as executor:
        result = executor.execute("every_kind")
        result.raise_for_status()
    answer = run_python("-c", READ_IN_A_FRESH_PROCESS, shared_url, result.execution_id)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == []


# Nested combinations: leaves of every standard kind inside lists, tuples, dicts with any
# hashable keys, and sets.
hashable_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    st.binary(max_size=32),
    st.uuids(),
    st.dates(),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.times(timezones=st.none() | st.just(datetime.timezone(datetime.timedelta(hours=-7)))),
)
leaves = st.one_of(hashable_leaves, st.floats(), st.builds(bytearray, st.binary(max_size=16)), st.sampled_from(Color))
hashable_values = st.recursive(
    hashable_leaves, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
nested = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8, alphabet="ab$cloacin"), inner, max_size=3)
        | st.dictionaries(hashable_values, inner, max_size=3)
        | st.sets(hashable_leaves, max_size=3)
    ),
    max_leaves=12,
)


def exactly_equal(left: Any, right: Any) -> bool:
    """`same`, with sets compared by content (a set may hold NaN, which no set lookup finds) and
    dict keys compared exactly too."""
    if isinstance(left, (set, frozenset)):
        return (
            type(left) is type(right)
            and len(left) == len(right)
            and all(any(exactly_equal(item, other) for other in right) for item in left)
        )
    if isinstance(left, (list, tuple)) and type(left) is type(right):
        return len(left) == len(right) and all(exactly_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and type(right) is dict:
        return len(left) == len(right) and all(
            exactly_equal(a, b) and exactly_equal(left[a], right[b]) for a, b in zip(left, right)
        )
    return same(left, right)


@settings(max_examples=300, deadline=None)
@given(value=nested)
def test_nested_combinations_round_trip_in_process(value):
    context = Context({"value": value})
    assert exactly_equal(context["value"], value), context.raw("value")


@task(id="echo_value")
def echo_value(context):
    context["echoed"] = context["value"]


workflow(name="echo_value", tasks=[echo_value])


@settings(max_examples=40, deadline=None)
@given(value=nested)
def test_nested_combinations_round_trip_through_the_store(value):
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("echo_value", {"value": value})
    result.raise_for_status()
    assert exactly_equal(result.context["echoed"], value)


def test_an_unsupported_type_names_the_key_the_place_the_type_and_the_fix():
    context = Context({"kept": 1})
    with pytest.raises(SerializationError) as raised:
        context["payload"] = {"rows": [1, 2, 3, object()]}
    assert str(raised.value) == (
        'context key `payload`: the value at `payload["rows"][3]` has type `object`, which cloacina cannot store; '
        "convert it to a supported type, register a codec for it with cloacina.register_codec, or wrap it in "
        "cloacina.Pickled"
    )
    assert list(context) == ["kept"]


@dataclasses.dataclass
class Unregistered:
    value: int


def test_a_class_the_reader_cannot_find_is_named_with_the_fix(monkeypatch):
    context = Context({"thing": Unregistered(1)})
    stored = context.raw("thing")
    assert stored == {"$cloacina": "dataclass", "class": "test_values:Unregistered", "value": {"value": 1}}
    # As a process that never imported this module would see it.
    monkeypatch.delitem(sys.modules, "test_values")
    with pytest.raises(SerializationError) as raised:
        context["thing"]
    assert str(raised.value) == (
        "context key `thing`: the value is a dataclass of class `test_values:Unregistered`, which this process cannot "
        "find: cloacina never imports a module to read a value. Import `test_values` before reading it, or call "
        "`cloacina.register_type(Unregistered)`; `context.raw(key)` shows the stored value"
    )
    assert "test_values" not in sys.modules
    cloacina.register_type(Unregistered)
    assert context["thing"] == Unregistered(1)


def test_a_class_defined_in_a_function_is_read_back_once_registered_under_a_name():
    @dataclasses.dataclass
    class Local:
        value: int

    context = Context({"local": Local(2)})
    with pytest.raises(SerializationError, match=r"Local.*cannot find"):
        context["local"]
    cloacina.register_type(Local, name="tests.Local")
    context["named"] = Local(3)
    assert context.raw("named")["class"] == "tests.Local"
    assert context["named"] == Local(3)
    with pytest.raises(ValueError, match="already registered"):
        cloacina.register_type(Point, name="tests.Local")
    with pytest.raises(TypeError, match="register_codec"):
        cloacina.register_type(Context)


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (other.cents, other.currency)


class Euros(Money):
    def __init__(self, cents: int) -> None:
        super().__init__(cents, "EUR")


def test_a_codec_stores_the_users_type_and_its_subclasses():
    versions = []

    def decode(stored, version):
        versions.append(version)
        return Money(stored[0], stored[1])

    cloacina.register_codec(
        Money, tag="tests.money", encode=lambda money: (money.cents, money.currency), decode=decode, version=2
    )
    context = Context({"price": Money(1999, "USD"), "nested": [Euros(5)]})
    assert context.raw("price") == {
        "$cloacina": "codec",
        "tag": "tests.money",
        "version": 2,
        "value": {"$cloacina": "tuple", "value": [1999, "USD"]},
    }
    assert context["price"] == Money(1999, "USD")
    assert context["nested"] == [Money(5, "EUR")]
    assert versions == [2, 2]
    with pytest.raises(ValueError, match="already registered"):
        cloacina.register_codec(Euros, tag="tests.money", encode=repr, decode=repr)


def test_a_failing_codec_is_a_serialization_error_naming_the_key():
    class Broken:
        pass

    def refuse(value):
        raise ValueError("no")

    cloacina.register_codec(Broken, tag="tests.broken", encode=refuse, decode=lambda stored, version: None)
    with pytest.raises(SerializationError) as raised:
        Context({"broken": [Broken()]})
    assert str(raised.value) == "context key `broken`: the value at `broken[0]` could not be stored: ValueError: no"
    assert isinstance(raised.value.__cause__, ValueError)


class Opaque:
    def __init__(self, secret: str) -> None:
        self.secret = secret


@task(id="pickle_it")
def pickle_it(context):
    context["opaque"] = Pickled(Opaque("kept"))


@task(id="unpickle_it", dependencies=["pickle_it"])
def unpickle_it(context):
    context["secret"] = context["opaque"].secret


workflow(name="pickles", tasks=[pickle_it, unpickle_it])


def test_a_value_that_cannot_be_read_here_is_not_removed():
    context = Context({"opaque": Pickled(Opaque("kept"))})
    with pytest.raises(SerializationError, match="allow_pickle"):
        context.remove("opaque")
    assert "opaque" in context


def test_pickles_are_read_only_by_an_executor_that_allows_them(database_url):
    with UnifiedExecutor(database_url) as executor:
        refused = executor.execute("pickles")
    assert refused.status == "Failed"
    failed = next(result for result in refused.task_results if result.task_id == "unpickle_it")
    assert failed.attempts == 1
    assert (
        "SerializationError: context key `opaque`: the value is a pickle, and this executor does not read pickles"
        in (failed.error or "")
    )
    assert "create the executor with allow_pickle=True" in (failed.error or "")
    with UnifiedExecutor(database_url, allow_pickle=True) as executor:
        result = executor.execute("pickles")
        result.raise_for_status()
        assert result.context["secret"] == "kept"
        assert result.context["opaque"].secret == "kept"


@task(id="return_unsupported", retry=cloacina.RetryPolicy(max_attempts=3, initial_delay=0.01))
def return_unsupported(context):
    return {"fine": 1, "handle": open}


workflow(name="unsupported_output", tasks=[return_unsupported])


def test_a_task_that_returns_an_unsupported_value_fails_without_retries(executor):
    result = executor.execute("unsupported_output")
    assert result.status == "Failed"
    (failed,) = result.task_results
    assert failed.attempts == 1
    assert "context key `handle`: the value has type `builtin_function_or_method`" in (failed.error or "")
    assert "fine" not in result.context


def test_large_bytes_over_the_maximum_are_refused_and_nothing_is_stored():
    context = Context()
    with pytest.raises(SerializationError, match=r"context key `huge`: the value is 536870913 bytes long"):
        context["huge"] = bytes(512 * 1024 * 1024 + 1)
    assert "huge" not in context


def test_numpy_object_arrays_are_refused_with_the_way_out():
    with pytest.raises(
        SerializationError, match=r"at `arrays\[0\]` is a NumPy array of dtype `object`.*cloacina\.Pickled"
    ):
        Context({"arrays": [numpy.array([object()])]})


def test_a_user_dict_with_the_marker_key_is_stored_escaped_not_read_as_a_tag():
    value = {"$cloacina": "datetime", "value": "2026-01-01"}
    context = Context({"lookalike": value})
    assert context["lookalike"] == value
    assert context.raw("lookalike") == {"$cloacina": "dict", "value": value}


PLAIN_WITHOUT_OPTIONAL_LIBRARIES = textwrap.dedent(
    """
    import sys
    for name in ("numpy", "pandas", "pyarrow", "polars", "pydantic"):
        sys.modules[name] = None  # an import of it fails, as if it were not installed
    import cloacina
    from cloacina import UnifiedExecutor, task, workflow

    @task(id="double")
    def double(context):
        context["doubled"] = [x * 2 for x in context["numbers"]]

    workflow(name="plain", tasks=[double])
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("plain", {"numbers": [1, 2, 3], "when": (1, 2)})
    result.raise_for_status()
    print(result.context["doubled"], result.context["when"])
    loaded = sorted(name for name in ("numpy", "pandas", "pyarrow", "polars", "pydantic") if sys.modules.get(name))
    print(loaded)
    """
)


def test_cloacina_needs_none_of_the_optional_libraries_for_plain_values():
    answer = run_python("-c", PLAIN_WITHOUT_OPTIONAL_LIBRARIES)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.splitlines() == ["[2, 4, 6] (1, 2)", "[]"]


def test_floats_keep_their_exact_value():
    context = Context({"values": [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]})
    assert context.raw("values")[:3] == [
        {"$cloacina": "float", "value": "nan"},
        {"$cloacina": "float", "value": "inf"},
        {"$cloacina": "float", "value": "-inf"},
    ]
    assert same(context["values"], [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308])


def test_an_int_enum_keeps_its_class_and_a_big_int_its_digits():
    from values_catalog import Level

    context = Context({"level": Level.HIGH, "big": -(10**40)})
    assert type(context["level"]) is Level
    assert context.raw("big") == {"$cloacina": "int", "value": "-" + "1" + "0" * 40}


def test_pydantic_models_round_trip_through_json_mode():
    from values_catalog import Customer

    customer = Customer(
        name="Grace", joined=datetime.datetime(2026, 5, 1), balance=decimal.Decimal("0.10"), tags=("a",)
    )
    context = Context({"customer": customer})
    assert context.raw("customer")["value"]["joined"] == "2026-05-01T00:00:00"
    assert context["customer"] == customer
    assert type(context["customer"].tags) is tuple


def test_uuid_key_and_datetime_key_dicts_round_trip():
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    value = {uuid.UUID(int=5): "five", when: "new year"}
    assert Context({"keys": value})["keys"] == value


# The stored forms a Rust task reads and writes with `Context::get_as` and `insert_as`: the same
# literals are pinned by the unit tests of `cloacina/src/values.rs`.
SHARED_FORMS = [
    (
        datetime.datetime(2026, 7, 14, 12, 0, 0, 250000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        {"$cloacina": "datetime", "value": "2026-07-14T12:00:00.250000+02:00"},
    ),
    (
        datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.timezone.utc),
        {"$cloacina": "datetime", "value": "2026-12-03T15:00:00+00:00"},
    ),
    (datetime.datetime(2026, 1, 2, 3, 4, 5, 6), {"$cloacina": "datetime", "value": "2026-01-02T03:04:05.000006"}),
    (datetime.date(2026, 1, 2), {"$cloacina": "date", "value": "2026-01-02"}),
    (datetime.time(3, 4, 5, 6), {"$cloacina": "time", "value": "03:04:05.000006"}),
    (datetime.timedelta(microseconds=-1), {"$cloacina": "timedelta", "value": [-1, 86399, 999999]}),
    (
        uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e"),
        {"$cloacina": "uuid", "value": "a8098c1a-f86e-11da-bd1a-00112444be1e"},
    ),
    (decimal.Decimal("1234.5000"), {"$cloacina": "decimal", "value": "1234.5000"}),
    (b"\x00\xff\x07", {"$cloacina": "bytes", "value": "AP8H"}),
]


@pytest.mark.parametrize(("value", "stored"), SHARED_FORMS)
def test_values_a_rust_task_shares_are_stored_in_its_form(value, stored):
    context = Context({"shared": value})
    assert context.raw("shared") == stored


# Large values: binary data past 64 KiB is stored beside the JSON, once per execution.
LARGE = bytes(range(256)) * 4096  # 1 MiB


@task(id="write_large")
def write_large(context):
    context["blob"] = LARGE
    context["same_again"] = [LARGE]
    context["array"] = numpy.arange(200_000, dtype=numpy.float64)


@task(id="read_large", dependencies=["write_large"])
def read_large(context):
    same_array = bool((context["array"] == numpy.arange(200_000)).all())
    context["checked"] = [context["blob"] == LARGE, context["same_again"] == [LARGE], same_array]
    context["initial_seen"] = context["initial"] == LARGE[::-1]


workflow(name="large_values", tasks=[write_large, read_large])


def stored_blob_sizes(url: str, execution_id: str) -> list[int]:
    """The sizes of the binary data stored for an execution, read with the database's own client."""
    query = "SELECT length(data) FROM execution_blobs WHERE execution_id = ? ORDER BY 1"
    if url.startswith("sqlite"):
        import contextlib
        import sqlite3

        # A sqlite3 connection's own `with` ends a transaction but leaves it open.
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return [size for (size,) in connection.execute(query, (execution_id,))]
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(query.replace("?", "%s"), (execution_id,)).fetchall()
        return [size for (size,) in rows]


READ_LARGE_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy
    from cloacina import UnifiedExecutor

    large = bytes(range(256)) * 4096
    with UnifiedExecutor(sys.argv[1], run_tasks=False) as executor:
        context = executor.get_execution(sys.argv[2]).context
        print(context["blob"] == large, context["initial"] == large[::-1], context["array"].sum())
    """
)


def test_large_values_are_stored_beside_the_json_once_per_execution(shared_url):
    import hashlib

    with UnifiedExecutor(shared_url) as executor:
        result = executor.execute("large_values", {"initial": LARGE[::-1]})
        result.raise_for_status()
        assert result.context["checked"] == [True, True, True]
        assert result.context["initial_seen"] is True
        assert result.context.raw("blob") == {
            "$cloacina": "bytes",
            "blob": hashlib.sha256(LARGE).hexdigest(),
            "size": len(LARGE),
        }
        assert result.context.raw("same_again")[0] == result.context.raw("blob")
    # The 1 MiB value written twice is stored once; the initial value and the array's data beside it.
    npy_size = 128 + 200_000 * 8  # NumPy's .npy header, then the data
    assert stored_blob_sizes(shared_url, result.execution_id) == sorted([len(LARGE), len(LARGE), npy_size])
    answer = run_python("-c", READ_LARGE_IN_A_FRESH_PROCESS, shared_url, result.execution_id)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["True", "True", str(float(sum(range(200_000))))]


def test_small_binary_values_stay_in_the_json():
    context = Context({"small": bytes(64 * 1024)})
    assert "value" in context.raw("small")
    context["large"] = bytes(64 * 1024 + 1)
    assert context.raw("large")["size"] == 64 * 1024 + 1
    assert context["large"] == bytes(64 * 1024 + 1)


def test_an_array_read_back_is_the_readers_to_change():
    context = Context({"array": numpy.arange(6, dtype=numpy.int32).reshape(2, 3)})
    array = context["array"]
    array[0, 0] = 99
    assert array.flags.writeable and array.flags.owndata is False
    assert context["array"][0, 0] == 0


@pytest.mark.parametrize(
    ("cells", "arrow_type"),
    [
        ([{"a": 1}, {"b": 2}], "struct<a: int64, b: int64>"),
        ([[1, 2], [3]], "list<item: int64>"),
        ([(1, 2), (3, 4)], "list<item: int64>"),
    ],
)
def test_a_frame_column_arrow_would_change_is_refused_and_nothing_is_stored(cells, arrow_type):
    context = Context({"kept": 1})
    with pytest.raises(SerializationError) as raised:
        context["frame"] = pandas.DataFrame({"tags": cells, "n": range(len(cells))})
    assert str(raised.value) == (
        f"context key `frame`: the value is a pandas DataFrame whose column 'tags' holds Python objects that Arrow "
        f"stores as `{arrow_type}`, which would read back changed (lists and tuples as NumPy arrays, dicts with "
        "every key of the column); store them as typed columns, as JSON text (`frame['tags'].map(json.dumps)`), "
        "or wrap the frame in cloacina.Pickled"
    )
    with pytest.raises(SerializationError, match="a pandas Series whose values are Python objects"):
        context["series"] = pandas.Series(cells)
    assert list(context) == ["kept"]
    # Columns of objects Arrow stores flat read back as they were.
    flat = pandas.DataFrame({"labels": ["a", None], "amounts": [decimal.Decimal("1.5"), None]})
    context["flat"] = flat
    assert context["flat"].equals(flat)
