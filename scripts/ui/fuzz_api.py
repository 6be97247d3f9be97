"""The web page's JSON API fuzzed from its own OpenAPI description with schemathesis.

    python scripts/ui/fuzz_api.py [--examples 100] [--postgres postgresql://...]

Starts `scripts/ui/workflows.py` (so the database holds executions of every kind) and
`cloacina ui` on a SQLite file, and with `--postgres SERVER` again on a fresh PostgreSQL database
there, then, on each, lets schemathesis send every operation `--examples`
generated requests (odd ids, filters, cursors, numbers; the actions with their header) with a
fixed seed, and fails on any answer with a 5xx status. Most requests name an execution, task
or workflow that exists (read from the API first, and given to schemathesis as dictionaries),
so that they reach past the lookup; the rest are generated.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import urllib.request

from check_in_browser import served_page

BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from leak_check import fresh_postgres_database  # noqa: E402  (a script of the folder above)

KNOWN_VALUES_PROBABILITY = 0.8
"""How often a path or filter parameter takes a value that exists instead of a generated one."""


def read(address: str, path: str) -> dict:
    """A GET answer of the API, as JSON."""
    with urllib.request.urlopen(address + path, timeout=30) as answer:
        return json.load(answer)


def known_values_config(address: str) -> str:
    """A schemathesis configuration whose dictionaries hold the ids and names the database has,
    bound to the parameters that take them."""
    executions = [summary["id"] for summary in read(address, "api/executions?limit=500")["executions"]]
    tasks = sorted({task["id"] for id in executions[:20] for task in read(address, f"api/executions/{id}")["tasks"]})
    workflows = [workflow["name"] for workflow in read(address, "api/workflows")["workflows"]]
    lines = []
    for name, values in (("executions", executions), ("tasks", tasks), ("workflows", workflows)):
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for parameter, dictionary in (
        ("path.id", "executions"),
        ("path.task_id", "tasks"),
        ("path.name", "workflows"),
        ("query.workflow", "workflows"),
        ("query.task", "tasks"),
    ):
        lines.append(f'"{parameter}" = {{ dictionary = "{dictionary}", probability = {KNOWN_VALUES_PROBABILITY} }}')
    return "\n".join(lines) + "\n"


def fuzz(address: str, examples: int) -> bool:
    """Runs schemathesis against the page at `address`; whether no answer had a 5xx status."""
    with tempfile.TemporaryDirectory(prefix="cloacina-fuzz-") as folder:
        config = pathlib.Path(folder) / "schemathesis.toml"
        config.write_text(known_values_config(address))
        fuzzing = [
            str(BIN / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            address + "api/openapi.json",
            "--url",
            address.rstrip("/"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(examples),
            "--seed",
            "20261205",
            "--header",
            "X-Cloacina-Action: 1",
            "--workers",
            "2",
            "--suppress-health-check",
            "all",
        ]
        return subprocess.run(fuzzing).returncode == 0


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="generated requests per operation")
    parser.add_argument("--postgres", help="a PostgreSQL server URL: fuzz a fresh database there too")
    options = parser.parse_args(arguments)
    failed = []
    with served_page() as (address, _, _):
        if not fuzz(address, options.examples):
            failed.append("SQLite")
    if options.postgres:
        with fresh_postgres_database(options.postgres, "ui_fuzz") as url, served_page(url) as (address, _, _):
            if not fuzz(address, options.examples):
                failed.append("PostgreSQL")
    if failed:
        where = " and ".join(failed)
        print(f"fuzz_api: schemathesis found answers with a 5xx status on {where} (above)", file=sys.stderr)
        return 1
    backends = "SQLite and PostgreSQL" if options.postgres else "SQLite"
    print(f"fuzz_api: {options.examples} generated requests per operation on {backends}, no answer with a 5xx status")
    return 0


if __name__ == "__main__":
    sys.exit(main())
