"""`--import MODULE`: the modules that define (and so register) the workflows a command needs."""

from __future__ import annotations

import argparse
import importlib

from ._database import CommandError


def add_import_option(parser: argparse.ArgumentParser, defines: str) -> None:
    """Adds the repeatable `--import MODULE` to a command; `defines` says what the modules
    define ("the workflow", "workflows")."""
    parser.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help=f"a module that defines {defines} (repeatable)",
    )


def import_modules(options: argparse.Namespace, needed_for: str) -> None:
    """Imports the modules given; refuses none, saying what they are `needed_for`."""
    if not options.modules:
        raise CommandError(f"{needed_for}: give --import MODULE for the module that defines the workflows")
    for module in options.modules:
        importlib.import_module(module)
