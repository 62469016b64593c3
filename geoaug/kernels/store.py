"""Write computed band values back into a raster's dtype: round, saturate, keep NaN out, avoid nodata.

Two entry points, each **one kernel call for all bands** (one parallel region,
or none: below :data:`SERIAL_BELOW` values the serial twin runs):

* :func:`store_bands`: values computed elsewhere (``new``, in the work dtype);
* :func:`store_affine`: per-band ``(x - a_b) * s_b + c_b`` (or ``/ s_b``)
  computed inside the kernel, in the dtype of ``a``/``s``/``c``, with no
  temporary array: Brightness, BandGain, Contrast, PCAJitter, Normalize, ToFloat.

In place (the output is the input's memory, as pipelines do on their own
intermediates: :func:`same_memory`), each runs a compiled entry that is given
the one array for both: with two array arguments LLVM guards its vectorised
loop with an overlap test, which the same memory fails, and ran the scalar
loop instead (12x slower on a 512 x 512 uint16 band).

Rules (the spectral transforms' contract): only valid pixels are written; a NaN
result keeps the old value (``nan_zero``: becomes 0); integers are rounded half
to even and saturated to the dtype's range, floats clipped to ``[lo, hi]`` when
``clip``; a valid pixel never ends on ``nodata``: it gets ``safe``.
"""

from __future__ import annotations

import functools

import numba as nb
import numpy as np

from . import threads
from .borrowing import borrowing_jit
from .buffers import same_memory
from .diskcache import lock_disk_cache
from .dtypes import limits as _limits
from .resize import work_value

__all__ = ["SERIAL_BELOW", "store_affine", "store_band", "store_bands"]

#: below this many values (bands x rows x cols) the kernels run on one thread (at 2 threads a Normalize of
#: 187,200 values took 0.86 of its 1-thread time, of 65,536 values 1.10)
SERIAL_BELOW = 1 << 17


@nb.njit(cache=True, inline="always")
def _put(v, old, out, k, valid, lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe):  # pragma: no cover
    if not valid:
        out[k] = old  # invalid pixels keep their value (cast to out's dtype): out need not be initialised
        return
    if np.isnan(v):
        if nan_zero:
            out[k] = 0
        else:
            out[k] = old
        return
    if is_int:
        v = np.rint(v)
    if clip:
        if v < lo:
            v = lo
        elif v > hi:
            v = hi
    out[k] = v
    if has_nodata and out[k] == nodata:
        out[k] = safe


