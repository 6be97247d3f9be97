"""Every example runs to the end."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples():
    assert {path.name for path in EXAMPLES} >= {"quickstart.py", "retries.py", "fan_out.py"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(example):
    finished = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip()


HYBRID = pathlib.Path(__file__).parent.parent / "examples" / "hybrid"
HOST = pathlib.Path(__file__).parent.parent / "target" / "debug" / "hybrid-host"


@pytest.fixture(params=["sqlite_file", "postgres"])
def example_database(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh database of each backend a separate process can open."""
    if request.param == "sqlite_file":
        return f"sqlite:///{tmp_path / 'words.db'}"
    return request.getfixturevalue("postgres_url")


def test_hybrid_python_program_runs_rust_tasks(example_database):
    """`pipeline.py`: Python and Rust tasks in one workflow, the word count done both ways."""
    finished = subprocess.run(
        [sys.executable, str(HYBRID / "pipeline.py"), example_database, "300"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].startswith("60000 words, ranked at "), finished.stdout
    tasks = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert tasks == {
        task: "Completed"
        for task in ["load_documents", "count_words", "count_words_in_python", "compare", "top_words", "report"]
    }


def test_hybrid_rust_program_runs_python_tasks(example_database):
    """`host/`: a Rust program with Python inside, running Rust and Python tasks together."""
    assert HOST.exists(), "build it with `make python-extensions` (cargo build -p hybrid-host)"
    finished = subprocess.run(
        [str(HOST), example_database, "300"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VIRTUAL_ENV": sys.prefix},
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    tasks = {line.split()[0]: line.split()[1] for line in lines[:-1]}
    assert tasks == {task: "Completed" for task in ["load_documents", "count_words", "top_words", "report"]}
    assert lines[-1].startswith("60000 words, ranked at "), finished.stdout
