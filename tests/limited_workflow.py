"""A workflow of six calls to a service that takes three at a time (`concurrency_key="api"`,
`concurrency=3`), for tests/test_concurrency.py: each call records when it ran."""

import time

from cloacina import task, workflow


def call(index):
    @task(id=f"call_{index}", concurrency_key="api", concurrency=3)
    def call_api(context):
        started = time.time()
        time.sleep(0.3)
        return {"span": [started, time.time()]}

    return call_api


limited = workflow(name="limited_calls", tasks=[call(index) for index in range(6)])
