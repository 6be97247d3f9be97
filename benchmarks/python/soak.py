"""Memory soak: many executions in one Python process, and how much its memory grew.

    python soak.py URL EXECUTIONS

Prints a line of JSON for ``run.py``: resident memory after a warm-up and at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time

from shapes import SHAPES, STAMPS, register

import cloacina

WARM_UP = 500


def resident_bytes() -> int:
    """The process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(arguments: list[str]) -> None:
    if len(arguments) != 2:
        sys.exit("usage: soak.py URL EXECUTIONS")
    url, executions = arguments[0], int(arguments[1])
    shape = SHAPES["round_trip"]
    register(shape, asynchronous=False)
    with cloacina.UnifiedExecutor(url, max_concurrent_tasks=256) as executor:
        for _ in range(WARM_UP):
            executor.execute(shape.workflow_name).raise_for_status()
        STAMPS.clear()
        before = resident_bytes()
        started = time.perf_counter()
        for _ in range(executions):
            executor.execute(shape.workflow_name).raise_for_status()
            STAMPS.clear()
        elapsed = time.perf_counter() - started
        after = resident_bytes()
    line = {
        "executions": executions,
        "seconds": elapsed,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main(sys.argv[1:])
