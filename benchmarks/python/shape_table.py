"""The benchmark shapes, as plain data: the same as the Rust side's (``benchmarks/build.rs``),
shared by the Cloacina measurements (``shapes.py``) and the peers' (``benchmarks/peers``).

Every task's whole body notes when it ran, so the latency from a dependency to its dependent can
be measured the same way everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

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
    mapped: str | None = None
    """A task that runs once per element of the list its one dependency writes under ``items``."""
    items: int = 0
    """How many elements that list has."""

    @property
    def tasks_per_run(self) -> int:
        """Tasks one run executes (each instance of a mapped task counted)."""
        instances = self.items - 1 if self.mapped else 0
        return (len(self.tasks) + instances) * self.executions_per_run

    def instance_ids(self) -> list[str]:
        """The ids of the mapped task's instances, in order."""
        return [f"{self.mapped}[{index}]" for index in range(self.items)] if self.mapped else []

    def levels(self) -> list[list[str]]:
        """The tasks in waves: each task in the wave after the latest of its dependencies.

        For these four shapes every task depends on all of, or the only task of, the wave before
        it, so running the waves one after another keeps exactly the shape's dependencies (a tool
        that runs steps wave by wave, as ``benchmarks/peers/dbos_measure.py`` does, relies on it).
        """
        depth: dict[str, int] = {}
        for task_id, dependencies in self.tasks.items():
            depth[task_id] = 1 + max((depth[dependency] for dependency in dependencies), default=-1)
        waves: list[list[str]] = [[] for _ in range(1 + max(depth.values()))]
        for task_id, level in depth.items():
            waves[level].append(task_id)
        for level, wave in enumerate(waves[1:], start=1):
            previous = set(waves[level - 1])
            for task_id in wave:
                if not set(self.tasks[task_id]) <= previous:
                    raise ValueError(f"{self.key}: {task_id} depends on more than the wave before it")
        return waves


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


MAPPED = {
    "mapped_1000": Shape(
        "mapped_1000", "bench_mapped_1000", {"root": [], "worker": ["root"], "join": ["worker"]}, 1, "worker", 1000
    )
}
"""Shapes with a mapped task, measured by Cloacina only: the fan-out of ``fan_out_1000`` over a list
known at run time."""


def stamp(task_id: str) -> None:
    """The whole body of every task: note when it ran."""
    STAMPS[task_id] = time.perf_counter_ns()


def take_hops(shape: Shape) -> list[float]:
    """For each task with dependencies: microseconds from its last dependency running to it
    running. Clears the notes."""
    ran = [task_id for task_id in shape.tasks if task_id != shape.mapped] + shape.instance_ids()
    missing = [task_id for task_id in ran if task_id not in STAMPS]
    if missing:
        raise RuntimeError(f"{shape.key}: {len(missing)} tasks did not run, e.g. {missing[0]}")
    hops = []
    for task_id, dependencies in shape.tasks.items():
        if not dependencies:
            continue
        released = max(STAMPS[dependency] for dependency in dependencies)
        if task_id == shape.mapped:
            # Each instance is a hop from the dependency; the task's dependents wait for the last.
            instances = [STAMPS[instance] for instance in shape.instance_ids()]
            hops.extend(round((instance - released) / 1000, 1) for instance in instances)
            STAMPS[task_id] = max(instances)
        else:
            hops.append(round((STAMPS[task_id] - released) / 1000, 1))
    STAMPS.clear()
    return hops
