"""numba's on-disk cache of the kernels, written by one process at a time.

Every kernel is compiled with ``cache=True``: numba keeps, per function, an index file (``.nbi``, a
signature to data file table) and one data file (``.nbc``) per signature. Saving a new signature reads
the index, picks the first free data file name, writes the index back, then writes the data. Two
processes that save signatures of the same function at the same moment each read the index before the
other wrote it: they pick the *same* data file name, one index entry is lost, and when the data
writes land in the other order than the index writes, the index names a data file that holds the other
signature's machine code. A later process then loads code compiled for other argument types (a crash,
or a wrong result), not a cache miss. In tests/test_diskcache.py (three processes' saves started
together, ten trials, the index read slowed by 50 ms as on a slow disk), numba 0.68's files lost an entry
in every trial and named another signature's data in 0 to 3 of the ten; the locked files in none.

That is every process model geoaug runs in with an empty cache: Dask workers and DataLoader workers
compiling one kernel for different dtypes, a test suite spread over processes. :func:`lock_disk_cache`
gives the kernels' cache files an exclusive lock (``flock`` on ``<index>.lock``) around each save, so
saves of one function are serial: each reads the index the previous one wrote. A save writes the data
before the index (numba writes the index first: after a source change, an upgrade or an edit, the name
a save takes can be a stale data file's, which a load between the writes, or after a save that died
between them, would run as the new signature's code). Loads take the lock shared. A lock is local to
one host on network mounts without lock support across hosts (NFS ``nolock`` / ``local_lock``). Where
``fcntl`` is missing (Windows), the lock file cannot be opened, or the file system refuses locks
(``ENOLCK`` on some network mounts), saves and loads run as numba's do.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from typing import Any

from numba.core.caching import IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LockedCacheFile", "lock_disk_cache"]


#: descriptors holding a lock in this process: a child forked meanwhile closes its copies (a flock belongs to
#: the open file, so a child that kept them would hold the parent's lock for as long as it lives)
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited)


@contextlib.contextmanager
def _locked(path: str, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or shared) ``flock`` on ``path`` (created if missing); no lock where none can be had."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        try:  # a lock file another user made, readable only: a local flock works on a read-only descriptor
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # no lock file to be had: as numba does
            yield
            return
    _HELD.add(fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError:  # a file system without locks (ENOLCK on some network mounts): as numba does
            pass
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)  # releases the lock


class LockedCacheFile(IndexDataCacheFile):
    """numba's index and data files of one function, saved under an exclusive file lock, loaded under a shared one."""

    def save(self, key: Any, data: Any) -> None:
        """Save ``data`` for ``key`` with the lock held: the data first, then the index that names it.

        numba writes the index first: a process that dies between the two writes (killed, interrupted, a
        full disk) leaves an index naming a data file that may be a stale one's. Data first, an
        interrupted save leaves at most a file no index names.
        """
        with _locked(self._index_path + ".lock"):
            overloads = self._load_index()
            name = overloads.get(key)
            if name is None:
                taken = set(overloads.values())
                name = next(n for n in (self._data_name(i) for i in itertools.count(1)) if n not in taken)
            self._save_data(name, data)
            if overloads.get(key) != name:
                overloads[key] = name
                self._save_index(overloads)

    def flush(self) -> None:
        """Empty the index (numba's ``recompile``), with the lock held."""
        with _locked(self._index_path + ".lock"):
            super().flush()

    def load(self, key: Any) -> Any:
        """The data saved for ``key`` (None: not cached), read when no save is under way."""
        with _locked(self._index_path + ".lock", shared=True):
            return super().load(key)


def lock_disk_cache(namespace: dict[str, Any]) -> None:
    """Give every cached numba dispatcher in ``namespace`` (a module's ``globals()``) the locked cache file.

    Each kernel module calls it last, on its own globals. Idempotent; dispatchers without a disk cache are
    left alone.
    """
    for obj in list(namespace.values()):
        if not isinstance(obj, Dispatcher):
            continue
        cache_file = getattr(getattr(obj, "_cache", None), "_cache_file", None)
        if type(cache_file) is IndexDataCacheFile:
            cache_file.__class__ = LockedCacheFile
