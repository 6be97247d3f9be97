"""Running task coroutines on event loops, from the engine's threads.

A coroutine runs on the event loop of the code that awaited its execution, so that it can use
that loop's clients and loop-bound objects; otherwise on an event loop the executors own, on a
thread of its own. Everything here may be called from any thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any


class Submission:
    """A coroutine handed to an event loop; ``cancel()`` cancels it from any thread."""

    __slots__ = ("_cancelled", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Cancels the coroutine: ``CancelledError`` is raised inside it (``finally`` runs)."""
        try:
            self._loop.call_soon_threadsafe(self._cancel)
        except RuntimeError:
            pass  # The loop is closed: nothing of ours runs there any more.

    def _cancel(self) -> None:
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()


def submit(
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    coroutine: Coroutine[Any, Any, Any],
    done: Callable[[asyncio.Task[Any] | None], None],
) -> Submission:
    """Runs ``coroutine`` as a task of ``loop`` within ``context``; ``done(task)`` is called when
    it ends (``done(None)`` if it was cancelled before it started).

    Raises:
        RuntimeError: The loop is closed.
    """
    submission = Submission(loop)

    def start() -> None:
        if submission._cancelled:
            coroutine.close()
            done(None)
            return
        _create_task(submission, context, coroutine, done)

    loop.call_soon_threadsafe(start)
    return submission


def start_here(
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    coroutine: Coroutine[Any, Any, Any],
    done: Callable[[asyncio.Task[Any] | None], None],
) -> Submission:
    """Like ``submit``, called on the loop's own thread: the task is created at once."""
    submission = Submission(loop)
    _create_task(submission, context, coroutine, done)
    return submission


_EAGER_START = sys.version_info >= (3, 12)
"""Whether tasks can start eagerly (Python 3.12 and later)."""


def _create_task(
    submission: Submission,
    context: contextvars.Context,
    coroutine: Coroutine[Any, Any, Any],
    done: Callable[[asyncio.Task[Any] | None], None],
) -> None:
    """Makes ``coroutine`` a task of the submission's loop, on that loop's thread.

    From Python 3.12, on a loop without a task factory of its own, the task starts eagerly: its
    first step runs now, in this turn of the loop, and a coroutine that ends without waiting on
    anything is done before this returns, its outcome handed over at once rather than on the
    loop's next turn.
    """
    loop = submission._loop
    if _EAGER_START and loop.get_task_factory() is None:
        task: asyncio.Task[Any] = asyncio.Task(coroutine, loop=loop, context=context, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    else:
        task = context.run(loop.create_task, coroutine)
    submission._task = task
    if task.done():
        done(task)
    else:
        task.add_done_callback(done)


_watched: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.ref[Any]] = weakref.WeakKeyDictionary()


def inbox_of(loop: asyncio.AbstractEventLoop) -> Any:
    """The inbox ``loop`` watches, or ``None``."""
    reference = _watched.get(loop)
    return None if reference is None else reference()


def watch(loop: asyncio.AbstractEventLoop, inbox: Any, from_loop_thread: bool) -> bool:
    """Makes ``loop`` call ``inbox()`` whenever its socket is readable; ``False`` if the loop
    cannot watch sockets. The loop holds the inbox until it closes; this module only refers to it.
    """
    # The reader is registered in an empty context: the loop keeps it (and the context it was
    # registered in) for as long as it runs, which must not keep the caller's context variables.
    if from_loop_thread:
        try:
            contextvars.Context().run(loop.add_reader, inbox.fileno(), inbox)
        except NotImplementedError:
            return False
    elif isinstance(loop, asyncio.SelectorEventLoop):
        loop.call_soon_threadsafe(loop.add_reader, inbox.fileno(), inbox, context=contextvars.Context())
    else:
        return False
    _watched[loop] = weakref.ref(inbox)
    return True


_owned: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_owned_lock = threading.Lock()


def owned_loop() -> asyncio.AbstractEventLoop:
    """The event loop the executors own (for executions no running loop awaits), started on
    first use."""
    global _owned
    with _owned_lock:
        if _owned is None or not _owned[1].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="cloacina-event-loop", daemon=True)
            thread.start()
            _owned = (loop, thread)
        return _owned[0]


def close_owned_loop(timeout: float = 1.0) -> None:
    """Cancels what still runs on the owned loop, then stops and closes it (at exit)."""
    global _owned
    with _owned_lock:
        owned, _owned = _owned, None
    if owned is None:
        return
    loop, thread = owned

    async def finish() -> None:
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await loop.shutdown_asyncgens()

    try:
        asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout)
    except Exception:  # At exit, a loop that cannot finish in time is left as it is.
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)
    if not thread.is_alive():
        loop.close()