@nb.njit(cache=True, inline="always")
def _row_new(r, per_row, nplanes, new, old, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata, nodata,
             safe):  # pragma: no cover - numba
    # row r of the flattened (bands * rows): band r // rows
    rows = per_row[0]
    cols = per_row[1]
    b = r // rows
    i = r - b * rows
    base = r * cols
    vbase = ((b if nplanes > 1 else 0) * rows + i) * cols
    for j in range(cols):
        k = np.uint64(base + j)
        ok = True if nplanes == 0 else valid[np.uint64(vbase + j)]
        _put(new[k], old[k], out, k, ok, lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


@borrowing_jit()
def _store_ser(u0, u1, per_row, nplanes, new, old, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata, nodata,
               safe):  # pragma: no cover - numba
    for r in range(u0, u1):
        _row_new(r, per_row, nplanes, new, old, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


# Each parallel entry runs its serial twin on contiguous shares of the units, one call per share. With the row
# loop inlined into the parfor (numba's inline="always"), numba typed and lowered every store path a second time
# there; calling the twin, it links the twin's compiled code and only LLVM sees it again. Through the twin's
# address (kernels/indirect.py) the compile would be shorter still, but the key of the address, the arrays' dtypes
# and flags, cost 1.3-2.3 µs a call (a 1 x 512² uint16 store at 2 threads takes about 26 µs)
@nb.njit(cache=True, parallel=True, nogil=True)
def _store_par(nunits, nchunks, per_row, nplanes, new, old, valid, out, lo, hi, is_int, clip, nan_zero,
               has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _store_ser(k * nunits // nchunks, (k + 1) * nunits // nchunks, per_row, nplanes, new, old, valid, out, lo, hi,
                   is_int, clip, nan_zero, has_nodata, nodata, safe)


# In place (``old`` is ``out``, ``x`` is ``out``): entries that pass the one array for both. Given two array
# arguments, LLVM checks at run time whether their ranges overlap and, when they do (they are the same
# memory), runs the scalar loop: in place was 12x slower than into a new array (a 512 x 512 uint16 band:
# 0.27 ms against 0.02 ms). One array read and written at the same index needs no check.
@borrowing_jit()
def _store_ser_ip(u0, u1, per_row, nplanes, new, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata, nodata,
                  safe):  # pragma: no cover - numba
    for r in range(u0, u1):
        _row_new(r, per_row, nplanes, new, out, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


@nb.njit(cache=True, parallel=True, nogil=True)
def _store_par_ip(nunits, nchunks, per_row, nplanes, new, valid, out, lo, hi, is_int, clip, nan_zero,
                  has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _store_ser_ip(k * nunits // nchunks, (k + 1) * nunits // nchunks, per_row, nplanes, new, valid, out, lo, hi,
                      is_int, clip, nan_zero, has_nodata, nodata, safe)


@nb.njit(cache=True, inline="always")
def _masked_loop(x, out, valid, every, base, vbase, n, ab, sb, cb, div, lo, hi, is_int,
                 nan_zero):  # pragma: no cover - numba
    # (x - a) * s + c (/ s with div) on a stretch of one band, one branch-free loop for every dtype: integers
    # round (a select on a loop constant), every result saturates to [lo, hi] (store_affine passes -inf, inf
    # for unclipped floats), a NaN result is 0 with nan_zero, else x. The mask is a select: a valid pixel gets
    # the result, an invalid one keeps x (through the work dtype, which holds every value of x's dtype
    # exactly), whatever the mask's pattern, so the loop vectorises. ``every``: no mask planes (all valid), a
    # loop constant the compiler takes out of the loop.
    z = ab - ab
    if div:
        for j in range(n):
            k = np.uint64(base + j)
            xv = work_value(x[k], ab)
            v = (xv - ab) / sb + cb
            r = np.rint(v) if is_int else v
            res = min(max(r, lo), hi) if v == v else (z if nan_zero else xv)
            out[k] = res if (every or valid[np.uint64(vbase + j)]) else xv
    else:
        for j in range(n):
            k = np.uint64(base + j)
            xv = work_value(x[k], ab)
            v = (xv - ab) * sb + cb
            r = np.rint(v) if is_int else v
            res = min(max(r, lo), hi) if v == v else (z if nan_zero else xv)
            out[k] = res if (every or valid[np.uint64(vbase + j)]) else xv


@nb.njit(cache=True, inline="always")
def _masked_unit(u, nsplit, plane, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, nan_zero, has_nodata,
                 nodata, safe):  # pragma: no cover - numba
    # unit u: a contiguous stretch of band u // nsplit, its mask plane alongside; then valid results that
    # landed on nodata move to safe (one more branch-free pass: store_affine takes this path with a nodata
    # only when no result can be NaN)
    b = u // nsplit
    part = u - b * nsplit
    off = plane * part // nsplit
    n = plane * (part + 1) // nsplit - off
    base = b * plane + off
    vbase = (b if nplanes > 1 else 0) * plane + off if nplanes else 0
    every = nplanes == 0
    _masked_loop(x, out, valid, every, base, vbase, n, a[b], s[b], c[b], div, lo, hi, is_int, nan_zero)
    if has_nodata:
        for j in range(n):
            k = np.uint64(base + j)
            o = out[k]
            out[k] = safe if (o == nodata and (every or valid[np.uint64(vbase + j)])) else o


@borrowing_jit()
def _masked_ser(u0, u1, nsplit, plane, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, nan_zero, has_nodata,
                nodata, safe):  # pragma: no cover - numba
    for u in range(u0, u1):
        _masked_unit(u, nsplit, plane, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, nan_zero, has_nodata,
                     nodata, safe)


@nb.njit(cache=True, parallel=True, nogil=True)
def _masked_par(nunits, nchunks, nsplit, plane, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int,
                nan_zero, has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _masked_ser(k * nunits // nchunks, (k + 1) * nunits // nchunks, nsplit, plane, nplanes, x, a, s, c, div, valid,
                    out, lo, hi, is_int, nan_zero, has_nodata, nodata, safe)


@borrowing_jit()
def _masked_ser_ip(u0, u1, nsplit, plane, nplanes, a, s, c, div, valid, out, lo, hi, is_int, nan_zero, has_nodata,
                   nodata, safe):  # pragma: no cover - numba
    for u in range(u0, u1):
        _masked_unit(u, nsplit, plane, nplanes, out, a, s, c, div, valid, out, lo, hi, is_int, nan_zero,
                     has_nodata, nodata, safe)


@nb.njit(cache=True, parallel=True, nogil=True)
def _masked_par_ip(nunits, nchunks, nsplit, plane, nplanes, a, s, c, div, valid, out, lo, hi, is_int,
                   nan_zero, has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _masked_ser_ip(k * nunits // nchunks, (k + 1) * nunits // nchunks, nsplit, plane, nplanes, a, s, c, div, valid,
                       out, lo, hi, is_int, nan_zero, has_nodata, nodata, safe)


@nb.njit(cache=True, inline="always")
def _row_affine(r, per_row, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata,
                nodata, safe):  # pragma: no cover - numba
    # row r of the flattened (bands * rows), pixel by pixel through _put (branches): for stores whose results
    # may be NaN on a raster with a nodata value, where the masked loops' after-the-fact nodata pass is not
    # _put's rule
    rows = per_row[0]
    cols = per_row[1]
    b = r // rows
    i = r - b * rows
    base = r * cols
    ab = a[b]
    sb = s[b]
    cb = c[b]
    vbase = ((b if nplanes > 1 else 0) * rows + i) * cols
    for j in range(cols):
        k = np.uint64(base + j)
        ok = True if nplanes == 0 else valid[np.uint64(vbase + j)]
        xv = x[k]
        t = work_value(xv, ab) - ab
        if div:
            v = t / sb + cb
        else:
            v = t * sb + cb
        _put(v, xv, out, k, ok, lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


@borrowing_jit()
def _affine_ser(u0, u1, per_row, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata,
                nodata, safe):  # pragma: no cover - numba
    for r in range(u0, u1):
        _row_affine(r, per_row, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata,
                    nodata, safe)


@nb.njit(cache=True, parallel=True, nogil=True)
def _affine_par(nunits, nchunks, per_row, nplanes, x, a, s, c, div, valid, out, lo, hi, is_int, clip,
                nan_zero, has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _affine_ser(k * nunits // nchunks, (k + 1) * nunits // nchunks, per_row, nplanes, x, a, s, c, div, valid, out,
                    lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


@borrowing_jit()
def _affine_ser_ip(u0, u1, per_row, nplanes, a, s, c, div, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata,
                   nodata, safe):  # pragma: no cover - numba
    for r in range(u0, u1):
        _row_affine(r, per_row, nplanes, out, a, s, c, div, valid, out, lo, hi, is_int, clip, nan_zero, has_nodata,
                    nodata, safe)


@nb.njit(cache=True, parallel=True, nogil=True)
def _affine_par_ip(nunits, nchunks, per_row, nplanes, a, s, c, div, valid, out, lo, hi, is_int, clip,
                   nan_zero, has_nodata, nodata, safe):  # pragma: no cover - numba
    for q in nb.prange(nchunks):
        k = np.int64(q)  # a share of the units (the index is unsigned in the gufunc)
        _affine_ser_ip(k * nunits // nchunks, (k + 1) * nunits // nchunks, per_row, nplanes, a, s, c, div, valid, out,
                       lo, hi, is_int, clip, nan_zero, has_nodata, nodata, safe)


_NO_VALID = np.ones(1, dtype=np.bool_)


def _valid_arg(valid: np.ndarray | None, shape: tuple[int, int, int]) -> tuple[int, np.ndarray]:
    """``(planes, flat mask)``: 0 planes when every pixel is valid (None or a broadcast of True)."""
    if valid is None or (valid.size and not any(valid.strides) and bool(valid.flat[0])):
        return 0, _NO_VALID
    v = valid if valid.ndim == 3 else valid[None]
    if v.shape[0] != 1 and v.shape[0] != shape[0]:
        v = np.broadcast_to(v, shape)
    return v.shape[0], np.ascontiguousarray(v, dtype=np.bool_).reshape(-1)


def _nodata_args(nodata: float | None, safe: float, dt: np.dtype) -> tuple:
    if nodata is None:  # most rasters: the arguments of "no nodata", built once per dtype
        return _no_nodata(dt)
    has = not np.isnan(nodata)
    return has, dt.type(nodata if has else 0), dt.type(safe if has else 0)


@functools.lru_cache(maxsize=32)
def _no_nodata(dt: np.dtype) -> tuple:
    return False, dt.type(0), dt.type(0)


def _launch(par, ser, total: int, nunits: int, args: tuple) -> None:
    """Units ``[0, nunits)`` of ``ser``, whose arguments after the unit range are ``args``: on one thread below
    :data:`SERIAL_BELOW` values (``total``), else through ``par``, four contiguous shares per thread."""
    nthreads = threads.num_threads()
    if total < SERIAL_BELOW or nthreads == 1:
        with threads.launch_lock:
            ser(0, nunits, *args)
        return
    _parallel(par, ser, nunits, min(nunits, 4 * nthreads), args)


def _parallel(par, ser, nunits: int, nchunks: int, args: tuple) -> None:
    """Units ``[0, nunits)`` of ``ser`` through its parallel entry ``par``, in ``nchunks`` contiguous shares."""
    with threads.launch_lock:
        par(nunits, nchunks, *args)


def _store_args(out: np.ndarray, work: type, valid: np.ndarray | None, nodata: float | None,
                safe: float) -> tuple:
    """The kernel arguments every store shares: output range, mask planes, nodata rule."""
    lo, hi, is_int = _limits(out.dtype, work)
    nplanes, vflat = _valid_arg(valid, out.shape)
    has, nd, sf = _nodata_args(nodata, safe, out.dtype)
    return lo, hi, is_int, nplanes, vflat, has, nd, sf


def store_bands(new: np.ndarray, old: np.ndarray, valid: np.ndarray | None, out: np.ndarray,
                nodata: float | None, safe: float, *, nan_zero: bool = False, clip: bool = True) -> None:
    """``out = new`` on valid pixels of every band, in one kernel call.

    Parameters
    ----------
    new : ndarray (bands, rows, cols), float32 or float64
        Computed values.
    old : ndarray (bands, rows, cols)
        The previous values: kept where ``new`` is NaN (unless ``nan_zero``).
    valid : ndarray of bool (rows, cols), (1 or bands, rows, cols), or None
        Pixels to write; ``None`` or a broadcast of True: all (the mask is not read).
    out : ndarray (bands, rows, cols), C-contiguous
        Destination (may be ``old`` itself); invalid pixels get ``old``.
    nodata : float or None
        Values landing on it are replaced by ``safe``.
    safe : float
        The replacement (:func:`geoaug.raster.nodata_safe_value`).
    nan_zero : bool
        NaN results become 0 instead of keeping the old value.
    clip : bool
        Saturate to ``out``'s range (always done for integers).
    """
    lo, hi, is_int, nplanes, vflat, has, nd, sf = _store_args(out, new.dtype.type, valid, nodata, safe)
    bands, rows, cols = out.shape
    per_row = np.array([rows, cols], dtype=np.int64)
    new = np.ascontiguousarray(new).reshape(-1)
    if same_memory(old, out):
        _launch(_store_par_ip, _store_ser_ip, new.size, bands * rows,
                (per_row, nplanes, new, vflat, out.reshape(-1), lo, hi, is_int, clip or is_int, nan_zero, has, nd, sf))
        return
    old = np.ascontiguousarray(old).reshape(-1)
    _launch(_store_par, _store_ser, new.size, bands * rows,
            (per_row, nplanes, new, old, vflat, out.reshape(-1), lo, hi, is_int, clip or is_int, nan_zero, has, nd,
             sf))


def store_affine(x: np.ndarray, a: np.ndarray, s: np.ndarray, c: np.ndarray, valid: np.ndarray | None,
                 out: np.ndarray, nodata: float | None, safe: float, *, divide: bool = False,
                 nan_zero: bool = False, clip: bool = True) -> None:
    """``out = (x - a_b) * s_b + c_b`` (``/ s_b`` with ``divide``) on valid pixels, all bands in one call.

    The arithmetic runs in the dtype of ``a`` (float32 or float64) with the
    operations in exactly that order, then the rules of :func:`store_bands`
    apply (a NaN result keeps ``x``).

    Parameters
    ----------
    x : ndarray (bands, rows, cols)
        The input values (any supported dtype); may be ``out`` itself.
    a, s, c : ndarray (bands,)
        Per-band constants, all of one float dtype (the work dtype), which
        must hold every value of ``x`` exactly (float32 for up to 16-bit
        integers and float32, float64 otherwise): invalid pixels keep ``x``
        through it.
    valid : ndarray of bool or None
        As for :func:`store_bands`.
    out : ndarray (bands, rows, cols), C-contiguous
        Destination, any supported dtype (may be ``x`` itself); invalid
        pixels get ``x`` cast to its dtype.
    nodata, safe : float
        As for :func:`store_bands`.
    divide : bool
        Divide by ``s`` instead of multiplying.
    nan_zero, clip : bool
        As for :func:`store_bands`.
    """
    if a.dtype == np.float32 and x.dtype.itemsize > 2 and x.dtype != np.float32:
        raise ValueError(f"store_affine: float32 constants cannot hold every {x.dtype} value; use float64")
    lo, hi, is_int, nplanes, vflat, has, nd, sf = _store_args(out, a.dtype.type, valid, nodata, safe)
    if not (clip or is_int):  # unclipped floats: the loops saturate to +-inf, which keeps every value
        lo, hi = a.dtype.type(-np.inf), a.dtype.type(np.inf)
    bands, rows, cols = out.shape
    inplace = same_memory(x, out)
    xf = np.ascontiguousarray(x).reshape(-1)
    s = s.astype(a.dtype, copy=False)
    c = c.astype(a.dtype, copy=False)
    if nplanes == 0 and not has:
        # every pixel valid, nothing to move off nodata: the masked loops with no mask (the select drops out of the
        # loop). A NaN result keeps x when rounding or clipping (a float raster whose mask is still its NaNs relies
        # on it: NaN stays where it was); nan_zero applies to unclipped floats only
        nan_zero = nan_zero and not (is_int or clip)
    # the masked loops move valid results off nodata after the fact, which is _put's rule only if no result is
    # NaN (a NaN keeps x or becomes 0 without that check): no nodata, or integers in, finite constants, no
    # division by 0. Otherwise pixel by pixel.
    if not has or (x.dtype.kind in "iu" and bool(np.isfinite(a).all() and np.isfinite(s).all()
                                                  and np.isfinite(c).all()) and not (divide and bool((s == 0).any()))):
        plane = rows * cols
        if xf.size < SERIAL_BELOW or threads.num_threads() == 1:
            with threads.launch_lock:
                if inplace:
                    _masked_ser_ip(0, bands, 1, plane, nplanes, a, s, c, divide, vflat, xf, lo, hi, is_int, nan_zero,
                                   has, nd, sf)
                else:
                    _masked_ser(0, bands, 1, plane, nplanes, xf, a, s, c, divide, vflat, out.reshape(-1), lo, hi,
                                is_int, nan_zero, has, nd, sf)
            return
        nsplit = max(1, -(-4 * threads.num_threads() // bands))  # units: stretches of bands, one share each
        if inplace:
            _parallel(_masked_par_ip, _masked_ser_ip, bands * nsplit, bands * nsplit,
                      (nsplit, plane, nplanes, a, s, c, divide, vflat, xf, lo, hi, is_int, nan_zero, has, nd, sf))
        else:
            _parallel(_masked_par, _masked_ser, bands * nsplit, bands * nsplit,
                      (nsplit, plane, nplanes, xf, a, s, c, divide, vflat, out.reshape(-1), lo, hi, is_int, nan_zero,
                       has, nd, sf))
        return
    per_row = np.array([rows, cols], dtype=np.int64)
    if inplace:
        _launch(_affine_par_ip, _affine_ser_ip, xf.size, bands * rows,
                (per_row, nplanes, a, s, c, divide, vflat, xf, lo, hi, is_int, clip or is_int, nan_zero, has, nd, sf))
        return
    _launch(_affine_par, _affine_ser, xf.size, bands * rows,
            (per_row, nplanes, xf, a, s, c, divide, vflat, out.reshape(-1), lo, hi, is_int, clip or is_int, nan_zero,
             has, nd, sf))


def store_band(new: np.ndarray, old: np.ndarray, valid: np.ndarray, out: np.ndarray, nodata: float | None,
               safe: float) -> None:
    """One band: ``out = new`` on valid pixels (kept for callers of the per-band API; see :func:`store_bands`).

    Parameters
    ----------
    new : ndarray (rows, cols), float32 or float64
        Computed values.
    old : ndarray (rows, cols)
        The previous values: kept where ``new`` is NaN.
    valid : ndarray of bool (rows, cols)
        Pixels to write; the others get ``old``.
    out : ndarray (rows, cols), C-contiguous
        Destination, the raster's dtype.
    nodata : float or None
        Values landing on it are replaced by ``safe``.
    safe : float
        The replacement (:func:`geoaug.raster.nodata_safe_value`).
    """
    store_bands(new[None], old[None], valid, out[None], nodata, safe)


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
