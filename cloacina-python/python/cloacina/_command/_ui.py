"""`cloacina ui`: the web page for executions, served over the command's database.

The page lists executions, draws an execution's tasks coloured by status with a timeline of
their attempts, shows a task's attempts, logs, input and output, and follows a running execution
live; it can cancel and re-run. `--import MODULE` shows the module's workflow definitions and
lets the page re-run their executions. It listens on 127.0.0.1 unless told otherwise; any other
address needs the token in the environment variable CLOACINA_UI_TOKEN.
"""

from __future__ import annotations

import argparse
import importlib
import os

from ._database import CommandError, add_database_option, open_executor
from ._modules import add_import_option

TOKEN_VARIABLE = "CLOACINA_UI_TOKEN"
DEFAULT_PORT = 8490


def add_command(commands: argparse._SubParsersAction) -> None:
    """Adds `ui`."""
    ui = commands.add_parser("ui", help="serve the web page for executions")
    add_database_option(ui)
    ui.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT}; 0 picks one)")
    ui.add_argument("--read-only", action="store_true", help="turn the actions (cancel, re-run) off")
    add_import_option(ui, "workflows to show and re-run")
    ui.set_defaults(run=serve_page)


def serve_page(options: argparse.Namespace) -> int:
    """Serves the page until Ctrl-C."""
    for module in options.modules:
        importlib.import_module(module)
    executor = open_executor(options)
    token = os.environ.get(TOKEN_VARIABLE) or None

    def ready(address: str) -> None:
        print(f"Serving the executions page at {address} (Ctrl-C stops)", flush=True)
        if token:
            print(f"Open {address}?token=<the token in {TOKEN_VARIABLE}> once; the page keeps it.", flush=True)

    try:
        executor.serve_ui(host=options.host, port=options.port, read_only=options.read_only, token=token, ready=ready)
    except OSError as problem:
        raise CommandError(str(problem)) from None
    finally:
        executor.shutdown()
    return 0
