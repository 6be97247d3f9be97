"""The database a command reads: its URL, from the command line or the environment, and an
executor on it."""

from __future__ import annotations

import argparse
import os
import urllib.parse

from cloacina import UnifiedExecutor

URL_VARIABLE = "CLOACINA_DATABASE_URL"
"""The environment variable a command reads the database URL from when none is given."""

FOLLOW_POLL_INTERVAL = 0.2
"""Seconds between looks for news from other processes while following an execution."""


class CommandError(Exception):
    """A problem with what the command was asked to do; its message says what and how to fix it."""


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """Adds `--database-url` to a command."""
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=(
            "the database, e.g. sqlite:///runs.db or postgresql://user@host/db; by default the "
            f"environment variable {URL_VARIABLE}, which keeps a password out of the process list"
        ),
    )


def database_url(options: argparse.Namespace) -> str:
    """The URL given, or the environment's."""
    url = getattr(options, "database_url", None) or os.environ.get(URL_VARIABLE)
    if not url:
        raise CommandError(f"no database: give --database-url URL, or set {URL_VARIABLE}")
    return url


def check_existing(url: str) -> None:
    """Refuses a SQLite database that does not exist (opening it would create an empty one) and
    an in-memory one (which no other process can read)."""
    if not url.startswith("sqlite:"):
        return
    path = urllib.parse.unquote(url.removeprefix("sqlite://").split("?", 1)[0])
    if path in ("/:memory:", ":memory:", ""):
        raise CommandError(
            f"{url} is an in-memory database, which only the process that made it can read; "
            "give the URL of a database file or a server"
        )
    path = path[1:] if path.startswith("/") else path
    if not os.path.exists(path):
        raise CommandError(f"no SQLite database at {os.path.abspath(path)}: check the path in the URL")


def open_executor(options: argparse.Namespace, *, run_tasks: bool = False) -> UnifiedExecutor:
    """An executor on the command's database: one that only reads (and cancels), unless
    `run_tasks`. It never starts schedule ticks: a command that looks does not act on time."""
    url = database_url(options)
    check_existing(url)
    return UnifiedExecutor(url, run_tasks=run_tasks, run_schedules=False, poll_interval=FOLLOW_POLL_INTERVAL)
