"""The hybrid example's Python program: a workflow of Python tasks (`steps.py`) and Rust tasks
(`hybrid_rust_tasks`, built from `rust_tasks/` with maturin), with the CPU-heavy step, counting
words, done both ways.

    python examples/hybrid/pipeline.py [DATABASE_URL] [DOCUMENTS]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import steps
from hybrid_rust_tasks import count_words, top_words

from cloacina import UnifiedExecutor, workflow

HYBRID = workflow(
    name="hybrid_words",
    tasks=[
        steps.load_documents,
        count_words,
        steps.count_words_in_python,
        steps.compare,
        top_words,
        steps.report,
    ],
)


def main(arguments: list[str]) -> None:
    url = arguments[0] if arguments else "sqlite:///:memory:"
    documents = int(arguments[1]) if len(arguments) > 1 else 2_000
    with UnifiedExecutor(url) as executor:
        result = executor.execute(HYBRID, {"document_count": documents})
    result.raise_for_status()
    print(result.context["report"])
    for task in result.task_results:
        print(f"  {task.task_id:<22} {task.status:<10} {(task.duration or 0.0) * 1000:8.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
