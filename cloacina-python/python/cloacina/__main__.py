"""``python -m cloacina worker [URL] --import MODULE``: a process that only runs tasks.

The modules imported define (and so register) the workflows; the worker then runs their tasks
for executions any process started on the same database, until Ctrl-C or SIGTERM, which stop
it gracefully: running tasks may finish (up to ``--shutdown-timeout``), the rest is handed back.
The database URL may come from the environment variable ``CLOACINA_DATABASE_URL`` instead of
the command line, where any local user can read it (with its password) in the process list.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from cloacina import UnifiedExecutor

URL_VARIABLE = "CLOACINA_DATABASE_URL"
"""The environment variable the worker reads the database URL from when none is given."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cloacina", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run tasks of the imported workflows until stopped")
    worker.add_argument(
        "url",
        nargs="?",
        help=(
            "the database, e.g. postgresql://user:password@host/db; by default the environment variable "
            f"{URL_VARIABLE}, which keeps a password out of the process list"
        ),
    )
    worker.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module that defines workflows (repeatable)",
    )
    worker.add_argument("--max-concurrent-tasks", type=int, help="tasks run at once")
    worker.add_argument("--lease-duration", type=float, help="seconds a claimed task stays owned without renewal")
    worker.add_argument("--poll-interval", type=float, help="seconds between fallback looks for work")
    worker.add_argument("--shutdown-timeout", type=float, help="seconds running tasks may take to finish on stop")
    worker.add_argument("--schema", help="PostgreSQL schema of the tables")
    return parser


def main(arguments: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    options = _parser().parse_args(arguments)
    url = options.url or os.environ.get(URL_VARIABLE)
    if not url:
        print(f"no database: give its URL, or set {URL_VARIABLE}", file=sys.stderr)
        return 2
    if not options.modules:
        print("nothing to run: give at least one --import MODULE that defines workflows", file=sys.stderr)
        return 2
    for module in options.modules:
        importlib.import_module(module)
    settings = {
        name: value
        for name, value in {
            "max_concurrent_tasks": options.max_concurrent_tasks,
            "lease_duration": options.lease_duration,
            "poll_interval": options.poll_interval,
            "shutdown_timeout": options.shutdown_timeout,
            "schema": options.schema,
        }.items()
        if value is not None
    }
    executor = UnifiedExecutor(url, **settings)

    def stop(signal_number: int, _frame: object) -> None:
        # Shut down off the signal handler's thread: serve() then returns.
        threading.Thread(target=executor.shutdown, name="cloacina-stop").start()

    signal.signal(signal.SIGTERM, stop)
    print(f"worker ready: {executor!r}", flush=True)
    try:
        executor.serve()
    except KeyboardInterrupt:
        pass
    print("worker stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
