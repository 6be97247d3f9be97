"""Checks a release is consistent before it is tagged (`make release-check`).

    python scripts/release_check.py --wheel WHEEL --installed PYTHON [--site DIR] [--tag TAG]

- one version: the workspace's (Cargo.toml) is every crate's, the wheel's (its name and
  metadata), the installed package's `cloacina.__version__`, and the documentation site's;
- `pyproject.toml` takes its version from Cargo (`dynamic`), so no second number can drift;
- `CHANGELOG.md` has a dated entry for that version, with something in it, and its link;
- a tag (`--tag`, or `GITHUB_REF_NAME` on a tag build) is `v` and that version;
- the wheel passes `twine check --strict` and `abi3audit --strict` (scripts/check_wheel.py).

Prints a line per check; exits 1 if one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import check_wheel  # noqa: E402 (the scripts folder is not a package)


def workspace_version() -> str:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def check_crates(version: str) -> list[str]:
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    wrong = [
        f"{package['name']} {package['version']}" for package in metadata["packages"] if package["version"] != version
    ]
    return [f"crates with another version than the workspace's {version}: {', '.join(wrong)}"] if wrong else []


def check_pyproject() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if "version" in project or "version" not in project.get("dynamic", []):
        return ["pyproject.toml must not set a version of its own: list it in `dynamic`, so maturin takes Cargo's"]
    return []


def check_wheel_version(wheel: Path, version: str) -> list[str]:
    problems = []
    if f"-{version}-" not in wheel.name:
        problems.append(f"the wheel's name {wheel.name} does not carry version {version}")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        stated = re.search(r"^Version: (.+)$", archive.read(metadata).decode(), re.MULTILINE)
    if not stated or stated.group(1).strip() != version:
        problems.append(f"the wheel's metadata says version {stated.group(1) if stated else 'nothing'}, not {version}")
    return problems


def check_installed(python: Path, version: str) -> list[str]:
    found = subprocess.run(
        [str(python.absolute()), "-c", "import cloacina; print(cloacina.__version__)"],
        cwd="/" if os.name == "posix" else None,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return [f"the installed package does not import:\n{found.stderr}"]
    stated = found.stdout.strip()
    return [] if stated == version else [f"cloacina.__version__ is {stated}, not {version}"]


def check_site(site: Path, version: str) -> list[str]:
    index = site / "index.html"
    if not index.exists():
        return [f"no documentation site at {site}: build it with `make docs`"]
    return (
        []
        if version in index.read_text(encoding="utf-8")
        else [f"the site's home page does not show version {version}"]
    )


def check_changelog(version: str) -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    heading = re.search(rf"^## \[{re.escape(version)}\] - (\d{{4}}-\d{{2}}-\d{{2}})$", text, re.MULTILINE)
    if not heading:
        return [f"CHANGELOG.md has no entry `## [{version}] - YYYY-MM-DD`: add one saying what the release changes"]
    following = text[heading.end() :]
    body = following[: following.find("\n## ")] if "\n## " in following else following
    problems = []
    if not re.search(r"^- ", body, re.MULTILINE):
        problems.append(f"CHANGELOG.md's entry for {version} lists no change")
    if not re.search(rf"^\[{re.escape(version)}\]: https://", text, re.MULTILINE):
        problems.append(f"CHANGELOG.md has no link `[{version}]: https://...` for the entry")
    return problems


def check_tag(tag: str, version: str) -> list[str]:
    if not tag:
        return []
    return [] if tag == f"v{version}" else [f"the tag {tag} is not v{version}, the workspace's version"]


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--installed", type=Path, required=True, help="a Python the wheel is installed into")
    parser.add_argument("--site", type=Path, help="the built documentation site")
    default_tag = os.environ.get("GITHUB_REF_NAME", "") if os.environ.get("GITHUB_REF_TYPE") == "tag" else ""
    parser.add_argument("--tag", default=default_tag, help="the release tag, e.g. v0.1.0")
    options = parser.parse_args(arguments)

    version = workspace_version()
    print(f"release_check: version {version}")
    checks = {
        "every crate has the workspace's version": lambda: check_crates(version),
        "pyproject.toml takes Cargo's version": check_pyproject,
        "the wheel carries it": lambda: check_wheel_version(options.wheel, version),
        "cloacina.__version__ says it": lambda: check_installed(options.installed, version),
        "the documentation site shows it": lambda: check_site(options.site, version) if options.site else [],
        "CHANGELOG.md has its entry": lambda: check_changelog(version),
        "the tag names it": lambda: check_tag(options.tag, version),
        "twine check": lambda: check_wheel.check_twine(options.wheel),
        "abi3audit": lambda: check_wheel.check_abi3audit(options.wheel),
    }
    failed = 0
    for name, check in checks.items():
        problems = check()
        print(f"release_check: {name}: {'FAILED' if problems else 'ok'}", flush=True)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"release_check: {len(checks) - failed} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
