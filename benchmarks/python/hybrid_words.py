"""The hybrid example's CPU-heavy step, counting the words of a set of documents, as a Rust task
exported to Python and as a Python task, in the same workflow (``examples/hybrid``).

    python hybrid_words.py URL [DOCUMENTS] [RUNS]

Prints a line of JSON for ``run.py``: the median time of each task over RUNS executions (after a
warm-up), from the stored start and end of its attempt.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "hybrid"))

from pipeline import HYBRID

from cloacina import UnifiedExecutor

TASKS = ("count_words", "count_words_in_python")


def main(arguments: list[str]) -> None:
    if not 1 <= len(arguments) <= 3:
        sys.exit("usage: hybrid_words.py URL [DOCUMENTS] [RUNS]")
    documents = int(arguments[1]) if len(arguments) > 1 else 20_000
    runs = int(arguments[2]) if len(arguments) > 2 else 5
    seconds: dict[str, list[float]] = {task: [] for task in TASKS}
    words = 0
    with UnifiedExecutor(arguments[0]) as executor:
        for run in range(runs + 1):
            result = executor.execute(HYBRID, {"document_count": documents})
            result.raise_for_status()
            words = result.context["total_words"]
            if run:  # the first is the warm-up
                for task in TASKS:
                    seconds[task].append(result.task(task).duration)
    line = {"documents": documents, "words": words, "runs": runs}
    line.update({f"{task}_seconds": statistics.median(values) for task, values in seconds.items()})
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
