"""numba's on-disk cache of the kernels saved by several processes at once (geoaug/kernels/diskcache.py)."""

from __future__ import annotations

import errno
import fcntl
import gc
import importlib
import multiprocessing as mp
import os
import pkgutil
import time
from pathlib import Path

import numpy as np
import pytest
from numba.core.caching import IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

import geoaug
import geoaug.kernels
from geoaug.kernels import diskcache
from geoaug.kernels.diskcache import LockedCacheFile

PROCESSES = 3
TRIALS = 10
PAYLOAD = b"x" * 200_000  # about a compiled kernel's size


def _slow_index(cls: type) -> type:
    """``cls`` on a slow disk: 50 ms between reading the index and going on to write it, the window in which
    numba's saves collide (a loaded machine lets the processes started together run one after the other
    otherwise, and the saves of a bare harness then seldom overlap)."""

    class SlowIndex(cls):
        def _load_index(self) -> dict:
            overloads = super()._load_index()
            time.sleep(0.05)
            return overloads

    return SlowIndex


def _save_all(cls: type, root: str, who: int, barrier: object) -> None:
    """In a child: for each trial, wait for the others, then save this process' own signature."""
    for t in range(TRIALS):
        f = cls(cache_path=f"{root}/{t}", filename_base="kernel", source_stamp="stamp")
        barrier.wait(timeout=60)
        f.save(f"signature {who}", (f"signature {who}", PAYLOAD))


def _collide(cls: type, root: Path) -> tuple[int, int]:
    """Trials (of TRIALS) in which an index entry was lost, and in which one named another signature's data."""
    for t in range(TRIALS):
        (root / str(t)).mkdir()
    ctx = mp.get_context("fork")  # the children run numba's cache classes only, no kernel
    barrier = ctx.Barrier(PROCESSES)
    slow = _slow_index(cls)
    procs = [ctx.Process(target=_save_all, args=(slow, str(root), who, barrier), daemon=True)
             for who in range(PROCESSES)]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
            assert p.exitcode == 0
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
    lost = wrong = 0
    for t in range(TRIALS):
        f = IndexDataCacheFile(cache_path=str(root / str(t)), filename_base="kernel", source_stamp="stamp")
        got = [f.load(f"signature {who}") for who in range(PROCESSES)]
        lost += any(g is None for g in got)
        wrong += any(g is not None and g[0] != f"signature {who}" for who, g in enumerate(got))
    return lost, wrong


def test_saves_from_processes_at_once_keep_every_signature_and_its_own_code(tmp_path: Path) -> None:
    # numba's own files under the same collisions: entries lost (and some naming another signature's code),
    # so the harness does make the saves collide
    (tmp_path / "numba").mkdir()
    lost, _ = _collide(IndexDataCacheFile, tmp_path / "numba")
    assert lost > 0
    # the kernels' files: every signature saved, each index entry naming its own data
    (tmp_path / "locked").mkdir()
    assert _collide(LockedCacheFile, tmp_path / "locked") == (0, 0)
    assert list((tmp_path / "locked" / "0").glob("kernel*.nbi.lock"))  # the lock beside the index


def _save_slowly(cls: type, folder: str, indexed: object) -> None:
    """In a child: save one signature, waiting 1 s after its index write (before its data write in numba's
    order; with the lock still held in the kernels')."""

    class SlowData(cls):
        def _save_index(self, overloads: dict) -> None:
            super()._save_index(overloads)
            indexed.set()
            time.sleep(1.0)  # the parent's load runs in this window (long enough for a loaded machine)

    SlowData(cache_path=folder, filename_base="kernel", source_stamp="new").save("signature 1",
                                                                                 ("signature 1", PAYLOAD))


def _stale_cache(folder: Path) -> Path:
    """``folder`` holding a cache left by the source before a change: its data file 1 holds another
    signature's code (a save after the change takes that name again)."""
    folder.mkdir()
    IndexDataCacheFile(cache_path=str(folder), filename_base="kernel", source_stamp="old").save(
        "signature 0", ("signature 0", b"stale"))
    return folder


def test_a_load_during_a_save_reads_the_new_data_not_a_stale_file(tmp_path: Path) -> None:
    got = {}
    for cls in (IndexDataCacheFile, LockedCacheFile):
        folder = _stale_cache(tmp_path / cls.__name__)
        ctx = mp.get_context("fork")
        indexed = ctx.Event()
        p = ctx.Process(target=_save_slowly, args=(cls, str(folder), indexed))
        p.start()
        # numba's save: the new index names data file 1 for signature 1, its data not written yet; the locked
        # save: both written, its lock held for the second more
        assert indexed.wait(60)
        got[cls] = cls(cache_path=str(folder), filename_base="kernel", source_stamp="new").load("signature 1")
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got[IndexDataCacheFile][0] == "signature 0"  # numba's load: the stale code, as signature 1's
    assert got[LockedCacheFile] == ("signature 1", PAYLOAD)  # the locked load waited for the save


