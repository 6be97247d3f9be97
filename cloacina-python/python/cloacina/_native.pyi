"""Type stubs for the native part of the `cloacina` package (import from `cloacina`)."""

import datetime
import types
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from typing import Any, Literal, TypeAlias, final, overload

from cloacina._enums import EventKind, ExecutionStatus, TaskStatus

__version__: str
__all__ = [
    "CloacinaError",
    "Context",
    "ContextKeyError",
    "DatabaseError",
    "Event",
    "EventStream",
    "ExecutionCancelledError",
    "ExecutionFailedError",
    "ExecutionHandle",
    "ExecutionNotFoundError",
    "ExecutionResult",
    "ExecutionSummary",
    "ExecutionTimeoutError",
    "ExecutorShutdownError",
    "RetryPolicy",
    "RustTask",
    "SerializationError",
    "Task",
    "TaskDecorator",
    "TaskResult",
    "TriggerRule",
    "UnifiedExecutor",
    "ValidationError",
    "Workflow",
    "WorkflowNotFoundError",
    "WorkflowValidationError",
    "__version__",
    "_adopt_rust_tasks",
    "_shutdown_at_exit",
    "task",
    "workflow",
]

_Value: TypeAlias = Any
"""A value a context can hold: see `Context` for the types, and `cloacina.register_codec` for
adding one."""

_ContextArgument: TypeAlias = Context | dict[str, Any] | None
_ExecutionId: TypeAlias = str | uuid.UUID
_TriggerArgument: TypeAlias = (
    TriggerRule | Literal["all_succeeded", "all_done", "any_succeeded", "any_failed", "none_failed", "always"]
)
_TaskFunction: TypeAlias = Callable[[Context], Any]

class CloacinaError(Exception):
    """Base class of every error Cloacina raises."""

class ValidationError(CloacinaError, ValueError):
    """An argument, URL or configuration value is invalid."""

class WorkflowValidationError(ValidationError):
    """A workflow cannot run: no tasks, a duplicate task id, a missing dependency, or a cycle."""

class SerializationError(CloacinaError, TypeError):
    """A value cannot be stored: context values must be JSON types, valid Unicode, nested at most
    100 levels deep, and must not contain themselves."""

class ContextKeyError(CloacinaError, KeyError, ValueError):
    """A context key is missing (update, [], del) or already taken (insert)."""

class DatabaseError(CloacinaError):
    """The database failed or cannot be reached."""

class WorkflowNotFoundError(CloacinaError, LookupError):
    """No workflow is registered under that name."""

class ExecutionNotFoundError(CloacinaError, LookupError):
    """No execution has that id."""

class ExecutionFailedError(CloacinaError):
    """An execution ended Failed (raised by ExecutionResult.raise_for_status)."""

    result: ExecutionResult

class ExecutionCancelledError(CloacinaError):
    """An execution ended Cancelled (raised by ExecutionResult.raise_for_status)."""

    result: ExecutionResult

class ExecutionTimeoutError(CloacinaError, TimeoutError):
    """An execution did not finish within the time allowed."""

class ExecutorShutdownError(CloacinaError, RuntimeError):
    """The executor has been shut down."""

