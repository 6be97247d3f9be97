"""Ctrl-C while `execute` waits: the process stops at once and the execution is cancelled."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cloacina

PREAMBLE = textwrap.dedent(
    """
    import signal, sys, time
    from cloacina import UnifiedExecutor, task, workflow

    # A suite started in the background (`make test &`, a CI runner) runs with SIGINT ignored,
    # and its children inherit that; Python then installs no handler of its own. A terminal's
    # process has it: put it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    """
)

CHILD = PREAMBLE + textwrap.dedent(
    """
    @task
    def sleeper(context):
        print("task started", flush=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not context.cancelled:
            time.sleep(0.01)

    @task(dependencies=[sleeper])
    def after(context):
        pass

    workflow(name="interrupted", tasks=[sleeper, after])
    executor = UnifiedExecutor(sys.argv[1])
    try:
        executor.execute("interrupted")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
    """
)


@pytest.fixture(params=["sqlite_file", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'interrupt.db'}"
    return request.getfixturevalue("postgres_url")


def test_sigint_during_execute_cancels_the_execution(url):
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout.readline().strip() == "task started"
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                output, errors = child.communicate()
                pytest.fail(f"the process did not stop within 10 s of SIGINT\nstdout:\n{output}\nstderr:\n{errors}")
            elapsed = time.monotonic() - sent
        finally:
            child.kill()
        output, errors = child.communicate()
    assert "interrupted" in output, errors
    assert "KeyboardInterrupt" in errors
    assert child.returncode != 0
    # Signals are checked every 50 ms; the rest is the cancellation's write and the exit.
    assert elapsed < 1.0, f"the process took {elapsed:.2f}s to stop"

    with cloacina.UnifiedExecutor(url) as executor:
        [execution] = executor.list_executions()
        assert execution.status == "Cancelled"
        result = executor.get_execution(execution.execution_id)
        assert result.task("sleeper").status == "Cancelled" and result.task("after").status == "Cancelled"


STUBBORN = PREAMBLE + textwrap.dedent(
    """
    import threading

    started = threading.Event()

    @task
    def stubborn(context):
        started.set()
        print("task started", flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # never looks at context.cancelled
            time.sleep(0.01)

    workflow(name="stubborn", tasks=[stubborn])
    """
)

ENDS_WHILE_RUNNING = STUBBORN + textwrap.dedent(
    """
    executor = UnifiedExecutor(sys.argv[1], shutdown_timeout=0.5)
    handle = executor.start("stubborn")
    # The function itself has started (its stored status turns Running when it is claimed, a
    # moment before it is called).
    started.wait(30)
    print("leaving", flush=True)
    """
)


def finish(child: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        output, errors = child.communicate()
        pytest.fail(f"the process did not end within {timeout} s\nstdout:\n{output}\nstderr:\n{errors}")


def test_exit_with_a_task_function_still_running_is_clean(url):
    """The script ends while a task function that ignores `context.cancelled` runs: after the
    shutdown timeout the process ends with status 0 and says why, instead of aborting as the
    interpreter finalizes around the thread; the task goes back to the queue."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", ENDS_WHILE_RUNNING, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    output, errors = finish(child, 30)
    assert child.returncode == 0, errors
    assert "leaving" in output
    assert "waiting up to 0.5s for running tasks to finish: `stubborn` of execution" in errors
    assert "exiting without waiting for task functions still running: `stubborn` of execution" in errors
    assert time.monotonic() - started < 15
    with cloacina.UnifiedExecutor(url, run_tasks=False) as reader:
        [execution] = reader.list_executions()
        snapshot = reader.get_execution(execution.execution_id)
    assert (execution.status, snapshot.task("stubborn").status) == ("Running", "Ready")


def test_a_second_ctrl_c_exits_at_once(url):
    """The first Ctrl-C cancels the execution and says what it waits for; the second exits at
    once, by SIGINT as Python does, never aborting."""
    script = STUBBORN + "UnifiedExecutor(sys.argv[1]).execute('stubborn')\n"
    child = subprocess.Popen(
        [sys.executable, "-c", script, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "task started"
        child.send_signal(signal.SIGINT)
        # The wait is announced once the task function has had a moment to return.
        line = child.stderr.readline()
        while line and "was cancelled" not in line:
            line = child.stderr.readline()
        assert "waiting up to 30s for `stubborn` of execution" in line, line
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, errors = finish(child, 20)
    finally:
        child.kill()
    assert time.monotonic() - sent < 5
    assert child.returncode == -signal.SIGINT, errors
    assert "KeyboardInterrupt" in errors
    assert "Fatal Python error" not in errors
    with cloacina.UnifiedExecutor(url, run_tasks=False) as reader:
        [execution] = reader.list_executions()
    assert execution.status == "Cancelled"
