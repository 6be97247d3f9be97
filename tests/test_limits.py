"""The limits: every setting, duration and size out of range is refused with a ValueError-derived
error naming it, never a panic or a hang."""

from __future__ import annotations

import pytest

import cloacina
from cloacina import RetryPolicy, UnifiedExecutor, task, workflow

HUGE_SECONDS = [1e19, 1e13, float("inf"), float("nan"), -1.0, 365 * 24 * 3600 + 1]


@pytest.mark.parametrize("seconds", HUGE_SECONDS)
@pytest.mark.parametrize(
    "option", ["task_timeout", "poll_interval", "lease_duration", "sqlite_busy_timeout", "shutdown_timeout"]
)
def test_durations_out_of_range_name_the_setting(option, seconds):
    with pytest.raises(cloacina.ValidationError, match=rf"^{option} is "):
        UnifiedExecutor("sqlite:///:memory:", **{option: seconds})


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_concurrent_tasks", 2**62, "`max_concurrent_tasks` is 4611686018427387904; it must be 1 to 100000"),
        ("max_concurrent_tasks", 2**70, "max_concurrent_tasks is 1180591620717411303424, which is out of range"),
        ("max_concurrent_tasks", -1, "max_concurrent_tasks is -1, which is out of range"),
        ("pool_size", 10**6, "`pool_size` is 1000000; it must be 1 to 1000"),
        ("max_recoveries", -3, "max_recoveries is -3, which is out of range"),
        ("sqlite_busy_timeout", 86401, "`sqlite_busy_timeout` is 86401s; it must be 1ms to 86400s"),
    ],
)
def test_sizes_out_of_range_name_the_setting(option, value, message):
    with pytest.raises(cloacina.ValidationError) as raised:
        UnifiedExecutor("sqlite:///:memory:", **{option: value})
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_an_option_of_the_wrong_type_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match=r"^pool_size cannot be `str`"):
        UnifiedExecutor("sqlite:///:memory:", pool_size="eight")


@pytest.mark.parametrize("seconds", [1e19, float("inf"), -5.0])
def test_task_timeouts_and_retry_delays_out_of_range_are_refused(seconds):
    with pytest.raises(cloacina.ValidationError, match="timeout is"):
        task(id="slow", timeout=seconds)(lambda context: None)
    for field in ("initial_delay", "max_delay"):
        with pytest.raises(cloacina.ValidationError, match=rf"^{field} is"):
            RetryPolicy(**{field: seconds})


def test_waiting_with_a_timeout_out_of_range_is_refused(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="only")(lambda context: None)])
    handle = executor.start(unique_name)
    for seconds in (1e19, float("inf")):
        with pytest.raises(cloacina.ValidationError, match=r"^timeout is"):
            executor.wait(handle.execution_id, timeout=seconds)
        with pytest.raises(cloacina.ValidationError, match=r"^timeout is"):
            handle.wait(timeout=seconds)
        with pytest.raises(cloacina.ValidationError, match=r"^timeout is"):
            executor.execute(unique_name, timeout=seconds)
    assert executor.wait(handle.execution_id, timeout=365 * 24 * 3600).status == "Completed"


def test_values_keep_every_digit_through_the_store(executor, unique_name):
    numbers = [130.65331632653061, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0, 2**63 - 1, -(2**63), 2**64 - 1]

    @task(id="copy")
    def copy(context):
        return {"copied": context["numbers"]}

    result = executor.execute(workflow(name=unique_name, tasks=[copy]), {"numbers": numbers})
    assert result.status == "Completed", result.error
    stored = executor.get_execution(result.execution_id).context
    for key in ("numbers", "copied"):
        assert [repr(number) for number in stored[key]] == [repr(number) for number in numbers]


CRASHING_VALUES = """
import sys
from cloacina import UnifiedExecutor, task, workflow

@task(id="cyclic")
def cyclic(context):
    looped = []
    looped.append(looped)
    context.set("looped", looped)

@task(id="deep")
def deep(context):
    value = []
    for _ in range(200_000):
        value = [value]
    return {"deep": value}

@task(id="fine")
def fine(context):
    return {"fine": True}

workflow(name="crashing_values", tasks=[cyclic, deep, fine])
with UnifiedExecutor(sys.argv[1]) as executor:
    result = executor.execute("crashing_values")
    for task_result in result.task_results:
        print(task_result.task_id, task_result.status, task_result.error_type, task_result.error_message)
    print("read back:", executor.get_execution(result.execution_id).context.to_dict())
"""


def test_a_cyclic_or_very_deep_value_fails_its_task_and_nothing_else(database_url):
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-c", CRASHING_VALUES, database_url], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].startswith(
        "cyclic Failed cloacina.SerializationError context key `looped`: the value at `looped[0]`"
    )
    assert "contains itself" in lines[0]
    assert lines[1].startswith("deep Failed cloacina.SerializationError context key `deep`:")
    assert "nests deeper than 100 levels" in lines[1]
    assert lines[2] == "fine Completed None None"
    assert lines[3] == "read back: {'fine': True}"
