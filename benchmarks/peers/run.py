"""``make bench-peers``: the benchmark shapes with Cloacina (Python ``def`` tasks), Prefect 3 and
DBOS, all on SQLite, on this machine, in one run; then the large-value hand-off (NumPy arrays of
1 MB and 100 MB, a 100 MB DataFrame from one task to the next, kept durably); printed as times and
as ratios to Cloacina.

    python benchmarks/peers/run.py [--runs N] [--handoff-runs N]

Each measurement runs in a process of its own on a fresh scratch directory, after a warm-up run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from common import SHAPES, percentile

HERE = Path(__file__).resolve().parent
LABELS = {
    "round_trip": "2-task round trip x200",
    "chain_200": "chain of 200",
    "fan_out_1000": "fan-out 1000 + join",
    "diamond": "diamond of 4 x200",
}
PEERS = {"prefect": "prefect_measure.py", "dbos": "dbos_measure.py"}


class MeasurementError(Exception):
    """A measuring process failed; the message is the end of what it wrote."""


def measure_lines(command: list[str], cwd: Path, expected: int) -> list[dict[str, Any]]:
    """Runs one measuring process; the EXPECTED JSON lines it printed."""
    output = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if output.returncode != 0:
        raise MeasurementError(f"{' '.join(command)} failed:\n{output.stderr[-4000:]}")
    lines = [json.loads(line) for line in output.stdout.splitlines() if line.startswith("{")]
    if len(lines) != expected:
        raise MeasurementError(
            f"{' '.join(command)} printed {len(lines)} result lines, not {expected}:\n"
            f"{output.stdout[-2000:]}\n{output.stderr[-2000:]}"
        )
    return lines


def measure(command: list[str], cwd: Path) -> dict[str, Any]:
    """Runs one measurement; its JSON line."""
    return measure_lines(command, cwd, 1)[0]


def measure_peer_lines(
    make_command: Callable[[Path], list[str]], name: str, scratch: Path, expected: int
) -> list[dict[str, Any]] | str:
    """One peer's measuring process, tried twice (each time on a fresh directory named after
    `name`): its EXPECTED lines, or the last line of its second failure. A tool failing on this
    machine (Prefect's server answering 503 after its client's own retries, say) so leaves a row
    saying so instead of ending the whole run."""
    failures = []
    for attempt in (1, 2):
        directory = scratch / f"{name}-{attempt}"
        directory.mkdir()
        try:
            return measure_lines(make_command(directory), HERE, expected)
        except MeasurementError as failure:
            print(f"    attempt {attempt} failed:\n{failure}", file=sys.stderr, flush=True)
            failures.append(str(failure).strip().splitlines()[-1])
    return failures[-1]


def measure_peer(peer: str, script: str, shape: str, scratch: Path, runs: str) -> dict[str, Any]:
    """One peer's measurement of a shape (see `measure_peer_lines`)."""
    found = measure_peer_lines(
        lambda directory: [sys.executable, script, shape, str(directory), runs], f"{shape}-{peer}", scratch, 1
    )
    return {"failed": found} if isinstance(found, str) else found[0]


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def versions() -> str:
    """The versions measured, as installed here."""
    found = []
    for package in ["cloacina", *PEERS]:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


HANDOFF_KINDS = {
    "array_1mb": "NumPy array 1 MB",
    "array_100mb": "NumPy array 100 MB",
    "frame_100mb": "DataFrame 100 MB",
}


