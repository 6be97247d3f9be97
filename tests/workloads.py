"""Workflows the multi-process tests run; worker processes import this module."""

from __future__ import annotations

import os
import pathlib
import time

from cloacina import task, workflow


def _recorder(task_id: str, dependencies: list[str], pause: float = 0.005):
    @task(id=task_id, dependencies=dependencies)
    def record(context):
        time.sleep(pause)
        return {f"out_{task_id}": os.getpid()}

    return record


def _crash_workload():
    # Slow enough (12 steps of 20 ms in a row) that a kill lands mid-run.
    pause = 0.02
    tasks = [_recorder("root", [], pause)]
    ends = []
    for chain in range(5):
        previous = "root"
        for step in range(10):
            task_id = f"chain_{chain}_step_{step}"
            tasks.append(_recorder(task_id, [previous], pause))
            previous = task_id
        ends.append(previous)
    tasks.append(_recorder("join", ends, pause))
    return workflow(name="crash_workload", tasks=tasks)


CRASH_WORKLOAD = _crash_workload()
"""52 tasks: a root, five chains of ten, a join."""

SCALE_WORKLOAD = workflow(name="scale_workload", tasks=[_recorder(f"part_{n:02}", [], 0.002) for n in range(20)])
"""20 independent tasks."""


def _leave_marker(marker: pathlib.Path, text: str) -> None:
    """Writes `text` to `marker` whole at once (a file beside it, renamed over it): a test that
    waits for the marker to exist then reads all of it, never a file created but not yet written."""
    written = marker.with_name(marker.name + ".writing")
    written.write_text(text)
    os.replace(written, marker)


@task
def cooperative(context):
    """Runs until cancelled (or 20 s), then leaves a marker saying what it saw."""
    marker = pathlib.Path(context["marker"])
    deadline = time.monotonic() + context.get("seconds", 20)
    while time.monotonic() < deadline:
        if context.cancelled:
            _leave_marker(marker, f"cancelled in {os.getpid()}")
            return None
        time.sleep(0.01)
    _leave_marker(marker, f"finished in {os.getpid()}")
    return {"finished_by": os.getpid()}


@task(dependencies=[cooperative])
def after_cooperative(context):
    return None


LONG_WORKLOAD = workflow(name="long_workload", tasks=[cooperative, after_cooperative])
"""A task that runs until cancelled, and a dependent."""


def _chain(length: int, pause: float):
    tasks = [_recorder("step_00", [], pause)]
    for number in range(1, length):
        tasks.append(_recorder(f"step_{number:02}", [f"step_{number - 1:02}"], pause))
    return tasks


CHAIN_60 = workflow(name="chain_60", tasks=_chain(60, 0.02))
"""60 tasks in a row, 20 ms each."""


@task
def stubborn(context):
    """Runs for `seconds` (default 60), never looking at `context.cancelled`."""
    deadline = time.monotonic() + context.get("seconds", 60)
    while time.monotonic() < deadline:
        time.sleep(0.01)


STUBBORN_WORKLOAD = workflow(name="stubborn_workload", tasks=[stubborn])
"""A task that cannot be stopped."""
