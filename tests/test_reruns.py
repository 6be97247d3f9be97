"""Re-running an execution from where it failed: only what did not complete runs again."""

import asyncio

import pytest

from cloacina import ExecutionNotFoundError, ValidationError, task, workflow


def pipeline(name, calls, failing):
    """extract -> transform -> load, and audit beside them; transform fails while failing[0]."""

    def counted(task_id):
        calls[task_id] = calls.get(task_id, 0) + 1

    @task
    def extract(context):
        counted("extract")
        # Larger than a context keeps inline: stored as binary data beside the JSON.
        return {"rows": [1, 2, 3], "raw": bytes(range(256)) * 300}

    @task(dependencies=[extract])
    async def transform(context):
        counted("transform")
        await asyncio.sleep(0)
        if failing[0]:
            raise ConnectionError("the warehouse is down")
        return {"total": sum(context["rows"]) + len(context["raw"])}

    @task(dependencies=[transform])
    def load(context):
        counted("load")
        return {"loaded": context["total"]}

    @task
    def audit(context):
        counted("audit")
        return {"audited": True}

    return workflow(name=name, tasks=[extract, transform, load, audit])


def test_a_rerun_runs_only_what_failed_and_ends_as_a_fresh_run(executor, unique_name):
    calls, failing = {}, [True]
    pipeline(unique_name, calls, failing)
    failed = executor.execute(unique_name, {"day": "2026-12-05"})
    assert failed.status == "Failed"
    statuses = {result.task_id: result.status for result in failed.task_results}
    assert statuses == {"extract": "Completed", "transform": "Failed", "load": "Skipped", "audit": "Completed"}

    failing[0] = False
    calls.clear()
    again = executor.rerun(failed.execution_id)
    assert again.status == "Completed", again.error
    assert calls == {"transform": 1, "load": 1}
    assert again.rerun_of == failed.execution_id and failed.rerun_of is None
    assert again.execution_id != failed.execution_id
    attempts = {result.task_id: result.attempts for result in again.task_results}
    assert attempts == {"extract": 0, "transform": 1, "load": 1, "audit": 0}
    assert again.context["raw"] == bytes(range(256)) * 300

    calls.clear()
    fresh = executor.execute(unique_name, {"day": "2026-12-05"})
    assert fresh.status == "Completed"
    assert again.context.to_dict() == fresh.context.to_dict()
    assert again.context["loaded"] == 6 + 256 * 300


def test_a_rerun_can_be_awaited_and_rerun_again(executor, unique_name):
    calls, failing = {}, [True]
    pipeline(unique_name, calls, failing)
    failed = executor.execute(unique_name)

    async def main():
        second = await executor.rerun(failed.execution_id)
        failing[0] = False
        third = await executor.rerun_async(second.execution_id)
        return second, third

    second, third = asyncio.run(main())
    assert (second.status, third.status) == ("Failed", "Completed")
    assert third.rerun_of == second.execution_id and second.rerun_of == failed.execution_id
    assert calls == {"extract": 1, "audit": 1, "transform": 3, "load": 1}


def test_what_cannot_be_rerun_says_why(executor, unique_name):
    @task
    def fine(context):
        return {"fine": True}

    workflow(name=unique_name, tasks=[fine])
    completed = executor.execute(unique_name)
    with pytest.raises(ValidationError, match="nothing is left to run; start the workflow again"):
        executor.rerun(completed.execution_id)
    with pytest.raises(ExecutionNotFoundError):
        executor.rerun("0193a1c4-0000-7000-8000-000000000000")
    with pytest.raises(ValidationError, match="is not an execution id"):
        executor.rerun("yesterday")
    with pytest.raises(RuntimeError, match="rerun_async"):
        executor.rerun_async(completed.execution_id)
