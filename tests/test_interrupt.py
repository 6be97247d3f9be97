"""Ctrl-C while `execute` waits: the process stops at once and the execution is cancelled."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cloacina

CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from cloacina import UnifiedExecutor, task, workflow

    # A suite started in the background (`make test &`, a CI runner) runs with SIGINT ignored,
    # and its children inherit that; Python then installs no handler of its own. A terminal's
    # process has it: put it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
