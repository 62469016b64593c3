"""What the kernels assume of the processor's caches.

The kernels that read their input ahead (:data:`geoaug.kernels.resize.TOUCH_BYTES`,
:data:`geoaug.kernels.flip.TOUCH_BYTES`) read one item per cache line: the line is the unit memory moves in, so
one load brings all of it.
"""

from __future__ import annotations

__all__ = ["LINE_BYTES", "spare"]

#: bytes per cache line: 64 on x86-64 and on most ARM cores (Apple's M-series use 128; reading every 64 bytes
#: there reads each line twice, which costs a little and changes no result)
LINE_BYTES = 64


def spare(unit_bytes: int) -> int:
    """Units of ``unit_bytes`` (a row, an item) to leave after each worker's block of per-thread scratch, so that
    the block ends at least a cache line before the next worker's: two threads' writes then never meet in one
    line, which passes between their cores on every write (false sharing; the blur's rows of sums and the band
    moments' group sums: docs/benchmarks.md, "The blur's threads")."""
    return -(-LINE_BYTES // unit_bytes)
