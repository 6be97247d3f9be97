"""Writes a documentation page for every example program of the repository.

    python docs/scripts/process_examples.py [--output docs/content/examples]

Each Python example in `examples/` and Rust example in `cloacina/examples/` becomes a page: its
module docstring (Python) or `//!` header (Rust) as the introduction, how to run it, and the code
highlighted, with a link to the file in the repository. An example that is a folder with a
README (`examples/hybrid/`) becomes a page of its README followed by each of its source files.
The examples themselves run in the test suite (tests/test_examples.py, `make test-rust`).
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "content" / "examples"
REPOSITORY_FILES = "https://github.com/colliery-io/cloacina/blob/main/"
# The source files of a folder example worth showing, in reading order.
FOLDER_SOURCES = ("*.py", "*/src/*.rs", "*/Cargo.toml", "*/pyproject.toml")


def quote(text: str) -> str:
    """A YAML double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def front_matter(title: str, description: str, weight: int) -> str:
    """The page's YAML front matter."""
    return f"---\ntitle: {quote(title)}\ndescription: {quote(description)}\nweight: {weight}\n---\n\n"


def split_title(introduction: str, fallback: str) -> tuple[str, str, str]:
    """The title, a one-sentence description and the rest, from an introduction whose first
    paragraph reads `Title: what it does.`."""
    paragraphs = introduction.strip().split("\n\n")
    first = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    title, separator, description = first.partition(": ")
    if not separator or len(title) > 40:
        title, description = fallback, first
    description = description[:1].upper() + description[1:]
    return title, description, "\n\n".join(paragraphs[1:]).strip()


def python_parts(source: str) -> tuple[str, str]:
    """A Python file's module docstring and its code without it."""
    module = ast.parse(source)
    docstring = ast.get_docstring(module) or ""
    body = source
    if module.body and isinstance(module.body[0], ast.Expr) and isinstance(module.body[0].value, ast.Constant):
        end = module.body[0].end_lineno or 0
        body = "\n".join(source.splitlines()[end:]).lstrip("\n")
    return docstring.replace("``", "`"), body


def rust_parts(source: str) -> tuple[str, str]:
    """A Rust file's `//!` header (as text) and its code without it."""
    lines = source.splitlines()
    header = []
    index = 0
    while index < len(lines) and lines[index].startswith("//!"):
        header.append(lines[index][3:].removeprefix(" "))
        index += 1
    return "\n".join(header), "\n".join(lines[index:]).lstrip("\n")


def fence(code: str, language: str) -> str:
    """A fenced code block that no backtick run inside the code can close."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}\n"


def file_page(path: pathlib.Path, weight: int) -> str:
    """The page of one example file."""
    relative = path.relative_to(ROOT).as_posix()
    source = path.read_text()
    if path.suffix == ".py":
        introduction, code = python_parts(source)
        language, run = "python", f"python {relative}"
        setup = "With the package installed (`pip install cloacina`, or `make python-develop` in a checkout):"
    else:
        introduction, code = rust_parts(source)
        language, run = "rust", f"cargo run -p cloacina --example {path.stem}"
        setup = "From a checkout of the repository:"
    title, description, rest = split_title(introduction, path.stem.replace("_", " ").capitalize())
    text = front_matter(title, description or f"The example {relative}.", weight)
    text += f"{description}\n\n"
    if rest:
        text += f"{rest}\n\n"
    text += f"## Run it\n\n{setup}\n\n{fence(run, 'bash')}\n"
    text += f"## The code\n\n[`{relative}`]({REPOSITORY_FILES}{relative})\n\n{fence(code, language)}"
    return text


def folder_page(folder: pathlib.Path, weight: int) -> str:
    """The page of an example made of several files: its README, then each source file."""
    readme = (folder / "README.md").read_text()
    lines = readme.splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("# ") else folder.name
    body = "\n".join(lines[1:]).strip()
    # README-relative links to the folder's files point at the repository.
    relative_folder = folder.relative_to(ROOT).as_posix()
    body = re.sub(
        r"\]\((?!https?:|#|/)([^)]+)\)",
        lambda match: f"]({REPOSITORY_FILES}{relative_folder}/{match[1]})",
        body,
    )
    first_paragraph = " ".join(body.split("\n\n")[0].split())
    description = re.sub(r"[`*\[\]]|\([^)]*\)", "", first_paragraph).split(". ")[0].rstrip(".") + "."
    text = front_matter(title, description, weight) + body + "\n\n## The files\n\n"
    for pattern in FOLDER_SOURCES:
        for path in sorted(folder.glob(pattern)):
            relative = path.relative_to(ROOT).as_posix()
            language = {".py": "python", ".rs": "rust", ".toml": "toml"}[path.suffix]
            text += f"### {path.relative_to(folder).as_posix()}\n\n"
            text += f"[`{relative}`]({REPOSITORY_FILES}{relative})\n\n{fence(path.read_text(), language)}\n"
    return text


def index_page(entries: list[tuple[str, str, str]]) -> str:
    """The examples' index: each one's title and description."""
    text = front_matter("Examples", "Every example program of the repository, with its code.", 80)
    text += "The repository's example programs, each run by the test suite. Python examples are in "
    text += "`examples/`, Rust ones in `cloacina/examples/`.\n\n| Example | What it shows |\n| --- | --- |\n"
    for title, description, link in entries:
        text += f"| [{title}]({link}) | {description} |\n"
    return text


def title_of(page: str) -> tuple[str, str]:
    """The title and description of a written page, from its front matter."""
    values = dict(re.findall(r'^(title|description): "(.*)"$', page, flags=re.MULTILINE))
    return values["title"].replace('\\"', '"'), values["description"].replace('\\"', '"')


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT, help="where the pages go (emptied first)")
    options = parser.parse_args(arguments)
    if options.output.exists():
        shutil.rmtree(options.output)
    options.output.mkdir(parents=True)
    sources = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "cloacina" / "examples").glob("*.rs"))
    folders = sorted(path.parent for path in (ROOT / "examples").glob("*/README.md"))
    entries = []
    for weight, path in enumerate(sources, start=1):
        name = f"{path.stem}-rust" if path.suffix == ".rs" else path.stem
        page = file_page(path, weight)
        (options.output / f"{name}.md").write_text(page)
        title, description = title_of(page)
        suffix = " (Rust)" if path.suffix == ".rs" else ""
        entries.append((title + suffix, description, f"/examples/{name}.md"))
    for weight, folder in enumerate(folders, start=len(sources) + 1):
        page = folder_page(folder, weight)
        (options.output / f"{folder.name}.md").write_text(page)
        title, description = title_of(page)
        entries.append((title, description, f"/examples/{folder.name}.md"))
    (options.output / "_index.md").write_text(index_page(entries))
    print(f"process_examples: wrote {len(entries) + 1} pages to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
