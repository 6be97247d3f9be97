"""Several processes on one database: crashes, scale-out, cancellation and shutdown across
processes. Children import `workloads` (this directory is put on their path)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import workloads

from cloacina import UnifiedExecutor

TESTS = pathlib.Path(__file__).parent
CHILD_ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def spawn(*arguments: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *arguments],
        env=CHILD_ENVIRONMENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def worker(url: str, *options: str) -> subprocess.Popen:
    child = spawn("-m", "cloacina", "worker", url, "--import", "workloads", *options)
    assert child.stdout.readline().startswith("worker ready"), child.stderr.read()
    return child


@contextlib.contextmanager
def running(children: list[subprocess.Popen]):
    """Kills the children at the end, keeping what each wrote in ``child.errors``."""
    try:
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            _, child.errors = child.communicate()


COUNT_OUTPUTS = "SELECT count(*), count(DISTINCT task_id) FROM task_outputs WHERE execution_id = "


def output_counts(url: str, execution_id: str) -> tuple[int, int]:
    """Rows in task_outputs for an execution, and distinct tasks among them."""
    if url.startswith("sqlite"):
        # Python's sqlite3 is another copy of SQLite: in this process, its locks would break the
        # engine's (POSIX locks are per process). Ask from a separate process instead.
        script = (
            "import sqlite3, sys; database = sqlite3.connect(sys.argv[1]); "
            f"print(*database.execute({COUNT_OUTPUTS + '?'!r}, (sys.argv[2],)).fetchone())"
        )
        answer = subprocess.run(
            [sys.executable, "-c", script, url.removeprefix("sqlite:///"), execution_id],
            capture_output=True,
            text=True,
            check=True,
        )
        rows, tasks = answer.stdout.split()
        return int(rows), int(tasks)
    import psycopg

    with psycopg.connect(url) as database:
        return database.execute(COUNT_OUTPUTS + "%s", (execution_id,)).fetchone()


@pytest.fixture(params=["sqlite_file", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database several processes can share."""
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


CRASH_CHILD = textwrap.dedent(
    """
    import sys, workloads
    from cloacina import UnifiedExecutor
    executor = UnifiedExecutor(sys.argv[1], lease_duration=1.0)
    handles = [executor.start("crash_workload") for _ in range(3)]
    print("started", flush=True)
    for handle in handles:
        handle.wait()
    print("finished", flush=True)
    """
)


@pytest.mark.timeout(300)
def test_killed_processes_lose_nothing(shared_url):
    """SIGKILL a process at a random point, ten times; a new executor finishes everything."""
    random.seed(7)
    expected_keys = {f"out_{task_id}" for task_id in workloads.CRASH_WORKLOAD.task_ids}
    interrupted_rounds = 0
    for round_number in range(10):
        with running([spawn("-c", CRASH_CHILD, shared_url)]) as (child,):
            assert child.stdout.readline().strip() == "started", child.stderr.read()
            time.sleep(random.uniform(0.0, 0.3))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
            finished_before_the_kill = "finished" in child.stdout.read()

        with UnifiedExecutor(shared_url, lease_duration=1.0, poll_interval=0.2) as executor:
            executions = executor.list_executions(workflow="crash_workload")
            assert len(executions) == 3 * (round_number + 1)
            unfinished = [summary for summary in executions if summary.status not in ("Completed",)]
            if unfinished:
                assert not finished_before_the_kill
                interrupted_rounds += 1
            for summary in executions:
                result = executor.wait(summary.execution_id, timeout=60)
                assert result.status == "Completed", result.error
                assert set(result.context) == expected_keys
                assert output_counts(shared_url, summary.execution_id) == (52, 52)
    # The kills land mid-run: most rounds leave work for the next executor to finish.
    assert interrupted_rounds >= 7, f"only {interrupted_rounds} of 10 kills interrupted a run"


CHAIN_CHILD = textwrap.dedent(
    """
    import sys, threading, workloads
    from cloacina import UnifiedExecutor
    executor = UnifiedExecutor(sys.argv[1])
    print(executor.start("chain_60").execution_id, flush=True)
    threading.Event().wait()
    """
)

RESUME_CHILD = textwrap.dedent(
    """
    import sys, time, workloads
    started = time.time()
    from cloacina import UnifiedExecutor
    with UnifiedExecutor(sys.argv[1]) as executor:
        result = executor.wait(sys.argv[2], timeout=120)
        print(started, result.status, flush=True)
    """
)


