"""cloacina.UnifiedExecutor on every backend: running Python tasks, results, handles, queries."""

import ast
import asyncio
import datetime
import pathlib
import threading
import time
import uuid

import pytest

import cloacina
from cloacina import (
    Context,
    ExecutionHandle,
    ExecutionStatus,
    RetryPolicy,
    TaskStatus,
    TriggerRule,
    UnifiedExecutor,
    task,
    workflow,
)


def test_execute_returns_a_complete_result(executor, unique_name):
    @task
    def extract(context):
        context.insert("raw", [1, 2, 3])

    @task(dependencies=[extract])
    def transform(context):
        return {"total": sum(context["raw"]), "seen": sorted(context.keys())}

    pipeline = workflow(name=unique_name, tasks=[extract, transform])
    result = executor.execute(pipeline, {"given": "yes"})

    assert result.status == "Completed" and result.status is ExecutionStatus.COMPLETED
    assert str(result.status) == "Completed"
    assert result.raise_for_status() is result
    assert result.context.to_dict() == {"given": "yes", "raw": [1, 2, 3], "total": 6, "seen": ["given", "raw"]}
    assert result.initial_context.to_dict() == {"given": "yes"}
    assert uuid.UUID(result.execution_id)
    assert result.workflow_name == unique_name and result.workflow_version == pipeline.version
    assert result.error is None
    assert 0 < result.duration < 10
    assert isinstance(result.created_at, datetime.datetime) and result.created_at.tzinfo is not None
    assert [t.task_id for t in result.task_results] == ["extract", "transform"]
    first = result.task("extract")
    assert (first.status, first.attempts, first.error) == (TaskStatus.COMPLETED, 1, None)
    assert first.duration is not None and first.started_at <= first.finished_at
    assert result.task("absent") is None


@pytest.mark.parametrize("initial", [None, {}, Context({"k": 1})])
def test_the_context_may_be_none_a_dict_or_a_context(executor, unique_name, initial):
    workflow(name=unique_name, tasks=[task(id="echo")(lambda context: context.set("keys", context.keys()))])
    result = executor.execute(unique_name, initial)
    assert result.status == "Completed"
    assert result.context["keys"] == ([] if not initial else ["k"])


def test_an_exception_fails_the_attempt_keeping_type_message_and_traceback(executor, unique_name):
    def parse(context):
        raise ValueError("row 7 is not a number")

    @task(id="parse")
    def parse_task(context):
        parse(context)

    @task(dependencies=["parse"])
    def after(context):
        pass

    result = executor.execute(workflow(name=unique_name, tasks=[parse_task, after]))
    assert result.status == "Failed"
    failed = result.task("parse")
    assert failed.status == "Failed"
    assert failed.error_type == "ValueError"
    assert failed.error_message == "row 7 is not a number"
    assert failed.traceback.startswith("Traceback (most recent call last):")
    assert "in parse_task" in failed.traceback and "in parse" in failed.traceback
    assert failed.error.startswith("ValueError: row 7 is not a number")
    assert result.error.startswith("task `parse` failed: ValueError: row 7 is not a number")
    assert result.task("after").status == "Skipped"
    with pytest.raises(cloacina.ExecutionFailedError) as raised:
        result.raise_for_status()
    assert raised.value.result is result
    assert "row 7 is not a number" in str(raised.value)


def test_retries_follow_the_policy(executor, unique_name):
    calls = []

    @task(retry=RetryPolicy(max_attempts=3, backoff="fixed", initial_delay=0.05))
    def flaky(context):
        calls.append(time.monotonic())
        # What a failed attempt writes is discarded: each attempt starts from the same input.
        assert "partial" not in context
        context.insert("partial", len(calls))
        if len(calls) < 3:
            raise ConnectionError("the service is busy")

    result = executor.execute(workflow(name=unique_name, tasks=[flaky]))
    assert result.status == "Completed"
    assert result.task("flaky").attempts == 3
    assert result.context["partial"] == 3
    assert all(later - earlier >= 0.05 for earlier, later in zip(calls, calls[1:]))


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.003])
def test_a_retry_due_within_moments_does_not_wait_for_the_poll(executor, unique_name, delay):
    # A delay shorter than the way from scheduling the retry to the next claim once left the
    # retry to the poll (5 s in these tests).
    @task(retry=RetryPolicy(max_attempts=3, backoff="fixed", initial_delay=delay, jitter=False))
    def flaky(context):
        if flaky_calls.append(1) or len(flaky_calls) < 3:
            raise ConnectionError("the service is busy")

    flaky_calls: list[int] = []
    started = time.monotonic()
    result = executor.execute(workflow(name=unique_name, tasks=[flaky]))
    assert (result.status, result.task("flaky").attempts) == ("Completed", 3)
    assert time.monotonic() - started < 2.5  # half the poll interval of the tests


