"""Type stubs for the native part of the `cloacina` package (import from `cloacina`)."""

import datetime
import os
import types
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from typing import Any, Literal, TypeAlias, final, overload

from cloacina._enums import EventKind, ExecutionStatus, TaskStatus

__version__: str
"""The version of the installed package, e.g. `"0.1.0"`."""

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
    "LogEntry",
    "RetryPolicy",
    "RustTask",
    "Schedule",
    "ScheduleNotFoundError",
    "SerializationError",
    "Task",
    "TaskAttempt",
    "TaskDecorator",
    "TaskResult",
    "TriggerRule",
    "UnifiedExecutor",
    "ValidationError",
    "Workflow",
    "WorkflowNotFoundError",
    "WorkflowValidationError",
    "_TaskLogCapture",
    "__version__",
    "_adopt_rust_tasks",
    "_shutdown_at_exit",
    "_task_log_capture",
    "get_workflow",
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
    """A context value cannot be stored, or cannot be read back here.

    Stored: a type no codec takes (see `Context` for the types), a `str` that is not valid
    Unicode, nesting deeper than 100 levels, a value that contains itself, a binary value past
    512 MiB. Read back: a class this process cannot find (`cloacina.register_type`), a codec
    tag it has not registered, or a `cloacina.Pickled` value the executor does not read. The
    message names the context key and the place inside the value.
    """

class ContextKeyError(CloacinaError, KeyError, ValueError):
    """A context key is missing (update, raw, [], del) or already taken (insert)."""

class DatabaseError(CloacinaError):
    """The database failed or cannot be reached."""

class WorkflowNotFoundError(CloacinaError, LookupError):
    """No workflow is registered under that name."""

class ExecutionNotFoundError(CloacinaError, LookupError):
    """No execution has that id."""

class ScheduleNotFoundError(CloacinaError, LookupError):
    """No schedule has that name."""

class ExecutionFailedError(CloacinaError):
    """An execution ended Failed (raised by `ExecutionResult.raise_for_status`)."""

    result: ExecutionResult
    """The `ExecutionResult` of the failed execution."""

class ExecutionCancelledError(CloacinaError):
    """An execution ended Cancelled (raised by `ExecutionResult.raise_for_status`)."""

    result: ExecutionResult
    """The `ExecutionResult` of the cancelled execution."""

class ExecutionTimeoutError(CloacinaError, TimeoutError):
    """An execution did not finish within the time allowed.

    Raised by `UnifiedExecutor.execute` and `execute_async` (which cancel the execution first)
    and by the `wait` methods (after which the execution goes on).
    """

class ExecutorShutdownError(CloacinaError, RuntimeError):
    """The executor has been shut down; starting an execution needs a new one."""

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
    in `docs/content/reference/value-format.md`.

    Reading a value that cannot be read back here (a class this process cannot find, a pickle
    the executor does not read) raises `SerializationError`; `raw` shows its stored form.

    Args:
        data: The initial keys and values: a `dict` with `str` keys, another `Context` (copied),
            or `None` for an empty context.

    Raises:
        SerializationError: `data` is of another type, has a key that is not a `str`, or holds a
            value that cannot be stored.

    Examples:
        >>> import datetime
        >>> from cloacina import Context
        >>> context = Context({"count": 1})
        >>> context.insert("day", datetime.date(2026, 12, 3))
        >>> context["count"] += 1
        >>> context.to_dict()
        {'count': 2, 'day': datetime.date(2026, 12, 3)}
        >>> context.get("missing", "a default")
        'a default'
    """

    def __new__(cls, data: _ContextArgument = None) -> Context: ...
    @property
    def cancelled(self) -> bool:
        """True once the task's attempt has been stopped: a long-running `def` task should return.

        The attempt stops when its execution is cancelled, its timeout passes, or its executor
        shuts down. A plain function cannot be interrupted from outside, so it has to look.
        Always `False` for a context made outside a task.
        """
    def insert(self, key: str, value: _Value) -> None:
        """Adds a new key.

        Args:
            key: The key.
            value: Its value (see the class for the types a context holds).

        Raises:
            ContextKeyError: The key already exists (`set` or `update` changes it).
            SerializationError: The value, or the key, cannot be stored.
            TypeError: The key is not a `str`.
        """
    def set(self, key: str, value: _Value) -> None:
        """Sets a key, whether or not it exists; the same as `context[key] = value`.

        Args:
            key: The key.
            value: Its value (see the class for the types a context holds).

        Raises:
            SerializationError: The value, or the key, cannot be stored.
            TypeError: The key is not a `str`.
        """
    def update(self, key: str, value: _Value) -> None:
        """Changes the value of an existing key.

        Args:
            key: The key.
            value: Its new value (see the class for the types a context holds).

        Raises:
            ContextKeyError: The key does not exist (`insert` or `set` adds it).
            SerializationError: The value, or the key, cannot be stored.
            TypeError: The key is not a `str`.
        """
    def get(self, key: str, default: Any = None) -> Any:
        """Reads a key's value, or gives `default` when the key is absent.

        Args:
            key: The key.
            default: What to return when the key is absent.

        Returns:
            A new object equal to the value stored, or `default`.

        Raises:
            SerializationError: The value cannot be read back here.
            TypeError: The key is not a `str`.
        """
    def remove(self, key: str) -> Any:
        """Removes a key and returns its value.

        Args:
            key: The key.

        Returns:
            The value it had, or `None` when it was absent.

        Raises:
            SerializationError: The value cannot be read back here; the key is kept.
            TypeError: The key is not a `str`.
        """
    def keys(self) -> list[str]:
        """Lists the keys, in insertion order.

        Returns:
            The keys, in a new `list`.
        """
    def values(self) -> list[Any]:
        """Lists the values, in key order.

        Returns:
            The values, in a new `list`.

        Raises:
            SerializationError: A value cannot be read back here.
        """
    def items(self) -> list[tuple[str, Any]]:
        """Lists the keys with their values, in key order.

        Returns:
            `(key, value)` pairs, in a new `list`.

        Raises:
            SerializationError: A value cannot be read back here.
        """
    def to_dict(self) -> dict[str, Any]:
        """Copies every key and value into a `dict`.

        Returns:
            A new `dict`, in key order.

        Raises:
            SerializationError: A value cannot be read back here.
        """
    def raw(self, key: str) -> Any:
        """Shows the stored JSON of a key's value, tags and all, as plain Python values.

        For looking at a value that cannot be read back here; the format is described in
        `docs/content/reference/value-format.md`.

        Args:
            key: The key.

        Returns:
            The stored JSON as `dict`, `list`, `str`, `int`, `float`, `bool` and `None`.

        Raises:
            ContextKeyError: The key does not exist.
            TypeError: The key is not a `str`.
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
    """How often, and after how long, a failing task is attempted again.

    Give it to a task as `@task(retry=RetryPolicy(...))`; `retry=3` is `RetryPolicy(3)`. A task
    without one is attempted once. A `SerializationError` (a value that cannot be stored) is
    never retried.

    Args:
        max_attempts: Attempts in all, the first included (at least 1).
        backoff: How the delay grows from one retry to the next: `"fixed"` (always
            `initial_delay`), `"linear"` (`initial_delay` times the number of failed attempts) or
            `"exponential"` (`initial_delay` times `multiplier` to the power of failed attempts
            less one).
        initial_delay: Seconds before the first retry (0 to 31,536,000).
        max_delay: The longest delay, in seconds (0 to 31,536,000); longer ones are cut to it.
        jitter: Whether each delay is drawn at random between half of it and all of it.
        retry_on: An exception class, or several: only those (and their subclasses) are worth a
            retry, any other exception fails the task at once. `None` or empty: every
            exception is retried.
        multiplier: The growth factor of `"exponential"` backoff (at least 1; not used by the
            others).

    Raises:
        ValidationError: `max_attempts` is 0, `backoff` is unknown, a delay is out of range,
            `initial_delay` is longer than `max_delay`, `multiplier` is less than 1 for
            exponential backoff, or `retry_on` holds something that is not an exception class.
        TypeError: `retry_on` is neither a class nor an iterable.
    """

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
    def max_attempts(self) -> int:
        """Attempts in all, the first included."""
    @property
    def backoff(self) -> str:
        """How delays grow: `"fixed"`, `"linear"` or `"exponential"`."""
    @property
    def initial_delay(self) -> float:
        """Seconds before the first retry."""
    @property
    def max_delay(self) -> float:
        """The longest delay, in seconds."""
    @property
    def jitter(self) -> bool:
        """Whether delays are drawn at random between half and all of their length."""
    @property
    def retry_on(self) -> tuple[type[BaseException], ...]:
        """The exception classes worth a retry; empty when every exception is."""
    def delay_after(self, attempt: int) -> float:
        """Computes the delay before the attempt that follows failed attempt `attempt`.

        Args:
            attempt: The number of the attempt that failed, from 1 (0 counts as 1).

        Returns:
            The delay in seconds, at most `max_delay`; with `jitter`, a random part of it.
        """

