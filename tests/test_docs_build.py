"""The documentation site's generators and checks (docs/scripts) do what `make docs` relies on."""

from __future__ import annotations

import pathlib
import sys

import pytest

pytest.importorskip("griffe", reason="griffe 2, which reads the API reference, needs Python 3.11 or later")

SCRIPTS = pathlib.Path(__file__).parent.parent / "docs" / "scripts"
sys.path.insert(0, str(SCRIPTS))

import check_links  # noqa: E402 (the scripts folder is not a package)
import docstring_extractor  # noqa: E402
import process_examples  # noqa: E402


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    output = tmp_path_factory.mktemp("python-api")
    assert docstring_extractor.main(["--output", str(output)]) == 0
    return output


def test_the_reference_has_a_page_per_class_and_an_index(reference: pathlib.Path):
    pages = {path.stem for path in reference.glob("*.md")}
    assert {"_index", "unifiedexecutor", "context", "executionresult", "functions", "exceptions"} <= pages
    assert "cloacinaerror" not in pages, "exceptions share one page"


def test_signatures_link_their_types(reference: pathlib.Path):
    executor = (reference / "unifiedexecutor.md").read_text()
    assert "### execute {#execute}" in executor
    # `get_execution` returns an ExecutionResult: the signature links it to its page.
    line = next(line for line in executor.splitlines() if line.startswith("**get\\_execution**"))
    assert "[ExecutionResult](/reference/python-api/executionresult.md)" in line


def test_every_exported_name_is_in_the_index(reference: pathlib.Path):
    index = (reference / "_index.md").read_text()
    for name in docstring_extractor.public_names(docstring_extractor.load_package()):
        assert f"`{name}`" in index, name


def test_a_docstring_naming_a_missing_member_is_reported():
    symbols = docstring_extractor.Symbols(members={"UnifiedExecutor": {"execute"}})
    symbols.check("UnifiedExecutor.execute", "here")
    symbols.check("UnifiedExecutor.run_forever()", "there")
    symbols.check("cloacina.Nothing", "elsewhere")
    assert symbols.problems == [
        "there: `UnifiedExecutor.run_forever()`: UnifiedExecutor has no member run_forever",
        "elsewhere: `cloacina.Nothing`: cloacina exports no Nothing",
    ]


def test_every_example_gets_a_page(tmp_path: pathlib.Path):
    assert process_examples.main(["--output", str(tmp_path)]) == 0
    root = SCRIPTS.parent.parent
    expected = {path.stem for path in (root / "examples").glob("*.py")}
    expected |= {f"{path.stem}-rust" for path in (root / "cloacina" / "examples").glob("*.rs")}
    expected |= {path.parent.name for path in (root / "examples").glob("*/README.md")}
    assert {path.stem for path in tmp_path.glob("*.md")} == expected | {"_index"}
    quickstart = (tmp_path / "quickstart.md").read_text()
    assert 'title: "Quickstart"' in quickstart
    assert "python examples/quickstart.py" in quickstart
    assert "def extract_data(context):" in quickstart


def write_site(folder: pathlib.Path, pages: dict[str, str]) -> None:
    for name, body in pages.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body>{body}</body></html>")


def test_the_link_checker_accepts_links_that_lead_somewhere(tmp_path: pathlib.Path):
    write_site(
        tmp_path,
        {
            "index.html": '<a href="/guide/#setup">guide</a><a href="guide/">relative</a><a href="https://x.y/">out</a>',
            "guide/index.html": '<h2 id="setup">Setup</h2><a href="../index.html">home</a><a href="#setup">self</a>',
        },
    )
    assert check_links.check(tmp_path) == []


def test_the_link_checker_reports_missing_pages_and_anchors(tmp_path: pathlib.Path):
    write_site(
        tmp_path,
        {
            "index.html": '<a href="/guide/#install">guide</a><img src="/images/chart.png">',
            "guide/index.html": '<h2 id="setup">Setup</h2><a href="/missing/">gone</a>',
        },
    )
    assert check_links.check(tmp_path) == [
        "guide/index.html: /missing/: no such file",
        "index.html: /guide/#install: guide/index.html has no element with id 'install'",
        "index.html: /images/chart.png: no such file",
    ]


def test_a_written_page_naming_a_missing_api_member_is_reported(tmp_path: pathlib.Path):
    page = tmp_path / "page.md"
    page.write_text(
        "Call `UnifiedExecutor.execute` or `cloacina.task`, not `UnifiedExecutor.run_all()`.\n\n"
        "```python\nUnifiedExecutor.not_checked_in_code()\n```\n\n"
        "A variable: `workflow.task_ids`. Gone: `cloacina.Scheduler`.\n"
    )
    problems = docstring_extractor.stale_names(docstring_extractor.load_package(), [page])
    assert problems == [
        f"{page}: `UnifiedExecutor.run_all()`: UnifiedExecutor has no member run_all",
        f"{page}: `cloacina.Scheduler`: cloacina exports no Scheduler",
    ]