def test_retry_on_limits_which_exceptions_are_retried(executor, unique_name):
    calls = []

    @task(retry=RetryPolicy(max_attempts=5, initial_delay=0.01, retry_on=(ConnectionError,)))
    def strict(context):
        calls.append(1)
        raise KeyError("missing column")

    result = executor.execute(workflow(name=unique_name, tasks=[strict]))
    assert result.status == "Failed"
    assert len(calls) == 1
    assert result.task("strict").error_type == "KeyError"


def test_retry_on_retries_the_listed_exceptions_and_their_subclasses(executor, unique_name):
    calls = []

    class ThrottledError(ConnectionError):
        pass

    @task(retry=RetryPolicy(max_attempts=4, initial_delay=0.01, retry_on=(ConnectionError,)))
    def tolerant(context):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("refused")
        if len(calls) == 2:
            raise ThrottledError("slow down")

    result = executor.execute(workflow(name=unique_name, tasks=[tolerant]))
    assert result.status == "Completed", result.error
    assert result.task("tolerant").attempts == 3
    assert len(calls) == 3


def test_retry_as_a_number_is_the_number_of_attempts(executor, unique_name):
    calls = []

    @task(retry=2)
    def hopeless(context):
        calls.append(1)
        raise RuntimeError(f"attempt {len(calls)}")

    result = executor.execute(workflow(name=unique_name, tasks=[hopeless]))
    assert result.status == "Failed"
    assert len(calls) == 2
    assert result.task("hopeless").attempts == 2
    assert "RuntimeError: attempt 2" in result.task("hopeless").error


def test_a_returned_dict_is_merged_and_anything_else_fails(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="bad")(lambda context: 42)])
    result = executor.execute(unique_name)
    assert result.status == "Failed"
    assert "task `bad` returned `int`; return a dict of context values to set, or None" in result.error
    # Not an exception the task raised: no class, the whole error is the message.
    assert result.task("bad").error_type is None
    assert result.task("bad").error_message.startswith("task `bad` returned `int`; return a dict")


def test_a_slow_task_times_out(executor, unique_name):
    @task(timeout=0.2)
    def slow(context):
        time.sleep(1.0)

    started = time.monotonic()
    result = executor.execute(workflow(name=unique_name, tasks=[slow]))
    assert result.status == "Failed"
    assert result.task("slow").error == "task timed out after 200ms"
    assert (result.task("slow").error_type, result.task("slow").error_message) == (None, "task timed out after 200ms")
    assert time.monotonic() - started < 0.9


def test_a_cleanup_task_runs_after_a_failure(executor, unique_name):
    @task
    def load(context):
        raise OSError("disk full")

    @task(dependencies=[load], trigger=TriggerRule.any_failed())
    def cleanup(context):
        context.insert("cleaned", True)

    @task(dependencies=[load], trigger="none_failed")
    def report(context):
        pass

    result = executor.execute(workflow(name=unique_name, tasks=[load, cleanup, report]))
    assert result.status == "Failed"
    assert result.task("cleanup").status == "Completed" and result.context["cleaned"] is True
    assert result.task("report").status == "Skipped"


def test_async_def_tasks_run(executor, unique_name):
    @task
    async def fetch(context):
        await asyncio.sleep(0.01)
        context.insert("fetched", True)

    result = executor.execute(workflow(name=unique_name, tasks=[fetch]))
    assert result.status == "Completed" and result.context["fetched"] is True


@pytest.mark.parametrize("parties", [4, 40])
def test_sync_tasks_run_at_the_same_time(executor, unique_name, parties):
    barrier = threading.Barrier(parties, timeout=10)

    def meet(context):
        # Each task waits for all the others: only tasks running at once, each on a thread of
        # its own while the others block, can pass.
        barrier.wait()
        context.insert("threads", threading.get_ident())

    tasks = [task(id=f"worker_{index}")(meet) for index in range(parties)]
    result = executor.execute(workflow(name=unique_name, tasks=tasks))
    assert result.status == "Completed", result.error


