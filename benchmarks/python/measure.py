"""One shape on one database with Python tasks, printed as a line of JSON for ``run.py``.

python measure.py SHAPE URL RUNS sync|async|rust

``sync`` and ``async``: Python ``def`` and ``async def`` tasks; ``rust``: Rust tasks exported to
Python (``benchmarks/rust_tasks``), the executions started from plain code as for ``sync``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

from shapes import MAPPED, SHAPES, STAMPS, Shape, hops_from_results, register, register_rust, take_hops

import cloacina

EXECUTOR_OPTIONS: dict[str, object] = {"max_concurrent_tasks": 256}
"""The settings the Rust side uses too."""
if "CLOACINA_BENCH_TASK_LOG_LEVEL" in os.environ:
    # What task logging costs: `make bench-check` also runs the chain with the capture off.
    EXECUTOR_OPTIONS["task_log_level"] = os.environ["CLOACINA_BENCH_TASK_LOG_LEVEL"]

WARMED_UP, MEASURED = "warmed up", "measured"
"""The lines printed before and after the measured runs when ``CLOACINA_BENCH_RESUME_FILE``
names a file: after each, the process waits for that file to exist (and removes it) before it
goes on. ``make bench-check`` turns callgrind's instrumentation on at the first and off at the
second (``benchmarks/check.py``), so that it counts the measured runs alone, and what comes
before and after (the interpreter's start, the imports, the executor's start, the warm-up, the
shutdown) runs uninstrumented, several times faster. ``benchmarks/src/measure.rs`` does the
same."""


def _pause(line: str) -> None:
    """The handshake of `WARMED_UP` and `MEASURED`, when asked for."""
    resume = os.environ.get("CLOACINA_BENCH_RESUME_FILE")
    if resume is None:
        return
    print(line, flush=True)
    while not os.path.exists(resume):
        time.sleep(0.001)
    os.remove(resume)


def _check(shape: Shape, result: cloacina.ExecutionResult) -> None:
    if result.status != cloacina.ExecutionStatus.COMPLETED:
        raise RuntimeError(f"{shape.workflow_name} ended {result.status}: {result.error}")


def run_sync(executor: cloacina.UnifiedExecutor, shape: Shape, stamped: bool = True) -> tuple[float, list[float]]:
    """Runs the shape once from plain code; the time spent in ``execute`` and the hops (from the
    tasks' stamps, or from the stored start times when they note none)."""
    wall = 0.0
    hops: list[float] = []
    for _ in range(shape.executions_per_run):
        STAMPS.clear()
        started = time.perf_counter()
        result = executor.execute(shape.workflow_name)
        wall += time.perf_counter() - started
        _check(shape, result)
        hops.extend(take_hops(shape) if stamped else hops_from_results(shape, result))
    return wall, hops


async def run_async(executor: cloacina.UnifiedExecutor, shape: Shape) -> tuple[float, list[float]]:
    """Runs the shape once from a coroutine, its tasks on this event loop."""
    wall = 0.0
    hops: list[float] = []
    for _ in range(shape.executions_per_run):
        STAMPS.clear()
        started = time.perf_counter()
        result = await executor.execute_async(shape.workflow_name)
        wall += time.perf_counter() - started
        _check(shape, result)
        hops.extend(take_hops(shape))
    return wall, hops


def measure(shape: Shape, url: str, runs: int, mode: str) -> tuple[str, list[float], list[float]]:
    """The workflow's content version, every run's wall time and every hop."""
    asynchronous, stamped = mode == "async", mode != "rust"
    version = (register(shape, asynchronous) if stamped else register_rust(shape)).version
    walls: list[float] = []
    hops: list[float] = []
    if asynchronous:

        async def main() -> None:
            async with cloacina.UnifiedExecutor(url, **EXECUTOR_OPTIONS) as executor:
                await run_async(executor, shape)
                _pause(WARMED_UP)
                for _ in range(runs):
                    wall, run_hops = await run_async(executor, shape)
                    walls.append(wall)
                    hops.extend(run_hops)
                _pause(MEASURED)

        asyncio.run(main())
    else:
        with cloacina.UnifiedExecutor(url, **EXECUTOR_OPTIONS) as executor:
            run_sync(executor, shape, stamped)
            _pause(WARMED_UP)
            for _ in range(runs):
                wall, run_hops = run_sync(executor, shape, stamped)
                walls.append(wall)
                hops.extend(run_hops)
            _pause(MEASURED)
    return version, walls, hops


def main(arguments: list[str]) -> None:
    shapes = {**SHAPES, **MAPPED}
    if len(arguments) != 4 or arguments[3] not in ("sync", "async", "rust") or arguments[0] not in shapes:
        sys.exit(f"usage: measure.py {{{'|'.join(shapes)}}} URL RUNS sync|async|rust")
    key, url, runs, mode = arguments
    shape = shapes[key]
    version, walls, hops = measure(shape, url, int(runs), mode)
    line = {
        "implementation": f"python-{mode}",
        "shape": key,
        "tasks_per_run": shape.tasks_per_run,
        "workflow_version": version,
        "walls_s": walls,
        "hops_us": hops,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main(sys.argv[1:])