@pytest.mark.timeout(300)
def test_a_killed_process_is_noticed_at_once_and_its_chain_resumes(shared_url):
    """SIGKILL the process running a chain of 60 tasks; a new process (default 30 s leases)
    resumes it without waiting for the lease, and every task's output is stored once."""
    random.seed(11)
    for _ in range(3):
        with running([spawn("-c", CHAIN_CHILD, shared_url)]) as (child,):
            execution_id = child.stdout.readline().strip()
            assert execution_id, child.stderr.read()
            time.sleep(random.uniform(0.2, 0.8))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        resumed = subprocess.run(
            [sys.executable, "-c", RESUME_CHILD, shared_url, execution_id],
            capture_output=True,
            text=True,
            timeout=150,
            env=CHILD_ENVIRONMENT,
        )
        assert resumed.returncode == 0, resumed.stderr
        started, status = resumed.stdout.split()
        assert status == "Completed"
        with UnifiedExecutor(shared_url, run_tasks=False) as reader:
            result = reader.get_execution(execution_id)
        assert set(result.context) == {f"out_step_{number:02}" for number in range(60)}
        assert output_counts(shared_url, execution_id) == (60, 60)
        resumed_at = min(
            (
                task_result.started_at.timestamp()
                for task_result in result.task_results
                if task_result.started_at.timestamp() >= float(started)
            ),
            default=None,
        )
        assert resumed_at is not None, "the chain had finished before the kill"
        # Well within the 30 s lease: the new process saw that the old one was gone.
        assert resumed_at - float(started) < 15, f"the first task resumed {resumed_at - float(started):.1f}s in"


def connections_to(url: str) -> int:
    """Connections other sessions hold to the PostgreSQL database at `url`."""
    import psycopg

    with psycopg.connect(url) as connection:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        return connection.execute(query).fetchone()[0]


@pytest.mark.timeout(300)
def test_four_processes_share_two_thousand_tasks(postgres_url):
    """100 executions of 20 tasks; every task completes once, and every worker ran some, each
    with at most its --pool-size connections and the one it listens on. (The pools are kept small:
    the suite may run beside others on a server with 100 connections.)"""
    options = ("--max-concurrent-tasks", "16", "--pool-size", "3")
    with running([worker(postgres_url, *options) for _ in range(4)]) as workers:
        with UnifiedExecutor(postgres_url, run_tasks=False, pool_size=2) as submitter:
            handles = [submitter.start("scale_workload") for _ in range(100)]
            results = [handle.wait(timeout=120) for handle in handles]
        # The submitter, shut down, keeps its pool for reads while its handles live.
        held = connections_to(postgres_url)
        assert held <= 4 * (3 + 1) + 2, f"the workers and the submitter hold {held} connections"
        assert all(result.status == "Completed" for result in results)
        ran_by: dict[int, int] = {}
        for result in results:
            assert output_counts(postgres_url, result.execution_id) == (20, 20)
            for task_result in result.task_results:
                assert task_result.attempts == 1
                pid = result.context[f"out_{task_result.task_id}"]
                ran_by[pid] = ran_by.get(pid, 0) + 1
        assert sum(ran_by.values()) == 2000
        for child in workers:
            assert ran_by.get(child.pid, 0) > 0, f"worker {child.pid} ran nothing: {ran_by}"


