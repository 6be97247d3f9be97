"""OpenTelemetry spans: an execution is a span, a child of the caller's, and each attempt a
child of the execution's, also when another process runs it. Each scenario runs in a process of
its own, with the OpenTelemetry SDK exporting to memory (a tracer provider is set once per
process)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

TESTS = pathlib.Path(__file__).parent
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}

IN_ONE_PROCESS = textwrap.dedent(
    """
    import sys, tracing_workloads
    from opentelemetry import trace
    from cloacina import UnifiedExecutor

    tracing_workloads.configure()
    with UnifiedExecutor(sys.argv[1]) as executor:
        with trace.get_tracer("tests").start_as_current_span("caller"):
            result = executor.execute("traced")
            awaited = executor.start("traced").wait()
    assert result.status == "Completed" and awaited.status == "Completed", result.error
    tracing_workloads.dump()
    """
)


def spans(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_an_execution_is_a_span_and_each_attempt_a_child(database_url):
    child = subprocess.run(
        [sys.executable, "-c", IN_ONE_PROCESS, database_url],
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    finished = spans(child.stdout)
    [caller] = [span for span in finished if span.get("name") == "caller"]
    executions = [span for span in finished if span["name"] == "workflow traced"]
    assert len(executions) == 2, finished
    for execution in executions:
        assert execution["parent_id"] == caller["span_id"] and execution["trace_id"] == caller["trace_id"]
        assert execution["status"] == "OK" and execution["attributes"]["cloacina.status"] == "Completed"
    first = executions[0]
    attempts = [span for span in finished if span["parent_id"] == first["span_id"]]
    described = [
        (span["name"], span["attributes"]["cloacina.attempt"], span["attributes"]["cloacina.status"], span["status"])
        for span in attempts
    ]
    assert described == [
        ("task plain", 1, "Completed", "OK"),
        ("task flaky", 1, "Failed", "ERROR"),
        ("task flaky", 2, "Completed", "OK"),
    ]
    failed = attempts[1]
    assert failed["description"] == "ConnectionError: the first attempt fails"
    execution_id = first["attributes"]["cloacina.execution_id"]
    assert all(span["attributes"]["cloacina.execution_id"] == execution_id for span in attempts)
    assert {span["attributes"]["cloacina.workflow"] for span in attempts} == {"traced"}
    # Spans a task makes nest under its attempt's: on a plain function's thread and in a coroutine.
    inside_plain = [span["parent_id"] for span in finished if span["name"] == "inside plain"]
    assert inside_plain[0] == attempts[0]["span_id"]
    assert [span["parent_id"] for span in finished if span["name"] == "inside flaky"][:2] == [
        attempts[1]["span_id"],
        attempts[2]["span_id"],
    ]


RUST_TASKS = textwrap.dedent(
    """
    import sys, tracing_workloads, cloacina_test_tasks
    from cloacina import UnifiedExecutor, workflow

    tracing_workloads.configure()
    workflow(name="rusty", tasks=[cloacina_test_tasks.flaky])
    with UnifiedExecutor(sys.argv[1]) as executor:
        result = executor.execute("rusty", {"flaky_key": "traced"})
    assert result.status == "Completed", result.error
    tracing_workloads.dump()
    """
)


def test_a_rust_task_s_attempts_are_spans_too(database_url):
    pytest.importorskip("cloacina_test_tasks", reason="build it with `make python-extensions`")
    child = subprocess.run(
        [sys.executable, "-c", RUST_TASKS, database_url], env=ENVIRONMENT, capture_output=True, text=True, timeout=60
    )
    assert child.returncode == 0, child.stderr
    finished = spans(child.stdout)
    [execution] = [span for span in finished if span["name"] == "workflow rusty"]
    attempts = [span for span in finished if span["parent_id"] == execution["span_id"]]
    assert [(span["name"], span["attributes"]["cloacina.attempt"], span["status"]) for span in attempts] == [
        ("task flaky", 1, "ERROR"),
        ("task flaky", 2, "ERROR"),
        ("task flaky", 3, "OK"),
    ]
    assert attempts[0]["description"] == "flaky failure 1"


WORKER = textwrap.dedent(
    """
    import signal, sys, threading, tracing_workloads
    from cloacina import UnifiedExecutor

    tracing_workloads.configure()
    executor = UnifiedExecutor(sys.argv[1], poll_interval=0.2)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=executor.shutdown).start())
    print("ready", flush=True)
    executor.serve()
    tracing_workloads.dump()
    """
)

SUBMITTER = textwrap.dedent(
    """
    import sys, tracing_workloads
    from opentelemetry import trace
    from cloacina import UnifiedExecutor

    tracing_workloads.configure()
    with UnifiedExecutor(sys.argv[1], run_tasks=False, poll_interval=0.2) as executor:
        with trace.get_tracer("tests").start_as_current_span("caller"):
            result = executor.execute("traced", timeout=60)
    assert result.status == "Completed", result.error
    tracing_workloads.dump()
    """
)


def test_a_worker_process_joins_the_caller_s_trace(tmp_path, postgres_url):
    for url in (f"sqlite:///{tmp_path / 'shared.db'}", postgres_url):
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, url],
            env=ENVIRONMENT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
            submitter = subprocess.run(
                [sys.executable, "-c", SUBMITTER, url], env=ENVIRONMENT, capture_output=True, text=True, timeout=90
            )
            assert submitter.returncode == 0, submitter.stderr
        finally:
            worker.send_signal(signal.SIGTERM)
            output, errors = worker.communicate(timeout=60)
        assert worker.returncode == 0, errors
        submitted, ran = spans(submitter.stdout), spans(output)
        [caller] = [span for span in submitted if span["name"] == "caller"]
        [execution] = [span for span in submitted if span["name"] == "workflow traced"]
        assert execution["parent_id"] == caller["span_id"]
        assert not [span for span in submitted if span["name"].startswith("task ")], "the submitter ran no task"
        attempts = [span for span in ran if span["name"].startswith("task ")]
        assert [span["name"] for span in attempts] == ["task plain", "task flaky", "task flaky"]
        assert {span["trace_id"] for span in attempts} == {caller["trace_id"]}
        assert {span["parent_id"] for span in attempts} == {execution["span_id"]}


WITHOUT_OPENTELEMETRY = textwrap.dedent(
    """
    import sys
    sys.modules["opentelemetry"] = None  # as if it were not installed
    from cloacina import UnifiedExecutor, _tracing, task, workflow

    @task
    def alone(context):
        return {"done": True}

    workflow(name="alone", tasks=[alone])
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        print(executor.execute("alone").status, _tracing.begin_execution("alone", "id"))
    """
)

UNCONFIGURED = textwrap.dedent(
    """
    import opentelemetry.trace
    from cloacina import _tracing
    print(_tracing.begin_execution("alone", "id"))
    """
)


def test_without_opentelemetry_or_a_provider_nothing_is_traced():
    child = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY], env=ENVIRONMENT, capture_output=True, text=True, timeout=60
    )
    assert (child.returncode, child.stdout) == (0, "Completed None\n"), child.stderr
    unconfigured = subprocess.run(
        [sys.executable, "-c", UNCONFIGURED], env=ENVIRONMENT, capture_output=True, text=True, timeout=60
    )
    assert (unconfigured.returncode, unconfigured.stdout) == (0, "None\n"), unconfigured.stderr
