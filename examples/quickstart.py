"""Quickstart: a two-task pipeline, run on an in-memory SQLite database.

Run it with ``make demo``, or ``python examples/quickstart.py`` once the package is installed.
"""

from cloacina import UnifiedExecutor, task, workflow


@task(id="extract_data", dependencies=[])
def extract_data(context):
    context.insert("raw_data", [1, 2, 3, 4, 5])


@task(id="transform_data", dependencies=["extract_data"])
def transform_data(context):
    data = context.get("raw_data")
    context.insert("processed_data", [x * 2 for x in data])


pipeline = workflow(name="sync_pipeline", tasks=[extract_data, transform_data])


def main() -> None:
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("sync_pipeline", {})
    print(f"execution {result.execution_id} of {result.workflow_name!r}: {result.status}")
    for task_result in result.task_results:
        print(f"  {task_result.task_id:<16} {task_result.status:<10} {(task_result.duration or 0) * 1000:.1f} ms")
    print(f"processed_data = {result.context['processed_data']}")
    result.raise_for_status()


if __name__ == "__main__":
    main()