@final
class TriggerRule:
    """When a task runs once its dependencies have finished; otherwise it is skipped.

    Build one with the static methods, combine rules with `&` (both hold), `|` (either holds)
    and `~` (does not hold), or give a task one of the names `"all_succeeded"` (the default),
    `"all_done"`, `"any_succeeded"`, `"any_failed"`, `"none_failed"` or `"always"`, which `&`
    and `|` take too. A rule is evaluated once, when the task's last dependency has finished
    (a task without dependencies: when its execution is created, where `all_succeeded` and
    `none_failed` hold and `any_succeeded` and `any_failed` do not).

    The `context_*` rules test the task's input context: the initial context with the writes of
    the tasks it depends on, directly or not. They compare stored forms (JSON, see
    `Context`), not Python values: an `int` never equals a `float`, nor does `True` equal `1`.
    """

    @staticmethod
    def all_succeeded() -> TriggerRule:
        """Makes the rule that every dependency completed (the default).

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def all_done() -> TriggerRule:
        """Makes the rule that every dependency completed or failed; a skipped one skips the task.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def any_succeeded() -> TriggerRule:
        """Makes the rule that at least one dependency completed.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def any_failed() -> TriggerRule:
        """Makes the rule that at least one dependency failed: for cleanup and alerting tasks.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def none_failed() -> TriggerRule:
        """Makes the rule that no dependency failed (skipped ones are fine).

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def always() -> TriggerRule:
        """Makes the rule that runs the task whatever happened to its dependencies.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def context_exists(key: str) -> TriggerRule:
        """Makes the rule that the input context has `key`.

        Args:
            key: The context key.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def context_missing(key: str) -> TriggerRule:
        """Makes the rule that the input context lacks `key`.

        Args:
            key: The context key.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def context_equals(key: str, value: _Value) -> TriggerRule:
        """Makes the rule that `key` is present and its stored value equals `value`'s.

        Args:
            key: The context key.
            value: The value to compare with, stored as a context value would be.

        Returns:
            A new `TriggerRule`.

        Raises:
            SerializationError: `value` cannot be stored.
        """
    @staticmethod
    def context_not_equals(key: str, value: _Value) -> TriggerRule:
        """Makes the rule that `key` is absent or its stored value differs from `value`'s.

        Args:
            key: The context key.
            value: The value to compare with, stored as a context value would be.

        Returns:
            A new `TriggerRule`.

        Raises:
            SerializationError: `value` cannot be stored.
        """
    @staticmethod
    def context_greater_than(key: str, bound: float) -> TriggerRule:
        """Makes the rule that `key` holds a number greater than `bound`.

        A number is an `int` within 64 bits or a finite `float`; any other value, or no value,
        makes the rule fail.

        Args:
            key: The context key.
            bound: The bound, excluded.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def context_less_than(key: str, bound: float) -> TriggerRule:
        """Makes the rule that `key` holds a number less than `bound`.

        A number is an `int` within 64 bits or a finite `float`; any other value, or no value,
        makes the rule fail.

        Args:
            key: The context key.
            bound: The bound, excluded.

        Returns:
            A new `TriggerRule`.
        """
    @staticmethod
    def context_truthy(key: str) -> TriggerRule:
        """Makes the rule that `key` is present and its stored value is true.

        False are `None`, `False`, `0`, `0.0`, `""`, `[]` and `{}`. Every value stored as a
        tagged object is true, even an empty `tuple`, `set` or `bytes`, or `Decimal(0)`.

        Args:
            key: The context key.

        Returns:
            A new `TriggerRule`.
        """
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

    Usually made with `@task`; the constructor takes the same settings. The task can still be
    called as its function, e.g. in a unit test: `extract(cloacina.Context())`.

    Args:
        id: The task's id, unique within a workflow: 1 to 255 printable characters.
        dependencies: Ids, `Task`s or `RustTask`s of the tasks that must finish first (`None`:
            none).
        function: Called with the task's `Context` (a `def` or an `async def` function); it may
            write to the context, and returns `None` or a `dict` of values to set. Another
            return value fails the task at once.
        retry: A number of attempts, or a `RetryPolicy`; `None` attempts once.
        timeout: Seconds an attempt may take before it fails with a timeout (more than 0, at
            most 31,536,000); `None` leaves it to the executor's `task_timeout`. A plain `def`
            cannot be interrupted: it sees `Context.cancelled` turn true, its thread finishes
            the call, and what it returns is discarded.
        trigger: A `TriggerRule` or rule name: when the task runs once its dependencies have
            finished (`None`: `"all_succeeded"`).
        log_level: The least severe `logging` records kept with each attempt: a level name
            (`"DEBUG"`, `"INFO"`, ..., `"OFF"` to keep none) or a number such as
            `logging.DEBUG`; `None` leaves it to the executor's `task_log_level`.
        log_prints: Keep what the function `print`s to standard output with its logs too (as
            `INFO` records of the logger `"print"`; still printed); `None` leaves it to the
            executor's `log_prints`.
        concurrency_key: A key the attempts of limited tasks share (`"search-api"`): 1 to 255
            printable characters; given with `concurrency`.
        concurrency: How many attempts holding `concurrency_key` may run at once, across every
            workflow and every process on the database: 1 to 100,000. A task waiting for a slot
            is `Ready` and starts as soon as one frees; a retry waiting out its delay holds none.
        map_over: Makes it a mapped task: when its dependencies have finished, it runs once per
            element of the list (or tuple) under this key of its input, at most 10,000. Each
            *instance* (task id `"id[index]"`) sees its element as `context["item"]` and its
            position as `context["item_index"]` (its input is the task's without the list), and
            has its own attempts, retries, timeout, status and logs; instances run in parallel
            like any tasks. Once all have finished,
            the task completes, and the tasks downstream see each key the instances wrote as a
            list in instance order (`None` where an instance did not write it); if any failed,
            the task fails naming the first. An empty list completes it at once; a missing key
            or another kind of value fails it.
        max_parallel: At most this many instances of a mapped task ready or running at once
            (1 to 10,000), the next made ready as each finishes; by default all of them.
        map_outputs: Keys the instances of a mapped task write, gathered as lists even when no
            instance wrote them: an empty list gives an empty list under each.

    Raises:
        TypeError: `id` is not a `str`, `dependencies` is not iterable, `map_outputs` is not a
            list of `str`, or `function` cannot take the context as its one required argument
            (the message names the function).
        WorkflowValidationError: `id`, or a dependency's id, is empty, longer than 255
            characters or holds a control character.
        ValidationError: `function` is not callable, `dependencies` is a single `str` or holds
            something else than ids and tasks, or `retry`, `timeout`, `trigger`, `log_level`,
            `concurrency_key`, `concurrency`, `map_over`, `max_parallel` or `map_outputs` is
            invalid (or only one of `concurrency_key` and `concurrency` is given, or
            `max_parallel` or `map_outputs` without `map_over`).
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
        log_level: str | int | None = None,
        log_prints: bool | None = None,
        concurrency_key: str | None = None,
        concurrency: int | None = None,
        map_over: str | None = None,
        max_parallel: int | None = None,
        map_outputs: list[str] | None = None,
    ) -> Task: ...
    @property
    def id(self) -> str:
        """The task's id."""
    @property
    def dependencies(self) -> list[str]:
        """The ids of the tasks it depends on."""
    @property
    def function(self) -> _TaskFunction:
        """The function it runs."""
    @property
    def retry(self) -> RetryPolicy | None:
        """Its `RetryPolicy`, or `None` when it is attempted once."""
    @property
    def timeout(self) -> float | None:
        """Its timeout in seconds, or `None` when the executor's `task_timeout` applies."""
    @property
    def trigger(self) -> TriggerRule:
        """Its `TriggerRule`."""
    @property
    def log_level(self) -> int | None:
        """The least severe log level its attempts keep, as a number.

        `logging.INFO` is 20; `None` when the executor's `task_log_level` applies.
        """
    @property
    def log_prints(self) -> bool | None:
        """Whether its `print`s are kept with its logs, or `None` when the executor decides."""
    @property
    def concurrency_key(self) -> str | None:
        """The key its concurrency limit counts attempts by, or `None` without a limit."""
    @property
    def concurrency(self) -> int | None:
        """How many attempts holding its key may run at once, or `None` without a limit."""
    @property
    def map_over(self) -> str | None:
        """The key of the list it runs once per element of, or `None` if it is not mapped."""
    @property
    def max_parallel(self) -> int | None:
        """At most how many of its instances are ready or running at once, or `None`: all."""
    @property
    def map_outputs(self) -> list[str]:
        """The keys its instances write that are gathered even when none wrote them."""
    @property
    def __wrapped__(self) -> _TaskFunction:
        """The decorated function, as `functools.wraps` would name it."""
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the function directly, outside any workflow."""

@final
class TaskDecorator:
    """The decorator `@task(...)` returns: applies the settings to a function."""

    def __call__(self, function: _TaskFunction) -> Task:
        """Makes `function` a `Task` with the decorator's settings.

        Args:
            function: The task's function; its `__name__` is the task's id unless `id` was given.

        Returns:
            The `Task`.

        Raises:
            TypeError: `function` cannot take the context as its one required argument.
            ValidationError: A setting is invalid, or `function` is not callable or (with no `id`)
                has no `__name__`.
            WorkflowValidationError: The task's id or a dependency's is not a valid id.
        """

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
    log_level: str | int | None = None,
    log_prints: bool | None = None,
    concurrency_key: str | None = None,
    concurrency: int | None = None,
    map_over: str | None = None,
    max_parallel: int | None = None,
    map_outputs: list[str] | None = None,
) -> Task:
    """Makes a function a task: `@task`, or `@task(id=..., dependencies=[...], ...)`.

    The function takes the task's `Context` as its one required argument (a `def` or an
    `async def` function); it may write to the context, and returns `None` or a `dict` of
    values to set. The `Task` can still be called as the function, e.g. in a unit test.

    Args:
        function: The function, when used as `@task` without parentheses.
        id: The task's id, unique within a workflow: 1 to 255 printable characters; by default
            the function's `__name__`.
        dependencies: Ids, `Task`s or `RustTask`s of the tasks that must finish first.
        retry: A number of attempts, or a `RetryPolicy`; by default one attempt.
        timeout: Seconds an attempt may take (more than 0, at most 31,536,000); by default the
            executor's `task_timeout`.
        trigger: A `TriggerRule` or rule name; by default `"all_succeeded"`.
        log_level: The least severe `logging` records kept with each attempt (`"DEBUG"`, a
            number, `"OFF"`); by default the executor's `task_log_level`.
        log_prints: Keep what the function `print`s with its logs; by default the executor's
            `log_prints`.
        concurrency_key: A key shared by tasks of which only so many may run at once; given
            with `concurrency`.
        concurrency: How many attempts holding `concurrency_key` may run at once, across every
            workflow and process on the database (see `Task`).
        map_over: Run once per element of the list under this key of the input, each instance
            seeing `context["item"]` and `context["item_index"]`; downstream tasks see what the
            instances wrote as lists (see `Task`).
        max_parallel: At most this many instances of a mapped task ready or running at once.
        map_outputs: Keys a mapped task's instances write, gathered as lists even when none
            wrote them.

    Returns:
        A `Task` when given a function; otherwise a `TaskDecorator` that makes one.

    Raises:
        TypeError: `id` is not a `str`, or the function cannot take the context as its one
            required argument (the message names the function).
        WorkflowValidationError: The id, or a dependency's id, is empty, longer than 255
            characters or holds a control character.
        ValidationError: Another argument is invalid (see `Task`).

    Examples:
        >>> from cloacina import Context, task
        >>> @task(id="greet", retry=3, timeout=30)
        ... def greet(context):
        ...     context.set("greeting", f"Hello, {context['name']}!")
        >>> greet.id, greet.dependencies, greet.retry.max_attempts, greet.timeout
        ('greet', [], 3, 30.0)
        >>> @task(dependencies=[greet])
        ... def shout(context):
        ...     return {"shout": context["greeting"].upper()}
        >>> shout.id, shout.dependencies
        ('shout', ['greet'])
        >>> context = Context({"name": "Ada"})
        >>> greet(context)
        >>> context["greeting"]
        'Hello, Ada!'
    """

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
    log_level: str | int | None = None,
    log_prints: bool | None = None,
    concurrency_key: str | None = None,
    concurrency: int | None = None,
    map_over: str | None = None,
    max_parallel: int | None = None,
    map_outputs: list[str] | None = None,
) -> TaskDecorator: ...

@final
class Workflow:
    """A validated, registered workflow: a DAG of tasks with a name.

    Made by `cloacina.workflow(...)`; pass it, or its name, to `UnifiedExecutor.execute`.
    `len(workflow)` is its number of tasks.
    """

    @property
    def name(self) -> str:
        """The workflow's name."""
    @property
    def description(self) -> str | None:
        """What the workflow does, if it was given."""
    @property
    def version(self) -> str:
        """A SHA-256 of the workflow's structure, as lowercase hex: equal structures, equal versions.

        The structure is the name and, per task, its id, dependencies, retry policy (without
        `retry_on`), timeout and trigger rule; the functions' code is not part of it.
        """
    @property
    def task_ids(self) -> list[str]:
        """The task ids in the order they run: dependencies first, ties by id."""
    @property
    def dependencies(self) -> dict[str, list[str]]:
        """Each task's dependencies.

        A `dict` from every task id, in the order the tasks run, to the ids of the tasks it
        depends on.
        """
    def subset(self, task_ids: list[str]) -> Workflow:
        """Makes a workflow of only some of this one's tasks, to run part of it (in a test, say).

        Each task keeps those of its dependencies that are among `task_ids`; what the others
        would have written must be in the initial context. The new workflow is named
        `"{name} (subset: {ids})"`, so running it leaves this one registered.

        Args:
            task_ids: The ids of the tasks to keep.

        Returns:
            The new `Workflow` (not registered until it is executed).

        Raises:
            WorkflowValidationError: An id is not one of this workflow's tasks (the message
                names the closest one).
        """
    def __len__(self) -> int: ...

