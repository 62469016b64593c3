"""Separable, nodata-aware convolution: Gaussian blur and unsharp masking over any band count.

Conventions
-----------
* ``taps`` is one odd-length 1-D kernel (``2 * r + 1`` weights summing to 1),
  applied along rows and then along columns (a separable 2-D kernel).
* Normalised convolution: invalid pixels contribute nothing. The blurred value
  of a pixel is ``sum(w * m * x) / sum(w * m)`` over its window (``m`` the
  validity, 0 or 1), so no value under the mask is ever read and the weights
  of the valid neighbours are renormalised. A pixel is valid in the output
  exactly when it was valid in the input; invalid pixels keep their value.
* Outside the raster, ``mode`` (:mod:`geoaug.kernels.borders`) maps the taps
  back inside (``mirror`` is OpenCV's default ``BORDER_REFLECT_101``);
  ``nodata`` treats the outside as invalid (it contributes nothing, the
  window's weights are renormalised). ``constant`` is not offered.
* The result stored is the blur, or (``amount=a``) the unsharp mask
  ``x + a * (x - blurred)``, in that order of operations: near the float
  maximum it saturates, it never becomes ``inf - inf``.
* Work dtype float32 (float64 for int32 and float64 data); integers are
  rounded half to even and saturated, floats clipped to their finite range.
* Memory and threads: the caller allocates the output; each thread's scratch
  is allocated outside the kernel (kept between calls, its rows a cache line
  apart from the next thread's). One parallel region per call, only above
  :data:`SERIAL_BELOW` values, of about :data:`UNITS_PER_THREAD` units per
  thread taken as threads come free: whole bands where there are that many,
  else equal runs of rows (a unit that starts or ends inside a band passes
  horizontally the input rows it reads, a few rows more than its own), so one
  band is shared among the threads too. Every launch holds
  ``threads.launch_lock``. One thread runs the unit kernel straight from
  Python; the parallel entry calls it through its address
  (:mod:`geoaug.kernels.indirect`), so neither compiles it a second time.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from ..errors import ParameterError, UnsupportedDtypeError
from . import indirect, threads
from .borders import FILL_MODES, NODATA, map_index
from .borrowing import borrowing_jit
from .buffers import kept_scratch, out_buffer, same_memory
from .cache import spare
from .diskcache import lock_disk_cache
from .dtypes import work_dtype
from .indirect import call_address
from .warp import _as_work, saturating_int_store

__all__ = ["SERIAL_BELOW", "UNITS_PER_THREAD", "convolve_separable", "gaussian_taps"]

#: below this many values (bands x rows x cols) the kernel runs on one thread (at 2 threads a 13x64²
#: GaussianBlur or Sharpen, 53,248 values, took 0.74-1.05 of its 1-thread time in two runs of
#: ``scripts/bench.py --only gaussian_blur,sharpen``)
SERIAL_BELOW = 1 << 15
#: parallel units per thread, taken as threads come free: whole bands, or runs of rows where there are fewer
#: bands than units. Two units of whole bands at 2 threads (one of 7 bands and one of 6 at 13 bands; one band
#: alone on one thread) left a thread waiting: a 1x512² blur took the same time at 2 threads as at 1
UNITS_PER_THREAD = 4
_DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")


def gaussian_taps(sigma: float, radius: int | None = None) -> np.ndarray:
    """The normalised 1-D Gaussian kernel of standard deviation ``sigma`` pixels.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    radius : int, optional
        Half-width; default ``ceil(3 * sigma)`` (at least 1), OpenCV's
        automatic size for float images (``2 * ceil(3 * sigma) + 1`` taps).

    Returns
    -------
    ndarray
        ``2 * radius + 1`` float64 weights summing to 1.
    """
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ParameterError(f"sigma must be a finite number > 0, got {sigma!r}")
    r = max(1, math.ceil(3.0 * sigma)) if radius is None else int(radius)
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _store(orow, j, acc):  # pragma: no cover - replaced by the overload in compiled code
    raise NotImplementedError


@overload(_store, inline="always")
def _store_ov(orow, j, acc):  # pragma: no cover - numba typing
    dt = orow.dtype
    put_int = saturating_int_store(dt, acc)
    if put_int is not None:
        return put_int
    big = np.finfo(np.dtype(str(dt))).max
    fbig = np.float32(big) if dt == types.float32 else np.float64(big)

    def put_float(orow, j, acc):
        orow[j] = min(max(acc, -fbig), fbig)

    return put_float


@borrowing_jit()
def _band(src, b, i0, i1, mk, all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp, acc,
          need):  # pragma: no cover - numba
    """Output rows ``[i0, i1)`` of band ``b``: a horizontal pass of the input rows they read into ``tmp`` (rows,
    cols; row ``i`` of the band at ``tmp[i]``), a vertical pass into ``dst[b]``. ``need`` (at least ``h``
    bytes) marks the rows read when the rows are not the whole band."""
    h = src.shape[1]
    wd = src.shape[2]
    nt = 2 * r + 1
    z = w[0] - w[0]  # a work-dtype zero (never from scratch memory: uninitialised, may hold NaN)
    plane = src[b]
    whole = i0 == 0 and i1 == h
    if not whole:  # the input rows the vertical pass reads (the fill mode maps those outside)
        for i in range(h):
            need[i] = 0
        for i in range(i0, i1):
            for k in range(nt):
                ii = map_index(i + k - r, h, mode)
                if ii >= 0:
                    need[ii] = 1
    # the row's place in the padded row, as a view: ``pad[r + j]`` kept numba's negative-index check in the
    # loop (r's sign is not known), which LLVM then left scalar: 8x the time of the copy as a view
    inner = pad[r:r + wd]
    # horizontal: a padded row (masked values read as 0), then taps outer, pixels inner (vectorises)
    for i in range(h):
        if not whole and need[i] == 0:
            continue
        row = plane[i]
        if all_valid:
            for j in range(wd):
                inner[j] = row[j]
        else:
            mrow = mk[i]
            for j in range(wd):
                inner[j] = row[j] if mrow[j] else z
        for k in range(r):
            jl = map_index(k - r, wd, mode)
            jr = map_index(wd + k, wd, mode)
            pad[k] = z if jl < 0 or not (all_valid or mk[i, jl]) else row[jl]
            pad[r + wd + k] = z if jr < 0 or not (all_valid or mk[i, jr]) else row[jr]
        trow = tmp[i]
        w0 = w[0]
        for j in range(wd):
            trow[j] = w0 * pad[j]
        for k in range(1, nt):
            wk = w[k]
            for j in range(wd):
                trow[j] += wk * pad[j + k]
    # vertical: rows of tmp mapped by the fill mode (outside rows with "nodata" contribute nothing)
    orow_all = dst[b]
    for i in range(i0, i1):
        crow = tmp[i]
        wc = w[r]
        for j in range(wd):
            acc[j] = wc * crow[j]
        for k in range(r):  # symmetric taps: rows i - (r - k) and i + (r - k) share weight w[k]
            wk = w[k]
            ia = map_index(i + k - r, h, mode)
            ib = map_index(i + r - k, h, mode)
            if ia >= 0 and ib >= 0:
                ra = tmp[ia]
                rb = tmp[ib]
                for j in range(wd):
                    acc[j] += wk * (ra[j] + rb[j])
            elif ia >= 0 or ib >= 0:  # "nodata": a row outside contributes nothing
                ra = tmp[max(ia, ib)]
                for j in range(wd):
                    acc[j] += wk * ra[j]
        orow = orow_all[i]
        row = plane[i]
        if not norm:  # every pixel valid and nothing outside dropped: weights sum to 1
            for j in range(wd):
                if sharp:  # x + a * (x - blurred): no inf - inf near the float maximum, overflow saturates
                    x = _as_work(row[j], acc)
                    _store(orow, j, x + a * (x - acc[j]))
                else:
                    _store(orow, j, acc[j])
        else:
            drow = den[i]
            for j in range(wd):
                if all_valid or mk[i, j]:
                    if sharp:
                        x = _as_work(row[j], acc)
                        _store(orow, j, x + a * (x - acc[j] / drow[j]))
                    else:
                        _store(orow, j, acc[j] / drow[j])
                else:
                    orow[j] = row[j]


@borrowing_jit()
def _chunk(u, nunits, t, whole_bands, src, mask, all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp, acc,
           need):  # pragma: no cover - numba
    """Unit ``u`` of ``nunits``, with scratch row ``t``: the ``u``-th of ``nunits`` equal runs of the output's
    (band, row) pairs, band after band, so that a unit may start or end inside a band (it then passes
    horizontally the input rows its own rows read). With ``whole_bands`` the runs start and end between bands
    (:func:`convolve_separable` asks for them when there are as many bands as units, and for an output over its
    input: each band is then read whole before it is written)."""
    nbands = src.shape[0]
    h = src.shape[1]
    if whole_bands:
        s0 = u * nbands // nunits * h
        s1 = (u + 1) * nbands // nunits * h
    else:
        s0 = u * (nbands * h) // nunits
        s1 = (u + 1) * (nbands * h) // nunits
    for b in range(s0 // h, -(-s1 // h)):
        i0 = max(s0 - b * h, 0)
        i1 = min(s1 - b * h, h)
        p = b if mask.shape[0] > 1 else 0
        d = den[p] if den.shape[0] > 1 else den[0]
        _band(src, b, i0, i1, mask[p], all_valid, norm, d, w, r, mode, sharp, a, dst, pad[t], tmp[t], acc[t],
              need[t])


@nb.njit(cache=True, nogil=True, parallel=True)
def _conv_par(addr, nunits, whole_bands, src, mask, all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp,
              acc, need):  # pragma: no cover - numba
    # _chunk through its address (kernels/indirect.py): linked in, it would be compiled again here. Units are
    # taken as threads come free; each works in its thread's scratch row (numba.get_thread_id: below this region's
    # thread count). The scratch is the launching thread's own (kept_scratch): another thread's launch at the
    # same time has its own rows
    for u in nb.prange(nunits):
        # np.int64: the index is unsigned in the gufunc, and _chunk's first argument is int64
        call_address(_chunk, addr, (np.int64(u), nunits, np.int64(nb.get_thread_id()), whole_bands, src, mask,
                                    all_valid, norm, den, w, r, mode, sharp, a, dst, pad, tmp, acc, need))


@borrowing_jit()
def _weights(mask, w, r, mode, den, pad, tmp):  # pragma: no cover - numba
    """``den[p] = sum(w * m)`` over each pixel's window, for every mask plane (1.0 taps of the validity)."""
    nm, h, wd = mask.shape
    nt = 2 * r + 1
    inner = pad[r:r + wd]  # a view: see _band
    for p in range(nm):
        mk = mask[p]
        for i in range(h):
            mrow = mk[i]
            for j in range(wd):
                inner[j] = 1.0 if mrow[j] else 0.0
            for k in range(r):
                jl = map_index(k - r, wd, mode)
                jr = map_index(wd + k, wd, mode)
                pad[k] = 1.0 if jl >= 0 and mk[i, jl] else 0.0
                pad[r + wd + k] = 1.0 if jr >= 0 and mk[i, jr] else 0.0
            trow = tmp[i]
            for j in range(wd):
                trow[j] = w[0] * pad[j]
            for k in range(1, nt):
                wk = w[k]
                for j in range(wd):
                    trow[j] += wk * pad[j + k]
        dp = den[p]
        for i in range(h):
            drow = dp[i]
            for j in range(wd):
                drow[j] = 0.0
            for k in range(nt):
                ii = map_index(i + k - r, h, mode)
                if ii < 0:
                    continue
                wk = w[k]
                trow = tmp[ii]
                for j in range(wd):
                    drow[j] += wk * trow[j]


