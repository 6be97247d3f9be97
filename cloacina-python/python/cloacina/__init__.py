"""Cloacina: durable workflows of Python tasks, run by a Rust engine.

Write tasks as functions, declare what each depends on, and run the DAG::

    from cloacina import task, workflow, UnifiedExecutor

    @task(id="extract_data", dependencies=[])
    def extract_data(context):
        context.insert("raw_data", [1, 2, 3, 4, 5])

    @task(id="transform_data", dependencies=["extract_data"])
    def transform_data(context):
        context.insert("processed_data", [x * 2 for x in context.get("raw_data")])

    workflow(name="sync_pipeline", tasks=[extract_data, transform_data])
    result = UnifiedExecutor("sqlite:///:memory:").execute("sync_pipeline", {})
    assert result.status == "Completed"

Every execution is kept in the database the executor was given (SQLite or PostgreSQL).
"""

import atexit

from cloacina import _native
from cloacina._enums import EventKind, ExecutionStatus, TaskStatus
from cloacina._native import (
    CloacinaError,
    Context,
    ContextKeyError,
    DatabaseError,
    Event,
    EventStream,
    ExecutionCancelledError,
    ExecutionFailedError,
    ExecutionHandle,
    ExecutionNotFoundError,
    ExecutionResult,
    ExecutionSummary,
    ExecutionTimeoutError,
    ExecutorShutdownError,
    LogEntry,
    RetryPolicy,
    RustTask,
    Schedule,
    ScheduleNotFoundError,
    SerializationError,
    Task,
    TaskAttempt,
    TaskDecorator,
    TaskResult,
    TriggerRule,
    UnifiedExecutor,
    ValidationError,
    Workflow,
    WorkflowNotFoundError,
    WorkflowValidationError,
    __version__,
    get_workflow,
    task,
    workflow,
)
from cloacina._values._classes import register_type
from cloacina._values._codecs import Pickled, register_codec

__all__ = [
    "CloacinaError",
    "Context",
    "ContextKeyError",
    "DatabaseError",
    "Event",
    "EventKind",
    "EventStream",
    "ExecutionCancelledError",
    "ExecutionFailedError",
    "ExecutionHandle",
    "ExecutionNotFoundError",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionSummary",
    "ExecutionTimeoutError",
    "ExecutorShutdownError",
    "LogEntry",
    "Pickled",
    "RetryPolicy",
    "RustTask",
    "Schedule",
    "ScheduleNotFoundError",
    "SerializationError",
    "Task",
    "TaskAttempt",
    "TaskDecorator",
    "TaskResult",
    "TaskStatus",
    "TriggerRule",
    "UnifiedExecutor",
    "ValidationError",
    "Workflow",
    "WorkflowNotFoundError",
    "WorkflowValidationError",
    "__version__",
    "get_workflow",
    "register_codec",
    "register_type",
    "task",
    "workflow",
]

# Stop executors and wait for task calls in flight before the interpreter goes away.
atexit.register(_native._shutdown_at_exit)