def get_workflow(name: str) -> Workflow:
    """Finds the workflow registered under a name in this process.

    Args:
        name: The workflow's name, as given to `cloacina.workflow`.

    Returns:
        The registered `Workflow`.

    Raises:
        WorkflowNotFoundError: No workflow is registered under that name.
    """

def _adopt_rust_tasks(module: types.ModuleType, capsule: object) -> None:
    """Adds a `RustTask` per task of an extension module's task table to the module; called by
    the module itself while Python imports it. Raises ImportError for a table of another ABI
    version."""

def _task_log_capture() -> _TaskLogCapture | None:
    """The log capture of the attempt whose code runs here, or `None` (internal: for the hooks
    of `cloacina._logs`)."""

@final
class _TaskLogCapture:
    """Where the records a task attempt logs go (internal: see `cloacina._logs`)."""

    @property
    def level(self) -> int:
        """The least severe level kept."""
    @property
    def log_prints(self) -> bool:
        """Whether `print`s are kept."""
    @property
    def execution_id(self) -> str:
        """The execution's id."""
    @property
    def workflow(self) -> str:
        """The workflow's name."""
    @property
    def task_id(self) -> str:
        """The task's id."""
    @property
    def attempt(self) -> int:
        """The attempt, counting from 1."""
    def keep(self, time: float, level: int, level_name: str, logger: str, message: str) -> None:
        """Keeps a record (`time` in seconds since the epoch)."""

