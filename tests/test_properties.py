"""Properties of what the context stores: any nested value of the supported types either comes
back exactly (through the database, and read from a fresh process) or is refused with
`SerializationError`; never a crash, never a stored value that cannot be read back."""

from __future__ import annotations

import math
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloacina import Context, SerializationError, UnifiedExecutor, task, workflow

TESTS = pathlib.Path(__file__).parent


def same(read: Any, written: Any) -> bool:
    """Exactly the same value: the same types (a bool is not an int), floats to the bit (-0.0
    is not 0.0, NaN is NaN), dict keys in the same order."""
    if type(read) is not type(written):
        return False
    if isinstance(written, float):
        if math.isnan(written):
            return math.isnan(read)
        return read == written and math.copysign(1, read) == math.copysign(1, written)
    if isinstance(written, list):
        return len(read) == len(written) and all(same(a, b) for a, b in zip(read, written))
    if isinstance(written, dict):
        return list(read) == list(written) and all(same(read[key], written[key]) for key in written)
    return read == written


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


lone_surrogates = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
texts = st.text(max_size=20) | lone_surrogates.map(lambda surrogate: f"a{surrogate}b")
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(texts, children, max_size=4)
        | st.dictionaries(st.integers(), children, min_size=1, max_size=2)
    ),
    max_leaves=12,
) | st.integers(min_value=95, max_value=105).map(nested)


@task(id="copy")
def copy(context):
    return {"copy": context["value"]}


READ_BACK = textwrap.dedent(
    """
    import pickle, sys
    from cloacina import UnifiedExecutor
    from test_properties import same

    stored = pickle.load(open(sys.argv[2], "rb"))
    with UnifiedExecutor(sys.argv[1], run_tasks=False) as reader:
        for execution_id, written in stored:
            context = reader.get_execution(execution_id).context
            assert same(context["value"], written) and same(context["copy"], written), execution_id
    print(len(stored), flush=True)
    """
)


@pytest.fixture(params=["sqlite_file", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'properties.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.mark.timeout(600)
def test_values_round_trip_exactly_or_are_refused(url, tmp_path, unique_name):
    workflow(name=unique_name, tasks=[copy])
    stored: list[tuple[str, Any]] = []
    refused = 0
    with UnifiedExecutor(url) as executor:

        @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(values)
        def round_trip(value: Any) -> None:
            nonlocal refused
            try:
                Context().set("value", value)
            except SerializationError:
                # Refused in a task too, and nothing is stored.
                with pytest.raises(SerializationError):
                    executor.execute(unique_name, {"value": value})
                refused += 1
                return
            result = executor.execute(unique_name, {"value": value})
            assert result.status == "Completed", result.error
            assert same(result.context["value"], value) and same(result.context["copy"], value)
            stored.append((result.execution_id, value))

        round_trip()
    assert stored and refused, (len(stored), refused)
    # A process of its own reads every stored value back.
    pickled = tmp_path / "stored.pickle"
    pickled.write_bytes(pickle.dumps(stored))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    read = subprocess.run(
        [sys.executable, "-c", READ_BACK, url, str(pickled)], capture_output=True, text=True, env=environment
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == str(len(stored))
