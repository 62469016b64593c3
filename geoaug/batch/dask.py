"""Dask for the batch job: a local cluster or a remote scheduler, one single-threaded worker per core."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None, numba_threads: int | None = None) -> Iterator[Any]:
    """A client of ``scheduler``, or of a local cluster of ``workers`` processes (closed afterwards).

    Local workers get ``numba_threads`` numba threads each (default: cores / workers).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    threads = numba_threads or max(1, (os.cpu_count() or 1) // max(1, workers or 1))
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=64 KiB in workers; that switches off glibc's
    # adaptive mmap threshold, so every large array is a fresh mmap and page-faults: tasks ran
    # 1.6x slower. Unset it for the clusters we start (see docs/cli.md for existing clusters).
    # The workers' statistical profiler samples every thread's stack every 10 ms; with one
    # worker per core it competed with the tasks (measured: 2 workers were 1.1x one). Off here.
    # NUMBA_NUM_THREADS must be in the environment before the worker imports numba: the nanny's
    # `env` arrives too late (each worker then ran 2 numba threads on 2 cores: 2 workers were
    # 1.1x one), so it goes into the pre-spawn environment.
    settings = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                "distributed.nanny.pre-spawn-environ.NUMBA_NUM_THREADS": str(threads),
                "distributed.worker.profile.enabled": False}
    # the nanny lets this process's environment override that configuration (and writes the
    # pre-spawn values into it), so the variable is set here too while the workers start
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    import signal

    try:  # workers inherit an ignored SIGINT: Ctrl-C stops the client, which stops them (no tracebacks)
        saved_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        saved_int = None
    try:
        with dask.config.set(settings):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   env={"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "1"})
    finally:
        if saved_int is not None:
            signal.signal(signal.SIGINT, saved_int)
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = saved
    from .worker_logs import QuietClosePlugin

    client = Client(cluster)
    try:
        client.register_plugin(QuietClosePlugin())  # no traceback from a worker closed mid-heartbeat
        yield client
    finally:
        client.close()
        cluster.close()
