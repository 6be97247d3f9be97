"""Retries and cleanup: a flaky task succeeds on its third attempt; a task that keeps failing
makes the execution fail, and a cleanup task runs anyway.
"""

import random

from cloacina import RetryPolicy, TriggerRule, UnifiedExecutor, task, workflow

attempts = {"fetch": 0}


@task(retry=RetryPolicy(max_attempts=5, backoff="exponential", initial_delay=0.05, retry_on=(ConnectionError,)))
def fetch(context):
    attempts["fetch"] += 1
    if attempts["fetch"] < 3:
        raise ConnectionError(f"the service did not answer (attempt {attempts['fetch']})")
    context.insert("rows", [random.randint(1, 100) for _ in range(5)])


@task(dependencies=[fetch], retry=2)
def publish(context):
    raise PermissionError("the publishing token expired")


@task(dependencies=[publish], trigger=TriggerRule.any_failed())
def cleanup(context):
    context.insert("cleaned_up", True)


workflow(name="retries_example", tasks=[fetch, publish, cleanup])


def main() -> None:
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("retries_example")
    print(f"execution: {result.status}")
    for task_result in result.task_results:
        problem = f"  ({task_result.error_type}: {task_result.error_message})" if task_result.error else ""
        print(f"  {task_result.task_id:<8} {task_result.status:<10} attempts={task_result.attempts}{problem}")
    print(f"cleaned_up = {result.context.get('cleaned_up')}")
    fetched = result.task("fetch")
    assert fetched is not None and fetched.attempts == 3 and result.status == "Failed"


if __name__ == "__main__":
    main()
