"""One shape run by Prefect 3, printed as a line of JSON beside Cloacina's figures.

python prefect_measure.py SHAPE DIRECTORY RUNS

Every task of the shape is its own Prefect ``@task``, submitted from one ``@flow`` per execution to
the default task runner (a thread pool) with ``wait_for=`` its dependencies' futures, so the
fan-out's workers run concurrently and each task run is recorded by the Prefect server as usual.

Prefect runs fully local here. With no ``PREFECT_API_URL`` and ephemeral mode allowed, Prefect
3.x's first API client starts a *server subprocess* (``SubprocessASGIServer``: ``python -m uvicorn
prefect.server.api.server:create_app``) bound to 127.0.0.1 on a random free port in 8000-8999, with
its UI off; it is stopped when this process exits. That server holds the SQLite database in
DIRECTORY and runs the services marked for ephemeral servers (among them the task run recorder,
which persists the task runs that the client reports as events over a loopback websocket). Flow runs
are created and moved through their states with HTTP calls to it. It starts during the warm-up run,
outside the measured runs. Analytics are off on both sides (``PREFECT_SERVER_ANALYTICS_ENABLED=false``
for the server's heartbeat, ``DO_NOT_TRACK=1`` for the client's), so nothing leaves the machine.

Flow run heartbeats are off, unlike Prefect's default (every 180 s in 3.9): they only feed the
detection of crashed ("zombie") flow runs, and with them on, every *sync* flow call ends by joining
the heartbeat thread, which sleeps in whole seconds, so each execution takes about 1 s longer
whatever it does. Prefect's own test suite turns them off the same way. To measure with them, set
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` (30 or more).

Left as Prefect has them: task results are not persisted (the default), and the client's retries.
On SQLite the server now and then answers "database is locked" (a 503) when a flow run is created
while it writes the events of earlier task runs; the client then waits about 2 s (exponential
back-off with jitter) and tries again. That is Prefect's normal behaviour on SQLite, which its
maintainers call hard to avoid with the ephemeral server, and it shows in the per-execution shapes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    STAMPS,
    Shape,
    StdoutGuard,
    missing_tool,
    parse_arguments,
    result_line,
    stamp,
    summary,
    take_hops,
)

MAX_WORKERS = 256
"""Threads of the flow's ``ThreadPoolTaskRunner``: the same bound as Cloacina's ``max_concurrent_tasks``.

Prefect's default is unbounded (one thread per submitted task). A task submitted with ``wait_for``
holds its thread while it waits, but the pool hands threads out in submission order, which is
dependency order, so 256 never deadlocks: in the fan-out, root runs first and the join takes a
thread only after every worker has one.
"""


def configure(directory: Path) -> None:
    """Points Prefect at DIRECTORY, local and quiet. Must run before ``prefect`` is imported."""
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        os.environ.pop(name, None)
    home = directory / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{directory / 'prefect.db'}",
            # No API URL and this allowed: Prefect starts its own server on 127.0.0.1 (see above).
            "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
            # Prefect waits 20 s for that server by default, and on a 2-core machine its start
            # now and then took longer. Start-up is outside the measured runs.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
            # Prefect's default already; said here so that no profile turns it on.
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
        }
    )


def _body(task_id: str) -> Callable[[], None]:
    def run() -> None:
        stamp(task_id)

    # A name of its own, so each task has its own Prefect task key (made from name and source).
    run.__name__ = run.__qualname__ = task_id
    return run


def build(shape: Shape) -> Callable[..., Any]:
    """The shape as a Prefect flow that submits one task per task id and waits for them all."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    tasks = {task_id: task(name=task_id)(_body(task_id)) for task_id in shape.tasks}

    @flow(name=shape.workflow_name, task_runner=ThreadPoolTaskRunner(max_workers=MAX_WORKERS))
    def run_shape() -> None:
        futures: dict[str, Any] = {}
        for task_id, dependencies in shape.tasks.items():
            futures[task_id] = tasks[task_id].submit(wait_for=[futures[dependency] for dependency in dependencies])
        for future in futures.values():
            future.result()

    return run_shape


class RetryCounter(logging.Filter):
    """Counts the API requests that Prefect's client retried (it logs each retry at DEBUG level on
    ``prefect.client``, and logs nothing else at that level but a line when an async client opens),
    passing on only records of WARNING and above."""

    def __init__(self) -> None:
        super().__init__()
        self.retries = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "retryable" in record.getMessage():
            self.retries += 1
        return record.levelno >= logging.WARNING

    @classmethod
    def install(cls) -> RetryCounter:
        counter = cls()
        client_logger = logging.getLogger("prefect.client")
        client_logger.addFilter(counter)
        client_logger.setLevel(logging.DEBUG)
        return counter


def run_once(run_shape: Callable[..., Any], shape: Shape) -> tuple[float, list[float]]:
    """Runs the shape once: the time spent in the flow calls and the hops."""
    wall = 0.0
    hops: list[float] = []
    for _ in range(shape.executions_per_run):
        STAMPS.clear()
        started = time.perf_counter()
        state = run_shape(return_state=True)
        wall += time.perf_counter() - started
        if not state.is_completed():
            raise RuntimeError(f"{shape.workflow_name} ended {state.type}: {state.message}")
        hops.extend(take_hops(shape))
    return wall, hops


def main(arguments: list[str]) -> None:
    shape, directory, runs = parse_arguments("prefect_measure.py", arguments)
    guard = StdoutGuard()
    configure(directory)
    try:
        import prefect
    except ImportError as error:
        missing_tool("prefect", error)
    print(f"prefect {prefect.__version__}, PREFECT_HOME {os.environ['PREFECT_HOME']}", file=sys.stderr)

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    heartbeats: contextlib.AbstractContextManager[Any] = (
        contextlib.nullcontext()
        if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in os.environ
        else temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
    )
    run_shape = build(shape)
    counter = RetryCounter.install()
    walls: list[float] = []
    hops: list[float] = []
    with heartbeats:
        run_once(run_shape, shape)
        counter.retries = 0
        for _ in range(runs):
            wall, run_hops = run_once(run_shape, shape)
            walls.append(wall)
            hops.extend(run_hops)
    print(summary("prefect", shape, walls, hops), file=sys.stderr)
    print(f"prefect {shape.key}: {counter.retries} API requests retried during the measured runs", file=sys.stderr)
    guard.emit(result_line("prefect", shape, walls, hops))


if __name__ == "__main__":
    main(sys.argv[1:])
