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
saves of one function are serial: each reads the index the previous one wrote. Loads take the lock
shared: a save writes the index before the data, and after a source change (an upgrade, an edit) the
name it takes can be that of a stale data file, which a load between the two writes would read as the
new signature's code. Where ``fcntl`` is missing (Windows), the lock file cannot be opened, or the file
system refuses locks (``ENOLCK`` on some network mounts), saves and loads run as numba's do.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _locked(path: str, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or shared) ``flock`` on ``path`` (created if missing); no lock where none can be had."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # a cache folder numba can write but this file not: save as numba does
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError:  # a file system without locks (ENOLCK on some network mounts): as numba does
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


class LockedCacheFile(IndexDataCacheFile):
    """numba's index and data files of one function, saved under an exclusive file lock, loaded under a shared one."""

    def save(self, key: Any, data: Any) -> None:
        """Save ``data`` for ``key`` (reads the index, adds the entry, writes both) with the lock held."""
        with _locked(self._index_path + ".lock"):
            super().save(key, data)

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
