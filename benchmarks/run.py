"""``make bench``: every shape on every backend in Rust, Python (sync tasks) and Python (async
tasks), one fresh database and one process per measurement; then the PostgreSQL worker-process
scaling, the memory soak and the time from a crash to the work resuming. Prints the table, checks
the targets, and writes ``results.json`` and ``benchmarks.png`` to the output directory.

    python benchmarks/run.py --engine-bench target/release/engine-bench [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
SHAPES = {
    "round_trip": ("2-task round trip", 200),
    "chain_200": ("chain of 200", 1),
    "fan_out_1000": ("fan-out 1000 + join", 1),
    "diamond": ("diamond of 4", 200),
    "mapped_1000": ("mapped 1000 + join", 1),
}
"""Each shape's label and executions per run."""
IMPLEMENTATIONS = ["rust", "python-sync", "python-async", "python-rust"]
"""Native Rust tasks; Python ``def`` and ``async def`` tasks; Rust tasks exported to Python."""
MAPPED_AGAINST = {"mapped_1000": "fan_out_1000"}
"""Each shape with a mapped task, and the static shape it is held against (target: within 1.2).
The exported task ``hop`` is not mapped: those shapes have no ``python-rust`` row."""
MAPPED_BOUND = 1.2


def implementations(shape: str) -> list[str]:
    """The implementations measured for a shape."""
    return [name for name in IMPLEMENTATIONS if not (shape in MAPPED_AGAINST and name == "python-rust")]


SOAK_EXECUTIONS = 10_000
RESUME_TRIALS = 5
# Executions stored for the web page's listing (engine-bench ui-list), and its bound per answer.
LISTED_EXECUTIONS = 100_000
LISTING_BOUND_MS = 100


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Backends:
    """Fresh databases, one per measurement."""

    def __init__(self, engine_bench: str, postgres: str | None, directory: Path) -> None:
        self.engine_bench = engine_bench
        self.postgres = postgres
        self.directory = directory

    def names(self) -> list[str]:
        return ["sqlite-file", "postgresql"] if self.postgres else ["sqlite-file"]

    def run(self, backend: str, command: list[str]) -> list[dict[str, Any]]:
        """Runs `command` with `{url}` replaced by a fresh database of `backend`; its JSON lines."""
        name = f"cloacina_bench_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite-file":
            url = f"sqlite:///{self.directory / (name + '.db')}"
        else:
            assert self.postgres
            subprocess.run([self.engine_bench, "create-database", self.postgres, name], check=True)
            url = database_url(self.postgres, name)
        try:
            command = [url if part == "{url}" else part for part in command]
            output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=HERE / "python")
        except subprocess.CalledProcessError as error:
            sys.exit(f"{' '.join(command)} failed:\n{error.stderr}")
        finally:
            if backend == "postgresql":
                assert self.postgres
                subprocess.run([self.engine_bench, "drop-database", self.postgres, name], check=True)
        return [json.loads(line) for line in output.stdout.splitlines() if line.startswith("{")]


def measure(backends: Backends, shapes: list[str], runs: int, rounds: int) -> list[dict[str, Any]]:
    """Each shape on each backend in every implementation: ``rounds`` processes per row, the
    implementations taking turns round by round, so that a slow spell of the machine falls on
    all of them rather than on one row."""
    rows = []
    for backend in backends.names():
        for shape in shapes:
            lines: dict[str, list[dict[str, Any]]] = {implementation: [] for implementation in implementations(shape)}
            for round_number in range(1, rounds + 1):
                for implementation in implementations(shape):
                    if implementation == "rust":
                        command = [backends.engine_bench, "measure", shape, "{url}", str(runs)]
                    else:
                        mode = implementation.removeprefix("python-")
                        command = [sys.executable, "measure.py", shape, "{url}", str(runs), mode]
                    print(
                        f"  {backend:<12} {shape:<13} {implementation:<13} round {round_number}/{rounds}",
                        file=sys.stderr,
                        flush=True,
                    )
                    (line,) = backends.run(backend, command)
                    lines[implementation].append(line)
                if round_number == 1:
                    check_same_workflow(shape, {name: found[0] for name, found in lines.items()})
            rows.extend({"backend": backend, **merge(lines[implementation])} for implementation in lines)
    return rows


