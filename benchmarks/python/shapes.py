"""The benchmark shapes as Cloacina workflows (the shapes themselves are in ``shape_table.py``)."""

from __future__ import annotations

from collections.abc import Callable

from shape_table import SHAPES, STAMPS, Shape, stamp, take_hops

import cloacina

__all__ = ["SHAPES", "STAMPS", "Shape", "register", "take_hops"]


def _body(task_id: str, asynchronous: bool) -> Callable[..., object]:
    if asynchronous:

        async def run_async(context: cloacina.Context) -> None:
            stamp(task_id)

        return run_async

    def run(context: cloacina.Context) -> None:
        stamp(task_id)

    return run


def register(shape: Shape, asynchronous: bool) -> cloacina.Workflow:
    """Registers the shape's workflow with sync (``def``) or async (``async def``) tasks."""
    tasks = [
        cloacina.task(id=task_id, dependencies=dependencies)(_body(task_id, asynchronous))
        for task_id, dependencies in shape.tasks.items()
    ]
    return cloacina.workflow(name=shape.workflow_name, tasks=tasks)
