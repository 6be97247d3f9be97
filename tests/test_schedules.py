"""Cron schedules and delayed starts, from Python: one execution per tick from any number of
processes, the tick as an aware datetime, pause, resume and delete, and starts that wait."""

from __future__ import annotations

import datetime
import textwrap
import time
import zoneinfo

import pytest
from children import finish, spawn

from cloacina import (
    ExecutionStatus,
    Schedule,
    ScheduleNotFoundError,
    UnifiedExecutor,
    ValidationError,
    task,
    workflow,
)


def recorded(name):
    @task
    def write(context):
        return {"seen": context["scheduled_at"]}

    return workflow(name=name, tasks=[write])


def ticks_of(executor, name):
    """The `scheduled_at` of every execution of `name`, oldest first."""
    summaries = executor.list_executions(workflow=name, limit=10_000)
    return sorted(executor.get_execution(summary.execution_id).context["scheduled_at"] for summary in summaries)


def test_a_schedule_is_declared_read_paused_resumed_and_deleted(executor, unique_name):
    recorded(unique_name)
    declared = executor.schedule(
        unique_name, "0 2 * * *", context={"recipients": ["ops"]}, timezone="Europe/Paris", name="nightly"
    )
    assert isinstance(declared, Schedule)
    assert (declared.name, declared.workflow, declared.cron, declared.catchup) == (
        "nightly",
        unique_name,
        "0 2 * * *",
        "skip",
    )
    assert dict(declared.context) == {"recipients": ["ops"]} and not declared.paused and not declared.overdue
    upcoming = declared.next_fire_times(3)
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert [tick.astimezone(paris).hour for tick in upcoming] == [2, 2, 2]
    assert upcoming[0] == declared.next_fire_at and declared.next_fire_at.tzinfo == paris
    # Declared again as it is: the same schedule; with a change: updated in place.
    assert (
        executor.schedule(
            unique_name, "0 2 * * *", context={"recipients": ["ops"]}, timezone="Europe/Paris", name="nightly"
        ).created_at
        == declared.created_at
    )
    changed = executor.schedule(unique_name, "0 3 * * *", timezone="Europe/Paris", name="nightly", catchup="latest")
    assert (changed.cron, changed.catchup, changed.created_at) == ("0 3 * * *", "latest", declared.created_at)
    changed.pause()
    assert changed.paused and executor.get_schedule("nightly").paused
    changed.resume()
    assert not executor.get_schedule("nightly").paused
    assert [schedule.name for schedule in executor.list_schedules()] == ["nightly"]
    changed.delete()
    assert executor.list_schedules() == []
    with pytest.raises(ScheduleNotFoundError, match="no schedule is named `nightly`"):
        executor.get_schedule("nightly")
    with pytest.raises(LookupError):
        changed.pause()
    assert "Schedule(name='nightly'" in repr(changed)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cron": "* * *"}, "cron expression `\\* \\* \\*` has 3 fields; write five"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "time zone `Mars/Olympus` is unknown"),
        ({"cron": "0 2 * * *", "catchup": "sometimes"}, "catch-up policy `sometimes` is unknown"),
        ({"cron": "0 2 * * *", "name": ""}, 'schedule name "" is empty'),
        ({"cron": "0 0 30 2 *"}, "never fires"),
    ],
)
def test_a_bad_schedule_is_refused_with_the_fix(executor, unique_name, arguments, message):
    with pytest.raises(ValidationError, match=message):
        executor.schedule(unique_name, **arguments)
    assert executor.list_schedules() == []


def test_each_tick_starts_an_execution_with_its_time(executor, unique_name):
    recorded(unique_name)
    executor.schedule(unique_name, "* * * * * *", context={"team": "ops"}, timezone="Asia/Tokyo")
    # Two ticks, waited for: on a loaded machine the first may start late.
    deadline = time.monotonic() + 30
    while len(executor.list_executions(workflow=unique_name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    executor.get_schedule(unique_name).pause()
    time.sleep(0.3)
    summaries = executor.list_executions(workflow=unique_name)
    assert len(summaries) >= 2
    result = executor.get_execution(summaries[0].execution_id)
    tick = result.context["scheduled_at"]
    assert isinstance(tick, datetime.datetime) and tick.tzinfo == zoneinfo.ZoneInfo("Asia/Tokyo")
    assert tick.microsecond == 0 and result.context["team"] == "ops"
    assert result.context["seen"] == tick, "the task read the same tick"
    assert executor.get_schedule(unique_name).last_fired_at == max(ticks_of(executor, unique_name))


SERVING = textwrap.dedent(
    """
    import sys, time
    from cloacina import UnifiedExecutor, task, workflow

    @task
    def write(context):
        return {"written": True}

    workflow(name="ticked", tasks=[write])
    with UnifiedExecutor(sys.argv[1]) as executor:
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    """
)


@pytest.mark.parametrize("backend", ["sqlite_file", "postgres"])
def test_two_processes_serving_a_schedule_start_each_tick_once(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'ticks.db'}" if backend == "sqlite_file" else request.getfixturevalue("postgres_url")
    with UnifiedExecutor(url) as executor:
        # Declared here, where "ticked" is not registered: only the two processes serve it.
        executor.schedule("ticked", "* * * * * *", catchup="all")
        until = time.time() + 6.0
        finish(spawn(SERVING, [url, str(until)], count=2))
        ticks = ticks_of(executor, "ticked")
        statuses = {summary.status for summary in executor.list_executions(workflow="ticked", limit=10_000)}
    assert len(ticks) >= 4, ticks
    assert len(set(ticks)) == len(ticks), f"a tick started twice: {ticks}"
    steps = {(later - earlier).total_seconds() for earlier, later in zip(ticks, ticks[1:])}
    assert steps == {1.0}, f"a tick was lost: {ticks}"
    assert statuses <= {ExecutionStatus.COMPLETED, ExecutionStatus.PENDING, ExecutionStatus.RUNNING}


def test_a_delayed_start_waits_until_its_time(executor, unique_name):
    @task
    def stamp(context):
        return {"ran_at": time.time()}

    workflow(name=unique_name, tasks=[stamp])
    asked = time.time()
    handle = executor.start(unique_name, delay=1.0)
    time.sleep(0.2)
    assert handle.status == ExecutionStatus.PENDING
    result = handle.wait(timeout=30)
    assert result.status == ExecutionStatus.COMPLETED and result.context["ran_at"] >= asked + 1.0
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    at = datetime.datetime.now(paris) + datetime.timedelta(milliseconds=500)
    later = executor.start(unique_name, at=at).wait(timeout=30)
    assert later.context["ran_at"] >= at.timestamp()
    assert executor.start(unique_name, delay=0).wait(timeout=30).status == ExecutionStatus.COMPLETED


def test_a_bad_start_time_is_refused(executor, unique_name):
    recorded(unique_name)
    with pytest.raises(ValidationError, match="give a timezone-aware datetime"):
        executor.start(unique_name, at=datetime.datetime.now())
    with pytest.raises(ValidationError, match="give a timezone-aware datetime"):
        executor.start(unique_name, at="tomorrow")
    with pytest.raises(ValidationError, match="give `at` or `delay`, not both"):
        executor.start(unique_name, at=datetime.datetime.now(datetime.timezone.utc), delay=1)
    with pytest.raises(ValidationError, match="delay is -1"):
        executor.start(unique_name, delay=-1)
    assert executor.list_executions(workflow=unique_name) == []
