"""Every Python code block in the documentation site's pages runs.

The blocks of one page run in order, in one fresh Python process, in an empty folder, the way a
reader pastes them one after another. A block that cannot run on its own is fenced as
```` ```python {norun="why"} ````, and the reason must be given. A page whose code reads
``DATABASE_URL`` gets a fresh PostgreSQL database there (``postgres_url``), and is skipped without
a server, loudly, as the other PostgreSQL tests are.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
import yaml

CONTENT = pathlib.Path(__file__).parent.parent / "docs" / "content"
# Written by the site's build from the code (and tested where it comes from), not committed.
GENERATED = (CONTENT / "reference" / "python-api", CONTENT / "examples")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")
ATTRIBUTE = re.compile(r'(\w+)\s*=\s*"([^"]*)"|(\w+)\s*=\s*(\S+)')


@dataclass
class Block:
    """One fenced code block of a page."""

    language: str
    attributes: dict[str, str]
    code: str
    line: int


def code_blocks(text: str) -> list[Block]:
    """The page's fenced code blocks, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        info = opening["info"].strip()
        language, _, rest = info.partition(" ")
        attributes = {}
        if rest.strip().startswith("{"):
            for match in ATTRIBUTE.finditer(rest):
                key = match[1] or match[3]
                attributes[key] = match[2] if match[1] else match[4].rstrip("}")
        body: list[str] = []
        start = index + 2  # the first line of the body, counted from 1
        index += 1
        while index < len(lines) and lines[index].strip() != opening["fence"]:
            body.append(lines[index][len(opening["indent"]) :])
            index += 1
        blocks.append(Block(language.lower(), attributes, "\n".join(body) + "\n", start))
        index += 1
    return blocks


def is_python(block: Block) -> bool:
    return block.language in {"python", "py", "python3"}


PAGES = sorted(path for path in CONTENT.rglob("*.md") if not any(path.is_relative_to(folder) for folder in GENERATED))


def page_id(path: pathlib.Path) -> str:
    return str(path.relative_to(CONTENT))


def test_there_are_pages_with_code():
    runnable = [page for page in PAGES if any(is_python(block) for block in code_blocks(page.read_text()))]
    assert len(runnable) >= 10, [page_id(page) for page in runnable]


def test_the_block_parser_reads_attributes_and_bodies():
    text = 'Intro\n\n```python {norun="needs a server"}\nx = 1\n```\n\n  ```py\n  y = 2\n  ```\n'
    first, second = code_blocks(text)
    assert (first.language, first.attributes, first.code, first.line) == (
        "python",
        {"norun": "needs a server"},
        "x = 1\n",
        4,
    )
    assert (second.language, second.code) == ("py", "y = 2\n")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_front_matter_is_complete(page: pathlib.Path):
    text = page.read_text()
    assert text.startswith("---\n"), f"{page_id(page)}: no front matter"
    front, _, _ = text[4:].partition("\n---\n")
    try:
        fields = yaml.safe_load(front)
    except yaml.YAMLError as error:
        pytest.fail(f"{page_id(page)}: the front matter is not YAML (quote a value holding ': '): {error}")
    assert isinstance(fields, dict), f"{page_id(page)}: the front matter is not a mapping"
    for key in ("title", "description"):
        assert isinstance(fields.get(key), str) and fields[key].strip(), f"{page_id(page)}: no {key}"
    if page.name != "_index.md" or page.parent != CONTENT:
        assert isinstance(fields.get("weight"), int), f"{page_id(page)}: no weight (the sidebar's order)"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_code_runs(page: pathlib.Path, tmp_path: pathlib.Path, request: pytest.FixtureRequest):
    blocks = [block for block in code_blocks(page.read_text()) if is_python(block)]
    for block in blocks:
        if "norun" in block.attributes:
            assert block.attributes["norun"].strip(), f"{page_id(page)}:{block.line}: norun needs a reason"
    runnable = [block for block in blocks if "norun" not in block.attributes]
    if not runnable:
        return
    program = "".join(f"# {page_id(page)}:{block.line}\n{block.code}" for block in runnable)
    environment = dict(os.environ)
    if "DATABASE_URL" in program:
        environment["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    finished = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, f"{page_id(page)}:\n{finished.stdout}\n{finished.stderr}"
