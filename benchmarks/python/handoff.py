"""Large values handed from one task to the next: NumPy arrays of 1 MB and 100 MB and a 100 MB
numeric pandas DataFrame, written by a `def` task and read by the task after it.

    python handoff.py URL [RUNS]

The hand-off is timed from just before the first task writes the value to just after the next
task has read it back (both in this process): encoding, the durable commit of the task's output
with the value's data, scheduling the next task, and decoding. Prints a line of JSON per kind
for ``run.py``, after a warm-up run of each.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from handoff_values import make_values, same_shape, size

from cloacina import UnifiedExecutor, task, workflow

VALUES = make_values()


@task(id="produce")
def produce(context):
    value = VALUES[context["kind"]]
    context["started_ns"] = time.perf_counter_ns()
    context["value"] = value


@task(id="consume", dependencies=["produce"])
def consume(context):
    value = context["value"]
    context["read_ns"] = time.perf_counter_ns()
    context["same"] = same_shape(value, VALUES[context["kind"]])


workflow(name="handoff", tasks=[produce, consume])


def main(arguments: list[str]) -> None:
    if len(arguments) not in (1, 2):
        sys.exit("usage: handoff.py URL [RUNS]")
    runs = int(arguments[1]) if len(arguments) == 2 else 5
    with UnifiedExecutor(arguments[0]) as executor:
        for kind, value in VALUES.items():
            handoffs, totals = [], []
            for run in range(runs + 1):
                started = time.perf_counter()
                result = executor.execute("handoff", {"kind": kind})
                total = time.perf_counter() - started
                result.raise_for_status()
                context = result.context
                assert context["same"], kind
                if run:  # the first is the warm-up
                    handoffs.append((context["read_ns"] - context["started_ns"]) / 1e9)
                    totals.append(total)
            line = {
                "kind": kind,
                "bytes": size(value),
                "runs": runs,
                "handoff_seconds": statistics.median(handoffs),
                "execution_seconds": statistics.median(totals),
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