def convolve_separable(
    src: np.ndarray,
    mask: np.ndarray | None,
    taps: np.ndarray,
    mode: str = "mirror",
    amount: float | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Convolve every band of ``(bands, rows, cols)`` with ``taps`` along both axes, over valid pixels only.

    Parameters
    ----------
    src : ndarray (bands, rows, cols)
        uint8, uint16, int16, int32, float32 or float64.
    mask : ndarray of bool (planes, rows, cols), or None
        ``planes`` is 1 (shared) or ``bands``; None means every pixel valid.
    taps : ndarray
        Odd number of weights summing to 1 (e.g. :func:`gaussian_taps`).
    mode : {"nodata", "edge", "reflect", "mirror", "wrap"}
        The outside of the raster (see the module docstring).
    amount : float, optional
        None: the result is the blur. A number ``a``: the unsharp mask
        ``x + a * (x - blurred)``.
    out : ndarray, optional
        Destination of ``src``'s shape and dtype (C-contiguous); allocated when
        not given. Invalid pixels get their input value. It may be ``src``
        itself (each band is read whole before it is written), but no other
        array sharing memory with ``src`` or ``mask``.

    Returns
    -------
    ndarray
        The result, ``src``'s dtype.
    """
    src = np.asarray(src)
    if src.ndim != 3 or 0 in src.shape:
        raise ParameterError(f"src must be a non-empty (bands, rows, cols) array, got shape {src.shape}")
    dt = src.dtype
    if dt.name not in _DTYPES:
        raise UnsupportedDtypeError(f"convolve_separable handles {', '.join(_DTYPES)}, not {dt}")
    if mode not in FILL_MODES or mode == "constant":
        raise ParameterError(f"mode must be one of nodata, edge, reflect, mirror, wrap; got {mode!r}")
    code = FILL_MODES[mode]
    taps = np.asarray(taps, dtype=np.float64)
    if taps.ndim != 1 or taps.size % 2 != 1 or not np.isfinite(taps).all():
        raise ParameterError(f"taps must be an odd number of finite weights, got shape {taps.shape}")
    nbands, h, wd = src.shape
    r = taps.size // 2
    work = work_dtype(dt)
    if mask is None:
        mask3 = np.ones((1, 1, 1), dtype=np.bool_)
        all_valid = True
    else:
        mask3 = np.ascontiguousarray(mask)
        if mask3.dtype != np.bool_ or mask3.ndim != 3 or mask3.shape[1:] != (h, wd) or mask3.shape[0] not in (
                1, nbands):
            raise ParameterError(f"mask must be bool (1 or {nbands}, {h}, {wd}), got {mask3.dtype} {mask3.shape}")
        all_valid = bool(mask3.all())
        if all_valid:
            mask3 = np.ones((1, 1, 1), dtype=np.bool_)
    out = out_buffer(out, src.shape, dt, "out", (src, mask), in_place=True)  # each band is read whole first
    w = taps.astype(work)
    sharp = amount is not None
    if sharp and not (np.isfinite(amount) and abs(amount) <= 1e6):
        raise ParameterError(f"amount must be a finite number (at most 1e6 in magnitude), got {amount!r}")
    # parallel units: whole bands where there are enough of them (no rows passed twice horizontally) and for an
    # output over its input (in place: a band is read whole before it is written), else runs of rows
    nthreads = threads.num_threads() if src.size >= SERIAL_BELOW else 1
    target = UNITS_PER_THREAD * nthreads
    whole_bands = nbands >= target or same_memory(out, src)
    nunits = min(nbands if whole_bands else nbands * h, target) if nthreads > 1 else 1
    pad, tmp, acc, need = kept_scratch(_scratch(nthreads if nunits > 1 else 1, h, wd, r, np.dtype(work)))
    norm = not (all_valid and code != NODATA)
    if not norm:
        den = np.ones((1, 1, 1), dtype=work)  # weights sum to 1 everywhere: no division
    else:
        mk = np.ones((1, h, wd), dtype=np.bool_) if all_valid else mask3
        den = np.empty(mk.shape, dtype=work)
        _weights(mk, w, r, code, den, pad[0], tmp[0])
        if all_valid:
            mask3 = mk
    src = np.ascontiguousarray(src)
    a = work(amount if sharp else 0.0)
    args = (whole_bands, src, mask3, all_valid, norm, den, w, r, code, sharp, a, out, pad, tmp, acc, need)
    if nunits > 1:
        addr = indirect.address(_chunk, (dt, src.flags.num, mask3.flags.num, out.flags.num), lambda: (0, 1, 0, *args))
        with threads.launch_lock:
            _conv_par(addr, nunits, *args)
    else:  # _chunk itself, straight from Python (a compiled level in between would compile it again); one thread
        _chunk(0, 1, 0, *args)  # opens no parallel region and needs no launch lock
    return out


def _scratch(nscratch: int, h: int, wd: int, r: int, work: np.dtype) -> tuple:
    """The ``(shape, dtype)`` of each thread's scratch (:func:`~geoaug.kernels.buffers.kept_scratch`): a padded
    row, the horizontal pass's rows, a row of sums, the rows-read flags, each with a cache line to spare
    (:func:`~geoaug.kernels.cache.spare`). Side by side, two workers' row of sums (written four times per output
    row at radius 3) shared the line at their seam, and a 13x120² uint16 GaussianBlur took 1.2-1.3x its
    one-thread time at two threads."""
    item = spare(work.itemsize)
    u8 = np.dtype(np.uint8)
    return (((nscratch, wd + 2 * r + item), work), ((nscratch, h + spare(wd * work.itemsize), wd), work),
            ((nscratch, wd + item), work), ((nscratch, h + spare(1)), u8))


lock_disk_cache(globals())  # saves to numba's cache one process at a time (kernels/diskcache.py)