def _shutdown_at_exit() -> None:
    """Stops running executors and waits briefly for task calls in flight (run at exit)."""

@final
class RustTask:
    """A task written in Rust, exported by an extension module.

    The module is built with `cloacina::python_tasks!` (see the README's "Rust and Python
    together") and adds a `RustTask` per task when Python imports it (`from my_rust_tasks
    import resize_images`); they are never made by hand. List one in `workflow(tasks=[...])`
    next to Python tasks. It runs on the engine's threads without holding the GIL, with the
    retries, timeout and trigger rule its `#[task]` attribute declared. Its errors and panics
    fail its attempt like any task's.
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
        """Makes the same Rust function a task of another id (and dependencies).

        One exported task can so take several places of a workflow, or go into workflows whose
        ids differ.

        Args:
            id: The new task's id.
            dependencies: Ids (or tasks) it depends on; by default this task's dependencies.

        Returns:
            A new `RustTask`; this one is unchanged.

        Raises:
            TypeError: `id` is not a `str`, or `dependencies` is not iterable.
            WorkflowValidationError: The id, or a dependency's id, is empty, too long or holds a
                control character.
            ValidationError: `dependencies` is a single `str` or holds something else than ids
                and tasks.
        """

def workflow(*, name: str, tasks: Iterable[Task | RustTask], description: str | None = None) -> Workflow:
    """Validates tasks into a workflow and registers it under `name`, replacing any before.

    Registering again under a name (a notebook cell run again, a new deploy) gives new
    executions the new definition. Executions already running finish with the one they were
    created with, or one of the same task ids and dependencies, and otherwise fail with an
    error naming both versions.

    Args:
        name: The workflow's name, by which executors run it: 1 to 255 printable characters
            (no NUL, newline or other control character, valid Unicode).
        tasks: Python tasks made with `@task` and Rust tasks (`RustTask`) exported by an
            extension module, in any order.
        description: What the workflow does.

    Returns:
        The registered `Workflow`.

    Raises:
        WorkflowValidationError: The name is invalid, there are no tasks, an item is not a
            task, two tasks share an id, a dependency is no task of the workflow (the message
            names the closest id), or the dependencies form a cycle.
        TypeError: `name` or `description` is not a `str`, or `tasks` is not iterable.

    Examples:
        >>> from cloacina import task, workflow
        >>> @task
        ... def fetch(context):
        ...     context.insert("rows", [3, 1, 2])
        >>> @task(dependencies=[fetch])
        ... def order(context):
        ...     context.update("rows", sorted(context["rows"]))
        >>> sorting = workflow(name="sorting", tasks=[order, fetch], description="Sorts rows.")
        >>> sorting.name, sorting.task_ids
        ('sorting', ['fetch', 'order'])
    """

@final
class TaskResult:
    """What happened to one task of an execution."""

    @property
    def task_id(self) -> str:
        """The task's id."""
    @property
    def dependencies(self) -> list[str]:
        """The ids of the tasks it depends on, as its execution's workflow had them."""
    @property
    def status(self) -> TaskStatus:
        """Its `TaskStatus`, a `str` enum: `"Completed"`, `"Failed"`, `"Skipped"`, ..."""
    @property
    def attempts(self) -> int:
        """Attempts so far, not counting starts abandoned by a worker that stopped."""
    @property
    def map_index(self) -> int | None:
        """For an instance of a mapped task (task id `"task[index]"`), its index; else `None`."""
    @property
    def recoveries(self) -> int:
        """Starts abandoned by a worker that stopped renewing its lease, and run again."""
    @property
    def ready_at(self) -> datetime.datetime | None:
        """When it first became ready to run (UTC).

        Its dependencies had finished and its trigger rule held then. `None` while it waits
        for them, and for a task skipped.
        """
    @property
    def started_at(self) -> datetime.datetime | None:
        """When its latest attempt started (UTC), or `None` if none has."""
    @property
    def finished_at(self) -> datetime.datetime | None:
        """When it reached its final state (UTC), or `None` before."""
    @property
    def duration(self) -> float | None:
        """Seconds from its latest attempt's start to its end, or `None` without both."""
    @property
    def wait(self) -> float | None:
        """Seconds from when it became ready to when its first attempt started.

        How long it waited for a worker; `None` until it has started.
        """
    @property
    def worker(self) -> str | None:
        """The worker that ran its latest attempt (its executor's `owner_id`), or `None`."""
    @property
    def attempt_history(self) -> list[TaskAttempt]:
        """Every start of the task, in order: when, on which worker, and how it ended.

        A start abandoned by a worker that stopped (status `"Abandoned"`) is followed by
        another under the same number.
        """
    @property
    def error(self) -> str | None:
        """The error of its latest failed attempt: `"{type}: {message}"`, then the traceback."""
    @property
    def error_type(self) -> str | None:
        """The exception's class name, e.g. `"ValueError"`.

        `None` without an error, and when the failure was not an exception the task raised: a
        timeout (`task timed out after 2s`) or a return value that is not a `dict`;
        `error_message` then holds the whole error.
        """
    @property
    def error_message(self) -> str | None:
        """The exception's message, or the whole error of a failure that was not an exception.

        `None` without an error.
        """
    @property
    def traceback(self) -> str | None:
        """The Python traceback of the failed attempt, or `None` if there is none."""
    @property
    def output(self) -> Context | None:
        """What it wrote: a `Context` of the keys it wrote, with their values.

        `None` until it has completed, and for a task that did not. For a task a re-run kept,
        what it wrote in the execution the re-run came from.
        """
    @property
    def logs(self) -> list[LogEntry]:
        """What its attempts logged while they ran, attempt by attempt, oldest first.

        Records of Python's `logging` made while the task's function ran (any logger, on its
        thread or in its coroutine) at or above the task's `log_level` (the executor's
        `task_log_level`, `"INFO"` by default), its `print`s with `log_prints`, and a Rust
        task's `tracing` events. An attempt keeps at most 1,000 records and 1 MiB; a last
        `WARNING` record says how many more were left out.
        """

@final
class TaskAttempt:
    """One start of a task: when, on which worker, and how it ended."""

    @property
    def number(self) -> int:
        """The attempt's number, counting from 1 as retry policies do."""
    @property
    def ready_at(self) -> datetime.datetime | None:
        """When the task became ready for this start (UTC).

        `None` for a retry, whose due time is not recorded.
        """
    @property
    def started_at(self) -> datetime.datetime:
        """When a worker started it (UTC)."""
    @property
    def finished_at(self) -> datetime.datetime | None:
        """When it ended (UTC), or `None` while it runs."""
    @property
    def duration(self) -> float | None:
        """Seconds from its start to its end, or `None` while it runs."""
    @property
    def wait(self) -> float | None:
        """Seconds from `ready_at` to its start, or `None` without `ready_at`."""
    @property
    def worker(self) -> str | None:
        """The worker that ran it: its executor's `owner_id`.

        The id names the host, the machine, the process id and start, and a random part.
        """
    @property
    def status(self) -> Literal["Running", "Completed", "Failed", "Abandoned", "Cancelled"]:
        """How it ended, or `"Running"` while it runs.

        `"Completed"`; `"Failed"` (another attempt may follow, by the task's retry policy);
        `"Abandoned"` (its worker stopped or lost its lease, and the task went back to the
        queue); `"Cancelled"` (with its execution).
        """
    @property
    def error(self) -> str | None:
        """Its error, or why it was abandoned."""