@final
class Context:
    """An ordered mapping from `str` keys to values, passed along the tasks of an execution.

    `insert` adds a key and refuses to overwrite one; `update` changes a key and refuses to
    create one; `set` (or `context[key] = value`) does either.

    A value is stored when it is written, and every read returns a new object of the same type
    and value. A context holds:

    - JSON types: `None`, `bool`, `int` (of any size), `float` (NaN and infinities too, every
      digit kept), `str`, `list`, `dict`;
    - `tuple`, `set`, `frozenset`, `bytes`, `bytearray`, and `dict`s with keys of any of these
      types;
    - `datetime.datetime` (a `zoneinfo` zone keeps its key, `fold` is kept), `date`, `time`,
      `timedelta`, `uuid.UUID`, `decimal.Decimal`;
    - `enum.Enum` members, dataclasses and Pydantic v2 models, read back only where their class
      is imported or registered (`cloacina.register_type`): reading never imports a module;
    - NumPy arrays and scalars, pandas `DataFrame` and `Series`, polars `DataFrame`, pyarrow
      `Table` (with `pip install cloacina[dataframes]`);
    - values of a class with a codec (`cloacina.register_codec`), and `cloacina.Pickled(value)`
      (read only by an executor made with `allow_pickle=True`).

    Values nest at most 100 levels deep (a tuple, set or other non-JSON value counts as two) and
    a binary value holds at most 512 MiB; binary data past 64 KiB (bytes, an array's or a
    table's data) is stored beside the JSON and loaded only when its key is read. Anything else
    (another type, a `str` with a lone surrogate, deeper nesting, a value that contains itself)
    raises `SerializationError` naming the key, the place inside the value, the type and what to
    do. Plain JSON values are stored as themselves; the stored form of the others is documented
    in `docs/values.md`.
    """

    def __new__(cls, data: _ContextArgument = None) -> Context: ...
    @property
    def cancelled(self) -> bool:
        """True once the task's attempt has been cancelled; a long `def` task should return."""
    def insert(self, key: str, value: _Value) -> None:
        """Adds a new key; raises ContextKeyError if it exists."""
    def set(self, key: str, value: _Value) -> None:
        """Sets a key, whether or not it exists."""
    def update(self, key: str, value: _Value) -> None:
        """Changes an existing key; raises ContextKeyError if it does not exist."""
    def get(self, key: str, default: Any = None) -> Any:
        """The value of a key, or `default` when it is absent."""
    def remove(self, key: str) -> Any:
        """Removes a key and returns its value, or `None` when it was absent."""
    def keys(self) -> list[str]:
        """The keys, in insertion order."""
    def values(self) -> list[Any]:
        """The values, in key order."""
    def items(self) -> list[tuple[str, Any]]:
        """`(key, value)` pairs, in key order."""
    def to_dict(self) -> dict[str, Any]:
        """A `dict` copy of every key and value."""
    def raw(self, key: str) -> Any:
        """The stored JSON of a key's value, tags and all, as plain Python values: for looking at
        a value that cannot be read back here (see `docs/values.md` for the format).

        Raises:
            ContextKeyError: The key does not exist.
        """
    def __getitem__(self, key: str, /) -> Any: ...
    def __setitem__(self, key: str, value: _Value, /) -> None: ...
    def __delitem__(self, key: str, /) -> None: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

@final
class RetryPolicy:
    """How often, and after how long, a failing task is attempted again."""

    def __new__(
        cls,
        max_attempts: int = 3,
        backoff: Literal["fixed", "linear", "exponential"] = "exponential",
        initial_delay: float = 1.0,
        max_delay: float = 60.0,
        jitter: bool = False,
        retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
        multiplier: float = 2.0,
    ) -> RetryPolicy: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def backoff(self) -> str: ...
    @property
    def initial_delay(self) -> float: ...
    @property
    def max_delay(self) -> float: ...
    @property
    def jitter(self) -> bool: ...
    @property
    def retry_on(self) -> tuple[type[BaseException], ...]: ...
    def delay_after(self, attempt: int) -> float:
        """The delay, in seconds, before the attempt that follows failed attempt `attempt`."""