def check_same_workflow(shape: str, lines: dict[str, dict[str, Any]]) -> None:
    """Stops the run unless every implementation ran the same workflow: the same content version,
    a hash of the task ids, their dependencies, retry policies, timeouts and trigger rules."""
    versions = {implementation: line["workflow_version"] for implementation, line in lines.items()}
    if len(set(versions.values())) > 1:
        found = ", ".join(f"{implementation} {version[:12]}" for implementation, version in versions.items())
        sys.exit(
            f"the implementations measured different workflows for {shape} ({found}): make the shape "
            "the same in benchmarks/build.rs and benchmarks/python/shape_table.py"
        )


def merge(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the rounds of one implementation: the workflow's content version, every run's
    wall time and every hop, the median of each round, the highest peak RSS."""
    first = lines[0]
    return {
        "shape": first["shape"],
        "implementation": first["implementation"],
        "tasks_per_run": first["tasks_per_run"],
        "workflow_version": first["workflow_version"],
        "walls_s": [wall for line in lines for wall in line["walls_s"]],
        "hops_us": [hop for line in lines for hop in line["hops_us"]],
        "round_medians_s": [statistics.median(line["walls_s"]) for line in lines],
        "peak_rss_bytes": max(line["peak_rss_bytes"] for line in lines),
    }


def summarize(rows: list[dict[str, Any]]) -> None:
    """Adds the median, throughput, latency percentiles and ratio to Rust to each row (with the
    lowest and highest ratio of one round's medians)."""
    rust = {}
    for row in rows:
        row["median_s"] = statistics.median(row["walls_s"])
        row["tasks_per_s"] = row["tasks_per_run"] / row["median_s"]
        row["per_execution_s"] = row["median_s"] / SHAPES[row["shape"]][1]
        row["hop_p50_us"] = percentile(row["hops_us"], 0.50)
        row["hop_p99_us"] = percentile(row["hops_us"], 0.99)
        if row["implementation"] == "rust":
            rust[(row["backend"], row["shape"])] = row
    for row in rows:
        reference = rust[(row["backend"], row["shape"])]
        row["ratio_to_rust"] = row["median_s"] / reference["median_s"]
        rounds = [mine / theirs for mine, theirs in zip(row["round_medians_s"], reference["round_medians_s"])]
        row["round_ratios"] = rounds


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def print_table(rows: list[dict[str, Any]], runs: int, rounds: int) -> None:
    header = (
        f"{'backend':<12} {'shape':<20} {'tasks':<13} {'median':>10} {'per exec':>10} {'tasks/s':>9} "
        f"{'x rust':>7} {'rounds':>11} {'hop p50':>9} {'hop p99':>9} {'peak RSS':>9}"
    )
    print(
        f"\nMedian of {runs * rounds} runs: {rounds} rounds, the implementations taking turns, of one "
        f"process and one fresh database each, {runs} runs after a warm-up. rounds: the lowest and "
        "highest x rust of one round.\n"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        label, executions = SHAPES[row["shape"]]
        shape = f"{label} x{executions}" if executions > 1 else label
        spread = f"{min(row['round_ratios']):.2f}-{max(row['round_ratios']):.2f}"
        print(
            f"{row['backend']:<12} {shape:<20} {row['implementation']:<13} {duration(row['median_s']):>10} "
            f"{duration(row['per_execution_s']):>10} {row['tasks_per_s']:>9.0f} {row['ratio_to_rust']:>7.2f} "
            f"{spread:>11} {duration(row['hop_p50_us'] / 1e6):>9} {duration(row['hop_p99_us'] / 1e6):>9} "
            f"{row['peak_rss_bytes'] / 2**20:>7.0f} MB"
        )


def mapped_ratios(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each mapped row with the static row it is held against (same backend and implementation)."""
    static = {(row["backend"], row["shape"], row["implementation"]): row for row in rows}
    pairs = []
    for row in rows:
        against = MAPPED_AGAINST.get(row["shape"])
        if against and (row["backend"], against, row["implementation"]) in static:
            pairs.append((row, static[(row["backend"], against, row["implementation"])]))
    return pairs


def print_mapped(rows: list[dict[str, Any]]) -> None:
    pairs = mapped_ratios(rows)
    if not pairs:
        return
    print("\nA fan-out over a list known at run time (one mapped task) against the same fan-out written out:\n")
    print(f"{'backend':<12} {'implementation':<14} {'static':>10} {'mapped':>10} {'mapped / static':>16}")
    for mapped, static in pairs:
        print(
            f"{mapped['backend']:<12} {mapped['implementation']:<14} {duration(static['median_s']):>10} "
            f"{duration(mapped['median_s']):>10} {mapped['median_s'] / static['median_s']:>16.2f}"
        )


def print_processes(lines: list[dict[str, Any]]) -> None:
    print("\nPostgreSQL, fan-out 2000 + join (2002 tasks), submitted by a process running no task:\n")
    print(f"{'worker processes':>16} {'median':>10} {'tasks/s':>9}")
    for line in lines:
        median = statistics.median(line["walls_s"])
        print(f"{line['workers']:>16} {duration(median):>10} {line['tasks_per_run'] / median:>9.0f}")


def print_soak(soak: dict[str, Any]) -> None:
    growth = (soak["rss_after_bytes"] - soak["rss_before_bytes"]) / 2**20
    print(
        f"\nSoak: {soak['executions']} executions of the 2-task workflow in one Python process "
        f"(SQLite file) in {soak['seconds']:.1f} s: resident memory {soak['rss_before_bytes'] / 2**20:.1f} MB "
        f"after a warm-up, {soak['rss_after_bytes'] / 2**20:.1f} MB after, growth {growth:+.1f} MB"
    )


def print_handoff(handoff: list[dict[str, Any]]) -> None:
    print("\nLarge values (SQLite file): a value written by one task and read by the next, timed from just")
    print("before the write to just after the read (encoding, the durable commit, scheduling, decoding):")
    for line in handoff:
        rate = line["bytes"] / line["handoff_seconds"] / 2**20
        print(
            f"  {line['kind']:<12} {line['bytes'] / 2**20:7.1f} MB  hand-off {duration(line['handoff_seconds']):>9}"
            f" ({rate:,.0f} MB/s)  whole execution {duration(line['execution_seconds'])}"
        )


def print_resume(resume: dict[str, list[float]]) -> None:
    print("\nCrash to resume: a process running a chain of 60 tasks is killed (SIGKILL); a new one, with the")
    print("default 30 s lease, resumes it. Seconds from starting the new process to its first resumed task:")
    for backend, seconds in resume.items():
        print(
            f"  {backend:<12} median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s over {len(seconds)}"
        )


BOUNDS = {
    "ratio": "the Python binding's own cost per task (calling the function, converting the context) "
    "on top of the same engine; see 'Where a hop goes' in benchmarks/README.md",
    "sqlite": "CPU: the recording transaction is most of a hop's instructions (SQLite's own work, the "
    "write-ahead log's checksums, Diesel's binding); see 'Where a hop goes' in benchmarks/README.md",
    "postgresql": "round trips to the server: 8 statements per hop, each a round trip on loopback; see "
    "'Where a hop goes' in benchmarks/README.md",
    "processes": "2 cores shared by the workers, their PostgreSQL backends and the submitter, and every "
    "batch updating the join task's row; see 'Worker processes' in benchmarks/README.md",
}
"""What bounds each kind of figure, printed beside a missed target."""


RUST_TARGETS: list[tuple[str, str, str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], str]]] = [
    (
        "sqlite-file",
        "round_trip",
        "sqlite-file round trip rust <= 0.8 ms",
        lambda row: row["per_execution_s"] <= 0.8e-3,
        lambda row: duration(row["per_execution_s"]),
    ),
    (
        "sqlite-file",
        "chain_200",
        "sqlite-file chain of 200 rust <= 35 ms",
        lambda row: row["median_s"] <= 0.035,
        lambda row: f"{duration(row['median_s'])} (hop p50 {duration(row['hop_p50_us'] / 1e6)})",
    ),
    (
        "sqlite-file",
        "fan_out_1000",
        "sqlite-file fan-out 1000 rust >= 30,000 tasks/s",
        lambda row: row["tasks_per_s"] >= 30_000,
        lambda row: f"{row['tasks_per_s']:.0f} tasks/s",
    ),
    (
        "postgresql",
        "chain_200",
        "postgresql chain hop rust <= 1.0 ms",
        lambda row: row["hop_p50_us"] <= 1000,
        lambda row: f"hop p50 {duration(row['hop_p50_us'] / 1e6)}",
    ),
]
"""The Rust rows' own targets: backend, shape, label, whether a row meets it, its figure."""


def print_listing(listing: dict[str, dict[str, Any]]) -> None:
    """The web page's listing over a large database: median answer times of a first page and
    the page after it, unfiltered and filtered."""
    print(f"\nThe web page's execution listing ({LISTED_EXECUTIONS:,} stored executions; median of 20, ms):")
    print(f"  {'backend':<12} {'filter':<10} {'first page':>11} {'next page':>10}")
    for backend, line in listing.items():
        for name in ("all", "failed", "workflow"):
            print(f"  {backend:<12} {name:<10} {line[name + '_first_ms']:>11.2f} {line[name + '_next_ms']:>10.2f}")


def print_hybrid(line: dict[str, Any]) -> None:
    rust, python = line["count_words_seconds"], line["count_words_in_python_seconds"]
    print(
        f"\nThe hybrid example's CPU-heavy step (SQLite file): counting {line['words']:,} words of "
        f"{line['documents']:,} documents, median of {line['runs']} executions of one workflow:"
    )
    print(f"  Rust task exported to Python  {duration(rust):>9}")
    print(f"  Python task                   {duration(python):>9}  ({python / rust:.1f} x the Rust task)")


def check_targets(
    rows: list[dict[str, Any]],
    processes: list[dict[str, Any]],
    soak: dict[str, Any] | None,
    resume: dict[str, list[float]],
    profile: dict[str, float] | None = None,
    handoff: list[dict[str, Any]] | None = None,
    listing: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Each target, met or missed, with the figure; a missed one says what bounds it (with the
    instruction and statement counts of ``make bench-check`` when ``profile`` has them)."""
    lines = []

    def verdict(label: str, met: bool, figure: str, bound: str | None = None) -> None:
        lines.append(f"  {'met   ' if met else 'MISSED'} {label}: {figure}")
        if not met and bound is not None:
            lines.append(f"         bounded by {BOUNDS[bound]}")
            if profile and bound == "sqlite":
                lines.append(
                    "         profile (make bench-check): "
                    f"{profile['rust_chain_instructions_per_hop']:,.0f} instructions and "
                    f"{profile['rust_chain_statements_per_task']:.2f} statements per Rust hop"
                )

    ratio_bounds = {"python-sync": 1.10, "python-async": 1.20, "python-rust": 1.10}
    for row in rows:
        bound = ratio_bounds.get(row["implementation"])
        if bound is not None:
            verdict(
                f"{row['backend']} {row['shape']} {row['implementation']} / rust <= {bound:.2f}",
                row["ratio_to_rust"] <= bound,
                f"{row['ratio_to_rust']:.2f}",
                "ratio",
            )
    for mapped, static in mapped_ratios(rows):
        ratio = mapped["median_s"] / static["median_s"]
        verdict(
            f"{mapped['backend']} {mapped['shape']} / {static['shape']} {mapped['implementation']} <= {MAPPED_BOUND}",
            ratio <= MAPPED_BOUND,
            f"{ratio:.2f}",
        )
    for row in rows:
        for backend, shape, label, met, figure in RUST_TARGETS:
            if row["implementation"] == "rust" and (row["backend"], row["shape"]) == (backend, shape):
                verdict(label, met(row), figure(row), "sqlite" if backend == "sqlite-file" else "postgresql")
    if soak:
        growth = (soak["rss_after_bytes"] - soak["rss_before_bytes"]) / 2**20
        verdict("soak RSS growth < 20 MB", growth < 20, f"{growth:+.1f} MB")
    for backend, seconds in resume.items():
        verdict(f"{backend} crash to first resumed task < 2 s", max(seconds) < 2, f"max {max(seconds):.2f} s")
    for line in handoff or []:
        if line["kind"] == "frame_100mb":
            verdict(
                "sqlite-file 100 MB DataFrame handed to the next task (write + read) < 1 s",
                line["handoff_seconds"] < 1.0,
                duration(line["handoff_seconds"]),
            )
    for backend, line in (listing or {}).items():
        slowest = max(value for key, value in line.items() if key.endswith("_ms"))
        verdict(
            f"{backend} web page's listing of {line['executions']:,} executions, first and next page "
            f"< {LISTING_BOUND_MS} ms",
            slowest < LISTING_BOUND_MS,
            f"slowest median {slowest:.1f} ms",
        )
    rates = {line["workers"]: line["tasks_per_run"] / statistics.median(line["walls_s"]) for line in processes}
    for workers in (2, 4):
        if workers in rates and 1 in rates:
            verdict(
                f"PostgreSQL, {workers} worker processes at least as fast as 1",
                rates[workers] >= rates[1],
                f"{rates[workers]:.0f} against {rates[1]:.0f} tasks/s",
                "processes",
            )
    return lines


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no chart", file=sys.stderr)
        return False
    backends = sorted({row["backend"] for row in rows}, key=["sqlite-file", "postgresql"].index)
    figure, axes = plt.subplots(1, len(backends), figsize=(6 * len(backends), 4.5), squeeze=False)
    width = 0.8 / len(IMPLEMENTATIONS)
    shapes = [shape for shape in SHAPES if any(row["shape"] == shape for row in rows)]
    for axis, backend in zip(axes[0], backends):
        for offset, implementation in enumerate(IMPLEMENTATIONS):
            values = []
            for shape in shapes:
                found = [
                    r
                    for r in rows
                    if r["backend"] == backend and r["shape"] == shape and r["implementation"] == implementation
                ]
                # No bar where an implementation does not run the shape.
                values.append(found[0]["median_s"] / found[0]["tasks_per_run"] * 1e6 if found else 0.0)
            positions = [index + (offset - 1) * width for index in range(len(shapes))]
            axis.bar(positions, values, width, label=implementation)
        axis.set_xticks(range(len(shapes)), [SHAPES[shape][0] for shape in shapes], rotation=15)
        axis.set_ylabel("wall time per task (us, lower is better)")
        axis.set_title(backend)
        axis.legend()
    figure.suptitle("Cloacina: Rust and Python tasks, same shapes")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine-bench", required=True, help="the release engine-bench binary")
    parser.add_argument("--postgres", default=os.environ.get("CLOACINA_BENCH_POSTGRES_URL"), help="a server URL")
    parser.add_argument("--runs", type=int, default=4, help="measured runs per process, after a warm-up")
    parser.add_argument("--rounds", type=int, default=3, help="processes per row, the implementations taking turns")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES), help="what to measure")
    parser.add_argument("--output", type=Path, default=Path("target/bench"), help="where results go")
    arguments = parser.parse_args()
    arguments.postgres = arguments.postgres or None
    if arguments.runs < 1 or arguments.rounds < 1 or arguments.runs * arguments.rounds < 5:
        parser.error("--runs times --rounds must be at least 5: the table shows medians")
    arguments.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cloacina-bench-") as directory:
        backends = Backends(os.path.abspath(arguments.engine_bench), arguments.postgres, Path(directory))
        if not arguments.postgres:
            print("note: no PostgreSQL server given (--postgres); SQLite only", file=sys.stderr)
        print("measuring:", file=sys.stderr)
        rows = measure(backends, arguments.shapes, arguments.runs, arguments.rounds)
        processes = []
        if arguments.postgres:
            print("  postgresql   worker processes", file=sys.stderr, flush=True)
            processes = backends.run("postgresql", [backends.engine_bench, "processes", "{url}", "7"])
        print("  sqlite-file  soak", file=sys.stderr, flush=True)
        (soak,) = backends.run("sqlite-file", [sys.executable, "soak.py", "{url}", str(SOAK_EXECUTIONS)])
        print("  sqlite-file  large values", file=sys.stderr, flush=True)
        handoff = backends.run("sqlite-file", [sys.executable, "handoff.py", "{url}"])
        print("  sqlite-file  hybrid example's word count", file=sys.stderr, flush=True)
        (hybrid,) = backends.run("sqlite-file", [sys.executable, "hybrid_words.py", "{url}"])
        resume = {}
        for backend in backends.names():
            print(f"  {backend:<12} crash to resume", file=sys.stderr, flush=True)
            (line,) = backends.run(backend, [sys.executable, "resume.py", "{url}", str(RESUME_TRIALS)])
            resume[backend] = line["resumed_after"]
        listing = {}
        for backend in backends.names():
            print(f"  {backend:<12} web page's listing", file=sys.stderr, flush=True)
            command = [backends.engine_bench, "ui-list", "{url}", str(LISTED_EXECUTIONS)]
            (listing[backend],) = backends.run(backend, command)
    summarize(rows)
    print_table(rows, arguments.runs, arguments.rounds)
    print_mapped(rows)
    if processes:
        print_processes(processes)
    print_soak(soak)
    print_handoff(handoff)
    print_hybrid(hybrid)
    print_resume(resume)
    print_listing(listing)
    print("\nTargets:")
    profile_path = arguments.output / "check.json"
    profile = json.loads(profile_path.read_text()) if profile_path.exists() else None
    for line in check_targets(rows, processes, soak, resume, profile, handoff, listing):
        print(line)
    results = {
        "rows": rows,
        "processes": processes,
        "soak": soak,
        "handoff": handoff,
        "hybrid": hybrid,
        "resume": resume,
        "listing": listing,
        "machine": machine(),
    }
    (arguments.output / "results.json").write_text(json.dumps(results, indent=1))
    written = [str(arguments.output / "results.json")]
    if chart(rows, arguments.output / "benchmarks.png"):
        written.append(str(arguments.output / "benchmarks.png"))
    print(f"\nwrote {', '.join(written)}")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gib"] = round(int(memory) / 2**20, 1)
    except OSError:
        pass
    return info


if __name__ == "__main__":
    main()
