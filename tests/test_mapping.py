"""Mapped tasks from Python: `@task(map_over=...)` runs once per element of a list known at run
time, each instance with its own attempts, and downstream tasks see the gathered lists."""

from __future__ import annotations

import asyncio
import collections
import datetime
import decimal

import pytest
from children import finish, most_at_once, serve

from cloacina import EventKind, ExecutionStatus, TaskStatus, UnifiedExecutor, ValidationError, task, workflow


def test_a_mapping_is_declared_on_the_task():
    @task(map_over="items", max_parallel=4, map_outputs=["square"])
    def square(context):
        return None

    assert (square.map_over, square.max_parallel, square.map_outputs) == ("items", 4, ["square"])
    plain = task(lambda context: None, id="plain")
    assert (plain.map_over, plain.max_parallel, plain.map_outputs) == (None, None, [])
    with pytest.raises(ValidationError, match="max_parallel needs `map_over`"):
        task(lambda context: None, id="half", max_parallel=2)
    with pytest.raises(ValidationError, match="map_outputs needs `map_over`"):
        task(lambda context: None, id="half", map_outputs=["x"])
    with pytest.raises(ValidationError, match="its max_parallel is 0; it must be from 1 to 10000"):
        task(lambda context: None, id="none", map_over="items", max_parallel=0)
    with pytest.raises(ValidationError, match="its map_over key is empty"):
        task(lambda context: None, id="blank", map_over=" ")
    with pytest.raises(TypeError):
        task(lambda context: None, id="text", map_over="items", map_outputs="square")


def test_a_thousand_items_with_retries_are_summed_downstream(executor, unique_name):
    @task
    def numbers(context):
        return {"items": list(range(1000))}

    attempts = collections.Counter()

    @task(dependencies=[numbers], map_over="items", retry=2)
    def square(context):
        # Every hundredth item fails its first attempt.
        attempts[context["item"]] += 1
        if context["item"] % 100 == 7 and attempts[context["item"]] == 1:
            raise RuntimeError(f"item {context['item']} is flaky")
        assert context["item_index"] == context["item"]
        assert "items" not in context, "an instance sees its element, not the whole list"
        return {"square": context["item"] ** 2}

    @task(dependencies=[square])
    def total(context):
        return {"total": sum(context["square"]), "count": len(context["square"])}

    workflow(name=unique_name, tasks=[numbers, square, total])
    result = executor.execute(unique_name)
    assert result.status == ExecutionStatus.COMPLETED, result.error
    assert result.context["total"] == sum(item * item for item in range(1000))
    assert result.context["count"] == 1000
    assert sum(attempts.values()) == 1010, "1000 instances, 10 of them twice"
    assert "item" not in result.context
    assert result.task("square").status == TaskStatus.COMPLETED
    flaky = result.task("square[107]")
    assert (flaky.status, flaky.attempts, flaky.map_index) == (TaskStatus.COMPLETED, 2, 107)
    assert result.task("square").map_index is None
    assert "item 107 is flaky" in flaky.attempt_history[0].error
    assert result.task("square[108]").attempts == 1
    assert len(result.task_results) == 1003
    mapped = [event for event in executor.events(result.execution_id) if event.kind == EventKind.TASK_MAPPED]
    assert [(event.task_id, event.message) for event in mapped] == [("square", "1000 instances")]


def test_python_values_and_async_instances(executor, unique_name):
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    @task
    def days(context):
        return {"days": tuple(start + datetime.timedelta(days=offset) for offset in range(3))}

    @task(dependencies=[days], map_over="days")
    async def price(context):
        await asyncio.sleep(0.01)
        day = context["item"]
        assert isinstance(day, datetime.datetime)
        return {"price": decimal.Decimal(day.day) / 4}

    workflow(name=unique_name, tasks=[days, price])
    result = executor.execute(unique_name)
    assert result.status == ExecutionStatus.COMPLETED, result.error
    assert result.context["price"] == [decimal.Decimal("0.25"), decimal.Decimal("0.5"), decimal.Decimal("0.75")]


def test_empty_missing_and_bad_lists(executor, unique_name):
    def mapped(name, items):
        @task(id="source")
        def source(context):
            return None if items is None else {"items": items}

        @task(id="square", dependencies=[source], map_over="items", map_outputs=["square"])
        def square(context):
            return {"square": context["item"] ** 2}

        @task(id="total", dependencies=[square])
        def total(context):
            return {"total": sum(context["square"])}

        workflow(name=name, tasks=[source, square, total])
        return executor.execute(name)

    empty = mapped(f"{unique_name}_empty", [])
    assert empty.status == ExecutionStatus.COMPLETED, empty.error
    assert (empty.context["square"], empty.context["total"]) == ([], 0)

    missing = mapped(f"{unique_name}_missing", None)
    assert missing.status == ExecutionStatus.FAILED
    assert missing.task("square").error.startswith("task `square` maps over `items`, which its input does not have")
    assert missing.task("total").status == TaskStatus.SKIPPED

    unordered = mapped(f"{unique_name}_set", {1, 2})
    assert "holds a set, not a list" in unordered.task("square").error

    long = mapped(f"{unique_name}_long", list(range(10_001)))
    assert "has 10001 elements, more than the 10000 instances" in long.task("square").error


def test_a_failed_instance_fails_the_task_and_names_itself(executor, unique_name):
    @task
    def numbers(context):
        return {"items": [1, 2, 3]}

    @task(dependencies=[numbers], map_over="items")
    def invert(context):
        return {"inverse": 1 / (context["item"] - 2)}

    workflow(name=unique_name, tasks=[numbers, invert])
    result = executor.execute(unique_name)
    assert result.status == ExecutionStatus.FAILED
    assert result.task("invert").error.startswith(
        "1 of its 3 instances did not complete; the first, `invert[1]`: ZeroDivisionError"
    )
    assert [result.task(f"invert[{index}]").status for index in range(3)] == [
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.COMPLETED,
    ]


@pytest.mark.parametrize("backend", ["sqlite_file", "postgres"])
def test_max_parallel_holds_across_two_processes(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'mapped.db'}" if backend == "sqlite_file" else request.getfixturevalue("postgres_url")
    import mapped_workflow

    # Two tasks at a time each: three at once takes both processes, and four would break the bound.
    children = serve("mapped_workflow", url, seconds=8.0)
    try:
        with UnifiedExecutor(url, run_tasks=False, poll_interval=0.2) as executor:
            result = executor.start(mapped_workflow.bounded).wait(timeout=60)
    finally:
        finish(children)
    assert result.status == ExecutionStatus.COMPLETED, result.error
    assert result.context["seen"] == list(range(24))
    spans = result.context["span"]
    assert most_at_once(spans) == 3, f"more than three at once, or never three: {sorted(spans)}"
    workers = {result.task(f"call[{index}]").worker for index in range(24)}
    assert len(workers) == 2, f"both processes ran instances: {workers}"