@final
class TriggerRule:
    """When a task runs once its dependencies have finished; otherwise it is skipped."""

    @staticmethod
    def all_succeeded() -> TriggerRule: ...
    @staticmethod
    def all_done() -> TriggerRule: ...
    @staticmethod
    def any_succeeded() -> TriggerRule: ...
    @staticmethod
    def any_failed() -> TriggerRule: ...
    @staticmethod
    def none_failed() -> TriggerRule: ...
    @staticmethod
    def always() -> TriggerRule: ...
    @staticmethod
    def context_exists(key: str) -> TriggerRule: ...
    @staticmethod
    def context_missing(key: str) -> TriggerRule: ...
    @staticmethod
    def context_equals(key: str, value: _Value) -> TriggerRule: ...
    @staticmethod
    def context_not_equals(key: str, value: _Value) -> TriggerRule: ...
    @staticmethod
    def context_greater_than(key: str, bound: float) -> TriggerRule: ...
    @staticmethod
    def context_less_than(key: str, bound: float) -> TriggerRule: ...
    @staticmethod
    def context_truthy(key: str) -> TriggerRule: ...
    def __and__(self, other: _TriggerArgument, /) -> TriggerRule: ...
    def __rand__(self, other: _TriggerArgument, /) -> TriggerRule: ...
    def __or__(self, other: _TriggerArgument, /) -> TriggerRule: ...
    def __ror__(self, other: _TriggerArgument, /) -> TriggerRule: ...
    def __invert__(self) -> TriggerRule: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

@final
class Task:
    """A task: a function of the context, with its id, dependencies and settings.

    Made with `@task`, which checks that the function can take the context as its one required
    argument (raising `TypeError` naming the function otherwise) and that the id is 1 to 255
    printable characters (raising `WorkflowValidationError`). Durations (`timeout`, and the
    delays of a `RetryPolicy`) are 0 to 31,536,000 seconds (365 days).
    """

    def __new__(
        cls,
        id: str,
        dependencies: Iterable[str | Task | RustTask] | None,
        function: _TaskFunction,
        *,
        retry: int | RetryPolicy | None = None,
        timeout: float | None = None,
        trigger: _TriggerArgument | None = None,
    ) -> Task: ...
    @property
    def id(self) -> str: ...
    @property
    def dependencies(self) -> list[str]: ...
    @property
    def function(self) -> _TaskFunction: ...
    @property
    def retry(self) -> RetryPolicy | None: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def trigger(self) -> TriggerRule: ...
    @property
    def __wrapped__(self) -> _TaskFunction: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the function directly, outside any workflow."""

@final
class TaskDecorator:
    """The decorator `@task(...)` returns: applies the settings to a function."""

    def __call__(self, function: _TaskFunction) -> Task: ...

@overload
def task(
    function: _TaskFunction,
    /,
    *,
    id: str | None = None,
    dependencies: Iterable[str | Task | RustTask] | None = None,
    retry: int | RetryPolicy | None = None,
    timeout: float | None = None,
    trigger: _TriggerArgument | None = None,
) -> Task: ...
@overload
def task(
    function: None = None,
    /,
    *,
    id: str | None = None,
    dependencies: Iterable[str | Task | RustTask] | None = None,
    retry: int | RetryPolicy | None = None,
    timeout: float | None = None,
    trigger: _TriggerArgument | None = None,
) -> TaskDecorator: ...

@final
class Workflow:
    """A validated, registered workflow: a DAG of tasks with a name."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def version(self) -> str: ...
    @property
    def task_ids(self) -> list[str]: ...
    def __len__(self) -> int: ...

def _adopt_rust_tasks(module: types.ModuleType, capsule: object) -> None:
    """Adds a `RustTask` per task of an extension module's task table to the module; called by
    the module itself while Python imports it. Raises ImportError for a table of another ABI
    version."""

def _shutdown_at_exit() -> None:
    """Stops running executors and waits briefly for task calls in flight (run at exit)."""

@final
class RustTask:
    """A task written in Rust, exported by an extension module built with
    `cloacina::python_tasks!` (see the README's "Rust and Python together").

    Made by that module when Python imports it (`from my_rust_tasks import resize_images`),
    never by hand; list it in `workflow(tasks=[...])` next to Python tasks. It runs on the
    engine's threads without holding the GIL, with the retries, timeout and trigger rule its
    `#[task]` attribute declared. Its errors and panics fail its attempt like any task's.
    """

    @property
    def id(self) -> str:
        """The task's id."""
    @property
    def dependencies(self) -> list[str]:
        """The ids of the tasks it depends on."""
    @property
    def module(self) -> str:
        """The name of the module that exports it."""
    def with_id(self, id: str, *, dependencies: Iterable[str | Task | RustTask] | None = None) -> RustTask:
        """The same Rust function as a task of another id (and dependencies).

        One exported task can so take several places of a workflow, or go into workflows whose
        ids differ.

        Args:
            id: The new task's id.
            dependencies: Ids (or tasks) it depends on; by default this task's dependencies.

        Returns:
            A new `RustTask`; this one is unchanged.

        Raises:
            WorkflowValidationError: The id is empty, too long or holds a control character.
        """

