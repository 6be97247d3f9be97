"""The benchmark shapes as Cloacina workflows (the shapes themselves are in ``shape_table.py``)."""

from __future__ import annotations

from collections.abc import Callable

from shape_table import SHAPES, STAMPS, Shape, stamp, take_hops

import cloacina

__all__ = ["SHAPES", "STAMPS", "Shape", "hops_from_results", "register", "register_rust", "take_hops"]


def _body(task_id: str, asynchronous: bool) -> Callable[..., object]:
    if asynchronous:

        async def run_async(context: cloacina.Context) -> None:
            stamp(task_id)

        return run_async

    def run(context: cloacina.Context) -> None:
        stamp(task_id)

    return run


def register_rust(shape: Shape) -> cloacina.Workflow:
    """Registers the shape's workflow with Rust tasks exported to Python: the module
    ``cloacina_bench_tasks`` (``benchmarks/rust_tasks``) exports one task doing nothing, which takes
    each place of the shape under its id. They note no stamps (their notes would be in that
    module's memory): ``hops_from_results`` measures their hops from the stored start times."""
    from cloacina_bench_tasks import hop

    tasks = [hop.with_id(task_id, dependencies=dependencies) for task_id, dependencies in shape.tasks.items()]
    return cloacina.workflow(name=shape.workflow_name, tasks=tasks)


def hops_from_results(shape: Shape, result: cloacina.ExecutionResult) -> list[float]:
    """For each task with dependencies, microseconds from the latest of its dependencies' starts
    to its own, from the execution's stored task results (microsecond precision)."""
    started = {task.task_id: task.started_at for task in result.task_results}
    hops = []
    for task_id, dependencies in shape.tasks.items():
        if dependencies:
            released = max(started[dependency] for dependency in dependencies)
            hops.append((started[task_id] - released).total_seconds() * 1e6)
    return hops


def register(shape: Shape, asynchronous: bool) -> cloacina.Workflow:
    """Registers the shape's workflow with sync (``def``) or async (``async def``) tasks."""
    tasks = [
        cloacina.task(id=task_id, dependencies=dependencies)(_body(task_id, asynchronous))
        for task_id, dependencies in shape.tasks.items()
    ]
    return cloacina.workflow(name=shape.workflow_name, tasks=tasks)
