"""Leak check: many executions in one Python process, and what they left behind.

    python scripts/leak_check.py [--executions N] [--postgres URL]

Runs a workflow of a ``def`` task and an ``async def`` task, passing a datetime, a Decimal, a
list and a dict between them, N times (10,000 by default) in one process, on an in-memory SQLite
database and, with ``--postgres``, on PostgreSQL. Each backend runs in a fresh process, the
backends side by side: after a warm-up of WARM_UP executions it counts the live Python objects
by type and reads the resident memory, then runs the N executions one after another, and reads
both again. (One at a time: threads of its own would each get an allocator arena, and resident
memory would grow by those arenas, not by what the executions left behind.)

It fails when, on a backend:

- the live objects of any one type grew by more than OBJECT_GROWTH_BOUND, or all of them by
  more than TOTAL_OBJECT_GROWTH_BOUND: a leak of one object per execution grows a type by N;
- resident memory grew by more than RSS_SLACK_BYTES beyond what the backend must keep. On
  PostgreSQL the database is another process, so that is nothing. An in-memory SQLite database
  keeps every execution in this process, so the check first runs the same workload on a SQLite
  file, takes the file's growth per execution as what a stored execution costs, and allows
  1.5 times that in memory.

Prints one line per backend with the figures, and exits 1 if a bound was passed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import decimal
import gc
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator

WARM_UP = 300
OBJECT_GROWTH_BOUND = 200
TOTAL_OBJECT_GROWTH_BOUND = 2_000
RSS_SLACK_BYTES = 16 * 2**20
#: How much more memory than disk an in-memory SQLite database may take for the same rows.
MEMORY_DATABASE_FACTOR = 1.5


def resident_bytes() -> int:
    """The process's resident memory now (Linux), in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def live_objects() -> collections.Counter[str]:
    """The live objects the garbage collector tracks, counted by type name."""
    gc.collect()
    return collections.Counter(type(item).__qualname__ for item in gc.get_objects())


def define_workflow() -> str:
    """Registers the workflow the check runs and returns its name."""
    import cloacina

    @cloacina.task(id="produce")
    def produce(context: cloacina.Context) -> dict:
        number = context["number"]
        return {
            "when": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=number),
            "amount": decimal.Decimal(number) / 100,
            "items": list(range(number % 7)),
            "detail": {"number": number, "label": f"run {number}"},
        }

    @cloacina.task(id="consume", dependencies=["produce"])
    async def consume(context: cloacina.Context) -> dict:
        await asyncio.sleep(0)
        return {"total": context["amount"] + len(context["items"]), "day": context["when"].date()}

    cloacina.workflow(name="leak_check", tasks=[produce, consume])
    return "leak_check"


def measure(url: str, executions: int) -> dict:
    """Runs the workload in this process and returns its figures."""
    import cloacina

    name = define_workflow()
    with cloacina.UnifiedExecutor(url) as executor:
        for number in range(WARM_UP):
            executor.execute(name, {"number": number}).raise_for_status()
        objects_before = live_objects()
        rss_before = resident_bytes()
        started = time.perf_counter()
        for number in range(executions):
            result = executor.execute(name, {"number": number})
            result.raise_for_status()
            del result
        seconds = time.perf_counter() - started
        objects_after = live_objects()
        rss_after = resident_bytes()
    growth = objects_after.copy()
    growth.subtract(objects_before)
    return {
        "executions": executions,
        "seconds": seconds,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "objects_before": sum(objects_before.values()),
        "objects_after": sum(objects_after.values()),
        "object_growth": {kind: count for kind, count in growth.most_common(5) if count > 0},
    }


def start_child(url: str, executions: int) -> subprocess.Popen:
    """Starts ``measure`` in a fresh interpreter, so that backends do not share a heap."""
    return subprocess.Popen(
        [sys.executable, __file__, "--measure", url, "--executions", str(executions)],
        stdout=subprocess.PIPE,
        text=True,
    )


