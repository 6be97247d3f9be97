"""Checks a built wheel is one that installs anywhere its tags say (`make wheel`).

    python scripts/check_wheel.py WHEEL

- its tags: `cp39-abi3` (one wheel for every CPython from 3.9) and, on Linux, manylinux2014;
- `auditwheel show` (Linux): the platform tag the wheel is consistent with, and that the
  extension needs no library outside the manylinux policy (no `libpq`, no `libssl`);
- `abi3audit --strict`: the extension calls nothing outside the stable ABI of Python 3.9;
- `twine check --strict`: the metadata PyPI will show renders;
- its size.

Prints a line per check; exits 1 if one fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

# Libraries a self-contained wheel must not ask the system for.
FORBIDDEN_LIBRARIES = ("libpq", "libssl", "libcrypto", "libsqlite3", "libpython")


def say(message: str) -> None:
    print(f"check_wheel: {message}", flush=True)


def tool(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", name, *arguments], capture_output=True, text=True)


def check_tags(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/WHEEL"))
        tags = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Tag:")
        ]
    say(f"tags: {', '.join(tags)}")
    problems = []
    if not all(tag.startswith("cp39-abi3-") for tag in tags):
        problems.append(f"the tags are not all cp39-abi3: {tags}")
    if sys.platform.startswith("linux") and not any("manylinux_2_17" in tag or "manylinux2014" in tag for tag in tags):
        problems.append(f"no manylinux2014 (manylinux_2_17) tag: {tags}")
    return problems


def check_auditwheel(wheel: Path) -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    shown = tool("auditwheel", "show", str(wheel))
    if shown.returncode != 0:
        return [f"auditwheel show failed:\n{shown.stdout}{shown.stderr}"]
    report = " ".join(shown.stdout.split())
    platform = re.search(r'consistent with the following platform tag: "([^"]+)"', report)
    say(f"auditwheel show: consistent with {platform.group(1) if platform else 'no platform tag'}")
    problems = []
    if not platform or platform.group(1) not in ("manylinux_2_17_x86_64", "manylinux_2_17_aarch64"):
        problems.append(f"auditwheel does not find the wheel manylinux2014-consistent:\n{shown.stdout}")
    needed = re.search(r"depends on the following external shared libraries?:? (.*?)(?:\. |$)", report)
    if needed:
        problems.append(f"the wheel needs libraries outside its policy: {needed.group(1)}")
    for library in FORBIDDEN_LIBRARIES:
        if library in shown.stdout:
            problems.append(f"the wheel refers to {library}:\n{shown.stdout}")
    return problems


def check_abi3audit(wheel: Path) -> list[str]:
    audited = tool("abi3audit", "--strict", "--report", str(wheel))
    try:
        report = json.loads(audited.stdout)
        extensions = [entry for spec in report["specs"].values() for entry in spec.get("wheel", [])]
    except (ValueError, KeyError, AttributeError):
        return [f"abi3audit gave no report:\n{audited.stdout}{audited.stderr}"]
    outside = sorted({symbol for entry in extensions for symbol in entry["result"]["non_abi3_symbols"]})
    baselines = sorted({entry["result"]["computed"] for entry in extensions})
    say(
        f"abi3audit: {len(extensions)} extension(s), stable ABI of Python {', '.join(baselines) or '?'}, "
        f"{len(outside)} symbols outside it"
    )
    problems = [f"calls outside the stable ABI: {', '.join(outside)}"] if outside else []
    if audited.returncode != 0 or not extensions:
        problems.append(f"abi3audit failed (exit status {audited.returncode}):\n{audited.stderr}")
    return problems


def check_twine(wheel: Path) -> list[str]:
    checked = tool("twine", "check", "--strict", str(wheel))
    say(f"twine check: {'PASSED' if checked.returncode == 0 else 'FAILED'}")
    return [] if checked.returncode == 0 else [f"twine check failed:\n{checked.stdout}{checked.stderr}"]


def main(arguments: list[str]) -> int:
    if len(arguments) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = Path(arguments[0])
    say(f"{wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB")
    problems = [*check_tags(wheel), *check_auditwheel(wheel), *check_abi3audit(wheel), *check_twine(wheel)]
    for problem in problems:
        print(f"check_wheel: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