def wait_for_status(executor: UnifiedExecutor, execution_id: str, task_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while executor.get_execution(execution_id).task(task_id).status != status:
        assert time.monotonic() < deadline, f"{task_id} never became {status}"
        time.sleep(0.02)


def test_cancel_in_one_process_stops_the_task_in_another(shared_url, tmp_path):
    marker = tmp_path / "marker"
    with running([worker(shared_url, "--lease-duration", "2")]) as (child,):
        with UnifiedExecutor(shared_url, run_tasks=False, poll_interval=0.2) as submitter:
            handle = submitter.start("long_workload", {"marker": str(marker)})
            wait_for_status(submitter, handle.execution_id, "cooperative", "Running")
            cancelled_at = time.monotonic()
            assert handle.cancel() == "Cancelled"
            result = handle.wait(timeout=10)
            waited = time.monotonic() - cancelled_at
            while not marker.exists() and time.monotonic() < cancelled_at + 10:
                time.sleep(0.01)
            stopped = time.monotonic() - cancelled_at
        assert result.status == "Cancelled"
        assert result.task("after_cooperative").status == "Cancelled"
        assert marker.read_text() == f"cancelled in {child.pid}"
        assert waited < 1.0, f"the waiter took {waited:.2f}s"
        # PostgreSQL tells the worker at once; on SQLite it notices at its next lease renewal.
        assert stopped < 2.0, f"the task took {stopped:.2f}s to stop"
        assert child.poll() is None, "the worker should go on running"


def test_a_stopping_worker_hands_its_task_to_another_at_once(shared_url, tmp_path):
    marker = tmp_path / "marker"
    options = ("--lease-duration", "60", "--shutdown-timeout", "0.3", "--poll-interval", "0.2")
    with running([worker(shared_url, *options)]) as (first,):
        with UnifiedExecutor(shared_url, run_tasks=False, poll_interval=0.2) as submitter:
            handle = submitter.start("long_workload", {"marker": str(marker), "seconds": 2})
            wait_for_status(submitter, handle.execution_id, "cooperative", "Running")
            with running([worker(shared_url, *options)]) as (second,):
                stopped_at = time.monotonic()
                first.send_signal(signal.SIGTERM)
                assert first.wait(timeout=10) == 0
                result = handle.wait(timeout=20)
                elapsed = time.monotonic() - stopped_at
    assert result.status == "Completed", result.error
    # The second worker ran it from the start, well before a 60 s lease could have expired.
    assert result.context["finished_by"] == second.pid
    assert result.task("cooperative").attempts == 1
    assert elapsed < 10, f"the handover took {elapsed:.1f}s"


def test_a_worker_takes_the_url_from_the_environment(shared_url):
    """The URL (and its password) need not appear on the command line, which any local user can
    read; --help says so."""
    helped = subprocess.run([sys.executable, "-m", "cloacina", "worker", "--help"], capture_output=True, text=True)
    assert "CLOACINA_DATABASE_URL" in helped.stdout
    environment = {**CHILD_ENVIRONMENT, "CLOACINA_DATABASE_URL": shared_url}
    child = subprocess.Popen(
        [sys.executable, "-m", "cloacina", "worker", "--import", "workloads", "--poll-interval", "0.2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with running([child]):
        assert child.stdout.readline().startswith("worker ready"), child.stderr.read()
        with open(f"/proc/{child.pid}/cmdline", "rb") as command_line:
            assert shared_url.encode() not in command_line.read()
        with UnifiedExecutor(shared_url, run_tasks=False, poll_interval=0.2) as submitter:
            result = submitter.start("scale_workload").wait(timeout=60)
    assert result.status == "Completed", result.error
    assert set(result.context.values()) == {child.pid}
    without = subprocess.run(
        [sys.executable, "-m", "cloacina", "worker", "--import", "workloads"],
        env={key: value for key, value in CHILD_ENVIRONMENT.items() if key != "CLOACINA_DATABASE_URL"},
        capture_output=True,
        text=True,
    )
    assert without.returncode == 2
    assert "no database: give --database-url URL, or set CLOACINA_DATABASE_URL" in without.stderr


def test_a_worker_stopped_with_a_task_function_still_running_exits_cleanly(shared_url):
    """SIGTERM while a task function that ignores `context.cancelled` runs: after the shutdown
    timeout the worker hands the task back and exits with status 0, instead of aborting as the
    interpreter finalizes around the thread."""
    with running([worker(shared_url, "--shutdown-timeout", "0.5", "--lease-duration", "60")]) as (child,):
        with UnifiedExecutor(shared_url, run_tasks=False, poll_interval=0.2) as submitter:
            handle = submitter.start("stubborn_workload")
            wait_for_status(submitter, handle.execution_id, "stubborn", "Running")
            stopped_at = time.monotonic()
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=30) == 0
            assert time.monotonic() - stopped_at < 10
            # Handed back: any worker may take it at once, not when the one-minute lease ends.
            assert submitter.get_execution(handle.execution_id).task("stubborn").status == "Ready"
    assert "exiting without waiting for task functions still running: `stubborn` of execution" in child.errors


def test_work_and_ends_travel_between_processes_by_notification(postgres_url):
    """With polling at a minute, a task submitted in one process runs in another and the
    submitter hears of its end at once: both go by LISTEN/NOTIFY."""
    with running([worker(postgres_url, "--poll-interval", "60")]):
        with UnifiedExecutor(postgres_url, run_tasks=False, poll_interval=60) as submitter:
            for round_number in range(3):
                started = time.monotonic()
                # Within 10 s: polling would take 60. The first round may meet the listeners
                # still connecting; later ones show what a notification costs.
                result = submitter.start("scale_workload").wait(timeout=10)
                elapsed = time.monotonic() - started
                assert result.status == "Completed", result.error
                if round_number > 0:
                    assert elapsed < 1.0, f"the execution took {elapsed:.2f}s"


CANCEL_CHILD = textwrap.dedent(
    """
    import sys
    from cloacina import UnifiedExecutor
    with UnifiedExecutor(sys.argv[1], run_tasks=False) as executor:
        print(executor.cancel(sys.argv[2]), flush=True)
    """
)


def test_a_cancel_in_a_third_process_answers_waiters_at_once(postgres_url, tmp_path):
    """The worker runs the task, this process waits, a third one cancels."""
    marker = tmp_path / "marker"
    with running([worker(postgres_url, "--poll-interval", "60")]) as (child,):
        with UnifiedExecutor(postgres_url, run_tasks=False, poll_interval=60) as submitter:
            handle = submitter.start("long_workload", {"marker": str(marker)})
            wait_for_status(submitter, handle.execution_id, "cooperative", "Running")
            cancelled = subprocess.run(
                [sys.executable, "-c", CANCEL_CHILD, postgres_url, handle.execution_id],
                capture_output=True,
                text=True,
                timeout=60,
                env=CHILD_ENVIRONMENT,
            )
            cancelled_at = time.monotonic()
            assert cancelled.stdout.strip() == "Cancelled", cancelled.stderr
            result = handle.wait(timeout=10)
            waited = time.monotonic() - cancelled_at
        assert result.status == "Cancelled"
        assert waited < 1.0, f"the waiter took {waited:.2f}s"
        deadline = time.monotonic() + 5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.read_text() == f"cancelled in {child.pid}"


@pytest.mark.timeout(300)
def test_processes_sharing_a_sqlite_file_never_see_it_locked(tmp_path):
    """Two workers and a submitter write one SQLite file at once: every task completes once,
    and no `database is locked` reaches anyone."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    with running([worker(url, "--max-concurrent-tasks", "8", "--poll-interval", "0.1") for _ in range(2)]) as workers:
        with UnifiedExecutor(url, run_tasks=False, poll_interval=0.1) as submitter:
            handles = [submitter.start("scale_workload") for _ in range(25)]
            results = [handle.wait(timeout=120) for handle in handles]
    assert [result.status for result in results] == ["Completed"] * 25, [r.error for r in results if r.error]
    for result in results:
        assert output_counts(url, result.execution_id) == (20, 20)
        assert all(task_result.attempts == 1 for task_result in result.task_results)
    for child in workers:
        assert "database is locked" not in child.errors


STORED_DELTAS = "SELECT task_id, delta FROM task_outputs WHERE execution_id = "


def stored_deltas(url: str, execution_id: str) -> dict[str, dict]:
    """What task_outputs holds for an execution, by task (read from another process on SQLite,
    as in `output_counts`)."""
    if url.startswith("sqlite"):
        script = (
            "import json, sqlite3, sys; database = sqlite3.connect(sys.argv[1]); "
            f"print(json.dumps(dict(database.execute({STORED_DELTAS + '?'!r}, (sys.argv[2],)).fetchall())))"
        )
        answer = subprocess.run(
            [sys.executable, "-c", script, url.removeprefix("sqlite:///"), execution_id],
            capture_output=True,
            text=True,
            check=True,
        )
        rows = json.loads(answer.stdout)
    else:
        import psycopg

        with psycopg.connect(url) as database:
            rows = dict(database.execute(STORED_DELTAS + "%s", (execution_id,)).fetchall())
    return {task_id: json.loads(delta) for task_id, delta in rows.items()}


def test_each_task_stores_what_it_wrote_not_the_whole_context(shared_url):
    """A chain of tasks each adding one key: the database holds one delta per task, each with
    that task's key alone, and the result is the initial context plus every delta."""
    from cloacina import task, workflow

    steps = []
    for number in range(5):

        @task(id=f"step_{number}", dependencies=steps[-1:])
        def step(context, number=number):
            context.insert(f"key_{number}", "x" * 1000)

        steps.append(step)
    workflow(name="deltas_stored", tasks=steps)
    with UnifiedExecutor(shared_url) as executor:
        result = executor.execute("deltas_stored", {"initial": 1})
    assert result.status == "Completed", result.error
    deltas = stored_deltas(shared_url, result.execution_id)
    assert deltas == {f"step_{number}": {"written": {f"key_{number}": "x" * 1000}} for number in range(5)}
    assert result.context == {"initial": 1, **{f"key_{number}": "x" * 1000 for number in range(5)}}