class _Interrupted(Exception):
    pass


def test_a_save_interrupted_between_its_writes_leaves_no_index_naming_a_stale_file(tmp_path: Path) -> None:
    got = {}
    for cls in (IndexDataCacheFile, LockedCacheFile):
        folder = _stale_cache(tmp_path / cls.__name__)

        class DiesAtTheSecondWrite(cls):  # killed, interrupted, or a full disk between the two writes
            writes = 0

            def _save_index(self, overloads: dict) -> None:
                self._write(lambda: super(DiesAtTheSecondWrite, self)._save_index(overloads))

            def _save_data(self, name: str, data: object) -> None:
                self._write(lambda: super(DiesAtTheSecondWrite, self)._save_data(name, data))

            def _write(self, write: object) -> None:
                type(self).writes += 1
                if type(self).writes == 2:
                    raise _Interrupted
                write()

        with pytest.raises(_Interrupted):
            DiesAtTheSecondWrite(cache_path=str(folder), filename_base="kernel", source_stamp="new").save(
                "signature 1", ("signature 1", PAYLOAD))
        got[cls] = cls(cache_path=str(folder), filename_base="kernel", source_stamp="new").load("signature 1")
    assert got[IndexDataCacheFile][0] == "signature 0"  # numba's: the stale code, as signature 1's
    assert got[LockedCacheFile] is None  # the kernels': a miss, and numba compiles


def test_a_child_forked_while_a_lock_is_held_does_not_keep_it(tmp_path: Path) -> None:
    lock = str(tmp_path / "kernel.nbi.lock")
    ctx = mp.get_context("fork")
    with diskcache._locked(lock):
        child = ctx.Process(target=time.sleep, args=(30,), daemon=True)
        child.start()  # forked while this process holds the lock
    try:
        t0 = time.monotonic()
        with diskcache._locked(lock):  # in another process, a lock the sleeping child would keep held
            pass
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError while the child holds it
        finally:
            os.close(fd)
        assert time.monotonic() - t0 < 25
    finally:
        child.kill()


def test_flush_empties_the_index_under_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = LockedCacheFile(cache_path=str(tmp_path), filename_base="kernel", source_stamp="stamp")
    f.save("signature 0", ("signature 0", PAYLOAD))
    taken = []
    real = diskcache._locked

    def spy(path: str, shared: bool = False) -> object:
        taken.append(shared)
        return real(path, shared)

    monkeypatch.setattr(diskcache, "_locked", spy)
    f.flush()  # what numba's Dispatcher.recompile() does
    assert taken == [False] and f.load("signature 0") is None


def test_a_file_system_without_locks_saves_and_loads_as_numba_does(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def no_locks(fd: int, op: int) -> None:
        calls.append(op)
        raise OSError(errno.ENOLCK, "No locks available")  # as some network mounts answer

    monkeypatch.setattr(diskcache.fcntl, "flock", no_locks)
    f = LockedCacheFile(cache_path=str(tmp_path), filename_base="kernel", source_stamp="stamp")
    f.save("signature 0", ("signature 0", PAYLOAD))
    assert f.load("signature 0") == ("signature 0", PAYLOAD) and f.load("signature 1") is None
    assert len(calls) == 3  # it did ask for the lock each time


def test_every_kernel_saves_under_the_lock() -> None:
    for mod in pkgutil.iter_modules(geoaug.kernels.__path__):
        importlib.import_module(f"geoaug.kernels.{mod.name}")
    # kernels compiled through the transforms (dispatchers made at run time would show up here too)
    x = np.arange(3 * 40 * 40, dtype=np.uint16).reshape(3, 40, 40)
    pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Affine(rotate=(5, 5)), geoaug.Resize(24, 24),
                           geoaug.GaussianBlur(sigma=(1, 1)), geoaug.Brightness((0.1, 0.1))])
    pipe(x, rng=np.random.default_rng(0))
    # every dispatcher of geoaug's with a disk cache; the others are @overload implementations that numba
    # compiles into their callers (a NullCache: nothing saved of their own)
    # (type(), not isinstance(): gc also lists dead weak proxies, which isinstance() would dereference)
    kernels = [o for o in gc.get_objects()
               if issubclass(type(o), Dispatcher) and getattr(o.py_func, "__module__", "").startswith("geoaug")]
    files = [(f"{k.py_func.__module__}.{k.py_func.__qualname__}", getattr(k._cache, "_cache_file", None))
             for k in kernels]
    saved = [(name, f) for name, f in files if f is not None]
    assert len(saved) > 50 and all(".<locals>." in name for name, f in files if f is None)
    assert [name for name, f in saved if type(f) is not LockedCacheFile] == []