def test_many_short_sync_tasks_each_run_once(executor, unique_name):
    calls: list[int] = []

    def note(context):
        calls.append(threading.get_ident())
        return {"ran": True}

    tasks = [task(id=f"short_{index}")(note) for index in range(300)]
    join = task(id="join", dependencies=tasks)(note)
    result = executor.execute(workflow(name=unique_name, tasks=[*tasks, join]))
    assert result.status == "Completed", result.error
    assert len(calls) == 301
    assert [outcome.attempts for outcome in result.task_results] == [1] * 301


def test_start_returns_a_handle(executor, unique_name):
    release = threading.Event()

    @task
    def gate(context):
        release.wait(10)
        context.insert("opened", True)

    workflow(name=unique_name, tasks=[gate])
    handle = executor.start(unique_name, {"input": 1})
    assert isinstance(handle, ExecutionHandle)
    with pytest.raises(cloacina.ExecutionTimeoutError):
        handle.wait(timeout=0.1)
    snapshot = executor.get_execution(handle.execution_id)
    assert snapshot.status in ("Pending", "Running") and snapshot.finished_at is None
    assert handle.status in ("Pending", "Running")
    release.set()
    result = handle.wait()
    assert result.status == "Completed" and result.context["opened"] is True
    assert executor.wait(uuid.UUID(handle.execution_id)).execution_id == handle.execution_id
    assert handle.status == "Completed"


def test_cancel_stops_an_execution(executor, unique_name):
    started = threading.Event()

    @task
    def long(context):
        started.set()
        time.sleep(0.5)

    @task(dependencies=[long])
    def never(context):
        pass

    workflow(name=unique_name, tasks=[long, never])
    handle = executor.start(unique_name)
    assert started.wait(10)
    assert handle.cancel() == "Cancelled"
    result = handle.wait()
    assert result.status == "Cancelled"
    assert result.task("never").status == "Cancelled"
    with pytest.raises(cloacina.ExecutionCancelledError):
        result.raise_for_status()
    assert executor.cancel(result.execution_id) == "Cancelled"


def test_list_executions_filters(executor, unique_name):
    good = workflow(name=unique_name + "_good", tasks=[task(id="a")(lambda context: None)])
    workflow(name=unique_name + "_bad", tasks=[task(id="a")(lambda context: 1 / 0)])
    ids = [executor.execute(name).execution_id for name in (good.name, unique_name + "_bad", good.name)]
    listed = executor.list_executions()
    assert [summary.execution_id for summary in listed] == ids[::-1]
    assert [s.execution_id for s in executor.list_executions(workflow=good)] == [ids[2], ids[0]]
    failed = executor.list_executions(status="Failed")
    assert [s.execution_id for s in failed] == [ids[1]] and failed[0].status is ExecutionStatus.FAILED
    assert "ZeroDivisionError" in failed[0].error
    assert len(executor.list_executions(limit=1)) == 1
    assert executor.list_executions(status=ExecutionStatus.CANCELLED) == []


def test_options_are_the_engines_fields(database_url):
    with UnifiedExecutor(
        database_url,
        max_concurrent_tasks=2,
        task_timeout=None,
        poll_interval=0.5,
        lease_duration=10,
        pool_size=2,
        sqlite_synchronous="full",
        sqlite_busy_timeout=1.0,
        shutdown_timeout=5,
    ) as configured:
        assert "UnifiedExecutor" in repr(configured)
    with pytest.raises(cloacina.ValidationError, match="`max_concurrent_tasks` is 0; it must be 1 to 100000"):
        UnifiedExecutor(database_url, max_concurrent_tasks=0)
    with pytest.raises(cloacina.ValidationError, match="sqlite_synchronous is `sometimes`"):
        UnifiedExecutor(database_url, sqlite_synchronous="sometimes")


