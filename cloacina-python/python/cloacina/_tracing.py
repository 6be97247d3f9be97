"""Spans for executions and attempts, with OpenTelemetry, when `opentelemetry-api` is installed
and a tracer provider is configured; nothing otherwise (the package does not depend on it).

An execution is a span, a child of the span current where it was started. Its trace context is
stored with the execution, so that each attempt, run by any process, is a child span of it:
the attempt's span is current while a plain function runs and in an `async def` task's
coroutine, so spans the task makes nest under it. A Rust task's attempt is recorded once it has
ended, with its start and end times.
"""

from __future__ import annotations

import json
from typing import Any

from cloacina import __version__

TRACER_NAME = "cloacina"
"""The instrumentation scope of the spans."""

_api: Any = None
"""The `opentelemetry` modules once imported, `False` when they cannot be."""


def _modules() -> Any:
    global _api
    if _api is None:
        try:
            from opentelemetry import context, propagate, trace
        except ImportError:
            _api = False
        else:
            _api = (trace, context, propagate)
    return _api


def _tracer() -> Any:
    """The tracer, when a tracer provider is configured; `None` otherwise."""
    modules = _modules()
    if not modules:
        return None
    trace = modules[0]
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return trace.get_tracer(TRACER_NAME, __version__)


def begin_execution(name: str, execution_id: str) -> tuple[Any, str] | None:
    """Starts an execution's span (`name` is the workflow's, or what a re-run re-runs), a child
    of the current span; returns it with the trace context to store, or `None` untraced."""
    tracer = _tracer()
    if tracer is None:
        return None
    trace, _, propagate = _modules()
    span = tracer.start_span(
        f"workflow {name}",
        kind=trace.SpanKind.INTERNAL,
        attributes={"cloacina.workflow": name, "cloacina.execution_id": execution_id},
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return span, json.dumps(carrier)


def end_execution(span: Any, workflow: str | None, status: str, error: str | None) -> None:
    """Ends an execution's span with its final status (and error)."""
    trace = _modules()[0]
    if workflow is not None:
        span.set_attribute("cloacina.workflow", workflow)
    span.set_attribute("cloacina.status", status)
    if status == "Completed":
        span.set_status(trace.Status(trace.StatusCode.OK))
    else:
        span.set_status(trace.Status(trace.StatusCode.ERROR, error or status))
    span.end()


def begin_attempt(
    trace_context: str,
    workflow: str,
    task_id: str,
    attempt: int,
    execution_id: str,
    start_time: int | None = None,
) -> Any:
    """Starts an attempt's span, a child of its execution's (from the stored trace context), at
    `start_time` (nanoseconds since the epoch) or now; returns it, or `None` when this process
    traces nothing."""
    tracer = _tracer()
    if tracer is None:
        return None
    trace, _, propagate = _modules()
    try:
        carrier = json.loads(trace_context)
    except ValueError:
        carrier = {}
    parent = propagate.extract(carrier if isinstance(carrier, dict) else {})
    return tracer.start_span(
        f"task {task_id}",
        context=parent,
        start_time=start_time,
        kind=trace.SpanKind.INTERNAL,
        attributes={
            "cloacina.workflow": workflow,
            "cloacina.task_id": task_id,
            "cloacina.attempt": attempt,
            "cloacina.execution_id": execution_id,
        },
    )


def enter(span: Any) -> Any:
    """Makes the attempt's span current on this thread; returns what `leave` takes."""
    trace, context, _ = _modules()
    return context.attach(trace.set_span_in_context(span))


def leave(token: Any) -> None:
    """Restores what was current before `enter`."""
    _modules()[1].detach(token)


def end_attempt(span: Any, error: str | None, end_time: int | None = None) -> None:
    """Ends an attempt's span, at `end_time` (nanoseconds since the epoch) or now: `Completed`,
    or `Failed` with its error."""
    trace = _modules()[0]
    span.set_attribute("cloacina.status", "Failed" if error else "Completed")
    if error:
        span.set_status(trace.Status(trace.StatusCode.ERROR, error.split("\n", 1)[0]))
    else:
        span.set_status(trace.Status(trace.StatusCode.OK))
    span.end(end_time=end_time)


def record_attempt(
    trace_context: str,
    workflow: str,
    task_id: str,
    attempt: int,
    execution_id: str,
    start_time: int,
    end_time: int,
    error: str | None,
) -> None:
    """Records the span of an attempt that has ended (a Rust task's, which runs without Python)."""
    span = begin_attempt(trace_context, workflow, task_id, attempt, execution_id, start_time)
    if span is not None:
        end_attempt(span, error, end_time)


async def traced(coroutine: Any, span: Any) -> Any:
    """Awaits an `async def` task's coroutine with its attempt's span current, then ends it."""
    token = enter(span)
    try:
        result = await coroutine
    except BaseException as error:
        leave(token)
        end_attempt(span, f"{type(error).__name__}: {error}")
        raise
    leave(token)
    end_attempt(span, None)
    return result
