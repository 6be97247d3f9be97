"""The `cloacina` command (also `python -m cloacina`): look at executions and workflows, follow,
cancel and re-run executions, manage schedules, and run a worker, on any database the package can open.

Everything it shows comes from the executor's public API, so a program can get it too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cloacina import CloacinaError

from . import _executions, _schedules, _ui, _worker, _workflows
from ._database import URL_VARIABLE, CommandError

__all__ = ["main"]


def _program_name() -> str:
    started_as = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m cloacina" if started_as in ("__main__.py", "-m", "-c", "") else "cloacina"


def parser() -> argparse.ArgumentParser:
    """The command line's parser."""
    main_parser = argparse.ArgumentParser(
        prog=_program_name(),
        description="Look at and manage Cloacina executions, workflows, schedules and workers.",
        epilog=f"The database comes from --database-url or the environment variable {URL_VARIABLE}.",
    )
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _executions.add_commands(commands)
    _workflows.add_commands(commands)
    _schedules.add_commands(commands)
    _worker.add_command(commands)
    _ui.add_command(commands)
    return main_parser


def main(arguments: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 done, 1 failed, 2 misused)."""
    options = parser().parse_args(arguments)
    try:
        return int(options.run(options))
    except CommandError as problem:
        print(f"cloacina: error: {problem}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as problem:
        print(f"cloacina: error: cannot import {problem.name!r}: {problem}; check --import", file=sys.stderr)
        return 2
    except CloacinaError as problem:
        print(f"cloacina: error: {problem}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`cloacina executions list | head`): stop quietly.
        sys.stdout = open(os.devnull, "w")
        return 1
    except KeyboardInterrupt:
        return 130
