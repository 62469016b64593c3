"""numba's threading layer, chosen so that kernels run in every process model.

Why this module exists
----------------------
numba runs ``parallel=True`` kernels on one of three threading layers, picked
at the first parallel call of a process:

* ``omp`` (GNU OpenMP, numba's default where TBB is missing) is **not
  fork-safe**: once a kernel has run, a forked child that runs one is killed
  ("fork() called from a process already using GNU OpenMP") or hangs. That is
  torch's ``DataLoader`` with its Linux default, ``multiprocessing.Pool`` and
  Keras' ``use_multiprocessing=True``.
* ``workqueue`` is fork-safe but aborts the process when two threads launch
  kernels at once (Keras thread workers, a thread pool).
* ``tbb`` is safe for both, and keeps the kernels parallel.

So geoaug depends on the ``tbb`` wheel and selects it. The wheel installs
``libtbb.so.12`` into the environment's ``lib/`` folder, which the dynamic
loader does not search; :func:`configure` loads it from there (global
symbols) before numba looks for it. Where TBB cannot be loaded, geoaug falls
back to ``workqueue`` and serialises kernel launches with a process-wide lock
(:data:`launch_lock`), which keeps fork and threads safe at the cost of
parallel calls from several threads.

A layer named by the user (``NUMBA_THREADING_LAYER``) is respected.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import importlib
import os
import sys
import threading
import warnings

import numba
from numba.np.ufunc import parallel as _parallel

__all__ = ["configure", "launch_lock", "num_threads", "threading_layer"]

#: held around every kernel launch that may open a parallel region when the layer is not thread-safe (workqueue);
#: a no-op otherwise. A one-thread kernel opens none and needs no lock (the serial copy of kernels/flip.py)
launch_lock: contextlib.AbstractContextManager = contextlib.nullcontext()
_chosen: str | None = None


def _tbb_candidates() -> list[str]:
    """Where a pip-installed libtbb may be: this environment's lib/ and the base interpreter's."""
    names = ("libtbb.so.12", "libtbb.12.dylib", "tbb12.dll")
    out: list[str] = []
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        for sub in ("lib", "Library/bin", "Library/lib"):
            for name in names:
                out.extend(sorted(glob.glob(os.path.join(prefix, sub, name + "*"))))
    return out


def _load_tbb() -> bool:
    """Make libtbb visible to numba's tbbpool module; True when the tbb layer can load."""
    try:
        importlib.import_module("numba.np.ufunc.tbbpool")  # already loadable: a system TBB
        return True
    except ImportError:
        pass
    for lib in _tbb_candidates():
        try:
            ctypes.CDLL(lib, mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        except OSError:
            continue
        try:
            importlib.import_module("numba.np.ufunc.tbbpool")
            return True
        except ImportError:
            continue
    return False


def configure() -> str:
    """Choose numba's threading layer for geoaug's kernels (idempotent; called on import).

    Returns
    -------
    str
        The layer that will be used: ``"tbb"``, ``"workqueue"``, or the one
        the user named with ``NUMBA_THREADING_LAYER``.
    """
    global _chosen, launch_lock
    if _chosen is not None:
        return _chosen
    asked = str(numba.config.THREADING_LAYER).lower()
    if _parallel._is_initialized:
        # numba already launched threads in this process (another library): its layer stands
        _chosen = _parallel.threading_layer()
    elif asked not in ("default", ""):
        _chosen = asked
    elif _load_tbb():
        numba.config.THREADING_LAYER = "tbb"
        _chosen = "tbb"
    else:
        numba.config.THREADING_LAYER = "workqueue"
        _chosen = "workqueue"
        warnings.warn(
            "geoaug: Intel TBB could not be loaded (pip install tbb); numba's workqueue threading layer is "
            "used, and kernels launched from several threads at once run one after another",
            RuntimeWarning,
            stacklevel=2,
        )
    if _chosen == "workqueue":
        # workqueue aborts the process on concurrent launches
        launch_lock = threading.RLock()
    return _chosen


def num_threads() -> int:
    """``numba.get_num_threads()``, without its two launch locks once numba's threads are up.

    ``numba.get_num_threads`` takes a process-wide and a thread lock on every
    call (0.7 µs); once the threads are launched the count is one call into
    the threading layer (0.1 µs). The count is per thread, as numba's:
    ``numba.set_num_threads`` in this thread is seen at once.
    """
    if _parallel._is_initialized:
        get = getattr(_parallel, "_get_num_threads", None)
        if get is not None and (n := get()) > 0:
            return n
    return numba.get_num_threads()


def threading_layer() -> str:
    """The threading layer geoaug's kernels run on in this process (``"tbb"``, ``"workqueue"``, ``"omp"``)."""
    if _parallel._is_initialized:
        return _parallel.threading_layer()
    return configure()
