"""Map and reduce over a list only known at run time: one task finds the pages to fetch, a mapped
task runs once per page (each instance retried on its own, at most four at a time), and one task
reduces what the instances wrote, gathered in page order.

Run it with ``python examples/map_reduce.py`` once the package is installed.
"""

import collections
import random

from cloacina import UnifiedExecutor, task, workflow


@task
def list_pages(context):
    # Known only when the workflow runs: how many pages the catalogue has today.
    return {"pages": [f"/catalogue?page={number}" for number in range(1, 26)]}


calls: collections.Counter[str] = collections.Counter()


@task(dependencies=[list_pages], map_over="pages", max_parallel=4, retry=3, map_outputs=["products"])
def fetch_page(context):
    page, index = context["item"], context["item_index"]
    calls[page] += 1
    # A flaky service: one call in five fails, and that instance alone is tried again.
    if random.random() < 0.2 and calls[page] < 3:
        raise ConnectionError(f"{page} timed out")
    return {"products": 10 + index % 7}


@task(dependencies=[fetch_page])
def count_products(context):
    # One entry per page, in page order, whichever instance finished first.
    return {"total": sum(context["products"]), "pages_read": len(context["products"])}


workflow(name="catalogue_count", tasks=[list_pages, fetch_page, count_products])


def main() -> None:
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("catalogue_count")
    result.raise_for_status()
    retried = [task for task in result.task_results if task.task_id.startswith("fetch_page[") and task.attempts > 1]
    print(f"{result.context['pages_read']} pages, {result.context['total']} products")
    print(f"instances tried again: {[task.task_id for task in retried]}")
    assert result.context["total"] == sum(10 + index % 7 for index in range(25))


if __name__ == "__main__":
    main()
