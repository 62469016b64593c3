"""Seeds that do not depend on order: the one home of every seeding rule in geoaug.

* batch jobs and previews: ``(seed, input name, copy)`` -> :func:`rng_for`;
* scene chips: ``(seed, scene, chip index, copy)`` -> :func:`chip_rng`, their windows
  :func:`window_rng`;
* loaders (torch datasets, the Keras iterators, scene datasets): ``(seed, epoch, index)``
  -> :func:`loader_rng`.

No transform keeps generator state. Also the rule for generators nobody passed: a pipeline called without ``rng``
uses :func:`default_generator` keyed on :func:`process_key`, so forked or
spawned processes and DataLoader workers never replay one another's draws.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import weakref

import numpy as np

__all__ = ["chip_rng", "default_generator", "loader_rng", "process_key", "rng_for", "stable_key", "stream_for",
           "unseeded_generator", "window_rng"]


def stable_key(text: str) -> tuple[int, int]:
    """Two 32-bit words from the SHA-256 of ``text`` (the same in every process and Python version)."""
    h = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(h[:4], "little"), int.from_bytes(h[4:8], "little")


def rng_for(seed: int, name: str, copy: int) -> np.random.Generator:
    """The generator of copy ``copy`` of input ``name`` (a relative POSIX path) under ``seed``.

    ``numpy.random.SeedSequence(seed, spawn_key=(*stable_key(name), copy))``:
    independent streams per input and copy, whatever the order or the
    number of workers that compute them.

    Examples
    --------
    >>> a = rng_for(0, "a/b.tif", 1).random()
    >>> a == rng_for(0, "a/b.tif", 1).random() != rng_for(0, "a/b.tif", 2).random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(*stable_key(name), int(copy))))


def chip_rng(seed: int, scene: str, index: int, copy: int = 0) -> np.random.Generator:
    """The generator of copy ``copy`` of chip ``index`` of ``scene``: independent of order and workers.

    ``SeedSequence(seed, spawn_key=(*stable_key(scene), index, copy))``.
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed),
                                                        spawn_key=(*stable_key(scene), int(index), int(copy))))


def window_rng(seed: int, scene: str, index: int) -> np.random.Generator:
    """The generator of the window of chip ``index`` of ``scene`` (its tries follow one another in it).

    :func:`rng_for` ``(seed, scene + "#window", index)``.
    """
    return rng_for(seed, f"{scene}#window", index)


def loader_rng(seed: int, epoch: int, index: int, *streams: int) -> np.random.Generator:
    """The generator of sample ``index`` in ``epoch`` of a loader.

    ``SeedSequence(seed, spawn_key=(epoch, index, *streams))``.

    The same in the main process, in threads and in any worker, so batches do
    not depend on the number of workers; ``streams`` separates several draws of
    one sample (the Keras iterators use stream 0).

    Examples
    --------
    >>> loader_rng(0, 1, 2).random() == loader_rng(0, 1, 2).random() != loader_rng(0, 2, 2).random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(epoch), int(index),
                                                                              *map(int, streams))))


# ------------------------------------------------------------------ per-process default generators
#: ``()`` in the process that imported geoaug first; ``("pid", pid)`` in a forked or spawned child;
#: ``("worker", seed)`` in a torch DataLoader worker (``get_worker_info().seed``)
_process_key: tuple = ()
_checked = False


def _started_as_child() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _after_fork_in_child() -> None:
    global _process_key, _checked, _unseeded
    _process_key, _checked = ("pid", os.getpid()), False
    _unseeded = None  # a forked child (a DataLoader worker) draws its own fresh OS entropy


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
if _started_as_child():  # spawn / forkserver children import geoaug afresh
    _process_key = ("pid", os.getpid())


def _single_threaded_kernels() -> None:
    """numba kernels run on one thread in a DataLoader worker (torch sets its own threads to 1 there)."""
    from .kernels import threads

    threads.configure()
    import numba

    numba.set_num_threads(1)


