"""Timings: when each task became ready, each attempt's start, end and worker, and the Chrome
trace of an execution."""

import json
import time

import pytest

from cloacina import RetryPolicy, TaskAttempt, task, workflow


def retried_workflow(name):
    calls = []

    @task
    def first(context):
        time.sleep(0.005)

    @task(dependencies=[first], retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
    def flaky(context):
        calls.append(1)
        time.sleep(0.005)
        if len(calls) == 1:
            raise TimeoutError("the first attempt times out")

    return workflow(name=name, tasks=[first, flaky])


def test_each_attempt_is_timed_with_its_worker(executor, unique_name):
    retried_workflow(unique_name)
    result = executor.execute(unique_name)
    first, flaky = result.task("first"), result.task("flaky")
    history = flaky.attempt_history
    assert all(isinstance(attempt, TaskAttempt) for attempt in history)
    assert [(attempt.number, attempt.status) for attempt in history] == [(1, "Failed"), (2, "Completed")]
    assert history[0].error.startswith("TimeoutError: the first attempt times out")
    assert history[1].error is None
    assert {attempt.worker for attempt in history} == {executor.owner_id} == {flaky.worker}
    assert first.ready_at <= first.started_at and flaky.ready_at >= first.finished_at
    assert flaky.wait == pytest.approx((history[0].started_at - flaky.ready_at).total_seconds(), abs=1e-6)
    assert history[0].ready_at == flaky.ready_at and history[1].ready_at is None
    assert all(attempt.duration >= 0.005 for attempt in history)
    assert history[0].finished_at <= history[1].started_at and history[1].finished_at == flaky.finished_at
    assert repr(history[1]) == f"TaskAttempt(number=2, status='Completed', duration={history[1].duration:.6f})"


def test_write_trace_draws_one_slice_per_attempt(executor, unique_name, tmp_path):
    retried_workflow(unique_name)
    result = executor.execute(unique_name)
    path = tmp_path / "trace.json"
    result.write_trace(path)
    trace = json.loads(path.read_text())
    slices = [event for event in trace["traceEvents"] if event["ph"] == "X"]
    assert [(piece["name"], piece["args"]["attempt"], piece["args"]["status"]) for piece in slices] == [
        ("first", 1, "Completed"),
        ("flaky", 1, "Failed"),
        ("flaky", 2, "Completed"),
    ]
    rows = {event["tid"]: event["args"]["name"] for event in trace["traceEvents"] if event["name"] == "thread_name"}
    assert rows == {1: executor.owner_id} and {piece["tid"] for piece in slices} == {1}
    attempt = result.task("flaky").attempt_history[0]
    assert slices[1]["ts"] == int(attempt.started_at.timestamp() * 1_000_000)
    assert slices[1]["dur"] == pytest.approx(attempt.duration * 1_000_000, abs=1)
    result.write_trace(str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text()) == trace
    with pytest.raises(IsADirectoryError):
        result.write_trace(tmp_path)
