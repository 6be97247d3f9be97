"""The benchmark shapes as Cloacina workflows (the shapes themselves are in ``shape_table.py``)."""

from __future__ import annotations

from collections.abc import Callable

from shape_table import MAPPED, SHAPES, STAMPS, Shape, stamp, take_hops

import cloacina

__all__ = ["MAPPED", "SHAPES", "STAMPS", "Shape", "hops_from_results", "register", "register_rust", "take_hops"]


def _body(task_id: str, asynchronous: bool, shape: Shape) -> Callable[..., object]:
    """The task's body: note when it ran (an instance of the mapped task under its own id), and,
    for the mapped task's dependency, write the list it maps over."""
    if shape.mapped and task_id in (shape.mapped, *shape.tasks[shape.mapped]):
        return _mapping_body(task_id, asynchronous, shape)
    if asynchronous:

        async def run_async(context: cloacina.Context) -> None:
            stamp(task_id)

        return run_async

    def run(context: cloacina.Context) -> None:
        stamp(task_id)

    return run


def _mapping_body(task_id: str, asynchronous: bool, shape: Shape) -> Callable[..., object]:
    """The body of a mapped task (noting each instance under its own id) or of its dependency
    (writing the list it maps over)."""
    mapped = task_id == shape.mapped
    items = list(range(shape.items))

    def run(context: cloacina.Context) -> dict[str, list[int]] | None:
        if mapped:
            stamp(f"{task_id}[{context['item_index']}]")
            return None
        stamp(task_id)
        return {"items": items}

    if asynchronous:

        async def run_async(context: cloacina.Context) -> dict[str, list[int]] | None:
            return run(context)

        return run_async
    return run


def register_rust(shape: Shape) -> cloacina.Workflow:
    """Registers the shape's workflow with Rust tasks exported to Python: the module
    ``cloacina_bench_tasks`` (``benchmarks/rust_tasks``) exports one task doing nothing, which takes
    each place of the shape under its id. They note no stamps (their notes would be in that
    module's memory): ``hops_from_results`` measures their hops from the stored start times."""
    from cloacina_bench_tasks import hop

    if shape.mapped:
        raise ValueError(f"{shape.key}: the exported task `hop` is not a mapped task")
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
        cloacina.task(id=task_id, dependencies=dependencies, map_over="items" if task_id == shape.mapped else None)(
            _body(task_id, asynchronous, shape)
        )
        for task_id, dependencies in shape.tasks.items()
    ]
    return cloacina.workflow(name=shape.workflow_name, tasks=tasks)
