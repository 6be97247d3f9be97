"""One shape run by DBOS Transact, printed as a line of JSON beside Cloacina's figures.

python dbos_measure.py SHAPE DIRECTORY RUNS

Each execution is one DBOS workflow, and every task of the shape is its own ``@DBOS.step()``, whose
outcome DBOS checkpoints in its system database (a SQLite file in DIRECTORY) before the workflow
goes on. The workflow and its steps are ``async``: DBOS documents running async steps concurrently
within a workflow by starting them as asyncio tasks in a deterministic order and gathering them
("Running Async Steps In Parallel"); each step gets its step id when it starts, so the order is the
same on replay and every step stays durably recorded. That is how the fan-out's 1000 workers and
the diamond's left and right run at once. (The other documented way, a queue of child workflows,
would make each worker a workflow of its own rather than a step.) The waves of each shape run one
after another, which for these shapes is exactly their dependencies (see ``Shape.levels``).

DBOS runs in this process: no server. Version 3 has no admin server any more, OTLP export is off
(``enable_otlp`` False, the default, and no endpoints) and without a Conductor key nothing connects
anywhere.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

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


def _body(task_id: str) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        stamp(task_id)

    run.__name__ = run.__qualname__ = task_id
    return run


def build(dbos: Any, shape: Shape) -> Callable[[], Awaitable[None]]:
    """The shape as a DBOS workflow of one step per task id, each wave's steps run concurrently."""
    steps = {task_id: dbos.step(name=task_id)(_body(task_id)) for task_id in shape.tasks}
    waves = shape.levels()

    @dbos.workflow(name=shape.workflow_name)
    async def run_shape() -> None:
        for wave in waves:
            if len(wave) == 1:
                await steps[wave[0]]()
            else:
                # Started in wave order, so each step's id is the same on every run and on replay.
                running = [asyncio.create_task(steps[task_id]()) for task_id in wave]
                await asyncio.gather(*running)

    return run_shape


async def run_once(run_shape: Callable[[], Awaitable[None]], shape: Shape) -> tuple[float, list[float]]:
    """Runs the shape once: the time spent in the workflow calls and the hops."""
    wall = 0.0
    hops: list[float] = []
    for _ in range(shape.executions_per_run):
        STAMPS.clear()
        started = time.perf_counter()
        await run_shape()
        wall += time.perf_counter() - started
        hops.extend(take_hops(shape))
    return wall, hops


async def measure(run_shape: Callable[[], Awaitable[None]], shape: Shape, runs: int) -> tuple[list[float], list[float]]:
    """A warm-up run, then RUNS measured ones."""
    await run_once(run_shape, shape)
    walls: list[float] = []
    hops: list[float] = []
    for _ in range(runs):
        wall, run_hops = await run_once(run_shape, shape)
        walls.append(wall)
        hops.extend(run_hops)
    return walls, hops


def dbos_config(name: str, directory: Path) -> dict[str, Any]:
    """DBOS's configuration here: a SQLite system database in DIRECTORY, quiet, OTLP export off."""
    return {
        "name": name,
        "system_database_url": f"sqlite:///{directory / 'dbos.sqlite'}",
        "log_level": "WARNING",
        "enable_otlp": False,
    }


def main(arguments: list[str]) -> None:
    shape, directory, runs = parse_arguments("dbos_measure.py", arguments)
    guard = StdoutGuard()
    try:
        from dbos import DBOS, DBOSConfig
    except ImportError as error:
        missing_tool("dbos", error)
    from importlib.metadata import version

    config = cast("DBOSConfig", dbos_config("cloacina_bench_peers", directory))
    print(f"dbos {version('dbos')}, system database {config['system_database_url']}", file=sys.stderr)
    DBOS(config=config)
    run_shape = build(DBOS, shape)
    DBOS.launch()
    try:
        walls, hops = asyncio.run(measure(run_shape, shape, runs))
    finally:
        DBOS.destroy()
    print(summary("dbos", shape, walls, hops), file=sys.stderr)
    guard.emit(result_line("dbos", shape, walls, hops))


if __name__ == "__main__":
    main(sys.argv[1:])
