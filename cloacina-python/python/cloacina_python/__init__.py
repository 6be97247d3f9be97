"""The names of the binding's first phase: ``PyContext`` and ``PyTask``.

They are the same classes as ``cloacina.Context`` and ``cloacina.Task``::

    from cloacina_python import PyContext, PyTask
"""

from cloacina import Context as PyContext
from cloacina import Task as PyTask

__all__ = ["PyContext", "PyTask"]