def stub_options() -> list[str]:
    """The keyword options `UnifiedExecutor` declares in the type stub, in order."""
    stub = pathlib.Path(__file__).parent.parent / "cloacina-python" / "python" / "cloacina" / "_native.pyi"
    for node in ast.walk(ast.parse(stub.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == "UnifiedExecutor":
            (constructor,) = (
                item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == "__new__"
            )
            return [argument.arg for argument in constructor.args.kwonlyargs]
    raise AssertionError(f"no UnifiedExecutor in {stub}")


def test_an_unknown_option_is_named_with_every_valid_option(database_url):
    options = stub_options()
    assert "max_concurrent_tasks" in options
    with pytest.raises(TypeError) as raised:
        UnifiedExecutor(database_url, max_tasks=3)
    message = str(raised.value)
    assert message == f"UnifiedExecutor got an unknown option `max_tasks`; valid options: {', '.join(options)}"


def test_a_shut_down_executor_refuses_work(database_url, unique_name):
    workflow(name=unique_name, tasks=[task(id="a")(lambda context: None)])
    with UnifiedExecutor(database_url) as executor:
        assert executor.execute(unique_name).status == "Completed"
    executor.shutdown()
    with pytest.raises(cloacina.ExecutorShutdownError, match="the executor has been shut down"):
        executor.execute(unique_name)


def test_a_file_database_keeps_executions_across_executors(tmp_path, unique_name):
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    workflow(name=unique_name, tasks=[task(id="a")(lambda context: {"kept": True})])
    with UnifiedExecutor(url) as first:
        execution_id = first.execute(unique_name).execution_id
    with UnifiedExecutor(url) as second:
        result = second.get_execution(execution_id)
        assert result.status == "Completed" and result.context["kept"] is True


def test_an_error_with_nul_or_a_huge_message_is_stored_cleanly(executor, unique_name):
    @task(id="junk")
    def junk(context):
        raise ValueError("junk \x00 end")

    @task(id="long")
    def long(context):
        raise ValueError("y" * 200_000)

    @task(id="fine")
    def fine(context):
        return {"fine": True}

    handles = [executor.start(workflow(name=unique_name, tasks=[junk, long, fine])) for _ in range(3)]
    for handle in handles:
        result = handle.wait(timeout=60)
        assert result.status == "Failed"
        assert result.task("junk").error_message == "junk \\0 end"
        assert result.task("fine").status == "Completed"
        stored = result.task("long").error
        assert len(stored.encode()) <= 64 * 1024
        assert stored.endswith("more bytes not stored]")


def test_reprs_quote_strings_like_python(executor, unique_name):
    name = f"{unique_name}_it's"
    workflow(name=name, tasks=[task(id="o'clock")(lambda context: None)])
    handle = executor.start(name)
    result = handle.wait(timeout=30)
    expected = f"""execution_id='{result.execution_id}', workflow_name="{name}", status='Completed', tasks=1"""
    assert repr(result) == f"ExecutionResult({expected})"
    assert repr(result.task("o'clock")) == """TaskResult(task_id="o'clock", status='Completed', attempts=1)"""
    [summary] = executor.list_executions(workflow=name)
    assert repr(summary) == (
        f"""ExecutionSummary(execution_id='{result.execution_id}', workflow_name="{name}", status='Completed')"""
    )
    started = next(event for event in handle.events() if event.kind == "TaskStarted")
    assert repr(started) == """Event(kind='TaskStarted', task_id="o'clock")"""
    assert repr(executor).startswith("UnifiedExecutor('")


def test_a_timed_out_call_still_running_keeps_its_slot(database_url, unique_name):
    """A plain function cannot be stopped: after its attempt times out it goes on in its thread,
    and the executor counts it against max_concurrent_tasks until it returns, rather than
    claiming work it has no thread for."""

    @task(id="stubborn", timeout=0.3)
    def stubborn(context):
        time.sleep(1.5)  # ignores context.cancelled

    @task(id="other")
    def other(context):
        return {"ran_at": time.time()}

    workflow(name=f"{unique_name}_stubborn", tasks=[stubborn])
    workflow(name=f"{unique_name}_other", tasks=[other])
    with UnifiedExecutor(database_url, max_concurrent_tasks=1, poll_interval=0.05) as executor:
        first = executor.start(f"{unique_name}_stubborn")
        deadline = time.monotonic() + 10
        while executor.get_execution(first.execution_id).task("stubborn").status != "Running":
            assert time.monotonic() < deadline, "the stubborn task never started"
            time.sleep(0.01)
        second = executor.start(f"{unique_name}_other")
        failed = first.wait(timeout=30)
        assert failed.status == "Failed"
        assert "timed out after 300ms" in failed.task("stubborn").error
        waited = second.wait(timeout=30).context["ran_at"] - failed.task("stubborn").started_at.timestamp()
        assert waited >= 1.4, f"the other task ran {waited:.2f}s in, while the timed-out call still ran"
