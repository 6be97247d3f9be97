"""What `tests/test_tracing.py` runs in other processes: an OpenTelemetry SDK exporting to
memory, the workflow `traced`, and the finished spans printed as JSON."""

from __future__ import annotations

import asyncio
import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cloacina import RetryPolicy, task, workflow

EXPORTER = InMemorySpanExporter()


def configure() -> None:
    """Sends every span to `EXPORTER` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)


calls = {"flaky": 0}


@task
def plain(context):
    with trace.get_tracer("tests").start_as_current_span("inside plain"):
        return {"plain": True}


@task(dependencies=[plain], retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
async def flaky(context):
    calls["flaky"] += 1
    await asyncio.sleep(0)
    with trace.get_tracer("tests").start_as_current_span("inside flaky"):
        if calls["flaky"] == 1:
            raise ConnectionError("the first attempt fails")
    return {"flaky": calls["flaky"]}


traced = workflow(name="traced", tasks=[plain, flaky])


def dump(file=sys.stdout) -> None:
    """Prints the finished spans, one JSON object each."""
    for span in EXPORTER.get_finished_spans():
        print(
            json.dumps(
                {
                    "name": span.name,
                    "trace_id": format(span.context.trace_id, "032x"),
                    "span_id": format(span.context.span_id, "016x"),
                    "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                    "status": span.status.status_code.name,
                    "description": span.status.description,
                    "attributes": dict(span.attributes or {}),
                }
            ),
            file=file,
            flush=True,
        )
