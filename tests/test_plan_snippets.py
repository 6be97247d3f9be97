"""The plan's validation snippets, verbatim: the public contract."""

from __future__ import annotations

import subprocess
import sys


def test_phase_1_validation_snippet():
    from cloacina_python import PyContext, PyTask

    # Test context operations
    ctx = PyContext()
    ctx.insert("key", "value")
    assert ctx.get("key") == "value"

    # Test basic task creation
    def simple_task(context):
        context.insert("result", "success")

    task = PyTask("test_task", [], simple_task)
    assert task.id == "test_task"


def test_phase_2_validation_snippet():
    from cloacina import task, workflow, UnifiedExecutor

    @task(id="extract_data", dependencies=[])
    def extract_data(context):
        context.insert("raw_data", [1, 2, 3, 4, 5])

    @task(id="transform_data", dependencies=["extract_data"])
    def transform_data(context):
        data = context.get("raw_data")
        context.insert("processed_data", [x * 2 for x in data])

    pipeline = workflow(
        name="sync_pipeline",
        tasks=[extract_data, transform_data]
    )

    executor = UnifiedExecutor("sqlite:///:memory:")
    result = executor.execute("sync_pipeline", {})
    assert result.status == "Completed"
    # Beyond the snippet: the pipeline really ran.
    assert result.context["processed_data"] == [2, 4, 6, 8, 10]
    assert pipeline.name == "sync_pipeline"
    executor.shutdown()


# The Phase-3 snippet, verbatim. It needs `fetch_from_api` and `process_data_async`, which the
# plan leaves to the reader; they are defined here, before it.
PHASE_3_DEFINITIONS = '''
import asyncio

async def fetch_from_api():
    await asyncio.sleep(0.01)
    return [1, 2, 3]

async def process_data_async(raw_data):
    await asyncio.sleep(0.01)
    return [x * 10 for x in raw_data]
'''

PHASE_3_SNIPPET = """
import asyncio
from cloacina import task, workflow, UnifiedExecutor

@task(id="async_extract", dependencies=[])
async def async_extract_data(context):
    # Simulate async I/O
    await asyncio.sleep(0.1)
    data = await fetch_from_api()  # Async operation
    context.insert("raw_data", data)

@task(id="async_transform", dependencies=["async_extract"])
async def async_transform_data(context):
    raw_data = context.get("raw_data")
    processed = await process_data_async(raw_data)  # Async operation
    context.insert("processed_data", processed)

pipeline = workflow(
    name="async_pipeline",
    tasks=[async_extract_data, async_transform_data]
)

async def main():
    executor = UnifiedExecutor("postgresql://user:pass@localhost/db")
    result = await executor.execute("async_pipeline", {})
    print(f"Workflow result: {result}")

asyncio.run(main())
"""

# The Phase-5 snippet's Python program, verbatim (the plan runs it with `python -c`).
PHASE_5_PROGRAM = """
from cloacina import task, workflow, UnifiedExecutor
import asyncio

@task(id='test', dependencies=[])
async def test_task(context):
    context.insert('success', True)

pipeline = workflow(name='validation', tasks=[test_task])

async def main():
    executor = UnifiedExecutor('sqlite:///:memory:')
    result = await executor.execute('validation', {})
    assert result.status == 'Completed'
    print('✅ Cloacina Python bindings working!')

asyncio.run(main())
"""


def run_python(program: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    """Runs a program in a fresh interpreter that turns every warning into an error."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def test_phase_3_validation_snippet(snippet_postgres_url):
    program = PHASE_3_DEFINITIONS + PHASE_3_SNIPPET.replace("postgresql://user:pass@localhost/db", snippet_postgres_url)
    finished = run_python(program)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    assert finished.stdout.startswith("Workflow result: ExecutionResult(")
    assert "status='Completed'" in finished.stdout


def test_phase_5_validation_snippet():
    finished = run_python(PHASE_5_PROGRAM)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    assert finished.stdout == "✅ Cloacina Python bindings working!\n"
