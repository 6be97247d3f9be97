"""The workflows `tests/test_command.py` runs in other processes: `nightly`, whose `transform`
fails while the environment variable PIPELINE_FAIL is set, and `gated`, whose `gate` task waits
until the file named by PIPELINE_GATE exists."""

import logging
import os
import pathlib
import time

from cloacina import RetryPolicy, task, workflow

log = logging.getLogger("pipeline")


@task
def extract(context):
    log.info("extracting %d rows", 3)
    return {"rows": [1, 2, 3]}


@task(dependencies=[extract], retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
def transform(context):
    log.warning("transforming")
    if os.environ.get("PIPELINE_FAIL"):
        raise ConnectionError("the warehouse is down")
    return {"total": sum(context["rows"])}


@task(dependencies=[transform])
def load(context):
    log.info("loading %d", context["total"])


@task(dependencies=[extract])
def audit(context):
    pass


nightly = workflow(name="nightly", tasks=[extract, transform, load, audit], description="The nightly load.")


@task
def gate(context):
    log.info("waiting at the gate")
    path = pathlib.Path(os.environ["PIPELINE_GATE"])
    while not path.exists() and not context.cancelled:
        time.sleep(0.02)
    log.info("through the gate")


@task(dependencies=[gate])
def after(context):
    log.info("after the gate")


gated = workflow(name="gated", tasks=[gate, after])
