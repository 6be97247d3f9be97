"""The pytest plugin of `cloacina.testing`, which pytest loads through the package's `pytest11`
entry point: an `executor` fixture on a private in-memory database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloacina import UnifiedExecutor
from cloacina.testing import PRIVATE_DATABASE

__all__ = ["executor"]


@pytest.fixture
def executor() -> Iterator[UnifiedExecutor]:
    """A `UnifiedExecutor` on a private in-memory database, shut down after the test.

    Pass it to `cloacina.testing.run(..., executor=executor)` to look at its stored executions
    afterwards, or call it directly. A `conftest.py` fixture of the same name replaces it.
    """
    with UnifiedExecutor(PRIVATE_DATABASE) as fresh:
        yield fresh
