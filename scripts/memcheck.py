"""The engine's Rust tests under valgrind memcheck (`make leak-check`).

    python scripts/memcheck.py [--test NAME FILTER] ...

Builds the `cloacina` crate's unit tests and the integration tests named by `--test` (a test
target and a name filter), runs each binary under `valgrind --leak-check=full`, and prints what
valgrind found: bytes definitely, indirectly and possibly lost, and memory errors. Fails on any
definite leak or memory error.

By default the integration tests are the in-memory SQLite variants of `it` but for three modules
whose tests wait out real time (`capacity`: nothing waits for the poll; `failures`: timeouts and
retry delays; `schedules`: ticks every second), which valgrind's slowdown of 20 to 50 times makes
fail or take many minutes. The
other tests' bounds on wall time are scaled by TIME_SCALE (`CLOACINA_TEST_TIME_SCALE`).

Memory still reachable at exit (statics: the runtime's thread pool, OpenSSL's and SQLite's
global state) is not a leak and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "memcheck"
ENGINE_MANIFEST = ROOT / "cloacina" / "Cargo.toml"
LOST = re.compile(r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes in ([\d,]+) blocks")
# The modules of `it` whose tests wait out real time (see above), left out under valgrind.
WALL_TIME_MODULES = ("capacity", "failures", "schedules")
# How much longer than natively the tests may take under valgrind.
TIME_SCALE = 50
ERRORS = re.compile(r"ERROR SUMMARY: ([\d,]+) errors")
# A test's panic: the thread, where it panicked and the message's first line.
PANIC = re.compile(r"^thread '.*' panicked at .*\n.*$", re.MULTILINE)


def test_binaries(targets: list[str], workspace_features: str | None, cargo_config: list[str]) -> dict[str, Path]:
    """Builds the engine's unit tests and `targets`; their executables by target name.

    With `workspace_features`, the build is the workspace's with those features, as `make test`
    makes it: then nothing is compiled again after that (the engine alone would be built with
    other features). `cargo_config` are cargo settings (`--config`) the build must share with
    make test's, such as clippy's wrapper."""
    if workspace_features:
        # Every target, as `make test` selects them: choosing only some would resolve the
        # dependencies' features without the other crates' test dependencies, and so compile
        # the engine again.
        command = ["cargo", "test", "--workspace", "--features", workspace_features, "--no-run"]
    else:
        command = ["cargo", "test", "-p", "cloacina", "--lib", *[f"--test={target}" for target in targets], "--no-run"]
    command += [argument for setting in cargo_config for argument in ("--config", setting)]
    command.append("--message-format=json")
    built = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"memcheck: building the tests failed:\n{built.stderr}")
    found = {}
    for line in built.stdout.splitlines():
        message = json.loads(line)
        if (
            message.get("reason") == "compiler-artifact"
            and message.get("executable")
            and message["profile"]["test"]
            and Path(message["manifest_path"]) == ENGINE_MANIFEST
        ):
            kind = message["target"]["kind"][0]
            found["lib" if kind == "lib" else message["target"]["name"]] = Path(message["executable"])
    return found


def memcheck(name: str, executable: Path, test_filter: list[str]) -> tuple[dict[str, int], int, float]:
    """Runs one test binary under memcheck: bytes lost by kind, memory errors, seconds taken."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    command = [
        "valgrind",
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect,possible",
        "--errors-for-leak-kinds=definite",
        "--num-callers=30",
        f"--log-file={log}",
        str(executable),
        "--test-threads=2",
        *test_filter,
    ]
    print("+", " ".join(command), flush=True)
    started = time.monotonic()
    environment = dict(os.environ, CLOACINA_TEST_TIME_SCALE=str(TIME_SCALE))
    finished = subprocess.run(command, cwd=ROOT / "cloacina", env=environment, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        # The panics' messages first: with backtraces, the output's tail may hold none of them.
        for panic in PANIC.finditer(finished.stdout + finished.stderr):
            print(panic.group(0), flush=True)
        print(finished.stdout[-4000:], finished.stderr[-4000:], sep="\n")
        sys.exit(f"memcheck: the tests of {name} failed under valgrind (exit status {finished.returncode}); see {log}")
    report = log.read_text()
    lost = {kind: 0 for kind in ("definitely", "indirectly", "possibly")}
    for kind, size, _ in LOST.findall(report):
        lost[kind] += int(size.replace(",", ""))
    errors = sum(int(count.replace(",", "")) for count in ERRORS.findall(report))
    passed = re.search(r"test result: ok\. (\d+) passed", finished.stdout)
    print(
        f"memcheck: {name}: {passed.group(1) if passed else '?'} tests in {seconds:.0f} s; "
        f"definitely lost {lost['definitely']} bytes, indirectly {lost['indirectly']}, possibly {lost['possibly']}; "
        f"{errors} errors (log: {log.relative_to(ROOT)})",
        flush=True,
    )
    return lost, errors, seconds


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--test",
        nargs=2,
        action="append",
        metavar=("NAME", "FILTER"),
        help="an integration test target and a filter of its test names (default: it, as described above)",
    )
    parser.add_argument(
        "--workspace-features",
        metavar="FEATURES",
        help="build the tests as the workspace's with these features (what `make test` built), not the engine's alone",
    )
    parser.add_argument(
        "--cargo-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a cargo setting for the build (cargo --config), as make test's build had it",
    )
    options = parser.parse_args(arguments)
    targets = [(name, [test_filter]) for name, test_filter in options.test or []] or [
        ("it", ["sqlite_memory", *[arg for module in WALL_TIME_MODULES for arg in ("--skip", f"{module}::")]])
    ]
    binaries = test_binaries([name for name, _ in targets], options.workspace_features, options.cargo_config)
    failed = False
    for name, test_filter in [("lib", []), *targets]:
        lost, errors, _ = memcheck(name, binaries[name], test_filter)
        failed |= lost["definitely"] > 0 or errors > 0
    print(f"memcheck: {'FAILED: definite leaks or memory errors' if failed else 'no definite leaks, no memory errors'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
