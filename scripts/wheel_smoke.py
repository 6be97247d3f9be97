"""Smoke test of an installed cloacina wheel: the plan's Phase-5 validation, and one execution kept
in a database.

    python scripts/wheel_smoke.py [DATABASE_URL]

Run it with the interpreter the wheel was installed into, from a directory outside the source
tree (CI runs it from the runner's temporary directory). It:

1. imports cloacina and says which version it found, and where: a cloacina imported from this
   source tree (a development install) is not the wheel, and fails the check;
2. runs the Phase-5 validation program of the plan verbatim in a fresh interpreter that turns
   warnings into errors, and checks that it printed its one line and nothing else;
3. runs the same workflow in this process on DATABASE_URL (by default a SQLite file in a new
   temporary directory), then opens the database again with a second executor and reads the
   execution back.

Prints one line per step, and exits 1 on the first failure, saying what went wrong.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# The package's sources in this repository: a cloacina imported from there is a development
# install, not the wheel (environments made under target/ are outside it).
SOURCE_TREE = Path(__file__).resolve().parent.parent / "cloacina-python"

# The plan's Phase-5 validation program, verbatim, as the test suite keeps it.
sys.path.insert(0, str(SOURCE_TREE.parent / "tests"))
from test_plan_snippets import PHASE_5_PROGRAM  # noqa: E402 (the tests folder is not a package)

PHASE_5_OUTPUT = "✅ Cloacina Python bindings working!\n"


class SmokeError(Exception):
    """A step of the smoke test went wrong; the message says how."""


def step(message: str) -> None:
    print(f"wheel_smoke: {message}", flush=True)


def shown_url(url: str) -> str:
    """The URL with any password hidden, for the log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_installed() -> None:
    import cloacina

    location = Path(cloacina.__file__).resolve()
    step(f"cloacina {cloacina.__version__} from {location} (Python {platform.python_version()}, {platform.platform()})")
    if SOURCE_TREE in location.parents:
        raise SmokeError(
            f"cloacina was imported from the source tree ({SOURCE_TREE}), not from an installed wheel: "
            "install the wheel into a fresh environment and run this script with its interpreter"
        )


def check_phase_5_snippet(work_directory: Path) -> None:
    # The snippet prints an emoji: a Windows console's code page cannot encode it.
    environment = dict(os.environ, PYTHONIOENCODING="utf-8")
    finished = subprocess.run(
        [sys.executable, "-W", "error", "-c", PHASE_5_PROGRAM],
        cwd=work_directory,
        env=environment,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )
    if finished.returncode != 0 or finished.stdout != PHASE_5_OUTPUT or finished.stderr:
        raise SmokeError(
            f"the Phase-5 snippet exited with {finished.returncode}\n"
            f"--- its output:\n{finished.stdout}--- its errors:\n{finished.stderr}"
        )
    step("the plan's Phase-5 snippet ran and printed 'Cloacina Python bindings working!'")


async def run_workflow(url: str) -> str:
    from cloacina import UnifiedExecutor, task, workflow

    @task(id="smoke_test", dependencies=[])
    async def smoke_test(context):
        context.insert("success", True)

    workflow(name="wheel_smoke", tasks=[smoke_test])
    async with UnifiedExecutor(url) as executor:
        result = await executor.execute("wheel_smoke", {})
    if result.status != "Completed":
        raise SmokeError(f"the execution ended {result.status}, not Completed: {result}")
    if result.context["success"] is not True:
        raise SmokeError(f"the task's value did not come back: {result.context}")
    return result.execution_id


def check_database(url: str) -> None:
    from cloacina import UnifiedExecutor

    execution_id = asyncio.run(run_workflow(url))
    step(f"execution {execution_id} completed on {shown_url(url)}")
    with UnifiedExecutor(url) as executor:
        stored = executor.get_execution(execution_id)
    if stored.status != "Completed" or stored.context["success"] is not True:
        raise SmokeError(f"a second executor read back {stored}, not the completed execution")
    step("a second executor on the same database read it back, completed")


def main(arguments: list[str]) -> int:
    if len(arguments) > 1 or (arguments and arguments[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    work_directory = Path(tempfile.mkdtemp(prefix="cloacina-wheel-smoke-"))
    url = arguments[0] if arguments else f"sqlite:///{work_directory / 'smoke.db'}"
    try:
        check_installed()
        check_phase_5_snippet(work_directory)
        check_database(url)
    except SmokeError as error:
        print(f"wheel_smoke: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        # On Windows a file the engine just closed can stay locked for a moment: leave it then.
        shutil.rmtree(work_directory, ignore_errors=True)
    step("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
