"""Idempotent starts: one execution per workflow and key, from any process."""

from __future__ import annotations

import asyncio
import textwrap
import time

import pytest
from children import finish, spawn

from cloacina import ValidationError, task, workflow


def counted(name, calls):
    @task
    def bill(context):
        calls.append(context["order"])
        return {"billed": context["order"]}

    return workflow(name=name, tasks=[bill])


def test_a_key_runs_the_workflow_once(executor, unique_name):
    calls = []
    counted(unique_name, calls)
    first = executor.execute(unique_name, {"order": 123}, key="order-123")
    again = executor.execute(unique_name, {"order": 123}, key="order-123")
    assert calls == [123]
    assert again.execution_id == first.execution_id and again.key == "order-123"
    handle = executor.start(unique_name, {"order": 123}, key="order-123")
    assert handle.execution_id == first.execution_id and handle.wait().context["billed"] == 123
    other = executor.execute(unique_name, {"order": 124}, key="order-124")
    assert other.execution_id != first.execution_id and calls == [123, 124]
    assert executor.execute(unique_name, {"order": 123}).key is None and calls == [123, 124, 123]


def test_a_key_used_with_another_context_is_refused(executor, unique_name):
    counted(unique_name, [])
    first = executor.execute(unique_name, {"order": 1}, key="order-1")
    with pytest.raises(ValidationError, match=f"already has execution `{first.execution_id}` under key `order-1`"):
        executor.execute(unique_name, {"order": 2}, key="order-1")
    with pytest.raises(ValidationError, match="invalid execution key: it is empty"):
        executor.start(unique_name, {"order": 1}, key="")
    with pytest.raises(TypeError):
        executor.execute(unique_name, {"order": 1}, key=7)


def test_awaited_starts_under_one_key_share_the_execution(executor, unique_name):
    calls = []
    counted(unique_name, calls)

    async def main():
        return await asyncio.gather(
            *(executor.execute_async(unique_name, {"order": 9}, key="order-9") for _ in range(5))
        )

    results = asyncio.run(main())
    assert {result.execution_id for result in results} == {results[0].execution_id}
    assert calls == [9]


RACE = textwrap.dedent(
    """
    import sys, time
    from cloacina import UnifiedExecutor, task, workflow

    @task
    def bill(context):
        return {"billed": context["order"]}

    workflow(name="raced", tasks=[bill])
    with UnifiedExecutor(sys.argv[1]) as executor:
        start_at = float(sys.argv[2])
        time.sleep(max(0.0, start_at - time.time()))
        print(executor.execute("raced", {"order": 5}, key="order-5").execution_id)
    """
)


@pytest.mark.parametrize("backend", ["sqlite_file", "postgres"])
def test_processes_starting_one_key_at_once_make_one_execution(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'keys.db'}" if backend == "sqlite_file" else request.getfixturevalue("postgres_url")
    outputs = finish(spawn(RACE, [url, str(time.time() + 2.0)], count=3))
    assert len({output.strip() for output in outputs}) == 1, outputs