@final
class LogEntry:
    """One record a task logged while an attempt ran."""

    @property
    def task_id(self) -> str:
        """The task that logged it."""
    @property
    def attempt(self) -> int:
        """The attempt it was logged in, counting from 1."""
    @property
    def time(self) -> datetime.datetime:
        """When it was logged (UTC)."""
    @property
    def level(self) -> str:
        """The level's name as `logging` names it: `"INFO"`, `"WARNING"`, ..."""
    @property
    def levelno(self) -> int:
        """The level as a number (`logging.INFO` is 20)."""
    @property
    def logger(self) -> str:
        """The logger it went to: `"print"` for a kept `print`, the target of a Rust task's event."""
    @property
    def message(self) -> str:
        """The message, formatted, followed by the traceback of an exception logged with it."""

@final
class ExecutionResult:
    """What an execution became (or is, for a snapshot of a running one).

    A failed or cancelled execution is a result like a completed one: look at `status`, or
    call `raise_for_status`.
    """

    @property
    def execution_id(self) -> str:
        """The execution's id (a UUID, as text)."""
    @property
    def workflow_name(self) -> str:
        """The name of the workflow it ran."""
    @property
    def workflow_version(self) -> str:
        """The `Workflow.version` of the workflow when the execution was created."""
    @property
    def status(self) -> ExecutionStatus:
        """Its `ExecutionStatus`: `"Completed"`, `"Failed"` or `"Cancelled"` once finished.

        A snapshot of an execution that has not finished says `"Pending"` or `"Running"`.
        """
    @property
    def context(self) -> Context:
        """The final `Context`: the initial one with the writes of every completed task."""
    @property
    def initial_context(self) -> Context:
        """The `Context` the execution was started with, before any task wrote to it."""
    @property
    def task_results(self) -> list[TaskResult]:
        """One `TaskResult` per task, in the order the tasks run."""
    @property
    def key(self) -> str | None:
        """The key it was started under (`execute(..., key=...)`), or `None`."""
    @property
    def rerun_of(self) -> str | None:
        """For a re-run (`UnifiedExecutor.rerun`), the id of the execution it came from."""
    @property
    def error(self) -> str | None:
        """The first error that failed the execution, or why it was cancelled."""
    @property
    def duration(self) -> float | None:
        """Seconds from its creation to its end, or `None` until it has finished."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created (UTC)."""
    @property
    def started_at(self) -> datetime.datetime | None:
        """When its first task started (UTC), or `None` if none has."""
    @property
    def finished_at(self) -> datetime.datetime | None:
        """When it finished (UTC), or `None` until it has."""
    def write_trace(self, path: str | os.PathLike[str]) -> None:
        """Writes the execution's timeline to a file as a Chrome trace (JSON).

        Open it in Perfetto (https://ui.perfetto.dev) or `chrome://tracing` for a timeline
        view: one row per worker, one slice per attempt, named after its task, with the
        attempt's number, status, wait (microseconds) and error as arguments. An attempt still
        running is drawn up to now.

        Args:
            path: The file to write (replaced if it exists).

        Raises:
            OSError: The file cannot be written.
        """
    def task(self, task_id: str) -> TaskResult | None:
        """Finds the result of one task.

        Args:
            task_id: The task's id.

        Returns:
            Its `TaskResult`, or `None` if the workflow has no such task.
        """
    def raise_for_status(self) -> ExecutionResult:
        """Raises if the execution failed or was cancelled.

        Returns:
            This result, when the execution did neither (it completed, or is still running).

        Raises:
            ExecutionFailedError: It failed; the exception's `result` is this result.
            ExecutionCancelledError: It was cancelled; the exception's `result` is this result.
        """

@final
class ExecutionSummary:
    """One execution in a listing (`UnifiedExecutor.list_executions`)."""

    @property
    def execution_id(self) -> str:
        """The execution's id (a UUID, as text)."""
    @property
    def workflow_name(self) -> str:
        """The name of the workflow it runs."""
    @property
    def status(self) -> ExecutionStatus:
        """Its `ExecutionStatus`."""
    @property
    def error(self) -> str | None:
        """Its first error if it failed, or why it was cancelled."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created (UTC)."""
    @property
    def finished_at(self) -> datetime.datetime | None:
        """When it finished (UTC), or `None` until it has."""

@final
class Event:
    """One state change of an execution or of one of its tasks."""

    @property
    def execution_id(self) -> str:
        """The execution's id (a UUID, as text)."""
    @property
    def task_id(self) -> str | None:
        """The task's id, for a task's event; `None` for the execution's."""
    @property
    def kind(self) -> EventKind:
        """What changed: an `EventKind` (`"TaskStarted"`, `"ExecutionCompleted"`, ...)."""
    @property
    def attempt(self) -> int | None:
        """The attempt's number, for an attempt that started, completed, failed or is retried."""
    @property
    def message(self) -> str | None:
        """An error or a reason, where there is one.

        For `TaskStarted`, the worker that runs the attempt (its executor's `owner_id`).
        """
    @property
    def at(self) -> datetime.datetime:
        """When it happened (UTC)."""
    @property
    def sequence(self) -> int | None:
        """Its place in the execution's log: 1, 2, 3, ... in commit order, without gaps.

        `None` for an event not read from the database.
        """

@final
class EventStream:
    """The events of one execution, in order, ending after the event that ends it.

    Iterate with `async for event in stream` in asyncio code, or `for event in stream`
    elsewhere (which blocks between events; Ctrl-C stops it). Events committed by other
    processes arrive too. Iterating raises `DatabaseError` if the database fails.
    """

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
    """A started execution: wait for it, look at it, stream its events, or cancel it.

    Returned by `UnifiedExecutor.start`. In asyncio code, `await handle` waits for the result
    like `await handle.wait_async()`.
    """

    @property
    def execution_id(self) -> str:
        """The execution's id (a UUID, as text)."""
    @property
    def status(self) -> ExecutionStatus:
        """The execution's current `ExecutionStatus`, read from the database at each access."""
    def wait(self, timeout: float | None = None) -> ExecutionResult:
        """Waits for the execution to finish; Ctrl-C stops waiting (the execution goes on).

        Args:
            timeout: Seconds to wait at most (0 to 31,536,000); `None` waits as long as it
                takes.

        Returns:
            The `ExecutionResult`, whatever its status.

        Raises:
            ExecutionTimeoutError: It did not finish in time (it goes on).
            ValidationError: `timeout` is out of range.
            DatabaseError: The database failed.
        """
    def wait_async(self, timeout: float | None = None) -> Awaitable[ExecutionResult]:
        """Waits for the execution to finish, in asyncio code.

        Cancelling the awaiting asyncio task stops waiting; the execution goes on.

        Args:
            timeout: Seconds to wait at most (0 to 31,536,000); `None` waits as long as it
                takes.

        Returns:
            An awaitable of the `ExecutionResult`; awaiting it raises as `wait` does.

        Raises:
            RuntimeError: No asyncio event loop runs in this thread.
            ValidationError: `timeout` is out of range.
        """
    def __await__(self) -> Generator[Any, None, ExecutionResult]: ...
    def events(self) -> EventStream:
        """Streams the execution's events, past and to come.

        Returns:
            An `EventStream` of every event, in order, ending after the event that ends the
            execution: `async for` in asyncio code, `for` elsewhere.
        """
    def cancel(self) -> ExecutionStatus:
        """Cancels the execution.

        Tasks not started are cancelled; running ones are stopped (an `async def` task gets
        `CancelledError`, a plain function sees `Context.cancelled` turn true).

        Returns:
            Its final `ExecutionStatus`: `"Cancelled"`, or the status it had already reached.

        Raises:
            DatabaseError: The database failed.
        """

