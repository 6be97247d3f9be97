"""Rust tasks exported by an extension module (`cloacina_test_tasks`, built from
`tests/rust_tasks/` by `make test-python`) in Python workflows: values crossing both ways, a
Rust task's error and panic, its retries, timeout and cancellation, and a module built for
another task ABI refused at import."""

from __future__ import annotations

import datetime
import decimal
import importlib
import shutil
import sys
import time
import uuid
from pathlib import Path

import pyarrow
import pytest

import cloacina

rust_tasks = pytest.importorskip("cloacina_test_tasks", reason="build it with `make python-extensions`")
# maturin installs the extension inside a package of the same name, which re-exports its names.
EXTENSION = importlib.import_module("cloacina_test_tasks.cloacina_test_tasks")

WHEN = datetime.datetime(2026, 12, 3, 18, 30, 15, 250000, tzinfo=datetime.timezone.utc)
ID = uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e")
AMOUNT = decimal.Decimal("1234.5678")
PAYLOAD = bytes(range(256)) * 400
"""102,400 bytes: kept beside the JSON, both ways."""


@cloacina.task(id="produce")
def produce(context):
    context["when"] = WHEN
    context["id"] = ID
    context["amount"] = AMOUNT
    context["payload"] = PAYLOAD
    context["table"] = pyarrow.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    context["note"] = "plain json"
    context["scratch"] = "removed by the Rust task"


def run(executor: cloacina.UnifiedExecutor, name: str, tasks: list, context: dict | None = None):
    cloacina.workflow(name=name, tasks=tasks)
    return executor.execute(name, context or {})


def test_exported_tasks_are_module_attributes():
    task = rust_tasks.echo_values
    assert isinstance(task, cloacina.RustTask)
    assert (task.id, task.dependencies, task.module) == ("echo_values", ["produce"], EXTENSION.__name__)
    assert repr(task) == f"RustTask(id='echo_values', dependencies=['produce'], module='{EXTENSION.__name__}')"
    from cloacina_test_tasks import flaky

    assert flaky.id == "flaky"


def test_values_cross_to_rust_and_back(executor, unique_name):
    result = run(executor, unique_name, [produce, rust_tasks.echo_values])
    result.raise_for_status()
    context = result.context
    assert context["next_day"] == WHEN + datetime.timedelta(days=1)
    assert type(context["next_day"]) is datetime.datetime
    assert context["same_id"] == ID and type(context["same_id"]) is uuid.UUID
    assert context["doubled"] == AMOUNT * 2 and type(context["doubled"]) is decimal.Decimal
    assert context["reversed"] == PAYLOAD[::-1] and type(context["reversed"]) is bytes
    table = context["doubled_table"]
    assert isinstance(table, pyarrow.Table)
    assert table.column("id").to_pylist() == [2, 4, 6]
    assert table.column("name").to_pylist() == ["a", "b", "c"]
    assert context["shouted"] == "PLAIN JSON"
    assert "scratch" not in context


def test_a_rust_error_fails_the_task_with_its_message_without_retries(executor, unique_name):
    result = run(executor, unique_name, [rust_tasks.fail_permanently])
    assert result.status == "Failed"
    task = result.task("fail_permanently")
    assert task.attempts == 1, "a permanent error is not retried"
    assert task.error == "the input is wrong: expected a number"
    with pytest.raises(cloacina.ExecutionFailedError, match="the input is wrong: expected a number"):
        result.raise_for_status()


def test_a_rust_panic_fails_the_attempt_not_the_process(executor, unique_name):
    result = run(executor, unique_name, [rust_tasks.panics], {"index": 7})
    assert result.status == "Failed"
    task = result.task("panics")
    assert task.attempts == 2
    assert task.error == "task panicked: index 7 is out of range for 0 items"
    # The process, and the executor, go on.
    assert run(executor, unique_name + "_after", [produce]).status == "Completed"


def test_a_rust_task_is_retried_as_its_attribute_says(executor, unique_name):
    result = run(executor, unique_name, [rust_tasks.flaky], {"flaky_key": unique_name})
    result.raise_for_status()
    assert result.task("flaky").attempts == 3
    assert result.context["flaky_done"] is True


