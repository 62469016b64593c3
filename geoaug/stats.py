"""Streaming per-band statistics over many rasters: :func:`stats`.

One file is in memory at a time. Means, variances and the band covariance are
merged file by file with Chan et al.'s parallel update (float64), so the result
equals numpy on the concatenated valid pixels up to rounding. Percentiles need
a second pass: exact for uint8/uint16/int16 (one histogram bin per integer
value), from a 65536-bin histogram between the global min and max otherwise
(error at most (max - min) / 65536).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from .bandstats import BandStats, band_moments
from .errors import ParameterError
from .io import read

__all__ = ["stats"]

_BINS = 65536


def stats(
    paths: Iterable[str | os.PathLike[str]],
    percentiles: Sequence[float] = (1, 2, 50, 98, 99),
    nodata: float | None = None,
) -> BandStats:
    """Per-band statistics over the valid pixels of many rasters.

    Parameters
    ----------
    paths : iterable of path-like
        Rasters with the same band count (read with :func:`geoaug.read`).
    percentiles : sequence of float
        Percentiles (0..100) to compute per band.
    nodata : float, optional
        Nodata override passed to :func:`geoaug.read`.

    Returns
    -------
    BandStats
        ``count``, ``mean``, ``std`` (population), ``min``, ``max`` and
        ``percentiles`` per band over that band's valid pixels; ``covariance``
        over pixels valid in every band.
    """
    files = [os.fspath(p) for p in paths]
    if not files:
        raise ParameterError("stats: no files given")
    for q in percentiles:
        if not 0 <= q <= 100:
            raise ParameterError(f"stats: percentile {q} outside 0..100")
    n = mean = m2 = lo = hi = None
    cn, cmean, cm2 = 0, None, None
    names: tuple[str, ...] = ()
    dtypes = set()
    for f in files:
        r = read(f, nodata=nodata)
        if n is None:
            b = r.count
            names = r.band_names
            n = np.zeros(b, np.int64)
            mean, m2 = np.zeros(b), np.zeros(b)
            lo, hi = np.full(b, np.inf), np.full(b, -np.inf)
            cmean, cm2 = np.zeros(b), np.zeros((b, b))
        elif r.count != len(n):
            raise ParameterError(f"{f}: {r.count} bands, but {files[0]} has {len(n)}")
        dtypes.add(r.dtype)
        for i in range(r.count):
            v = r.valid_values(i).astype(np.float64)
            if v.size == 0:
                continue
            bn, bmean = v.size, v.mean()
            bm2 = ((v - bmean) ** 2).sum()
            tot = n[i] + bn
            delta = bmean - mean[i]
            mean[i] += delta * bn / tot
            m2[i] += bm2 + delta**2 * n[i] * bn / tot
            n[i] = tot
            lo[i], hi[i] = min(lo[i], v.min()), max(hi[i], v.max())
        bn, bmean, bm2 = band_moments(r.data, r.pixel_mask)
        if bn:
            tot = cn + bn
            delta = bmean - cmean
            cm2 += bm2 + np.outer(delta, delta) * cn * bn / tot
            cmean += delta * bn / tot
            cn = tot
    assert n is not None and mean is not None and m2 is not None and lo is not None and hi is not None
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(m2 / n)
        cov = cm2 / cn if cn else None
    mean = np.where(n > 0, mean, np.nan)
    pct = _percentiles(files, nodata, percentiles, lo, hi, dtypes) if percentiles else {}
    return BandStats(
        band_names=names, count=n, mean=mean, std=std, min=np.where(n > 0, lo, np.nan),
        max=np.where(n > 0, hi, np.nan), percentiles=pct, covariance=cov, covariance_count=int(cn),
        files=tuple(files),
    )


def _percentiles(
    files: list[str], nodata: float | None, qs: Sequence[float], lo: np.ndarray, hi: np.ndarray, dtypes: set
) -> dict[float, np.ndarray]:
    exact = all(np.dtype(d).kind in "iu" and np.dtype(d).itemsize <= 2 for d in dtypes)
    b = len(lo)
    if exact:
        base = np.where(np.isfinite(lo), lo, 0).astype(np.int64)
        width = np.maximum(np.where(np.isfinite(hi), hi, 0).astype(np.int64) - base + 1, 1)
        hists = [np.zeros(int(w), np.int64) for w in width]
    else:
        hists = [np.zeros(_BINS, np.int64) for _ in range(b)]
    for f in files:
        r = read(f, nodata=nodata)
        for i in range(b):
            v = r.valid_values(i)
            if v.size == 0:
                continue
            if exact:
                hists[i] += np.bincount(v.astype(np.int64) - base[i], minlength=len(hists[i]))
            else:
                span = hi[i] - lo[i]
                idx = np.zeros(v.size, np.int64) if span == 0 else np.minimum(
                    ((v.astype(np.float64) - lo[i]) / span * _BINS).astype(np.int64), _BINS - 1)
                hists[i] += np.bincount(idx, minlength=_BINS)
    out = {}
    for q in qs:
        vals = np.full(b, np.nan)
        for i in range(b):
            h = hists[i]
            total = h.sum()
            if total == 0:
                continue
            # numpy's default (linear) percentile: position q/100 * (total - 1) in the sorted values
            pos = q / 100 * (total - 1)
            cum = np.cumsum(h)
            k0 = int(np.floor(pos))
            v0 = int(np.searchsorted(cum, k0, side="right"))
            v1 = int(np.searchsorted(cum, min(k0 + 1, total - 1), side="right"))
            if exact:
                a0, a1 = base[i] + v0, base[i] + v1
            else:
                span = hi[i] - lo[i]
                a0, a1 = lo[i] + (v0 + 0.5) * span / _BINS, lo[i] + (v1 + 0.5) * span / _BINS
            vals[i] = a0 + (pos - k0) * (a1 - a0)
        out[float(q)] = vals
    return out