@final
class Schedule:
    """A cron schedule: its workflow starts at each tick of its expression, in its time zone.

    Made by `UnifiedExecutor.schedule` and read by `UnifiedExecutor.list_schedules`. It is
    stored in the database: every running executor that has its workflow registered starts its
    ticks, one execution per tick however many processes serve it. Each execution's context is
    the schedule's context with the tick under `"scheduled_at"`, an aware `datetime` in the
    schedule's time zone.
    """

    @property
    def name(self) -> str:
        """Its name, unique in the database."""
    @property
    def workflow(self) -> str:
        """The name of the workflow it starts."""
    @property
    def cron(self) -> str:
        """Its cron expression (five fields, or six with seconds first)."""
    @property
    def timezone(self) -> str:
        """The IANA time zone its expression is read in (`"UTC"`, `"Europe/Paris"`)."""
    @property
    def catchup(self) -> Literal["skip", "latest", "all"]:
        """What happens to ticks missed while no executor served it."""
    @property
    def context(self) -> Context:
        """The initial context of the executions it starts (each also gets `scheduled_at`)."""
    @property
    def paused(self) -> bool:
        """Whether it is paused: a paused schedule starts nothing."""
    @property
    def next_fire_at(self) -> datetime.datetime | None:
        """Its next tick, in its time zone; `None` if its expression never fires again."""
    @property
    def last_fired_at(self) -> datetime.datetime | None:
        """The tick of the last execution it started, in its time zone."""
    @property
    def last_execution_id(self) -> str | None:
        """The id of the last execution it started."""
    @property
    def created_at(self) -> datetime.datetime:
        """When it was created (UTC)."""
    @property
    def overdue(self) -> bool:
        """Whether its next tick is more than a minute past while it is not paused.

        An overdue schedule has no running executor with its workflow registered; executors
        that see one log a warning naming it.
        """
    def next_fire_times(self, count: int = 5) -> list[datetime.datetime]:
        """Computes its next ticks from now, paused or not.

        Args:
            count: How many (at most 10,000).

        Returns:
            Aware datetimes in its time zone, earliest first.
        """
    def pause(self) -> None:
        """Pauses it: it starts nothing until resumed.

        Raises:
            ScheduleNotFoundError: It was deleted.
            DatabaseError: The database failed.
        """
    def resume(self) -> None:
        """Resumes it from its next tick after now; ticks missed while paused are not started.

        Raises:
            ScheduleNotFoundError: It was deleted.
            DatabaseError: The database failed.
        """
    def delete(self) -> None:
        """Deletes it; the executions it started are kept.

        Raises:
            ScheduleNotFoundError: It was already deleted.
            DatabaseError: The database failed.
        """
    def refresh(self) -> None:
        """Reads it again from the database, where another process may have changed it.

        Raises:
            ScheduleNotFoundError: It was deleted.
            DatabaseError: The database failed.
        """

