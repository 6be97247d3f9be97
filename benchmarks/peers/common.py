"""What the peer benchmarks share: the shapes (from ``benchmarks/python/shape_table.py``, the same
as Cloacina's), the arguments, and the output line."""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from shape_table import SHAPES, STAMPS, Shape, stamp, take_hops

__all__ = [
    "SHAPES",
    "STAMPS",
    "Shape",
    "StdoutGuard",
    "missing_tool",
    "parse_arguments",
    "percentile",
    "result_line",
    "stamp",
    "summary",
    "take_hops",
]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (as ``benchmarks/run.py`` computes it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def parse_arguments(script: str, arguments: list[str]) -> tuple[Shape, Path, int]:
    """``SHAPE DIRECTORY RUNS``, checked; exits with a usage line when they don't fit."""
    usage = f"usage: {script} {{{'|'.join(SHAPES)}}} DIRECTORY RUNS"
    if len(arguments) != 3 or arguments[0] not in SHAPES or not arguments[2].isdigit() or int(arguments[2]) < 1:
        sys.exit(usage)
    directory = Path(arguments[1]).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return SHAPES[arguments[0]], directory, int(arguments[2])


def missing_tool(package: str, error: ImportError) -> None:
    """Exits non-zero, saying how to install the peer tool."""
    requirements = Path(__file__).resolve().parent / "requirements.txt"
    sys.exit(f"{package} is not installed ({error}); install the peers with: pip install -r {requirements}")


class StdoutGuard:
    """Sends everything written to file descriptor 1 (this process's and its children's) to
    standard error, keeping the real standard output for the single JSON line."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self._saved = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def emit(self, line: dict[str, Any]) -> None:
        """Writes the line, as JSON, to the real standard output."""
        os.write(self._saved, (json.dumps(line) + "\n").encode())


def result_line(implementation: str, shape: Shape, walls: list[float], hops: list[float]) -> dict[str, Any]:
    """The line ``make bench-peers`` reads, with this process's peak resident memory."""
    return {
        "implementation": implementation,
        "shape": shape.key,
        "tasks_per_run": shape.tasks_per_run,
        "walls_s": walls,
        "hops_us": hops,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def summary(implementation: str, shape: Shape, walls: list[float], hops: list[float]) -> str:
    """A human line for standard error."""
    return (
        f"{implementation} {shape.key}: median {statistics.median(walls):.4f} s over {len(walls)} runs, "
        f"hop p50 {percentile(hops, 0.5)} us, p99 {percentile(hops, 0.99)} us"
    )
