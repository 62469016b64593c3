"""``borrowing_jit``: compile a kernel that only reads and writes the arrays it is given, without reference counts.

Numba counts references to every array a compiled function holds: each array argument is incremented
on entry and decremented when it dies, by calls into numba's runtime that make an atomic update.
Numba removes most such pairs, but not where a function branches and drops different arrays on
different paths, nor in the copies ``inline="always"`` makes of array arguments. Those that stayed
ran once per call of a per-row helper: in a 13 x 64² Resize the calls took 26 % of the time
(``perf``: ``NRT_incref`` / ``NRT_decref``), in a 1 x 512² bilinear warp 21 %, and in the cubic warp
they kept LLVM from vectorising the interpolation.

A kernel compiled with ``borrowing_jit`` borrows its arrays from the caller, which holds them for
the whole call: it makes no count at all. It must not allocate an array, return one or keep one
beyond the call (numba refuses to compile an allocation without its runtime); views of its
arguments (``a[i]``, ``a.reshape(n)``) are fine. Called from Python, the arguments are held by the
caller's frame; called from another kernel, by that kernel.
"""

from __future__ import annotations

import numba as nb

__all__ = ["borrowing_jit"]


def borrowing_jit(**options):
    """``numba.njit(cache=True, nogil=True, _nrt=False, **options)``: see the module docstring."""
    return nb.njit(cache=True, nogil=True, _nrt=False, **options)
