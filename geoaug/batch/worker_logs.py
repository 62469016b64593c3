"""Quiet worker logs at close: local Dask workers share the command's stderr.

Imported only where a local cluster starts (it imports ``distributed``).
"""

from __future__ import annotations

import logging
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["QuietClose", "QuietClosePlugin"]

#: loggers whose handlers print a worker's messages: dask attaches its stderr handler to the
#: first two; the root logger's handlers catch the rest
WORKER_LOGGERS = ("distributed", "tornado", "")


class QuietClose(logging.Filter):
    """Drop a worker's log records once the worker is closing.

    A worker closed while its heartbeat waits on a busy scheduler (Ctrl-C
    during a run) logs "Failed to communicate with scheduler during
    heartbeat" with a traceback. The workers geoaug starts write to the
    command's stderr, so that traceback would end a run stopped on purpose.
    Records of a running worker pass.

    Parameters
    ----------
    worker : distributed.Worker
        The worker whose ``status`` decides.
    """

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` prints: not once the worker is closing or closed."""
        return getattr(self.worker.status, "name", "") not in ("closing", "closed")


class QuietClosePlugin(WorkerPlugin):
    """Install :class:`QuietClose` on every worker of the cluster, restarted ones included."""

    name = "geoaug-quiet-close"

    def setup(self, worker: Any) -> None:
        """Put one :class:`QuietClose` on each handler of :data:`WORKER_LOGGERS` (a restart replaces it)."""
        for name in WORKER_LOGGERS:
            for handler in logging.getLogger(name).handlers:
                handler.filters = [f for f in handler.filters if not isinstance(f, QuietClose)]
                handler.addFilter(QuietClose(worker))
