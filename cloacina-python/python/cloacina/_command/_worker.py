"""`cloacina worker --import MODULE`: a process that only runs tasks.

The modules imported define (and so register) the workflows; the worker then runs their tasks
for executions any process started on the same database, until Ctrl-C or SIGTERM, which stop
it gracefully: running tasks may finish (up to `--shutdown-timeout`), the rest is handed back.
"""

from __future__ import annotations

import argparse
import signal
import threading

from cloacina import UnifiedExecutor

from ._database import add_database_option, database_url
from ._modules import add_import_option, import_modules


def add_command(commands: argparse._SubParsersAction) -> None:
    """Adds `worker`."""
    worker = commands.add_parser("worker", help="run tasks of the imported workflows until stopped")
    worker.add_argument("url", nargs="?", help="the database (the same as --database-url)")
    add_database_option(worker)
    add_import_option(worker, "workflows")
    worker.add_argument("--max-concurrent-tasks", type=int, help="tasks run at once")
    worker.add_argument("--lease-duration", type=float, help="seconds a claimed task stays owned without renewal")
    worker.add_argument("--poll-interval", type=float, help="seconds between fallback looks for work")
    worker.add_argument("--shutdown-timeout", type=float, help="seconds running tasks may take to finish on stop")
    worker.add_argument(
        "--pool-size",
        type=int,
        help="database connections the worker keeps; on PostgreSQL it holds one more, to listen",
    )
    worker.add_argument("--schema", help="PostgreSQL schema of the tables")
    worker.set_defaults(run=run_worker)


def run_worker(options: argparse.Namespace) -> int:
    """Runs tasks until stopped."""
    if options.url and not options.database_url:
        options.database_url = options.url
    url = database_url(options)
    import_modules(options, "nothing to run")
    settings = {
        name: value
        for name, value in {
            "max_concurrent_tasks": options.max_concurrent_tasks,
            "lease_duration": options.lease_duration,
            "poll_interval": options.poll_interval,
            "shutdown_timeout": options.shutdown_timeout,
            "pool_size": options.pool_size,
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
