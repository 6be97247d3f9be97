"""Ending the process at once, as the interpreter's own exit would have ended it.

At exit, a task function that cannot be stopped may still be running in a thread of the engine;
were the interpreter to finalize around it, the thread would be killed mid-call and the process
abort. So the engine ends the process instead, without finalizing: output is flushed and logging
shut down first, and the status is the one the interpreter would have returned.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn


def _status() -> int:
    """The interpreter's exit status: 1 after an uncaught exception, else 0.

    A `SystemExit` status cannot be known here (the interpreter keeps it to itself); it ends
    the process with 0.
    """
    last = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    return 1 if last is not None and not hasattr(sys, "ps1") else 0


def end_process() -> NoReturn:
    """Ends the process now: after an uncaught Ctrl-C by SIGINT, as Python does; else with
    `os._exit` and the status the interpreter would have returned."""
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # A closed or broken stream has nothing left to flush.
            pass
    last = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(last, KeyboardInterrupt):
        if os.name == "posix":
            # Killed by SIGINT, as Python itself ends after an uncaught Ctrl-C.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        # Windows: STATUS_CONTROL_C_EXIT, the status Python ends with there after Ctrl-C.
        os._exit(0xC000013A)
    os._exit(_status())
