"""``make bench-check``: a guard against a slower hot path.

Wall times on a shared machine move by more than any regression worth catching, so this measures
what does not depend on the machine's load: the instructions one dependency hop costs
(``valgrind --tool=callgrind``, which runs the program's threads one at a time and counts what
they execute) for the chain of 200 run by Rust tasks, by Python ``def`` tasks and by Python
``async def`` tasks on a SQLite file, and the SQL statements the engine runs per task. The ``def``
chain runs a second time with the task log capture off: with it on, the default, a task that logs
nothing must cost no more (within 3%). Each figure is compared with ``benchmarks/baseline.json``;
one more than 10% above its baseline fails the check. A change that lowers a figure updates the
baseline in the same commit (``--update``).

    python benchmarks/check.py --engine-bench target/x86_64-unknown-linux-gnu/release/engine-bench [--update]

A per-hop figure is what a process executes in two runs of the chain, after a warm-up run, over
their 398 hops. The rest (starting the process, the interpreter and the executor, the warm-up,
the shutdown) is not counted: it runs with callgrind's instrumentation off, several times faster,
and the program tells when its measured runs start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TOLERANCE = 0.10
"""How far above its baseline a figure may go before the check fails."""
CHAIN_HOPS = 199
MEASURED_RUNS = 2
"""The runs counted in each process, after its warm-up run: 398 hops."""
REPEATS = 3
"""Each process is run this many times and the lowest count kept: a thread that happens to be
scheduled once more (a timer, a poll) adds to one run only."""

FIGURES = {
    "rust_chain_instructions_per_hop": "instructions per hop, chain of 200, Rust tasks",
    "python_def_chain_instructions_per_hop": "instructions per hop, chain of 200, Python def tasks",
    "python_async_chain_instructions_per_hop": "instructions per hop, chain of 200, Python async def tasks",
    "python_def_chain_logs_off_instructions_per_hop": "the same, Python def tasks, task log capture off",
    "rust_chain_statements_per_task": "SQL statements per task, chain of 200",
    "rust_round_trip_statements_per_task": "SQL statements per task, 2-task round trip",
    "rust_diamond_statements_per_task": "SQL statements per task, diamond of 4",
}
"""Every figure checked, and what it is."""

CAPTURE_TOLERANCE = 0.03
"""How much more a hop of ``def`` tasks that log nothing may cost with the task log capture on
(the default) than with it off: the capture must cost nothing when a task logs nothing."""

COLLECTED = re.compile(r"==\d+== Collected : (\d+)")


WARMED_UP, MEASURED = "warmed up", "measured"
"""What the measuring programs print before and after their measured runs when
``CLOACINA_BENCH_RESUME_FILE`` names a file; after each, they go on once the file exists
(``benchmarks/python/measure.py``, ``benchmarks/src/measure.rs``)."""


def instructions(command: list[str], directory: Path, environment: dict[str, str] | None = None) -> int:
    """The instructions `command` executes in its measured runs, all threads, under callgrind.
    Callgrind starts with its instrumentation off; `callgrind_control` turns it on when the
    program says it has warmed up and off when it says it has measured, so that what comes
    before and after runs several times faster and is not counted."""
    output, resume = directory / "callgrind.out", directory / "resume"
    with (directory / "stderr").open("w+") as errors:
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--fair-sched=yes",
                "--instr-atstart=no",
                f"--callgrind-out-file={output}",
                *command,
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            # Python's string hashing the same in every process, so that its dicts and sets do the
            # same work in each.
            env={**os.environ, "PYTHONHASHSEED": "0", "CLOACINA_BENCH_RESUME_FILE": str(resume), **(environment or {})},
        )
        assert process.stdout is not None
        said: list[str] = []
        for expected, instrumentation in ((WARMED_UP, "on"), (MEASURED, "off")):
            said.append(process.stdout.readline().strip())
            if said[-1] != expected:
                # Not the handshake: whatever the program does next, it is not measured.
                process.kill()
                break
            control = subprocess.run(
                ["callgrind_control", f"--instr={instrumentation}", str(process.pid)],
                capture_output=True,
                text=True,
                check=False,
            )
            if control.returncode != 0:
                process.kill()
                raise SystemExit(
                    f"callgrind_control could not turn the instrumentation {instrumentation}:\n"
                    f"{control.stdout}\n{control.stderr}"
                )
            resume.touch()
        stdout = "\n".join(said) + "\n" + process.stdout.read()
        returncode = process.wait()
        errors.seek(0)
        stderr = errors.read()
    found = COLLECTED.search(stderr)
    if returncode != 0 or said != [WARMED_UP, MEASURED] or found is None:
        raise SystemExit(f"{' '.join(command)} failed under callgrind:\n{stdout}\n{stderr}")
    return int(found.group(1))


Command = Callable[[str, int], list[str]]
"""The program that runs the chain: its command line for a database URL and a number of runs."""


def per_hop(commands: dict[str, tuple[Command, dict[str, str] | None]]) -> dict[str, float]:
    """Instructions per hop of the chain, for each named command and its environment: the
    instructions of its `MEASURED_RUNS` runs over their hops, the lowest count of `REPEATS`
    processes.

    Every process is a job of its own, each on a fresh SQLite file, two at a time: callgrind runs
    a process's threads one at a time, so one process keeps one core busy."""
    jobs = [name for name in commands for _ in range(REPEATS)]

    def count(name: str) -> int:
        make_command, environment = commands[name]
        with tempfile.TemporaryDirectory(prefix="cloacina-bench-check-") as directory:
            url = f"sqlite:///{directory}/check.db"
            return instructions(make_command(url, MEASURED_RUNS), Path(directory), environment)

    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(count, jobs))
    lowest: dict[str, int] = {}
    for name, found in zip(jobs, counts):
        lowest[name] = min(lowest.get(name, found), found)
    hops = MEASURED_RUNS * CHAIN_HOPS
    return {name: lowest[name] / hops for name in commands}