def process_key() -> tuple:
    """Which process this is, for default generators: ``()``, ``("pid", pid)`` or ``("worker", seed)``.

    ``()`` in the main process; ``("worker", seed)`` in a torch ``DataLoader``
    worker, where ``seed`` is ``torch.utils.data.get_worker_info().seed`` (it
    derives from torch's generator, so ``torch.manual_seed`` before building
    the loader makes it reproducible); ``("pid", pid)`` in any other child
    process (``multiprocessing`` fork, spawn or forkserver). The first call in
    a DataLoader worker also sets numba's thread count to 1 in that worker.
    After the first call in a process this is one global lookup.
    """
    global _process_key, _checked
    if not _checked:
        _checked = True
        torch = sys.modules.get("torch")
        data = getattr(getattr(torch, "utils", None), "data", None)
        info = data.get_worker_info() if data is not None else None
        if info is not None:
            _process_key = ("worker", int(info.seed))
            _single_threaded_kernels()
    return _process_key


#: the generator of transform calls given no ``rng`` in this process (None until the first such call,
#: and again in a forked child)
_unseeded: np.random.Generator | None = None


def unseeded_generator() -> np.random.Generator:
    """The generator of a transform called without ``rng``: fresh OS entropy, drawn once per process.

    ``numpy.random.default_rng()`` on the first call in a process (and again
    in every forked, spawned or DataLoader worker process), then the same
    running generator: each call continues one stream seeded from OS entropy
    instead of reading OS entropy anew (about 8 us a call). As before, such
    calls are not reproducible; pass ``rng`` for that. numpy's generators lock
    around every draw, so threads may share it.

    Returns
    -------
    numpy.random.Generator
    """
    global _unseeded
    gen = _unseeded
    if gen is None:
        gen = _unseeded = np.random.default_rng()
    return gen


#: the running streams of objects called without ``rng`` (pipelines), per object, kept here and not on
#: the object: a transform holds no generator state, and a pickled copy starts its own stream
_streams: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_streams_lock = threading.Lock()


def stream_for(owner: object, seed: int | None) -> np.random.Generator:
    """The running generator of ``owner`` (e.g. a pipeline called without ``rng``) in this process.

    Created on first use as :func:`default_generator` ``(seed, process_key())``
    and kept (weakly) by owner; a new process, a DataLoader worker or a copy
    of ``owner`` starts its own. Successive calls take successive draws.

    Parameters
    ----------
    owner : object
        Whose stream (any weak-referenceable object).
    seed : int or None
        The owner's seed.

    Returns
    -------
    numpy.random.Generator
    """
    key = process_key()
    with _streams_lock:
        got = _streams.get(owner)
        if got is None or got[0] != key:
            got = (key, default_generator(seed, key))
            _streams[owner] = got
        return got[1]


def default_generator(seed: int | None, key: tuple) -> np.random.Generator:
    """The default generator of a pipeline with ``seed`` in the process ``key`` (see :func:`process_key`).

    * main process: ``SeedSequence(seed)`` (fresh OS entropy when ``seed`` is None);
    * DataLoader worker with torch seed ``s``: ``SeedSequence(seed, spawn_key=(1, s mod 2**32, s >> 32))``,
      or ``SeedSequence(s)`` when ``seed`` is None;
    * other child process with id ``pid``: ``SeedSequence(seed, spawn_key=(2, pid))``, or fresh OS entropy.

    So no two processes replay one stream, and DataLoader workers are
    reproducible given the pipeline seed and ``torch.manual_seed``.

    Examples
    --------
    >>> a = default_generator(0, ()).random()
    >>> a == default_generator(0, ()).random() != default_generator(0, ("worker", 7)).random()
    True
    """
    if not key:
        return np.random.default_rng(np.random.SeedSequence(seed))
    kind, value = key
    value = int(value) & 0xFFFFFFFFFFFFFFFF
    if kind == "worker":
        if seed is None:
            return np.random.default_rng(np.random.SeedSequence(value))
        return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1, value & 0xFFFFFFFF, value >> 32)))
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(2, value)))
