"""The package's wheel on every CPython from 3.9 to 3.13 this machine has (`make test-wheels`).

    python scripts/test_wheels.py --prepare
    python scripts/test_wheels.py --wheel WHEEL [--module-wheel WHEEL ...] [--postgres URL]

For each Python found (pyenv's versions, else `python3.X` on the PATH), a fresh virtual
environment in `target/wheel-tests/` gets what the tests need and the one wheel, and then:

- on the oldest and the newest Python: the whole test suite (`requirements-test.txt` and the
  extension modules of Rust tasks the tests import, `--module-wheel`, installed beside it);
- on every Python: the plan's validation snippets (`tests/test_plan_snippets.py`), and
  `scripts/wheel_smoke.py` against a SQLite file and, with `--postgres`, a fresh PostgreSQL
  database; as root on Linux with `unshare`, with the system's `libpq` and OpenSSL hidden
  (an empty file mounted over each) and `LD_LIBRARY_PATH` cleared, so a wheel that still needed
  them fails.

The Pythons are tested side by side, as many at once as the machine has cores (the two whole
suites first); each one's output goes to `target/wheel-tests/py<version>.log` and is printed
when it is done. Prints a line per step and a table at the end; exits 1 if anything failed.

`--prepare` makes the environments with what the tests need but not the wheel, which can be
done before the wheel is built (`make wheel-environments`); a run with `--wheel` then installs
only the wheels into each environment prepared with the same requirements, and makes the others
afresh.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MINORS = range(9, 14)
ENVIRONMENTS = ROOT / "target" / "wheel-tests"
# What the snippets need: pytest and its plugins the configuration names, and psycopg for the
# PostgreSQL fixture of the Phase-3 snippet.
SNIPPET_REQUIREMENTS = ["pytest>=8", "pytest-asyncio>=0.23", "pytest-timeout>=2.3", "psycopg[binary]>=3.1"]
# The file in an environment that says it was prepared, holding what it was prepared with.
PREPARED = ".prepared"
# The libraries the wheel must not need from the system (the PostgreSQL client and OpenSSL),
# where Debian-like and other Linux systems keep them.
HIDDEN_LIBRARIES = [
    f"{folder}/{library}.so*"
    for folder in ("/usr/lib/*", "/usr/lib", "/usr/lib64", "/usr/local/lib")
    for library in ("libpq", "libssl", "libcrypto")
]


@dataclass
class Outcome:
    """What happened on one Python."""

    version: str
    steps: list[tuple[str, bool, float]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.steps)


def interpreters() -> list[tuple[str, Path]]:
    """(version, executable) of each CPython 3.9-3.13 found, oldest first."""
    found = []
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for minor in MINORS:
        candidates = sorted(glob.glob(f"{pyenv_root}/versions/3.{minor}.*/bin/python3.{minor}"))
        executable = candidates[-1] if candidates else shutil.which(f"python3.{minor}")
        if executable:
            version = subprocess.run(
                [executable, "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            found.append((version, Path(executable)))
    return found


def run(command: list[str], log: Path, *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> bool:
    """Runs a command with its output appended to `log`."""
    with log.open("a") as output:
        output.write("+ " + " ".join(str(part) for part in command) + "\n")
        output.flush()
        return subprocess.run(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT).returncode == 0


def hiding_prefix() -> tuple[list[str], list[str]]:
    """A command prefix that runs its command with the system's libpq and OpenSSL hidden (an
    empty file mounted over each, in a mount namespace of its own), and the files it hides; no
    prefix where that cannot be done (not root, or no `unshare`)."""
    files = sorted({path for pattern in HIDDEN_LIBRARIES for path in glob.glob(pattern) if not os.path.islink(path)})
    if not files or os.name != "posix" or os.geteuid() != 0 or not shutil.which("unshare"):
        return [], []
    mounts = " && ".join(f"mount --bind /dev/null {path}" for path in files)
    return ["unshare", "--mount", "--", "sh", "-c", f'{mounts} && exec "$@"', "hide-libraries"], files


class PostgresDatabase:
    """A fresh database on the server at `server`, dropped on exit (psycopg from this process's
    environment makes it)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.name = f"cloacina_wheel_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {self.name}")
        parts = urlsplit(self.server)
        return urlunsplit((parts.scheme, parts.netloc, "/" + self.name, parts.query, parts.fragment))

    def __exit__(self, *_: object) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def requirements(full: bool) -> list[str]:
    """What pip installs beside the wheel: the test suite's requirements or the snippets'."""
    return ["-r", str(ROOT / "requirements-test.txt")] if full else SNIPPET_REQUIREMENTS


