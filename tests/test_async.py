"""asyncio: async def tasks on the caller's loop, awaitable execute, handles, events,
timeouts and cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import threading
import time
import weakref

import pytest

import cloacina
from cloacina import EventKind, RetryPolicy, UnifiedExecutor, task, workflow


async def test_execute_is_awaitable_where_a_loop_runs(executor, unique_name):
    @task
    async def fetch(context):
        await asyncio.sleep(0.01)
        context.insert("fetched", [1, 2, 3])

    @task(dependencies=[fetch])
    def total(context):
        return {"total": sum(context["fetched"])}

    workflow(name=unique_name, tasks=[fetch, total])
    pending = executor.execute(unique_name, {})
    assert inspect.isawaitable(pending)
    result = await pending
    assert result.status == "Completed", result.error
    assert result.context["total"] == 6
    again = await executor.execute_async(unique_name)
    assert again.status == "Completed"


def test_execute_blocks_where_no_loop_runs(executor, unique_name):
    @task
    async def fetch(context):
        await asyncio.sleep(0.01)
        return {"ran_on": threading.current_thread().name}

    workflow(name=unique_name, tasks=[fetch])
    result = executor.execute(unique_name)
    assert isinstance(result, cloacina.ExecutionResult)
    # Started synchronously: the coroutine ran on the loop the executors own.
    assert result.context["ran_on"] == "cloacina-event-loop"
    with pytest.raises(RuntimeError, match="execute_async needs a running asyncio event loop"):
        executor.execute_async(unique_name)


async def test_fifty_async_tasks_run_at_once(executor, unique_name):
    async def sleeper(context):
        await asyncio.sleep(0.2)

    tasks = [task(id=f"sleeper_{n:02}")(sleeper) for n in range(50)]
    workflow(name=unique_name, tasks=tasks)
    started = time.monotonic()
    result = await executor.execute(unique_name)
    elapsed = time.monotonic() - started
    assert result.status == "Completed", result.error
    assert elapsed < 1.0, f"50 concurrent sleeps of 0.2 s took {elapsed:.2f}s"


async def test_fifty_executions_gathered_all_complete(executor, unique_name):
    @task
    async def work(context):
        await asyncio.sleep(0.01)
        return {"doubled": context["n"] * 2}

    workflow(name=unique_name, tasks=[work])
    results = await asyncio.gather(*(executor.execute(unique_name, {"n": n}) for n in range(50)))
    assert [result.status for result in results] == ["Completed"] * 50
    assert [result.context["doubled"] for result in results] == [2 * n for n in range(50)]


async def test_a_sync_task_does_not_block_the_callers_loop(executor, unique_name):
    @task
    def slow(context):
        time.sleep(1.0)

    workflow(name=unique_name, tasks=[slow])
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    result = await executor.execute(unique_name)
    ticking.cancel()
    assert result.status == "Completed"
    assert ticks >= 10, f"the loop ticked {ticks} times during a 1 s sync task"


async def test_async_tasks_run_on_the_callers_loop(executor, unique_name):
    gate = asyncio.Event()  # bound to this loop: awaiting it elsewhere would fail

    @task
    async def waits_for_gate(context):
        await gate.wait()
        return {"loop_is_callers": asyncio.get_running_loop() is caller_loop}

    caller_loop = asyncio.get_running_loop()
    workflow(name=unique_name, tasks=[waits_for_gate])
    pending = asyncio.ensure_future(executor.execute(unique_name))
    await asyncio.sleep(0.1)
    assert not pending.done()
    gate.set()
    result = await pending
    assert result.status == "Completed", result.error
    assert result.context["loop_is_callers"] is True


async def test_sync_and_async_tasks_mix(executor, unique_name):
    @task
    def first(context):
        context.insert("path", ["sync"])

    @task(dependencies=[first])
    async def second(context):
        await asyncio.sleep(0)
        context.set("path", [*context["path"], "async"])

    @task(dependencies=[second])
    def third(context):
        context.set("path", [*context["path"], "sync"])

    result = await executor.execute(workflow(name=unique_name, tasks=[first, second, third]))
    assert result.context["path"] == ["sync", "async", "sync"]


async def test_an_async_exception_keeps_type_message_and_traceback(executor, unique_name):
    async def call_api():
        raise ConnectionRefusedError("the API is down")

    @task
    async def fetch(context):
        await call_api()

    result = await executor.execute(workflow(name=unique_name, tasks=[fetch]))
    failed = result.task("fetch")
    assert result.status == "Failed"
    assert (failed.error_type, failed.error_message) == ("ConnectionRefusedError", "the API is down")
    assert "in call_api" in failed.traceback and "in fetch" in failed.traceback


async def test_engine_errors_are_the_same_classes_when_awaited(executor):
    with pytest.raises(cloacina.WorkflowNotFoundError, match="is not registered"):
        await executor.execute("no_such_workflow")


async def test_a_task_timeout_cancels_its_coroutine(executor, unique_name):
    cleaned_up = []

    @task(timeout=0.2)
    async def slow(context):
        try:
            await asyncio.sleep(5)
        finally:
            cleaned_up.append("slow")

    started = time.monotonic()
    result = await executor.execute(workflow(name=unique_name, tasks=[slow]))
    assert time.monotonic() - started < 2
    assert result.status == "Failed"
    assert result.task("slow").error == "task timed out after 200ms"
    await asyncio.sleep(0.05)
    assert cleaned_up == ["slow"]


async def test_an_execution_timeout_cancels_the_execution(executor, unique_name):
    cleaned_up = []

    @task
    async def slow(context):
        try:
            await asyncio.sleep(5)
        finally:
            cleaned_up.append("slow")

    workflow(name=unique_name, tasks=[slow])
    with pytest.raises(cloacina.ExecutionTimeoutError, match=r"did not finish within 0\.3s; it was cancelled"):
        await executor.execute(unique_name, timeout=0.3)
    [summary] = executor.list_executions(workflow=unique_name)
    assert summary.status == "Cancelled"
    await asyncio.sleep(0.1)
    assert cleaned_up == ["slow"]


async def test_cancelling_the_awaiting_task_cancels_the_execution(executor, unique_name):
    started = asyncio.Event()
    cleaned_up = []

    @task
    async def slow(context):
        started.set()
        try:
            await asyncio.sleep(5)
        finally:
            cleaned_up.append("slow")

    workflow(name=unique_name, tasks=[slow])
    awaiting = asyncio.ensure_future(executor.execute(unique_name))
    await asyncio.wait_for(started.wait(), 5)
    awaiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await awaiting
    deadline = time.monotonic() + 5
    while executor.list_executions(workflow=unique_name)[0].status != "Cancelled":
        assert time.monotonic() < deadline, "the execution was not cancelled"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert cleaned_up == ["slow"]


async def test_a_handle_is_awaitable_and_streams_events(executor, unique_name):
    @task
    async def first(context):
        await asyncio.sleep(0.05)

    @task(dependencies=[first])
    def second(context):
        raise ValueError("no")

    workflow(name=unique_name, tasks=[first, second])
    handle = executor.start(unique_name)
    kinds = [(event.kind, event.task_id) async for event in handle.events()]
    result = await handle
    assert result.status == "Failed"
    assert kinds == [
        (EventKind.EXECUTION_CREATED, None),
        (EventKind.TASK_READY, "first"),
        (EventKind.EXECUTION_STARTED, None),
        (EventKind.TASK_STARTED, "first"),
        (EventKind.TASK_COMPLETED, "first"),
        (EventKind.TASK_READY, "second"),
        (EventKind.TASK_STARTED, "second"),
        (EventKind.TASK_FAILED, "second"),
        (EventKind.EXECUTION_FAILED, None),
    ]
    replayed = list(handle.events())
    assert [event.kind for event in replayed] == [kind for kind, _ in kinds]
    assert [event.sequence for event in replayed] == list(range(1, len(kinds) + 1))


async def test_on_event_receives_every_event_in_order(executor, unique_name):
    @task
    async def only(context):
        await asyncio.sleep(0)

    workflow(name=unique_name, tasks=[only])
    seen = []
    seen_async = []

    async def record_async(event):
        await asyncio.sleep(0)
        seen_async.append(str(event.kind))

    result = await executor.execute(unique_name, on_event=lambda event: seen.append(str(event.kind)))
    await executor.execute(unique_name, on_event=record_async)
    expected = ["ExecutionCreated", "TaskReady", "ExecutionStarted", "TaskStarted", "TaskCompleted"]
    assert seen == [*expected, "ExecutionCompleted"], result
    assert seen_async == seen


async def test_events_name_retries_and_skips(executor, unique_name):
    attempts = []

    @task(retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
    async def flaky(context):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("once")

    @task(dependencies=[flaky])
    def fails(context):
        raise ValueError("no")

    @task(dependencies=[fails])
    def skipped(context):
        pass

    workflow(name=unique_name, tasks=[flaky, fails, skipped])
    seen = []
    handle = executor.start(unique_name, on_event=lambda event: seen.append((event.kind, event.task_id)))
    kinds = [(event.kind, event.task_id, event.attempt) async for event in handle.events()]
    result = await handle
    assert result.status == "Failed"
    assert (EventKind.TASK_RETRIED, "flaky", 1) in kinds
    assert kinds.index((EventKind.TASK_RETRIED, "flaky", 1)) < kinds.index((EventKind.TASK_STARTED, "flaky", 2))
    assert (EventKind.TASK_SKIPPED, "skipped", None) in kinds
    retried = [event for event in handle.events() if event.kind == EventKind.TASK_RETRIED]
    assert "ConnectionError: once" in retried[0].message
    deadline = time.monotonic() + 5
    while len(seen) < len(kinds) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert seen == [(kind, task_id) for kind, task_id, _ in kinds]


async def test_shutdown_async_lets_a_running_task_finish(database_url, unique_name):
    started = asyncio.Event()

    @task
    async def brief(context):
        started.set()
        await asyncio.sleep(0.2)
        return {"finished": True}

    workflow(name=unique_name, tasks=[brief])
    executor = UnifiedExecutor(database_url, shutdown_timeout=5.0)
    running = asyncio.ensure_future(executor.execute(unique_name))
    await asyncio.wait_for(started.wait(), 10)
    await executor.shutdown_async()
    result = await asyncio.wait_for(running, 10)
    assert result.status == "Completed", result.error
    assert result.context["finished"] is True
    with pytest.raises(cloacina.ExecutorShutdownError):
        await executor.execute(unique_name)


async def test_async_with_and_shutdown_async(database_url, unique_name):
    @task
    async def only(context):
        return {"ok": True}

    workflow(name=unique_name, tasks=[only])
    async with UnifiedExecutor(database_url) as executor:
        result = await executor.execute(unique_name)
        assert result.context["ok"] is True
    with pytest.raises(cloacina.ExecutorShutdownError):
        await executor.execute(unique_name)
    await executor.shutdown_async()


def test_an_execution_outlives_the_loop_that_started_it(executor, unique_name):
    gate = threading.Event()

    @task
    def first(context):
        assert gate.wait(10)

    @task(dependencies=[first])
    async def second(context):
        await asyncio.sleep(0)
        return {"ran_on": threading.current_thread().name}

    workflow(name=unique_name, tasks=[first, second])

    async def start():
        return executor.start(unique_name)

    handle = asyncio.run(start())  # The loop the execution was bound to closes here.
    gate.set()
    result = handle.wait(timeout=10)
    assert result.status == "Completed", result.error
    # Its coroutine ran on the loop the executors own instead.
    assert result.context["ran_on"] == "cloacina-event-loop"


async def test_a_started_execution_lets_go_of_the_callers_context_when_it_ends(executor, unique_name):
    """`start` inside asyncio binds the execution to the caller's loop and a copy of its context
    variables; both are let go once the execution ends (200 requests used to keep ~200 MiB)."""
    workflow(name=unique_name, tasks=[task(id="quick")(lambda context: None)])
    request_state = contextvars.ContextVar("request_state")

    class Payload:
        pass

    async def handle_request():
        payload = Payload()
        request_state.set(payload)
        return weakref.ref(payload), executor.start(unique_name)

    references = []
    for _ in range(20):
        reference, handle = await asyncio.create_task(handle_request())
        assert (await handle).status == "Completed"
        references.append(reference)
        del handle
    deadline = time.monotonic() + 10
    while any(reference() is not None for reference in references) and time.monotonic() < deadline:
        gc.collect()
        await asyncio.sleep(0.02)
    assert [reference() for reference in references] == [None] * 20