def workflow(*, name: str, tasks: Iterable[Task | RustTask], description: str | None = None) -> Workflow:
    """Validates tasks into a workflow and registers it under `name` (replacing any before).

    `tasks` are Python tasks made with `@task` and Rust tasks (`RustTask`) exported by an
    extension module, in any order.

    New executions get this definition; executions already running finish with the one they
    were created with, or one of the same task ids and dependencies, and otherwise fail with an
    error naming both versions. Workflow names and task ids are 1 to 255 printable characters
    (no NUL, newline or other control character, valid Unicode); anything else raises
    `WorkflowValidationError`.
    """

@final
class TaskResult:
    """What happened to one task of an execution."""

    @property
    def task_id(self) -> str: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def attempts(self) -> int: ...
    @property
    def recoveries(self) -> int: ...
    @property
    def started_at(self) -> datetime.datetime | None: ...
    @property
    def finished_at(self) -> datetime.datetime | None: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_type(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def traceback(self) -> str | None: ...

@final
class ExecutionResult:
    """What an execution became (or is, for a snapshot of a running one)."""

    @property
    def execution_id(self) -> str: ...
    @property
    def workflow_name(self) -> str: ...
    @property
    def workflow_version(self) -> str: ...
    @property
    def status(self) -> ExecutionStatus: ...
    @property
    def context(self) -> Context: ...
    @property
    def task_results(self) -> list[TaskResult]: ...
    @property
    def error(self) -> str | None: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    @property
    def started_at(self) -> datetime.datetime | None: ...
    @property
    def finished_at(self) -> datetime.datetime | None: ...
    def task(self, task_id: str) -> TaskResult | None:
        """The result of one task, or `None` if the workflow has no such task."""
    def raise_for_status(self) -> ExecutionResult:
        """Returns the result if it completed; raises ExecutionFailedError or ExecutionCancelledError."""

@final
class ExecutionSummary:
    """One execution in a listing."""

    @property
    def execution_id(self) -> str: ...
    @property
    def workflow_name(self) -> str: ...
    @property
    def status(self) -> ExecutionStatus: ...
    @property
    def error(self) -> str | None: ...
    @property
    def created_at(self) -> datetime.datetime: ...
    @property
    def finished_at(self) -> datetime.datetime | None: ...

@final
class Event:
    """One state change of an execution or of one of its tasks."""

    @property
    def execution_id(self) -> str: ...
    @property
    def task_id(self) -> str | None: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def attempt(self) -> int | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def at(self) -> datetime.datetime: ...
    @property
    def sequence(self) -> int | None:
        """Its place in the execution's log: 1, 2, 3, ... in commit order, without gaps."""

@final
class EventStream:
    """The events of one execution, in order, ending after the event that ends it."""

    def __aiter__(self) -> EventStream: ...
    def __anext__(self) -> Awaitable[Event]: ...
    def __iter__(self) -> EventStream: ...
    def __next__(self) -> Event: ...

_EventCallback: TypeAlias = Callable[[Event], Any]

class _ExecutionResultOrAwaitable(ExecutionResult):  # type: ignore[misc]
    """What `execute` returns: the result, or (with an event loop running) an awaitable of it."""

    def __await__(self) -> Generator[Any, None, ExecutionResult]: ...

@final
class ExecutionHandle:
    """A started execution: wait for it, look at it, stream its events, or cancel it."""

    @property
    def execution_id(self) -> str: ...
    @property
    def status(self) -> ExecutionStatus: ...
    def wait(self, timeout: float | None = None) -> ExecutionResult:
        """Waits for the execution to finish and returns its result."""
    def wait_async(self, timeout: float | None = None) -> Awaitable[ExecutionResult]:
        """Waits for the execution to finish; awaitable."""
    def __await__(self) -> Generator[Any, None, ExecutionResult]: ...
    def events(self) -> EventStream:
        """The execution's events, past and to come, in order."""
    def cancel(self) -> ExecutionStatus:
        """Cancels the execution; returns its final status."""

@final
class UnifiedExecutor:
    """Runs workflows and keeps every execution in a database.

    Options out of range raise `ValidationError` naming the option: durations are seconds up to
    31,536,000 (365 days; `sqlite_busy_timeout` up to 86,400), `max_concurrent_tasks` is 1 to
    100,000 and `pool_size` 1 to 1,000. The same bound applies to every `timeout` argument.

    `allow_pickle=True` lets the executor (its tasks and the results it returns) read values
    stored with `cloacina.Pickled`; by default reading one raises `SerializationError`, because
    unpickling runs code the stored bytes name. Allow it only when everyone who can write the
    database is trusted.
    """

    def __new__(
        cls,
        url: str,
        *,
        max_concurrent_tasks: int = ...,
        run_tasks: bool = ...,
        task_timeout: float | None = ...,
        poll_interval: float = ...,
        lease_duration: float = ...,
        max_recoveries: int = ...,
        pool_size: int = ...,
        sqlite_synchronous: Literal["normal", "full"] = ...,
        sqlite_busy_timeout: float = ...,
        shutdown_timeout: float = ...,
        schema: str | None = ...,
        allow_pickle: bool = ...,
    ) -> UnifiedExecutor: ...
    def execute(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
    ) -> _ExecutionResultOrAwaitable:
        """Runs a workflow to its end: blocks and returns the result, or, where an asyncio loop
        runs in the calling thread, returns an awaitable of it.

        Ctrl-C cancels the execution, waits (saying so on stderr) up to `shutdown_timeout` for
        its plain task functions to return, and raises `KeyboardInterrupt`; a second Ctrl-C stops
        the wait.
        """
    def execute_async(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
    ) -> Awaitable[ExecutionResult]:
        """Runs a workflow to its end; always awaitable."""
    def start(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        on_event: _EventCallback | None = None,
    ) -> ExecutionHandle:
        """Starts a workflow and returns at once."""
    def wait(self, execution_id: _ExecutionId, timeout: float | None = None) -> ExecutionResult:
        """Waits for an execution to finish and returns its result."""
    def wait_async(self, execution_id: _ExecutionId, timeout: float | None = None) -> Awaitable[ExecutionResult]:
        """Waits for an execution to finish; awaitable."""
    def get_execution(self, execution_id: _ExecutionId) -> ExecutionResult:
        """The execution as stored now."""
    def list_executions(
        self,
        workflow: str | Workflow | None = None,
        status: ExecutionStatus | str | None = None,
        limit: int = 100,
    ) -> list[ExecutionSummary]:
        """Executions, newest first."""
    def cancel(self, execution_id: _ExecutionId) -> ExecutionStatus:
        """Cancels an execution; returns its final status."""
    def serve(self) -> None:
        """Runs tasks for executions started anywhere until shut down (the worker-only mode)."""
    def shutdown(self) -> None:
        """Stops the executor, letting running tasks finish (up to `shutdown_timeout`) and
        handing the rest back to other workers; Ctrl-C stops the wait and raises
        `KeyboardInterrupt`."""
    def shutdown_async(self) -> Awaitable[None]:
        """Stops the executor like `shutdown`; awaitable."""
    def __aenter__(self) -> Awaitable[UnifiedExecutor]: ...
    def __aexit__(
        self, _exception_type: object = None, _exception: object = None, _traceback: object = None
    ) -> Awaitable[None]: ...
    def __enter__(self) -> UnifiedExecutor: ...
    def __exit__(
        self, _exception_type: object = None, _exception: object = None, _traceback: object = None
    ) -> bool: ...
