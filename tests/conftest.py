"""Fixtures: every executor test runs on an in-memory SQLite database, a SQLite file and
PostgreSQL.

PostgreSQL comes from ``CLOACINA_TEST_POSTGRES_URL`` (a server URL; each test gets a database of
its own, dropped afterwards). Without it the PostgreSQL variants are skipped, and the summary
says so; with ``CLOACINA_REQUIRE_POSTGRES=1`` they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

import cloacina

POSTGRES_SERVER = os.environ.get("CLOACINA_TEST_POSTGRES_URL", "")
POSTGRES_REQUIRED = os.environ.get("CLOACINA_REQUIRE_POSTGRES") == "1"

# The processes tests start print where every thread was if they crash (a segmentation fault,
# an abort), as pytest does for itself: a crash in a child then says more than its status.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")

# Executors in tests poll rarely, so that anything relying on the poll shows up as slow.
EXECUTOR_OPTIONS = {"poll_interval": 5.0}


def _database_url(server: str, database: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped after the test."""
    if not POSTGRES_SERVER:
        if POSTGRES_REQUIRED:
            pytest.fail("CLOACINA_REQUIRE_POSTGRES=1 but CLOACINA_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set CLOACINA_TEST_POSTGRES_URL")
    import psycopg

    name = f"cloacina_py_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _database_url(POSTGRES_SERVER, name)
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


SNIPPET_DATABASE_LOCK = 0x636C6F6163696E62
"""The PostgreSQL advisory lock that keeps the plan's snippet database to one test at a time."""


@pytest.fixture
def snippet_postgres_url() -> Iterator[str]:
    """`postgresql://user:pass@localhost/db`, the URL the plan's Phase-3 snippet names, made real:
    the role `user` (password `pass`) and a fresh database `db` it owns, on the test server. When
    the test server is not the one on localhost:5432, the same role and database on it instead.
    """
    if not POSTGRES_SERVER:
        if POSTGRES_REQUIRED:
            pytest.fail("CLOACINA_REQUIRE_POSTGRES=1 but CLOACINA_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set CLOACINA_TEST_POSTGRES_URL")
    import psycopg

    # One test at a time, across processes (several Pythons' suites may run at once): the role
    # and the database have fixed names. The lock is held by this connection until the end.
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SNIPPET_DATABASE_LOCK,))
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'user'").fetchone()
            admin.execute(
                "ALTER ROLE \"user\" LOGIN PASSWORD 'pass'" if exists else "CREATE ROLE \"user\" LOGIN PASSWORD 'pass'"
            )
            admin.execute("DROP DATABASE IF EXISTS db WITH (FORCE)")
            admin.execute('CREATE DATABASE db OWNER "user"')
        parts = urlsplit(POSTGRES_SERVER)
        address = f"{parts.hostname}:{parts.port or 5432}"
        verbatim = "postgresql://user:pass@localhost/db"
        yield verbatim if address in ("127.0.0.1:5432", "localhost:5432") else f"postgresql://user:pass@{address}/db"
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS db WITH (FORCE)")


@pytest.fixture(params=["sqlite_file", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database another process can read: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite_memory", "sqlite_file", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database of each backend."""
    if request.param == "sqlite_memory":
        return "sqlite:///:memory:"
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def executor(database_url: str) -> Iterator[cloacina.UnifiedExecutor]:
    """An executor on each backend, shut down after the test."""
    with cloacina.UnifiedExecutor(database_url, **EXECUTOR_OPTIONS) as running:
        yield running


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A workflow name no other test uses (the registry is shared by the whole process)."""
    return f"{request.node.name}_{uuid.uuid4().hex[:8]}".replace("[", "_").replace("]", "").replace("-", "_")


if sys.version_info < (3, 10):

    @pytest.fixture(scope="session", autouse=True)
    def _main_thread_event_loop() -> Iterator[None]:
        """Python 3.9's `asyncio.get_event_loop()` makes a loop when the main thread has none, and
        pytest-asyncio (1.2, the last for 3.9) calls it around each async test and never closes
        what it made: a `ResourceWarning` when it is collected, in whichever test that happens. A
        loop set here, and closed at the end, is the one it finds instead."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        yield
        asyncio.set_event_loop(None)
        loop.close()
