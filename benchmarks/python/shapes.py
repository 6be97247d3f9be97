"""The benchmark shapes in Python, the same as the Rust side's (``benchmarks/build.rs``).

Every task's whole body notes when it ran, so the latency from a dependency to its dependent can
be measured the same way on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cloacina

STAMPS: dict[str, int] = {}
"""When each task of the current execution ran (``time.perf_counter_ns``)."""


@dataclass(frozen=True)
class Shape:
    """A workflow and how many times one run executes it."""

    key: str
    workflow_name: str
    tasks: dict[str, list[str]]
    """Task ids, in order, each with its dependencies."""
    executions_per_run: int

    @property
    def tasks_per_run(self) -> int:
        return len(self.tasks) * self.executions_per_run


def _chain(length: int) -> dict[str, list[str]]:
    return {f"step_{index}": ([f"step_{index - 1}"] if index else []) for index in range(length)}


def _fan_out(width: int) -> dict[str, list[str]]:
    workers = [f"worker_{index}" for index in range(width)]
    return {"root": [], **{worker: ["root"] for worker in workers}, "join": workers}


SHAPES = {
    shape.key: shape
    for shape in [
        Shape("round_trip", "bench_round_trip", {"first": [], "second": ["first"]}, 200),
        Shape("chain_200", "bench_chain_200", _chain(200), 1),
        Shape("fan_out_1000", "bench_fan_out_1000", _fan_out(1000), 1),
        Shape(
            "diamond",
            "bench_diamond",
            {"top": [], "left": ["top"], "right": ["top"], "bottom": ["left", "right"]},
            200,
        ),
    ]
}


def _body(task_id: str, asynchronous: bool) -> Callable[..., object]:
    if asynchronous:

        async def run_async(context: cloacina.Context) -> None:
            STAMPS[task_id] = time.perf_counter_ns()

        return run_async

    def run(context: cloacina.Context) -> None:
        STAMPS[task_id] = time.perf_counter_ns()

    return run


def register(shape: Shape, asynchronous: bool) -> cloacina.Workflow:
    """Registers the shape's workflow with sync (``def``) or async (``async def``) tasks."""
    tasks = [
        cloacina.task(id=task_id, dependencies=dependencies)(_body(task_id, asynchronous))
        for task_id, dependencies in shape.tasks.items()
    ]
    return cloacina.workflow(name=shape.workflow_name, tasks=tasks)


def take_hops(shape: Shape) -> list[float]:
    """For each task with dependencies: microseconds from its last dependency running to it
    running. Clears the notes."""
    hops = []
    for task_id, dependencies in shape.tasks.items():
        if dependencies:
            released = max(STAMPS[dependency] for dependency in dependencies)
            hops.append(round((STAMPS[task_id] - released) / 1000, 1))
    STAMPS.clear()
    return hops
