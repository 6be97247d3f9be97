"""Task logs: the records Python's ``logging`` makes while a task runs, kept with its attempt.

While a task function runs, ``_native._task_log_capture()`` returns the capture of its attempt:
for a plain function, noted on its thread for the length of the call and made when first asked
for (so a task that logs nothing costs no capture); for a coroutine, held by ``CURRENT`` in the
context it runs in. Hooks installed once, when the first attempt runs, ask for it:

- ``Logger.isEnabledFor`` also says yes to a level the capture keeps, so that ``log.info(...)``
  in a task makes a record even where the logging configuration would not (the default root
  level is ``WARNING``);
- ``Logger.callHandlers`` gives each record handled in a task the attributes ``execution_id``,
  ``workflow``, ``task_id`` and ``attempt`` (unless the call's ``extra`` set them), for a
  formatter or a log shipper; hands it to the capture if its level is kept; and passes it to
  the configured handlers only if the configuration would have made it, so what the process's
  own logging prints does not change;
- with ``log_prints``, ``print`` to standard output is also kept (and still printed).

Outside a task, each hook costs one call that finds nothing.
"""

from __future__ import annotations

import builtins
import io
import logging
import sys
import threading
import time
import traceback
from contextvars import ContextVar
from typing import Any, Protocol

from cloacina._native import _task_log_capture


class Capture(Protocol):
    """What the engine gives an attempt (``cloacina._native._TaskLogCapture``)."""

    level: int
    log_prints: bool
    execution_id: str
    workflow: str
    task_id: str
    attempt: int

    def keep(self, time: float, level: int, level_name: str, logger: str, message: str) -> None: ...


CURRENT: ContextVar[Capture | None] = ContextVar("cloacina_task_log", default=None)
"""The capture of the attempt whose coroutine runs in this context, if any."""


def _current() -> Capture | None:
    """The capture of the attempt whose code runs here, if any."""
    return _task_log_capture()  # type: ignore[return-value]


PRINT_LOGGER = "print"
"""The logger name of a kept ``print``."""

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Installs the hooks (once; later calls do nothing)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        _install_level_check()
        _install_handler_call()
        _install_print()


def _install_level_check() -> None:
    configured = logging.Logger.isEnabledFor

    def isEnabledFor(self: logging.Logger, level: int) -> bool:  # noqa: N802 (logging's name)
        if configured(self, level):
            return True
        capture = _current()
        return capture is not None and level >= capture.level and not self.disabled and self.manager.disable < level

    isEnabledFor.__doc__ = configured.__doc__
    logging.Logger.isEnabledFor = isEnabledFor  # type: ignore[method-assign]
    logging.Logger._cloacina_configured_is_enabled_for = configured  # type: ignore[attr-defined]


def _install_handler_call() -> None:
    call_handlers = logging.Logger.callHandlers
    configured = logging.Logger._cloacina_configured_is_enabled_for  # type: ignore[attr-defined]

    def callHandlers(self: logging.Logger, record: logging.LogRecord) -> None:  # noqa: N802
        capture = _current()
        if capture is not None:
            attributes = record.__dict__
            attributes.setdefault("execution_id", capture.execution_id)
            attributes.setdefault("workflow", capture.workflow)
            attributes.setdefault("task_id", capture.task_id)
            attributes.setdefault("attempt", capture.attempt)
            if record.levelno >= capture.level:
                capture.keep(record.created, record.levelno, record.levelname, record.name, _message(record))
                if not configured(self, record.levelno):
                    return  # Made only to be kept: the configuration would not have made it.
        call_handlers(self, record)

    callHandlers.__doc__ = call_handlers.__doc__
    logging.Logger.callHandlers = callHandlers  # type: ignore[method-assign]


def _install_print() -> None:
    printed = builtins.print

    def print(
        *values: object, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        capture = _current()
        if capture is not None and capture.log_prints and (file is None or file is sys.stdout):
            if capture.level <= logging.INFO:
                text = io.StringIO()
                printed(*values, sep=sep, end="", file=text)
                capture.keep(time.time(), logging.INFO, "INFO", PRINT_LOGGER, text.getvalue())
        printed(*values, sep=sep, end=end, file=file, flush=flush)

    print.__doc__ = printed.__doc__
    builtins.print = print


def _message(record: logging.LogRecord) -> str:
    """The record's message as a handler would show it, with its traceback and stack if any;
    never raises (a record whose arguments do not fit its format says so)."""
    try:
        message = record.getMessage()
    except Exception as error:  # a bad format in the task's own logging call
        message = f"{record.msg!r} % {record.args!r} (cannot be formatted: {error})"
    if record.exc_info and record.exc_info[0] is not None:
        message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    elif record.exc_text:
        message += "\n" + record.exc_text
    if record.stack_info:
        message += "\n" + record.stack_info
    return message