def child_figures(child: subprocess.Popen) -> dict:
    """What a child started by ``start_child`` measured, once it is done."""
    output, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"leak check: the measuring process {child.args} failed (exit status {child.returncode})")
    return json.loads(output.strip().splitlines()[-1])


@contextlib.contextmanager
def fresh_postgres_database(server: str, purpose: str = "leak_check") -> Iterator[str]:
    """A new database on the server (named after `purpose`), dropped afterwards (needs psycopg).

    Its commits do not wait for the disk (``synchronous_commit = off``): what is checked here is
    the client's memory and behaviour, not a crash of the server, and the flush at each commit
    took about a fifth of an execution's time (12 ms instead of 16, on an idle machine)."""
    import psycopg

    name = f"cloacina_{purpose}_{uuid.uuid4().hex}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    try:
        parts = urllib.parse.urlsplit(server)
        yield urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def database_file_bytes(path: pathlib.Path) -> int:
    """The size of a SQLite database with its write-ahead log and shared-memory files."""
    return sum(file.stat().st_size for file in path.parent.glob(path.name + "*"))


def judge(label: str, figures: dict, stored_bytes: float) -> list[str]:
    """Prints a backend's figures and returns the bounds it passed (empty when none)."""
    executions = figures["executions"]
    rss_growth = figures["rss_after"] - figures["rss_before"]
    allowed = stored_bytes + RSS_SLACK_BYTES
    object_growth = figures["objects_after"] - figures["objects_before"]
    print(
        f"{label}: {executions:,} executions in {figures['seconds']:.1f} s; resident memory "
        f"{figures['rss_before'] / 2**20:.1f} MB -> {figures['rss_after'] / 2**20:.1f} MB "
        f"({rss_growth / 2**20:+.1f} MB, bound {allowed / 2**20:.1f} MB); Python objects "
        f"{figures['objects_before']:,} -> {figures['objects_after']:,} ({object_growth:+,}); "
        f"most grown: {figures['object_growth'] or 'none'}"
    )
    failures = []
    if rss_growth > allowed:
        failures.append(f"{label}: resident memory grew {rss_growth / 2**20:.1f} MB, over {allowed / 2**20:.1f} MB")
    if object_growth > TOTAL_OBJECT_GROWTH_BOUND:
        failures.append(f"{label}: {object_growth:,} more live objects, over {TOTAL_OBJECT_GROWTH_BOUND:,}")
    for kind, count in figures["object_growth"].items():
        if count > OBJECT_GROWTH_BOUND:
            failures.append(f"{label}: {count:,} more live `{kind}` objects, over {OBJECT_GROWTH_BOUND}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL; the check makes and drops a database of its own")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(arguments.measure, arguments.executions)))
        return 0

    failures = []
    with contextlib.ExitStack() as cleanup:
        folder = cleanup.enter_context(tempfile.TemporaryDirectory())
        path = pathlib.Path(folder) / "leak-check.db"
        children = {
            "sqlite file": start_child(f"sqlite:///{path}", arguments.executions),
            "sqlite memory": start_child("sqlite:///:memory:", arguments.executions),
        }
        if arguments.postgres:
            url = cleanup.enter_context(fresh_postgres_database(arguments.postgres))
            children["postgresql"] = start_child(url, arguments.executions)
        for child in children.values():
            # Should one fail, the others stop before their database goes.
            cleanup.callback(child.kill)
        figures = {label: child_figures(child) for label, child in children.items()}
        per_execution = database_file_bytes(path) / (arguments.executions + WARM_UP)
    print(f"a stored execution takes {per_execution:,.0f} bytes in a SQLite file")
    failures += judge("sqlite file", figures["sqlite file"], 0)
    stored = per_execution * arguments.executions * MEMORY_DATABASE_FACTOR
    failures += judge("sqlite memory", figures["sqlite memory"], stored)
    if arguments.postgres:
        failures += judge("postgresql", figures["postgresql"], 0)
    else:
        print("postgresql: not measured (no --postgres URL)")
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
