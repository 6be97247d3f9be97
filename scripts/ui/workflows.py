"""The workflows the web page's checks run (scripts/ui/check_in_browser.py, fuzz_api.py), in a
process of their own that writes the database the page reads.

    python scripts/ui/workflows.py URL DIRECTORY

runs `etl` to completion (one of its values holds markup that must show as text), `fan` (a
mapped task over six pages) to completion, `flaky` to a
failure (its `load` fails until the file `DIRECTORY/fixed` exists), and starts `gated` twice
(`wait` waits for `DIRECTORY/open`); then prints `ready` with the executions' ids as JSON and
goes on running tasks (re-runs the page asks for, the gated executions) until stopped.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

from cloacina import UnifiedExecutor, task, workflow

DIRECTORY = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else pathlib.Path(".")
MARKUP = "<script>alert('not run')</script><img src=x onerror=alert(1)>"


@task
def extract(context):
    return {"rows": [1, 2, 3], "note": MARKUP}


@task(dependencies=[extract])
def transform(context):
    return {"total": sum(context["rows"])}


@task(dependencies=[transform])
def load(context):
    return {"loaded": True}


workflow(name="etl", tasks=[extract, transform, load], description="extract, transform, load")


@task(id="prepare")
def prepare(context):
    return {"prepared": True}


@task(id="load", dependencies=[prepare])
def load_when_fixed(context):
    if not (DIRECTORY / "fixed").exists():
        raise ConnectionError("the warehouse is down")
    return {"loaded": True}


workflow(name="flaky", tasks=[prepare, load_when_fixed])


@task(id="wait")
def wait(context):
    gate = DIRECTORY / context["gate"]
    while not gate.exists():
        if context.cancelled:
            return None
        time.sleep(0.05)
    return {"opened": True}


@task(id="after", dependencies=[wait])
def after(context):
    return {"done": True}


workflow(name="gated", tasks=[wait, after])


@task(id="pages")
def pages(context):
    return {"pages": list(range(6))}


@task(id="fetch", dependencies=[pages], map_over="pages", map_outputs=["size"])
def fetch(context):
    return {"size": context["item"] * 10}


@task(id="total", dependencies=[fetch])
def total(context):
    return {"total": sum(context["size"])}


workflow(name="fan", tasks=[pages, fetch, total])


def main() -> None:
    with UnifiedExecutor(sys.argv[1]) as executor:
        ids = {
            "etl": executor.execute("etl", {"day": "2026-12-05"}).execution_id,
            "fan": executor.execute("fan").execution_id,
            "flaky": executor.execute("flaky").execution_id,
            "gated": executor.start("gated", {"gate": "open"}).execution_id,
            "to_cancel": executor.start("gated", {"gate": "never"}).execution_id,
        }
        print("ready", json.dumps(ids), flush=True)
        executor.serve()


if __name__ == "__main__":
    main()