def statements_per_task(engine_bench: str, shape: str) -> float:
    """The statements per task `engine-bench` counted over its measured runs (no callgrind)."""
    with tempfile.TemporaryDirectory(prefix="cloacina-bench-check-") as directory:
        command = [engine_bench, "measure", shape, f"sqlite:///{directory}/check.db", "3"]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
        return float(json.loads(completed.stdout.splitlines()[-1])["statements_per_task"])


def measure(engine_bench: str) -> dict[str, float]:
    """Every figure of `FIGURES`."""
    python = [sys.executable, str(HERE / "python" / "measure.py"), "chain_200"]
    figures = per_hop(
        {
            "rust_chain_instructions_per_hop": (
                lambda url, runs: [engine_bench, "measure", "chain_200", url, str(runs)],
                None,
            ),
            "python_def_chain_instructions_per_hop": (lambda url, runs: [*python, url, str(runs), "sync"], None),
            "python_async_chain_instructions_per_hop": (lambda url, runs: [*python, url, str(runs), "async"], None),
            "python_def_chain_logs_off_instructions_per_hop": (
                lambda url, runs: [*python, url, str(runs), "sync"],
                {"CLOACINA_BENCH_TASK_LOG_LEVEL": "OFF"},
            ),
        }
    )
    figures |= {
        "rust_chain_statements_per_task": statements_per_task(engine_bench, "chain_200"),
        "rust_round_trip_statements_per_task": statements_per_task(engine_bench, "round_trip"),
        "rust_diamond_statements_per_task": statements_per_task(engine_bench, "diamond"),
    }
    return figures


def compare(figures: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """Prints each figure beside its baseline; the names of those that rose too far."""
    risen = []
    print(f"{'figure':<58} {'baseline':>14} {'now':>14} {'change':>8}")
    for name, description in FIGURES.items():
        now, before = figures[name], baseline.get(name)
        if before is None:
            print(f"{description:<58} {'(none)':>14} {now:>14,.2f}")
            risen.append(name)
            continue
        change = now / before - 1 if before else 0.0
        verdict = ""
        if change > TOLERANCE:
            verdict = f"  ROSE more than {TOLERANCE:.0%}"
            risen.append(name)
        elif change < -TOLERANCE:
            verdict = "  lower: update the baseline (--update) in this commit"
        print(f"{description:<58} {before:>14,.2f} {now:>14,.2f} {change:>+8.1%}{verdict}")
    return risen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine-bench", required=True, help="the release build of engine-bench")
    parser.add_argument("--update", action="store_true", help="write the figures measured as the new baseline")
    arguments = parser.parse_args()
    figures = measure(arguments.engine_bench)
    # For `make bench`, which quotes them beside a missed target.
    output = Path("target/bench")
    output.mkdir(parents=True, exist_ok=True)
    (output / "check.json").write_text(json.dumps(figures, indent=1) + "\n")
    if arguments.update:
        BASELINE.write_text(json.dumps({"figures": figures}, indent=2) + "\n")
        print(f"wrote {BASELINE}")
    baseline = json.loads(BASELINE.read_text())["figures"] if BASELINE.exists() else {}
    risen = compare(figures, baseline)
    on, off = (
        figures["python_def_chain_instructions_per_hop"],
        figures["python_def_chain_logs_off_instructions_per_hop"],
    )
    capture = on / off - 1
    print(f"task log capture, def tasks logging nothing: {capture:+.1%} per hop over the capture off")
    if capture > CAPTURE_TOLERANCE:
        sys.exit(
            f"bench-check FAILED: a def task that logs nothing costs {capture:+.1%} more per hop with the task log "
            f"capture on than off (at most {CAPTURE_TOLERANCE:.0%}): the capture must cost nothing until a task logs"
        )
    if risen:
        sys.exit(
            f"bench-check FAILED: {', '.join(risen)} rose more than {TOLERANCE:.0%} above benchmarks/baseline.json "
            "(or has no baseline). Find what made the hot path dearer; if the cost is meant, run "
            "`make bench-check BENCH_CHECK_ARGS=--update` and say why in the commit."
        )
    print("bench-check passed: every figure within 10% of its baseline")


if __name__ == "__main__":
    main()
