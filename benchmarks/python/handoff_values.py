"""The large values of the hand-off benchmark, shared by Cloacina's (``handoff.py``) and the peers'
(``benchmarks/peers/handoff.py``): NumPy arrays of 1 MB and 100 MB and a 100 MB numeric pandas
DataFrame, the same bytes on every run (a fixed seed)."""

from __future__ import annotations

from typing import Any

import numpy
import pandas

MIB = 1 << 20


def make_values() -> dict[str, Any]:
    """The values handed over, by kind; made once, outside any timing."""
    rng = numpy.random.default_rng(seed=11)
    columns = 10
    rows = 100 * MIB // (8 * columns)
    return {
        "array_1mb": rng.random(MIB // 8),
        "array_100mb": rng.random(100 * MIB // 8),
        "frame_100mb": pandas.DataFrame({f"c{index}": rng.random(rows) for index in range(columns)}),
    }


def size(value: Any) -> int:
    """The value's data in bytes (a frame's columns, without its index)."""
    return int(value.memory_usage(index=False).sum()) if isinstance(value, pandas.DataFrame) else int(value.nbytes)


def same_shape(value: Any, original: Any) -> bool:
    """Whether the value read back has the original's shape (a cheap check that it arrived whole)."""
    return bool(value.shape == original.shape)
