"""A mapped task over 24 items, three instances at a time (`max_parallel=3`), for
tests/test_mapping.py: each instance records when it ran."""

import time

from cloacina import task, workflow


@task
def numbers(context):
    return {"items": list(range(24))}


@task(dependencies=[numbers], map_over="items", max_parallel=3)
def call(context):
    started = time.time()
    time.sleep(0.1)
    return {"span": [started, time.time()], "seen": context["item"]}


bounded = workflow(name="bounded_calls", tasks=[numbers, call])
