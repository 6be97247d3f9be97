"""The large-value hand-off of ``benchmarks/python/handoff.py`` run by Prefect 3 or DBOS: the same
values (NumPy arrays of 1 MB and 100 MB, a 100 MB numeric pandas DataFrame) returned by one task and
taken by the next, each kept durably as the tool keeps a task's result.

    python handoff.py {prefect|dbos} DIRECTORY RUNS

Prefect: both tasks are ``@task(persist_result=True, result_storage_key="...-{task_run.id}")``,
called in turn from one ``@flow``. Prefect writes each result with its default serializer
(cloudpickle, base64 in a JSON record) to a file of its local result storage under DIRECTORY (not
synced to disk) when the task run's transaction commits, before the next task starts, and hands
the object itself to the next task in memory. The key of the task run's own matters: Prefect
writes a result only under a key (with ``cache_policy=NO_CACHE`` and no key it writes nothing),
and a key shared between runs would make later runs cache hits that write nothing.

DBOS: both tasks are ``@DBOS.step()``s of one ``@DBOS.workflow()``. DBOS checkpoints each step's
output (pickled, then base64 text) in its system database, a SQLite file in DIRECTORY, before the
workflow goes on, and hands the object itself to the next step in memory.

As for Cloacina, the hand-off is timed from just before the producer returns the value to the start
of the consumer with the value in hand. Prints a line of JSON per kind, after a warm-up run of each.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from common import StdoutGuard, missing_tool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from handoff_values import make_values, same_shape, size

VALUES = make_values()
MARKS: dict[str, int] = {}
"""``started`` and ``read``, in ``perf_counter_ns`` units, stamped by the two tasks of a run."""


def produce_body(kind: str) -> Any:
    MARKS["started"] = time.perf_counter_ns()
    return VALUES[kind]


def consume_body(value: Any, kind: str) -> bool:
    MARKS["read"] = time.perf_counter_ns()
    return same_shape(value, VALUES[kind])


def prefect_handoff(directory: Path) -> Callable[[str], bool]:
    """The hand-off as a Prefect flow of two tasks with persisted results."""
    from prefect_measure import configure

    configure(directory)
    try:
        from prefect import flow, task
    except ImportError as error:
        missing_tool("prefect", error)
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # A storage key of the task run's own: each result is written (on the commit of the task run's
    # transaction) and none is ever taken from an earlier run.
    produce = task(name="produce", persist_result=True, result_storage_key="produce-{task_run.id}")(produce_body)
    consume = task(name="consume", persist_result=True, result_storage_key="consume-{task_run.id}")(consume_body)

    @flow(name="handoff")
    def handoff(kind: str) -> bool:
        return bool(consume(produce(kind), kind))

    def run(kind: str) -> bool:
        # Heartbeats off, as in prefect_measure.py: with them each sync flow call ends about 1 s later.
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return bool(handoff(kind))

    return run


def dbos_handoff(directory: Path) -> Callable[[str], bool]:
    """The hand-off as a DBOS workflow of two steps."""
    try:
        from dbos import DBOS, DBOSConfig
    except ImportError as error:
        missing_tool("dbos", error)
    from dbos_measure import dbos_config

    DBOS(config=cast("DBOSConfig", dbos_config("cloacina_bench_handoff", directory)))
    produce = DBOS.step(name="produce")(produce_body)
    consume = DBOS.step(name="consume")(consume_body)

    @DBOS.workflow(name="handoff")
    def handoff(kind: str) -> bool:
        return bool(consume(produce(kind), kind))

    DBOS.launch()
    return handoff


TOOLS = {"prefect": prefect_handoff, "dbos": dbos_handoff}


def main(arguments: list[str]) -> None:
    if len(arguments) != 3 or arguments[0] not in TOOLS or not arguments[2].isdigit() or int(arguments[2]) < 1:
        sys.exit(f"usage: handoff.py {{{'|'.join(TOOLS)}}} DIRECTORY RUNS")
    tool, directory, runs = arguments[0], Path(arguments[1]).resolve(), int(arguments[2])
    directory.mkdir(parents=True, exist_ok=True)
    guard = StdoutGuard()
    run = TOOLS[tool](directory)
    for kind, value in VALUES.items():
        handoffs, totals = [], []
        for attempt in range(runs + 1):
            started = time.perf_counter()
            arrived = run(kind)
            total = time.perf_counter() - started
            if not arrived:
                sys.exit(f"{tool}: the {kind} value arrived with another shape")
            if attempt:  # the first is the warm-up
                handoffs.append((MARKS["read"] - MARKS["started"]) / 1e9)
                totals.append(total)
        line = {
            "tool": tool,
            "kind": kind,
            "bytes": size(value),
            "runs": runs,
            "handoff_seconds": statistics.median(handoffs),
            "execution_seconds": statistics.median(totals),
        }
        print(json.dumps(line), file=sys.stderr)
        guard.emit(line)


if __name__ == "__main__":
    main(sys.argv[1:])
