"""`cloacina.testing`: running a workflow (or part of it) on the calling thread, the assertion
helpers, and the pytest plugin used by a test suite of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from cloacina.testing import assert_completed, assert_task, run, run_async

from cloacina import RetryPolicy, UnifiedExecutor, WorkflowValidationError, task, workflow


def threaded_workflow(name, threads, calls):
    @task
    def extract(context):
        threads.append(("extract", threading.get_ident()))
        calls.append("extract")
        return {"rows": [1, 2, 3]}

    @task(dependencies=[extract], retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
    async def transform(context):
        threads.append(("transform", threading.get_ident()))
        calls.append("transform")
        await asyncio.sleep(0)
        if calls.count("transform") == 1:
            raise ConnectionError("the first attempt fails")
        return {"total": sum(context["rows"])}

    @task(dependencies=[transform])
    def load(context):
        threads.append(("load", threading.get_ident()))
        calls.append("load")
        breakpoint()
        return {"loaded": context["total"]}

    return workflow(name=name, tasks=[extract, transform, load])


def test_run_calls_every_task_on_the_calling_thread(unique_name, monkeypatch):
    threads, calls, stops = [], [], []
    monkeypatch.setattr(sys, "breakpointhook", lambda: stops.append(threading.get_ident()))
    threaded_workflow(unique_name, threads, calls)
    result = run(unique_name)
    assert_completed(result)
    assert calls == ["extract", "transform", "transform", "load"]
    assert {ident for _, ident in threads} == {threading.get_ident()}
    assert stops == [threading.get_ident()], "breakpoint() stops in the test's own thread"
    assert_task(result, "transform", attempts=2, outputs={"total": 6})
    assert result.context["loaded"] == 6


def test_run_can_run_some_tasks_with_what_the_others_would_have_written(unique_name, monkeypatch):
    monkeypatch.setattr(sys, "breakpointhook", lambda: None)
    threads, calls = [], []
    threaded_workflow(unique_name, threads, calls)
    result = run(unique_name, {"total": 10}, tasks=["load"])
    assert calls == ["load"] and [task.task_id for task in result.task_results] == ["load"]
    assert_task(result, "load", outputs={"loaded": 10})
    assert result.workflow_name == f"{unique_name} (subset: load)"
    with pytest.raises(WorkflowValidationError, match="has no task `lode`; did you mean `load`"):
        run(unique_name, tasks=["lode"])
    with pytest.raises(TypeError, match="tasks must be a list of task ids"):
        run(unique_name, tasks="load")


def test_the_helpers_say_what_differs_with_the_task_s_traceback(unique_name):
    @task
    def parse(context):
        return {"count": int(context["text"])}

    @task(dependencies=[parse])
    def report(context):
        return {"report": context["count"]}

    workflow(name=unique_name, tasks=[parse, report])
    failed = run(unique_name, {"text": "x"})
    with pytest.raises(AssertionError) as completed:
        assert_completed(failed)
    message = str(completed.value)
    assert "is Failed, not Completed" in message and "task 'report' is Skipped" in message
    assert "Traceback (most recent call last)" in message and 'return {"count": int(context["text"])}' in message
    with pytest.raises(AssertionError, match="task 'parse' is Failed, not Completed\nTraceback"):
        assert_task(failed, "parse")
    assert assert_task(failed, "parse", "Failed").error_type == "ValueError"
    passed = run(unique_name, {"text": "3"})
    with pytest.raises(AssertionError, match="'count': wrote 3, not 4\n  'other': not written"):
        assert_task(passed, "parse", outputs={"count": 4, "other": 1})
    with pytest.raises(AssertionError, match="took 1 attempts, not 2"):
        assert_task(passed, "parse", attempts=2)
    with pytest.raises(AssertionError, match="has no task 'missing'; its tasks: 'parse', 'report'"):
        assert_task(passed, "missing")


def test_run_on_a_given_executor_keeps_the_execution_there(unique_name):
    @task
    def only(context):
        return {"done": True}

    workflow(name=unique_name, tasks=[only])
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = run(unique_name, executor=executor)
        assert executor.get_execution(result.execution_id).status == "Completed"
        assert executor.list_executions()[0].execution_id == result.execution_id


async def test_run_async_runs_on_the_loop_s_thread_and_run_refuses_inside_a_loop(unique_name, monkeypatch):
    monkeypatch.setattr(sys, "breakpointhook", lambda: None)
    threads, calls = [], []
    threaded_workflow(unique_name, threads, calls)
    with pytest.raises(RuntimeError, match=r"use `await cloacina\.testing\.run_async"):
        run(unique_name)
    result = await run_async(unique_name)
    assert_completed(result)
    assert {ident for _, ident in threads} == {threading.get_ident()}


PLUGIN_SUITE = """
import threading

from cloacina import task, workflow
from cloacina.testing import assert_task, run


@task
def greet(context):
    return {"greeting": f"hello {context['name']}", "thread": threading.get_ident()}


greeting = workflow(name="greeting", tasks=[greet])


def test_the_fixture_is_a_private_executor(executor):
    assert executor.list_executions() == []
    result = run(greeting, {"name": "ada"}, executor=executor)
    task = assert_task(result, "greet", outputs={"greeting": "hello ada"})
    assert task.output["thread"] == threading.get_ident()
    assert [summary.status for summary in executor.list_executions()] == ["Completed"]


def test_each_test_gets_a_fresh_one(executor):
    assert executor.list_executions() == []


def test_a_failing_check_shows_the_difference(executor):
    result = run(greeting, {"name": "bob"}, executor=executor)
    assert_task(result, "greet", outputs={"greeting": "hello ada"})
"""


def test_the_pytest_plugin_serves_a_suite_of_its_own(tmp_path):
    (tmp_path / "test_greeting.py").write_text(textwrap.dedent(PLUGIN_SUITE))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 failed, 2 passed" in child.stdout, child.stdout + child.stderr
    assert "'greeting': wrote 'hello bob', not 'hello ada'" in child.stdout
    # The failure points at the test's line, not into the helper.
    assert 'assert_task(result, "greet", outputs={"greeting": "hello ada"})' in child.stdout
    assert "cloacina/testing/__init__.py" not in child.stdout
    plugins = subprocess.run(
        [sys.executable, "-m", "pytest", "--trace-config", "-q", "--co", str(tmp_path)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "cloacina.testing.plugin" in plugins.stdout, plugins.stdout
