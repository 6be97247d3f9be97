"""Concurrency limits from Python: at most `concurrency` attempts holding a key run at once,
across executions and processes, as the tasks themselves record."""

from __future__ import annotations

import pytest
from children import finish, most_at_once, serve

from cloacina import ExecutionStatus, UnifiedExecutor, ValidationError, task


def test_a_limit_is_declared_with_its_key():
    @task(concurrency_key="search-api", concurrency=3)
    def search(context):
        return None

    assert (search.concurrency_key, search.concurrency) == ("search-api", 3)
    assert task(lambda context: None, id="free").concurrency is None
    with pytest.raises(ValidationError, match="concurrency_key `api` needs `concurrency`"):
        task(lambda context: None, id="half", concurrency_key="api")
    with pytest.raises(ValidationError, match="concurrency needs `concurrency_key`"):
        task(lambda context: None, id="half", concurrency=2)
    with pytest.raises(ValidationError, match="its concurrency is 0; it must be from 1 to 100000"):
        task(lambda context: None, id="none", concurrency_key="api", concurrency=0)
    with pytest.raises(ValidationError, match="its concurrency key is empty"):
        task(lambda context: None, id="blank", concurrency_key=" ", concurrency=1)


def test_spans_are_counted_where_they_overlap():
    assert most_at_once([(0, 2), (1, 3), (2.5, 4)]) == 2
    assert most_at_once([(0, 1), (1, 2)]) == 1, "one ending as the next starts do not overlap"


@pytest.mark.parametrize("backend", ["sqlite_file", "postgres"])
def test_two_processes_never_run_more_than_the_limit(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'limits.db'}" if backend == "sqlite_file" else request.getfixturevalue("postgres_url")
    import limited_workflow

    # Two tasks at a time each: three at once takes both processes, and four would break the limit.
    children = serve("limited_workflow", url, seconds=8.0)
    try:
        # Starts the executions; the two processes run their tasks.
        with UnifiedExecutor(url, run_tasks=False, poll_interval=0.2) as executor:
            handles = [executor.start(limited_workflow.limited) for _ in range(2)]
            results = [handle.wait(timeout=60) for handle in handles]
    finally:
        finish(children)
    assert all(result.status == ExecutionStatus.COMPLETED for result in results), [r.error for r in results]
    spans = [tuple(task.output["span"]) for result in results for task in result.task_results]
    assert len(spans) == 12
    assert most_at_once(spans) == 3, f"more than three at once, or never three: {sorted(spans)}"
    workers = {task.worker for result in results for task in result.task_results}
    assert len(workers) == 2, f"both processes ran calls: {workers}"