def preparation(full: bool) -> str:
    """What an environment is prepared with, as its PREPARED file holds it: the requirements,
    and the requirement file's text (a changed file makes the environment stale)."""
    listed = "\n".join(requirements(full))
    return listed + ("\n" + (ROOT / "requirements-test.txt").read_text() if full else "")


def prepare(version: str, executable: Path, full: bool, log: Path) -> bool:
    """Makes Python `version`'s environment afresh, with what its tests need but not the wheel."""
    environment_dir = ENVIRONMENTS / f"py{version}"
    python = environment_dir / "bin" / "python"
    shutil.rmtree(environment_dir, ignore_errors=True)
    ENVIRONMENTS.mkdir(parents=True, exist_ok=True)
    made = (
        run([str(executable), "-m", "venv", str(environment_dir)], log)
        and run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], log)
        and run([str(python), "-m", "pip", "install", "--quiet", *requirements(full)], log)
    )
    if made:
        (environment_dir / PREPARED).write_text(preparation(full))
    return made


def prepared(version: str, full: bool) -> bool:
    """Whether Python `version`'s environment was prepared with what its tests need now."""
    marker = ENVIRONMENTS / f"py{version}" / PREPARED
    return marker.is_file() and marker.read_text() == preparation(full)


def test_one(
    version: str, executable: Path, wheel: Path, module_wheels: list[Path], postgres: str, full: bool
) -> Outcome:
    outcome = Outcome(version)
    environment_dir = ENVIRONMENTS / f"py{version}"
    python = environment_dir / "bin" / "python"
    log = ENVIRONMENTS / f"py{version}.log"
    log.unlink(missing_ok=True)

    def step(name: str, action) -> bool:
        started = time.monotonic()
        ok = bool(action())
        outcome.steps.append((name, ok, time.monotonic() - started))
        print(f"test_wheels: Python {version}: {name}: {'passed' if ok else 'FAILED'}", flush=True)
        return ok

    # The wheels alone (their own dependencies are among the tests' requirements), replacing
    # those of an earlier run.
    wheels = [str(wheel), *map(str, module_wheels)]
    add_wheels = [str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", *wheels]
    if prepared(version, full):
        installed = step("install into the prepared environment", lambda: run(add_wheels, log))
    else:
        installed = step("install", lambda: prepare(version, executable, full, log) and run(add_wheels, log))
    if not installed:
        return outcome

    # The tests' environment: this Python's packages. VIRTUAL_ENV keeps naming the development
    # environment, for the one test that runs the Rust program embedding Python (built against
    # that environment's interpreter by `make python-extensions`).
    test_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    pytest = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra"]
    if full:
        # Two whole suites run side by side, each in two worker processes (the suite mostly waits).
        workers = os.environ.get("CLOACINA_WHEEL_TEST_WORKERS", "2")
        step("test suite", lambda: run([*pytest, "-n", workers, "tests"], log, env=test_env))
    else:
        step("plan snippets", lambda: run([*pytest, "tests/test_plan_snippets.py"], log, env=test_env))

    prefix, hidden = hiding_prefix()
    smoke_env = {key: value for key, value in os.environ.items() if key not in ("LD_LIBRARY_PATH", "VIRTUAL_ENV")}
    smoke = [*prefix, str(python), str(ROOT / "scripts" / "wheel_smoke.py")]
    note = f" ({len(hidden)} system libpq and OpenSSL files hidden)" if hidden else " (system libraries not hidden)"
    work = Path("/tmp") if os.name == "posix" else Path.home()
    step(f"smoke, SQLite{note}", lambda: run(smoke, log, cwd=work, env=smoke_env))
    if postgres:

        def postgres_smoke() -> bool:
            with PostgresDatabase(postgres) as url:
                return run([*smoke, url], log, cwd=work, env=smoke_env)

        step(f"smoke, PostgreSQL{note}", postgres_smoke)
    return outcome


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--prepare", action="store_true", help="make the environments with what the tests need, without the wheel"
    )
    parser.add_argument("--wheel", type=Path, help="the cloacina wheel (required unless --prepare)")
    parser.add_argument(
        "--module-wheel", type=Path, action="append", default=[], help="a wheel of Rust tasks the tests import"
    )
    parser.add_argument("--postgres", default="", help="a PostgreSQL server URL for the smoke test")
    options = parser.parse_args(arguments)
    if not options.prepare and not options.wheel:
        parser.error("give the wheel to test (--wheel), or --prepare to make the environments only")
    if os.environ.get("CLOACINA_REQUIRE_POSTGRES") == "1" and not options.postgres and not options.prepare:
        print("test_wheels: CLOACINA_REQUIRE_POSTGRES=1 but no --postgres server given", file=sys.stderr)
        return 1

    found = interpreters()
    print("test_wheels: found " + ", ".join(f"Python {version} ({path})" for version, path in found), flush=True)
    if not found:
        print("test_wheels: no CPython 3.9-3.13 found (install them with pyenv)", file=sys.stderr)
        return 1
    full = {found[0][0], found[-1][0]}
    # The whole suites first: they take longest.
    order = sorted(found, key=lambda item: item[0] not in full)
    jobs = int(os.environ.get("CLOACINA_WHEEL_TEST_JOBS", os.cpu_count() or 1))
    if options.prepare:
        return prepare_all(order, full, jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = {
            version: pool.submit(
                test_one, version, path, options.wheel, options.module_wheel, options.postgres, version in full
            )
            for version, path in order
        }
        outcomes = [running[version].result() for version, _ in found]
    for outcome in outcomes:
        log = ENVIRONMENTS / f"py{outcome.version}.log"
        print(f"\ntest_wheels: output on Python {outcome.version} ({log}):", flush=True)
        print(log.read_text() if log.exists() else "(none)", flush=True)

    print(f"\ntest_wheels: {options.wheel.name}")
    for outcome in outcomes:
        steps = "; ".join(
            f"{name} {'passed' if ok else 'FAILED'} ({seconds:.0f} s)" for name, ok, seconds in outcome.steps
        )
        print(f"  Python {outcome.version:<8} {'ok' if outcome.passed else 'FAILED':<7} {steps}")
    return 0 if all(outcome.passed for outcome in outcomes) else 1


def prepare_all(order: list[tuple[str, Path]], full: set[str], jobs: int) -> int:
    """Prepares every Python's environment, `jobs` at a time; prints a line for each."""

    def one(version: str, executable: Path) -> bool:
        log = ENVIRONMENTS / f"py{version}.prepare.log"
        log.unlink(missing_ok=True)
        started = time.monotonic()
        made = prepare(version, executable, version in full, log)
        seconds = time.monotonic() - started
        outcome = "prepared" if made else "FAILED"
        print(f"test_wheels: Python {version}: environment {outcome} ({seconds:.0f} s)", flush=True)
        if not made:
            print(log.read_text(), flush=True)
        return made

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        made = list(pool.map(lambda item: one(*item), order))
    return 0 if all(made) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
