"""Status enums: `str` subclasses, so they compare equal to their values."""

from __future__ import annotations

import enum


class ExecutionStatus(str, enum.Enum):
    """The state of an execution. Equal to its value: ``status == "Completed"``."""

    PENDING = "Pending"
    """Created; no task has started yet."""
    RUNNING = "Running"
    """At least one task has started, and some task has not finished."""
    COMPLETED = "Completed"
    """Every task finished and none failed (skipped tasks are fine)."""
    FAILED = "Failed"
    """Every task finished and at least one failed."""
    CANCELLED = "Cancelled"
    """Cancelled before it finished."""

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """True for ``Completed``, ``Failed`` and ``Cancelled``."""
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class TaskStatus(str, enum.Enum):
    """The state of one task of an execution. Equal to its value: ``status == "Skipped"``."""

    PENDING = "Pending"
    """Waiting for its dependencies to finish."""
    READY = "Ready"
    """May be claimed by a worker (not before its retry time, after a failed attempt)."""
    RUNNING = "Running"
    """Claimed by a worker and running."""
    COMPLETED = "Completed"
    """Finished successfully."""
    FAILED = "Failed"
    """Failed for good: no attempt left, an error not worth a retry, or abandoned too often."""
    SKIPPED = "Skipped"
    """Not run, because its trigger rule did not hold."""
    CANCELLED = "Cancelled"
    """Not run, or stopped, because its execution was cancelled."""

    def __str__(self) -> str:
        return self.value


class EventKind(str, enum.Enum):
    """What an event records. Equal to its value: ``event.kind == "TaskCompleted"``."""

    EXECUTION_CREATED = "ExecutionCreated"
    """The execution was created."""
    EXECUTION_STARTED = "ExecutionStarted"
    """The execution's first task started."""
    EXECUTION_COMPLETED = "ExecutionCompleted"
    """Every task finished and none failed."""
    EXECUTION_FAILED = "ExecutionFailed"
    """Every task finished and at least one failed."""
    EXECUTION_CANCELLED = "ExecutionCancelled"
    """The execution was cancelled."""
    TASK_READY = "TaskReady"
    """A task may run: its dependencies finished and its trigger rule holds (or it was handed back)."""
    TASK_MAPPED = "TaskMapped"
    """A mapped task read its list: it runs once per element (`message` says how many)."""
    TASK_STARTED = "TaskStarted"
    """An attempt of a task started."""
    TASK_RETRIED = "TaskRetried"
    """An attempt failed and another is scheduled."""
    TASK_COMPLETED = "TaskCompleted"
    """A task completed."""
    TASK_FAILED = "TaskFailed"
    """A task failed for good."""
    TASK_SKIPPED = "TaskSkipped"
    """A task was skipped because its trigger rule did not hold."""
    TASK_CANCELLED = "TaskCancelled"
    """A task was cancelled with its execution."""

    def __str__(self) -> str:
        return self.value
