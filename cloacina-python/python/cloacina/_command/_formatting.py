"""Text and JSON forms of what the command shows: durations, times, tables, and the API's
objects as plain data."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from cloacina import Event, ExecutionResult, ExecutionSummary, LogEntry, TaskAttempt, TaskResult

MISSING = "-"
"""Shown where there is no value."""

HEADLINE_WIDTH = 100
"""Characters of an error's first line shown in a table."""


def duration(seconds: float | None) -> str:
    """Seconds as a short reading: `850 us`, `12.3 ms`, `4.20 s`, `3 min 7 s`, `2 h 5 min`."""
    if seconds is None:
        return MISSING
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} us"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def moment(value: datetime.datetime | None, *, precise: bool = False) -> str:
    """A time in UTC, to the second (or the millisecond, `precise`)."""
    if value is None:
        return MISSING
    text = value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-3] if precise else text[:-7]


def headline(error: str | None, width: int = HEADLINE_WIDTH) -> str:
    """The first line of an error, cut to `width` characters."""
    if not error:
        return ""
    line = error.split("\n", 1)[0]
    return line if len(line) <= width else line[: width - 3] + "..."


def worker_name(worker: str | None) -> str:
    """A worker's owner id as `host:pid` (the id is `host/machine/pid/start/random`)."""
    if not worker:
        return MISSING
    parts = worker.split("/")
    return f"{'/'.join(parts[:-4])}:{parts[-3]}" if len(parts) >= 5 else worker


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns aligned on their widest cell, two spaces apart."""
    lines = [list(headers), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def when(value: datetime.datetime | None) -> str | None:
    """A time as ISO 8601 text, for JSON."""
    return value.isoformat() if value is not None else None


def summary_data(summary: ExecutionSummary) -> dict[str, Any]:
    """An execution of a listing as plain data."""
    return {
        "execution_id": summary.execution_id,
        "workflow": summary.workflow_name,
        "status": str(summary.status),
        "error": summary.error,
        "created_at": when(summary.created_at),
        "finished_at": when(summary.finished_at),
    }


def attempt_data(attempt: TaskAttempt) -> dict[str, Any]:
    """An attempt as plain data."""
    return {
        "number": attempt.number,
        "status": attempt.status,
        "ready_at": when(attempt.ready_at),
        "started_at": when(attempt.started_at),
        "finished_at": when(attempt.finished_at),
        "duration": attempt.duration,
        "wait": attempt.wait,
        "worker": attempt.worker,
        "error": attempt.error,
    }


def task_data(task: TaskResult) -> dict[str, Any]:
    """A task's result as plain data (without its logs: `executions logs` reads those)."""
    return {
        "task_id": task.task_id,
        "dependencies": task.dependencies,
        "status": str(task.status),
        "attempts": task.attempts,
        "map_index": task.map_index,
        "recoveries": task.recoveries,
        "ready_at": when(task.ready_at),
        "started_at": when(task.started_at),
        "finished_at": when(task.finished_at),
        "duration": task.duration,
        "wait": task.wait,
        "worker": task.worker,
        "error": task.error,
        "attempt_history": [attempt_data(attempt) for attempt in task.attempt_history],
    }


def result_data(result: ExecutionResult) -> dict[str, Any]:
    """An execution as plain data (without its context, whose values need not be JSON)."""
    return {
        "execution_id": result.execution_id,
        "workflow": result.workflow_name,
        "workflow_version": result.workflow_version,
        "status": str(result.status),
        "error": result.error,
        "created_at": when(result.created_at),
        "started_at": when(result.started_at),
        "finished_at": when(result.finished_at),
        "duration": result.duration,
        "rerun_of": result.rerun_of,
        "tasks": [task_data(task) for task in result.task_results],
    }


def entry_data(entry: LogEntry) -> dict[str, Any]:
    """A log entry as plain data."""
    return {
        "task_id": entry.task_id,
        "attempt": entry.attempt,
        "time": when(entry.time),
        "level": entry.level,
        "logger": entry.logger,
        "message": entry.message,
    }


def event_data(event: Event) -> dict[str, Any]:
    """An event as plain data."""
    return {
        "sequence": event.sequence,
        "at": when(event.at),
        "kind": str(event.kind),
        "task_id": event.task_id,
        "attempt": event.attempt,
        "message": event.message,
    }
