"""The web page's JSON API fuzzed from its own OpenAPI description with schemathesis.

    python scripts/ui/fuzz_api.py [--examples 100]

Starts `scripts/ui/workflows.py` (so the database holds executions of every kind) and
`cloacina ui` on a SQLite file, then lets schemathesis send every operation `--examples`
generated requests (odd ids, filters, cursors, numbers; the actions with their header) with a
fixed seed, and fails on any answer with a 5xx status.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys

from check_in_browser import served_page

BIN = pathlib.Path(sys.executable).parent


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="generated requests per operation")
    options = parser.parse_args(arguments)
    with served_page() as (address, _, _):
        fuzzing = [
            str(BIN / "schemathesis"),
            "run",
            address + "api/openapi.json",
            "--url",
            address.rstrip("/"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(options.examples),
            "--seed",
            "20261205",
            "--header",
            "X-Cloacina-Action: 1",
            "--workers",
            "2",
            "--suppress-health-check",
            "all",
        ]
        finished = subprocess.run(fuzzing)
    if finished.returncode != 0:
        print("fuzz_api: schemathesis found answers with a 5xx status (above)", file=sys.stderr)
        return 1
    print(f"fuzz_api: {options.examples} generated requests per operation, no answer with a 5xx status")
    return 0


if __name__ == "__main__":
    sys.exit(main())
