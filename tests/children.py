"""Running Python snippets in child processes, for the tests that share a database between
processes, and measuring what the children's tasks record."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

TESTS = pathlib.Path(__file__).parent


def spawn(code: str, arguments: Sequence[str], count: int) -> list[subprocess.Popen[str]]:
    """Starts `count` processes running `code` with `arguments` (as `sys.argv[1:]`), able to
    import the test suite's workflow modules."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH", "")]))
    environment = {**os.environ, "PYTHONPATH": path}
    return [
        subprocess.Popen(
            [sys.executable, "-c", code, *arguments],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


SERVING = """
import importlib, sys, time
from cloacina import UnifiedExecutor

importlib.import_module(sys.argv[1])
with UnifiedExecutor(sys.argv[2], max_concurrent_tasks=int(sys.argv[3])) as executor:
    time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
"""


def serve(module: str, url: str, seconds: float, count: int = 2, slots: int = 2) -> list[subprocess.Popen[str]]:
    """Starts `count` processes that import the workflow module `module` and run its tasks on
    `url`, `slots` at a time each, for `seconds`."""
    return spawn(SERVING, [module, url, str(slots), str(time.time() + seconds)], count)


def finish(children: Iterable[subprocess.Popen[str]], timeout: float = 60) -> list[str]:
    """Waits for the children; fails with their errors unless each exited with 0. Returns what
    each printed."""
    children = list(children)
    outputs = [child.communicate(timeout=timeout) for child in children]
    failed = [errors for child, (_, errors) in zip(children, outputs) if child.returncode != 0]
    assert not failed, failed
    return [printed for printed, _ in outputs]


def most_at_once(spans: Iterable[Sequence[float]]) -> int:
    """The most spans (start, end) that overlap at one time."""
    spans = list(spans)
    # At equal times an end comes before a start (-1 sorts before 1).
    edges = sorted([(span[0], 1) for span in spans] + [(span[1], -1) for span in spans])
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most
