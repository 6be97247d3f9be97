"""Debugging a failed run: what each attempt logged and how long it waited, a timeline for a
trace viewer, a re-run of only what failed, and the `cloacina` command on the same database.

Run it with ``python examples/debugging.py`` once the package is installed.
"""

import json
import logging
import pathlib
import subprocess
import sys
import tempfile

from cloacina import RetryPolicy, UnifiedExecutor, task, workflow

log = logging.getLogger("shop")
service = {"up": False}


@task
def fetch_orders(context):
    log.info("fetched %d orders", 3)
    return {"orders": [{"sku": "apple", "quantity": 2}, {"sku": "pear", "quantity": 1}, {"sku": "fig", "quantity": 4}]}


@task(dependencies=[fetch_orders], retry=RetryPolicy(max_attempts=2, initial_delay=0.05))
def price_orders(context):
    if not service["up"]:
        log.warning("the price service did not answer")
        raise ConnectionError("the price service is down")
    prices = {"apple": 3, "pear": 5, "fig": 2}
    return {"total": sum(prices[order["sku"]] * order["quantity"] for order in context["orders"])}


@task(dependencies=[price_orders], log_prints=True)
def send_invoice(context):
    print(f"invoice sent: {context['total']}")


workflow(name="invoicing", tasks=[fetch_orders, price_orders, send_invoice])


def show(result) -> None:
    print(f"execution {result.execution_id}: {result.status}")
    for task_result in result.task_results:
        waited = f"{task_result.wait * 1000:.2f} ms" if task_result.wait is not None else "-"
        print(f"  {task_result.task_id:<13} {task_result.status:<10} attempts={task_result.attempts} waited={waited}")
        for attempt in task_result.attempt_history:
            print(f"    attempt {attempt.number}: {attempt.status}, {attempt.duration * 1000:.1f} ms")
        for entry in task_result.logs:
            print(f"    log #{entry.attempt} {entry.level} {entry.logger}: {entry.message}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cloacina-debugging-") as name:
        debug(pathlib.Path(name))


def debug(folder: pathlib.Path) -> None:
    url = f"sqlite:///{folder / 'runs.db'}"
    with UnifiedExecutor(url) as executor:
        failed = executor.execute("invoicing")
        show(failed)

        trace = folder / "invoicing.trace.json"
        failed.write_trace(trace)
        slices = [event for event in json.loads(trace.read_text())["traceEvents"] if event["ph"] == "X"]
        print(f"timeline: {len(slices)} attempts in {trace.name} (open such a file in https://ui.perfetto.dev)")

        service["up"] = True  # the fix
        again = executor.rerun(failed.execution_id)
        print(f"re-run of {again.rerun_of}:")
        show(again)
        again.raise_for_status()

    # The same database from the command line, in another process.
    command = [sys.executable, "-m", "cloacina", "executions", "show", failed.execution_id, "--database-url", url]
    print("$ cloacina executions show", failed.execution_id)
    print(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


if __name__ == "__main__":
    main()