def measure_handoff(scratch: Path, runs: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The hand-off by every tool: a row per (kind, tool), or ``{"failed": ...}`` for a peer that
    failed twice."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    url = f"sqlite:///{scratch / 'handoff-cloacina.db'}"
    print("  hand-off      cloacina", file=sys.stderr, flush=True)
    command = [sys.executable, "handoff.py", url, str(runs)]
    try:
        for line in measure_lines(command, HERE.parent / "python", len(HANDOFF_KINDS)):
            rows[(line["kind"], "cloacina")] = line
    except MeasurementError as failure:
        sys.exit(str(failure))
    for peer in PEERS:
        print(f"  hand-off      {peer}", file=sys.stderr, flush=True)
        found = measure_peer_lines(
            lambda directory, peer=peer: [sys.executable, "handoff.py", peer, str(directory), str(runs)],
            f"handoff-{peer}",
            scratch,
            len(HANDOFF_KINDS),
        )
        for kind in HANDOFF_KINDS:
            if isinstance(found, str):
                rows[(kind, peer)] = {"failed": found}
        for line in [] if isinstance(found, str) else found:
            rows[(line["kind"], peer)] = line
    return rows


def print_handoff(rows: dict[tuple[str, str], dict[str, Any]], runs: int) -> None:
    """The hand-off table: median hand-off, whole execution, and the ratio to Cloacina's hand-off."""
    print(f"\nLarge-value hand-off, SQLite file, median of {runs} runs after a warm-up; x = hand-off / Cloacina's.")
    print("Cloacina: .npy / Arrow IPC in its own table; Prefect: persisted results (cloudpickle, base64, in files);")
    print("DBOS: step outputs (pickle, base64) in its system database.\n")
    header = f"{'value':<20} {'tool':<9} {'hand-off':>10} {'MB/s':>8} {'execution':>10} {'x':>8}"
    print(header)
    print("-" * len(header))
    for kind, label in HANDOFF_KINDS.items():
        ours = rows[(kind, "cloacina")]["handoff_seconds"]
        for tool in ["cloacina", *PEERS]:
            row = rows[(kind, tool)]
            if "failed" in row:
                print(f"{label:<20} {tool:<9} failed twice: {row['failed'][:120]}")
                continue
            seconds = row["handoff_seconds"]
            print(
                f"{label:<20} {tool:<9} {duration(seconds):>10} {row['bytes'] / seconds / 2**20:>8.0f} "
                f"{duration(row['execution_seconds']):>10} {seconds / ours:>8.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="measured runs per row, after a warm-up (at least 5)")
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES), help="the shapes to run")
    parser.add_argument(
        "--handoff-runs", type=int, default=3, help="measured runs of the large-value hand-off (0 leaves it out)"
    )
    arguments = parser.parse_args()
    if arguments.runs < 5:
        parser.error("--runs must be at least 5: the table shows medians")
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    print("measuring:", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="cloacina-peers-") as scratch:
        for shape in arguments.shapes:
            runs = str(arguments.runs)
            print(f"  {shape:<13} cloacina", file=sys.stderr, flush=True)
            url = f"sqlite:///{Path(scratch) / (shape + '-cloacina.db')}"
            command = [sys.executable, "measure.py", shape, url, runs, "sync"]
            try:
                rows[(shape, "cloacina")] = measure(command, HERE.parent / "python")
            except MeasurementError as failure:
                sys.exit(str(failure))
            for peer, script in PEERS.items():
                print(f"  {shape:<13} {peer}", file=sys.stderr, flush=True)
                rows[(shape, peer)] = measure_peer(peer, script, shape, Path(scratch), runs)
        handoff = measure_handoff(Path(scratch), arguments.handoff_runs) if arguments.handoff_runs > 0 else {}
    print(f"\n{versions()}; Python {sys.version.split()[0]}")
    print(f"SQLite, Python tasks, median of {arguments.runs} runs after a warm-up; x = time / Cloacina's.\n")
    header = f"{'shape':<24} {'tool':<9} {'median':>10} {'tasks/s':>9} {'x':>8} {'hop p50':>10} {'hop p99':>10}"
    print(header)
    print("-" * len(header))
    for shape in arguments.shapes:
        ours = statistics.median(rows[(shape, "cloacina")]["walls_s"])
        for tool in ["cloacina", *PEERS]:
            row = rows[(shape, tool)]
            if "failed" in row:
                print(f"{LABELS[shape]:<24} {tool:<9} failed twice: {row['failed'][:120]}")
                continue
            median = statistics.median(row["walls_s"])
            print(
                f"{LABELS[shape]:<24} {tool:<9} {duration(median):>10} {row['tasks_per_run'] / median:>9.0f} "
                f"{median / ours:>8.1f} {duration(percentile(row['hops_us'], 0.5) / 1e6):>10} "
                f"{duration(percentile(row['hops_us'], 0.99) / 1e6):>10}"
            )
    if handoff:
        print_handoff(handoff, arguments.handoff_runs)


if __name__ == "__main__":
    main()
