"""Status enums: `str` subclasses, so they compare equal to their values."""

from __future__ import annotations

import enum


class ExecutionStatus(str, enum.Enum):
    """The state of an execution. Equal to its value: ``status == "Completed"``."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """True for ``Completed``, ``Failed`` and ``Cancelled``."""
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class TaskStatus(str, enum.Enum):
    """The state of one task of an execution. Equal to its value: ``status == "Skipped"``."""

    PENDING = "Pending"
    READY = "Ready"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    CANCELLED = "Cancelled"

    def __str__(self) -> str:
        return self.value


class EventKind(str, enum.Enum):
    """What an event records. Equal to its value: ``event.kind == "TaskCompleted"``."""

    EXECUTION_CREATED = "ExecutionCreated"
    EXECUTION_STARTED = "ExecutionStarted"
    EXECUTION_COMPLETED = "ExecutionCompleted"
    EXECUTION_FAILED = "ExecutionFailed"
    EXECUTION_CANCELLED = "ExecutionCancelled"
    TASK_READY = "TaskReady"
    TASK_STARTED = "TaskStarted"
    TASK_RETRIED = "TaskRetried"
    TASK_COMPLETED = "TaskCompleted"
    TASK_FAILED = "TaskFailed"
    TASK_SKIPPED = "TaskSkipped"
    TASK_CANCELLED = "TaskCancelled"

    def __str__(self) -> str:
        return self.value