def wait_for(path: Path, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return False


def test_a_rust_task_past_its_timeout_is_stopped(executor, unique_name, tmp_path):
    marker = tmp_path / "stopped"
    started = time.monotonic()
    result = run(executor, unique_name, [rust_tasks.sleeps_past_timeout], {"sleep_ms": 30_000, "marker": str(marker)})
    assert result.status == "Failed"
    assert result.task("sleeps_past_timeout").error == "task timed out after 300ms"
    assert time.monotonic() - started < 20
    assert wait_for(marker), "the Rust task's future was not dropped"


def test_cancelling_the_execution_stops_a_running_rust_task(executor, unique_name, tmp_path):
    marker = tmp_path / "stopped"
    cloacina.workflow(name=unique_name, tasks=[rust_tasks.sleeps])
    handle = executor.start(unique_name, {"sleep_ms": 30_000, "marker": str(marker)})
    deadline = time.monotonic() + 10
    while handle.status != "Running" and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert handle.cancel() == "Cancelled"
    assert wait_for(marker), "the Rust task's future was not dropped"


def test_a_module_built_for_another_task_abi_is_refused_at_import(tmp_path, monkeypatch):
    library = Path(EXTENSION.__file__)
    suffix = library.name.split(".", 1)[1]
    shutil.copy(library, tmp_path / f"cloacina_test_tasks_future_abi.{suffix}")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(ImportError) as raised:
        importlib.import_module("cloacina_test_tasks_future_abi")
    message = str(raised.value)
    assert message.startswith(
        "module `cloacina_test_tasks_future_abi` exports Rust tasks built for version 101 of Cloacina's task ABI, "
        f"but cloacina {cloacina.__version__} reads version 3; rebuild"
    ), message
    assert "cloacina_test_tasks_future_abi" not in sys.modules


def test_one_rust_task_takes_several_places_of_a_workflow(executor, unique_name):
    first = rust_tasks.flaky.with_id("first_flaky")
    second = rust_tasks.flaky.with_id("second_flaky", dependencies=[first])
    assert (first.id, first.dependencies, second.dependencies) == ("first_flaky", [], ["first_flaky"])
    assert rust_tasks.flaky.id == "flaky", "the original is unchanged"

    @cloacina.task(id="after_rust", dependencies=[second])
    def after_rust(context):
        context["after"] = context["flaky_done"]

    result = run(executor, unique_name, [after_rust, second, first], {"flaky_key": unique_name})
    result.raise_for_status()
    assert [task.task_id for task in result.task_results] == ["first_flaky", "second_flaky", "after_rust"]
    assert [task.attempts for task in result.task_results] == [3, 3, 1]
    with pytest.raises(cloacina.WorkflowValidationError):
        rust_tasks.flaky.with_id("")


def test_a_rust_task_declared_mapped_runs_once_per_item_under_a_python_workflow(executor, unique_name):
    @cloacina.task(id="numbers")
    def numbers(context):
        return {"numbers": [3, 1, 4, 1, 5]}

    @cloacina.task(id="total", dependencies=[rust_tasks.square_each])
    def total(context):
        return {"total": sum(context["square"])}

    result = run(executor, unique_name, [numbers, rust_tasks.square_each, total])
    result.raise_for_status()
    assert result.context["square"] == [9, 1, 16, 1, 25]
    assert result.context["total"] == 52
    instances = [task.map_index for task in result.task_results if task.task_id.startswith("square_each[")]
    assert instances == [0, 1, 2, 3, 4]


def test_a_running_rust_task_does_not_hold_the_gil(executor, unique_name, tmp_path):
    cloacina.workflow(name=unique_name, tasks=[rust_tasks.sleeps])
    handle = executor.start(unique_name, {"sleep_ms": 3_000, "marker": str(tmp_path / "unused")})
    deadline = time.monotonic() + 10
    while handle.status != "Running" and time.monotonic() < deadline:
        time.sleep(0.01)
    # For a second of the Rust task's three, this thread keeps running Python: a task holding the
    # GIL would stop it for as long as it sleeps (seconds). The bound leaves room for the pauses
    # of a loaded machine (0.22 s seen while the suites of two Pythons ran side by side).
    longest, started = 0.0, time.monotonic()
    previous = started
    while previous - started < 1.0:
        now = time.monotonic()
        longest, previous = max(longest, now - previous), now
    assert handle.wait(timeout=30).status == "Completed"
    assert longest < 0.5, f"Python stopped for {longest:.3f} s while the Rust task ran"