@final
class UnifiedExecutor:
    """Runs workflows and keeps every execution in a database.

    Each option out of range raises `ValidationError` naming it. Durations are in seconds; the
    same bounds (0 to 31,536,000, 365 days) apply to every `timeout` argument of its methods.
    Use it as a context manager (`with`, or `async with`) to shut it down at the end.

    Args:
        url: The database: `"sqlite:///:memory:"`, `"sqlite:///relative/path.db"`,
            `"sqlite:////absolute/path.db"` or `"postgresql://user:password@host:port/database"`
            (or `postgres://`; `?schema=name` keeps the tables in a schema of their own).
        max_concurrent_tasks: Tasks this executor runs at once: 1 to 100,000 (default 64).
        run_tasks: `False` for a submit-only executor that starts, waits for and inspects
            executions and leaves every task to workers (`python -m cloacina worker`) sharing
            its database (default `True`).
        run_schedules: `False` for an executor that never starts the due ticks of the
            schedules of its registered workflows (default `True`). Any number of executors
            may start them (each tick starts once); a process that only looks turns it off.
        task_timeout: Seconds an attempt may take when its task sets no timeout: more than 0,
            at most 31,536,000 (default `None`, no limit).
        poll_interval: Seconds between looks for work when nothing wakes the executor, a
            fallback: 0.01 to 31,536,000 (default 1).
        lease_duration: Seconds a claimed task stays owned without renewal: 1 to 31,536,000
            (default 30). Leases are renewed every third of it; a task whose lease expires runs
            again elsewhere.
        max_recoveries: Times a task may be taken back from a worker that stopped, before it
            fails as abandoned (default 3).
        pool_size: Database connections: 1 to 1,000 (default 8).
        sqlite_synchronous: `"normal"` (a commit survives a crash of the process; the default)
            or `"full"` (it survives a power loss too).
        sqlite_busy_timeout: Seconds SQLite waits for another process's lock: 0.001 to 86,400
            (default 5).
        shutdown_timeout: Seconds `shutdown` lets running tasks finish: 0 to 31,536,000
            (default 30).
        schema: PostgreSQL only: the schema for the tables, created if needed (like `?schema=`
            in the URL). Executors on different schemas never see each other's work.
        task_log_level: The least severe `logging` records each task attempt keeps, unless the
            task sets its own `log_level`: a level name (`"DEBUG"`, `"INFO"`, ..., `"OFF"` to
            keep none) or a number (default `"INFO"`). See `TaskResult.logs`.
        allow_pickle: Whether the executor (its tasks and the results it returns) reads values
            stored with `cloacina.Pickled` (default `False`: reading one raises
            `SerializationError`). Unpickling runs code the stored bytes name: allow it only
            when everyone who can write the database is trusted.
        log_prints: Keep what task functions `print` with their logs, unless a task sets its
            own `log_prints` (default `False`).

    Raises:
        ValidationError: A malformed URL, an option out of range, or `schema` with SQLite or
            different from the URL's.
        TypeError: An unknown option, or an option of the wrong type.
        DatabaseError: The database cannot be reached or opened.
    """

    def __new__(
        cls,
        url: str,
        *,
        max_concurrent_tasks: int = ...,
        run_tasks: bool = ...,
        run_schedules: bool = ...,
        task_timeout: float | None = ...,
        poll_interval: float = ...,
        lease_duration: float = ...,
        max_recoveries: int = ...,
        pool_size: int = ...,
        sqlite_synchronous: Literal["normal", "full"] = ...,
        sqlite_busy_timeout: float = ...,
        shutdown_timeout: float = ...,
        schema: str | None = ...,
        task_log_level: str | int = ...,
        allow_pickle: bool = ...,
        log_prints: bool = ...,
    ) -> UnifiedExecutor: ...
    def execute(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
        key: str | None = None,
    ) -> _ExecutionResultOrAwaitable:
        """Runs a workflow to its end and returns the result.

        Where an asyncio event loop runs in the calling thread, this returns an awaitable
        (`result = await executor.execute(...)`) and the workflow's `async def` tasks run on that
        loop; elsewhere it blocks until the end. `execute_async` is always awaitable.

        A failed or cancelled execution is not an exception here: look at the result's `status`,
        or call `ExecutionResult.raise_for_status`. Interrupting the wait (Ctrl-C, or cancelling
        the awaiting asyncio task) cancels the execution. After Ctrl-C, its plain task functions
        get up to `shutdown_timeout` to return (stderr says which it waits for; a second Ctrl-C
        stops the wait) before `KeyboardInterrupt` goes on.

        Args:
            workflow: A workflow's name, or a `Workflow`.
            context: The initial context: a `dict`, a `Context` or `None` (empty).
            timeout: Seconds the whole execution may take; past that it is cancelled and
                `ExecutionTimeoutError` raised. `None`: no limit.
            on_event: Called with each `Event` of the execution, in order, before the result is
                returned (a coroutine function is awaited on the execution's loop).
            key: Makes the start idempotent: a workflow has one execution per key, so a call
                with a key already used (by any process, also while that execution runs) waits
                for that execution and returns its result instead of starting another. Its
                context must be the one given then. A timeout or Ctrl-C while waiting for it
                does not cancel it. 1 to 255 printable characters.

        Returns:
            The `ExecutionResult`, whatever its status (or an awaitable of it).

        Raises:
            WorkflowNotFoundError: No workflow is registered under that name.
            SerializationError: The context is not a `dict` or `Context`, or holds a value that
                cannot be stored.
            ValidationError: `workflow` is neither a name nor a `Workflow`, `timeout` is out of
                range, `on_event` is not callable, or `key` is empty, too long, or was used
                with another context (the message names that execution).
            ExecutionTimeoutError: The timeout passed; the execution was cancelled.
            ExecutorShutdownError: The executor has been shut down.
            DatabaseError: The database failed.
            KeyboardInterrupt: Ctrl-C; the execution was cancelled.

        Examples:
            >>> from cloacina import UnifiedExecutor, task, workflow
            >>> @task
            ... def double(context):
            ...     return {"doubled": [number * 2 for number in context["numbers"]]}
            >>> _ = workflow(name="doubling", tasks=[double])
            >>> with UnifiedExecutor("sqlite:///:memory:") as executor:
            ...     result = executor.execute("doubling", {"numbers": [1, 2, 3]})
            >>> result.status == "Completed", result.context["doubled"]
            (True, [2, 4, 6])
        """
    def execute_async(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
        key: str | None = None,
    ) -> Awaitable[ExecutionResult]:
        """Runs a workflow to its end, in asyncio code.

        The workflow's `async def` tasks run on the calling event loop. Cancelling the awaiting
        asyncio task cancels the execution.

        Args:
            workflow: A workflow's name, or a `Workflow`.
            context: The initial context: a `dict`, a `Context` or `None` (empty).
            timeout: Seconds the whole execution may take; past that it is cancelled and
                `ExecutionTimeoutError` raised. `None`: no limit.
            on_event: Called with each `Event` of the execution, in order, before the result is
                returned (a coroutine function is awaited on the loop).
            key: Makes the start idempotent, as for `execute`.

        Returns:
            An awaitable of the `ExecutionResult`; awaiting it raises what `execute` raises
            (the workflow not found, a timeout, a database error, a shut-down executor).

        Raises:
            RuntimeError: No asyncio event loop runs in this thread.
            SerializationError: The context is not a `dict` or `Context`, or holds a value that
                cannot be stored.
            ValidationError: `workflow` is neither a name nor a `Workflow`, `timeout` is out of
                range, or `on_event` is not callable.
        """
    def _execute_here(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        timeout: float | None = None,
    ) -> Awaitable[ExecutionResult]:
        """Runs a workflow with every task function called on this thread's running loop.

        What `cloacina.testing` runs; plain functions run on the loop's thread too, where the
        loop can watch a socket.
        """
    def rerun(
        self,
        execution_id: _ExecutionId,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
    ) -> _ExecutionResultOrAwaitable:
        """Re-runs a finished execution from where it failed, and returns the new one's result.

        The new execution runs the same workflow version with the same initial context. It
        keeps the outputs of the tasks that completed (they are `Completed`, with no attempt)
        and runs only the others (failed, skipped and cancelled) and every task downstream of
        them; its `rerun_of` is `execution_id`. Blocking and awaiting follow `execute`: where
        an asyncio event loop runs in the calling thread this returns an awaitable.

        Args:
            execution_id: The finished execution (`str` or `uuid.UUID`).
            timeout: Seconds the new execution may take; past that it is cancelled and
                `ExecutionTimeoutError` raised. `None`: no limit.
            on_event: Called with each `Event` of the new execution, in order.

        Returns:
            The new execution's `ExecutionResult`, whatever its status (or an awaitable of it).

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: It has not finished, every task of it completed (nothing to run
                again; `execute` runs it all), or this process has neither the workflow version
                it was made with nor one with the same tasks and dependencies;
                `execution_id` is not a UUID; `timeout` is out of range.
            WorkflowNotFoundError: Its workflow is not registered in this process.
            ExecutionTimeoutError: The timeout passed; the new execution was cancelled.
            DatabaseError: The database failed.

        Examples:
            >>> from cloacina import UnifiedExecutor, task, workflow
            >>> attempts = []
            >>> @task
            ... def fetch(context):
            ...     return {"rows": 3}
            >>> @task(dependencies=[fetch])
            ... def publish(context):
            ...     attempts.append(1)
            ...     if len(attempts) == 1:
            ...         raise ConnectionError("the server is down")
            ...     return {"published": context["rows"]}
            >>> _ = workflow(name="publishing", tasks=[fetch, publish])
            >>> with UnifiedExecutor("sqlite:///:memory:") as executor:
            ...     failed = executor.execute("publishing")
            ...     again = executor.rerun(failed.execution_id)
            >>> failed.status == "Failed", again.status == "Completed", again.context["published"]
            (True, True, 3)
            >>> again.task("fetch").attempts, again.rerun_of == failed.execution_id
            (0, True)
        """
    def rerun_async(
        self,
        execution_id: _ExecutionId,
        *,
        timeout: float | None = None,
        on_event: _EventCallback | None = None,
    ) -> Awaitable[ExecutionResult]:
        """Re-runs a finished execution from where it failed, in asyncio code (see `rerun`).

        Args:
            execution_id: The finished execution (`str` or `uuid.UUID`).
            timeout: Seconds the new execution may take; past that it is cancelled and
                `ExecutionTimeoutError` raised. `None`: no limit.
            on_event: Called with each `Event` of the new execution, in order.

        Returns:
            An awaitable of the new execution's `ExecutionResult`; awaiting it raises what
            `rerun` raises.

        Raises:
            RuntimeError: No asyncio event loop runs in this thread.
            ValidationError: `execution_id` is not a UUID, or `timeout` is out of range.
        """
    def start(
        self,
        workflow: str | Workflow,
        context: _ContextArgument = None,
        *,
        on_event: _EventCallback | None = None,
        key: str | None = None,
        at: datetime.datetime | None = None,
        delay: float | None = None,
    ) -> ExecutionHandle:
        """Starts a workflow and returns at once.

        Started while an asyncio event loop runs in this thread, the workflow's `async def`
        tasks run on that loop.

        Args:
            workflow: A workflow's name, or a `Workflow`.
            context: The initial context: a `dict`, a `Context` or `None` (empty).
            on_event: Called with each `Event` of the execution, in order, in the background.
            key: Makes the start idempotent: with a key already used for this workflow (by any
                process), the handle is on that execution, and nothing new starts. Its context
                must be the one given then.
            at: A delayed start: its first tasks start at this time (a timezone-aware
                `datetime`), not before. It is stored, so it survives restarts, and whichever
                executor with the workflow registered is running then starts it; until then
                the execution is `Pending`.
            delay: A delayed start, this many seconds from now (0 to 31,536,000).

        Returns:
            An `ExecutionHandle` to wait for, look at, stream the events of, or cancel.

        Raises:
            WorkflowNotFoundError: No workflow is registered under that name.
            SerializationError: The context is not a `dict` or `Context`, or holds a value that
                cannot be stored.
            ValidationError: `workflow` is neither a name nor a `Workflow`, `on_event` is not
                callable, `key` is empty, too long, or was used with another context, `at` is
                not an aware datetime, `delay` is out of range, or both are given.
            ExecutorShutdownError: The executor has been shut down.
            DatabaseError: The database failed.
        """
    def schedule(
        self,
        workflow: str | Workflow,
        cron: str,
        *,
        context: _ContextArgument = None,
        timezone: str = "UTC",
        catchup: Literal["skip", "latest", "all"] = "skip",
        name: str | None = None,
    ) -> Schedule:
        """Stores a cron schedule that starts `workflow` at each tick.

        Under a name already used, the schedule is updated if its definition differs (its next
        tick counted from now, paused or not as it was) and returned unchanged otherwise, so a
        program may declare its schedules every time it starts. The workflow need not be
        registered here: any running executor that has it registered starts the ticks.

        Args:
            workflow: A workflow's name, or a `Workflow` (registered here on the way).
            cron: Five fields (`"0 2 * * *"`: minute, hour, day of month, month, day of week)
                or six with seconds first (`"*/10 * * * * *"`), as Vixie cron reads them.
            context: The initial context of each execution (a `dict`, a `Context` or `None`);
                each also gets the tick under `"scheduled_at"`. No large binary values.
            timezone: The IANA time zone the expression is read in. When clocks go back, a fixed
                time of day fires once and an hourly expression fires in both passes; times
                skipped when clocks go forward do not fire.
            catchup: Ticks missed while no executor served the schedule: `"skip"` starts none
                (the most recent still starts if less than a minute late), `"latest"` starts
                the most recent, `"all"` starts each, oldest first, at most the 100 most recent.
            name: Its name: 1 to 200 printable characters (default: the workflow's name).

        Returns:
            The stored `Schedule`.

        Raises:
            ValidationError: A cron expression that cannot be read or never fires, an unknown
                time zone or catch-up policy, a bad name, or a context holding large binary data.
            SerializationError: The context holds a value that cannot be stored.
            DatabaseError: The database failed.
        """
    def list_schedules(self) -> list[Schedule]:
        """Lists every schedule in the database, by name.

        Returns:
            A `Schedule` per schedule, paused or not.

        Raises:
            DatabaseError: The database failed.
        """
    def get_schedule(self, name: str) -> Schedule:
        """Reads the schedule named `name`.

        Args:
            name: Its name.

        Returns:
            The `Schedule`.

        Raises:
            ScheduleNotFoundError: No schedule has that name.
            DatabaseError: The database failed.
        """
    def wait(self, execution_id: _ExecutionId, timeout: float | None = None) -> ExecutionResult:
        """Waits for an execution to finish, wherever it was started.

        The execution may have been started here, by another process, or before a restart.
        Ctrl-C stops waiting; the execution goes on.

        Args:
            execution_id: The execution's id (a `str` or `uuid.UUID`).
            timeout: Seconds to wait at most; `None` waits as long as it takes.

        Returns:
            The `ExecutionResult`, whatever its status.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ExecutionTimeoutError: It did not finish in time (it goes on).
            ValidationError: `execution_id` is not a UUID, or `timeout` is out of range.
            DatabaseError: The database failed.
        """
    def wait_async(self, execution_id: _ExecutionId, timeout: float | None = None) -> Awaitable[ExecutionResult]:
        """Waits for an execution to finish, in asyncio code.

        Cancelling the awaiting asyncio task stops waiting; the execution goes on.

        Args:
            execution_id: The execution's id (a `str` or `uuid.UUID`).
            timeout: Seconds to wait at most; `None` waits as long as it takes.

        Returns:
            An awaitable of the `ExecutionResult`; awaiting it raises what `wait` raises.

        Raises:
            RuntimeError: No asyncio event loop runs in this thread.
            ValidationError: `execution_id` is not a UUID, or `timeout` is out of range.
        """
    def handle(self, execution_id: _ExecutionId) -> ExecutionHandle:
        """Returns a handle on an execution started anywhere.

        The execution may have been started here, by another process, or before a restart;
        the handle waits for it, follows its events as they come, or cancels it.

        Args:
            execution_id: The execution's id (`str` or `uuid.UUID`).

        Returns:
            An `ExecutionHandle` on it.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: `execution_id` is not a UUID.
        """
    def events(self, execution_id: _ExecutionId) -> list[Event]:
        """Reads the events of an execution stored so far, in order.

        `handle(execution_id).events()` follows them as they come instead.

        Args:
            execution_id: The execution's id (`str` or `uuid.UUID`).

        Returns:
            Its `Event` objects, numbered from 1 by `sequence`.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: `execution_id` is not a UUID.
        """
    def logs(self, execution_id: _ExecutionId, task_id: str | None = None) -> list[LogEntry]:
        """What an execution's tasks logged while they ran (see `TaskResult.logs`).

        An attempt's records are stored when the attempt ends, by whichever process ran it.

        Args:
            execution_id: The execution's id (a `str` or `uuid.UUID`).
            task_id: Only this task's records.

        Returns:
            `LogEntry` objects by task, attempt and time.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: `execution_id` is not a UUID.
            DatabaseError: The database failed.
        """
    def get_execution(self, execution_id: _ExecutionId) -> ExecutionResult:
        """Reads an execution as stored now, finished or not.

        Args:
            execution_id: The execution's id (a `str` or `uuid.UUID`).

        Returns:
            The `ExecutionResult`: final once the execution has finished, a snapshot before.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: `execution_id` is not a UUID.
            DatabaseError: The database failed.
        """
    def list_executions(
        self,
        workflow: str | Workflow | None = None,
        status: ExecutionStatus | str | None = None,
        limit: int = 100,
    ) -> list[ExecutionSummary]:
        """Lists executions in the database, newest first.

        Args:
            workflow: Only executions of this workflow (a name or a `Workflow`).
            status: Only executions in this status (an `ExecutionStatus` or its value, such as
                `"Failed"`).
            limit: At most this many.

        Returns:
            An `ExecutionSummary` per execution.

        Raises:
            ValidationError: `workflow` is neither a name nor a `Workflow`, or `status` is no
                status.
            DatabaseError: The database failed.
        """
    def cancel(self, execution_id: _ExecutionId) -> ExecutionStatus:
        """Cancels an execution.

        Tasks not started are cancelled; running ones are stopped (an `async def` task gets
        `CancelledError`, a plain function sees `Context.cancelled` turn true).

        Args:
            execution_id: The execution's id (a `str` or `uuid.UUID`).

        Returns:
            Its final `ExecutionStatus`: `"Cancelled"`, or the status it had already reached.

        Raises:
            ExecutionNotFoundError: No execution has that id.
            ValidationError: `execution_id` is not a UUID.
            DatabaseError: The database failed.
        """
    @property
    def owner_id(self) -> str:
        """The id this executor's attempts are recorded under as their worker.

        It names the host, the machine, the process id and start, and a random part; see
        `TaskAttempt.worker` and the `TaskStarted` event's `message`.
        """
    def serve(self) -> None:
        """Runs tasks for executions started anywhere, until the executor is shut down.

        This is the worker-only mode (`python -m cloacina worker` runs it): it returns once
        `shutdown` is called from another thread or a signal handler. Ctrl-C shuts the
        executor down gracefully and raises `KeyboardInterrupt`.

        Raises:
            KeyboardInterrupt: Ctrl-C, after the shutdown.
        """
    def serve_ui(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 8490,
        read_only: bool = False,
        token: str | None = None,
        ready: Callable[[str], object] | None = None,
    ) -> None:
        """Serves the web page for executions, and the JSON API under it, until stopped.

        It serves this executor's database until Ctrl-C (which stops it and re-raises
        `KeyboardInterrupt`) or until the executor shuts down. `cloacina ui` runs it.

        The page lists executions (filtered by workflow, status and time, a page at a time),
        draws an execution's tasks coloured by status with a timeline of their attempts, shows
        a task's attempts, error, logs, input and output, follows a running execution live, and
        can cancel it or re-run it from where it failed (`read_only=True` turns those off). Its
        API is described at `/api/openapi.json`. An executor that runs no tasks
        (`run_tasks=False`) is enough; re-running needs the workflow registered here.

        Args:
            host: The address to listen on. Any other than a loopback address needs `token`.
                Without a token the page answers only requests addressed to `localhost`,
                `127.0.0.1` or `[::1]` (a guard against DNS rebinding).
            port: The port; 0 picks a free one (`ready` is told which).
            read_only: Turns the actions (cancel, re-run) off.
            token: A secret of at least 16 characters every request must carry, as
                `Authorization: Bearer <token>` or in the cookie the page sets when opened as
                `/?token=<token>`.
            ready: Called with the page's address (`http://127.0.0.1:8490/`) once it listens.

        Raises:
            ValidationError: `host` is not an IP address, or the token is missing or too short.
            OSError: The address cannot be listened on (the port is taken).
        """
    def shutdown(self) -> None:
        """Stops the executor, letting running tasks finish for up to `shutdown_timeout`.

        No new task starts; what running tasks did is recorded, and tasks still running after
        `shutdown_timeout` are handed back to other workers. Calling it again does nothing.
        Ctrl-C stops the wait: running tasks are handed back at once, and `KeyboardInterrupt`
        raised.

        Raises:
            KeyboardInterrupt: Ctrl-C during the wait.
        """
    def shutdown_async(self) -> Awaitable[None]:
        """Stops the executor like `shutdown`, in asyncio code.

        Returns:
            An awaitable that completes once the executor has stopped.

        Raises:
            RuntimeError: No asyncio event loop runs in this thread.
        """
    def __aenter__(self) -> Awaitable[UnifiedExecutor]: ...
    def __aexit__(
        self, _exception_type: object = None, _exception: object = None, _traceback: object = None
    ) -> Awaitable[None]: ...
    def __enter__(self) -> UnifiedExecutor: ...
    def __exit__(
        self, _exception_type: object = None, _exception: object = None, _traceback: object = None
    ) -> bool: ...
