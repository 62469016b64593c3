#!/usr/bin/env python3
"""The separable resize kernel against ``cv2.resize`` per band, as ratios (geoaug time / OpenCV time).

For each size and dtype, in one process and interleaved (one call of each contender in turn, a
warm-up first, best of ``--repeats``):

* ``cv2``: ``cv2.resize(band, (w, h), dst=pre, interpolation=INTER_LINEAR)`` for every band into a
  preallocated output (no antialias);
* ``kernel``: :func:`geoaug.kernels.resize.resize_separable` called the way ``Resize`` calls it
  (the matrix of :func:`geoaug.geometry.resize`, bilinear, the transform's fill mode), into a
  preallocated ``out=``;
* ``Resize``: the whole ``geoaug.Resize(h, w, antialias=False)(array)`` call;
* ``rrc``: the kernel resampling a centred crop of half the area back to the input size (what
  ``RandomResizedCrop`` does), against ``cv2.resize`` of the same crop view per band.

Resize goes to ``--factor`` (default 0.75) of the side. Each thread count sets
``numba.set_num_threads(n)`` and ``cv2.setNumThreads(n)``.

Usage::

    python scripts/bench_resize.py                      # every size, uint16/int16/float32, 1 and 2 threads
    python scripts/bench_resize.py --sizes 13x120 --dtypes uint16 --threads 1 --repeats 51
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import cv2
import numba
from bench import timeit

import geoaug
from geoaug import geometry
from geoaug.kernels import FILL_MODES
from geoaug.kernels import resize as rk

SIZES = ["13x64", "13x120", "12x256", "13x512", "4x512", "1x512", "200x256"]
DTYPES = ["uint16", "int16", "float32"]


def _data(bands: int, side: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(3000.0, 1500.0, (bands, side, side))
    x = np.clip(x, np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype != "float32" else x
    return np.ascontiguousarray(x.astype(dtype))


def _case(src: np.ndarray, box: tuple[int, int, int, int] | None, h: int, w: int):
    """(cv2 call, kernel call): the same resampling, each into its own preallocated output."""
    r0, c0, bh, bw = box if box is not None else (0, 0, src.shape[1], src.shape[2])
    view = src[:, r0:r0 + bh, c0:c0 + bw]
    pre = np.empty((src.shape[0], h, w), dtype=src.dtype)
    out = np.empty_like(pre)
    m, shape = geometry.resize((src.shape[1], src.shape[2]), h, w, None if box is None else tuple(map(float, box)))
    sy, ty, sx, tx = geometry.axis_aligned(m)
    mode = FILL_MODES[geoaug.Resize(h, w).fill]

    def ocv() -> None:
        for b in range(view.shape[0]):
            cv2.resize(view[b], (w, h), dst=pre[b], interpolation=cv2.INTER_LINEAR)

    def ker() -> None:
        rk.resize_separable(src, None, (sy, sx), (ty, tx), shape, kind=(rk.LINEAR, rk.LINEAR), mode=mode, out=out)

    ocv()
    ker()
    inner = (slice(None), slice(1, -1), slice(1, -1))  # the border row/column may be invalid (fill="nodata")
    diff = np.abs(pre[inner].astype(np.float64) - out[inner].astype(np.float64)).max()
    limit = 1.0 if src.dtype.kind in "iu" else 1e-3 * max(1.0, float(np.abs(pre).max()))
    if diff > limit:
        raise SystemExit(f"kernel and cv2.resize differ by {diff} on {src.shape} {src.dtype}")
    return ocv, ker


def main(argv: list[str] | None = None) -> None:
    """Print, per size/dtype/thread count, the times and ratios against ``cv2.resize``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--factor", type=float, default=0.75)
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")
    print(f"{'threads':>7} {'size':>8} {'dtype':>8} {'cv2 us':>9} {'kernel us':>10} {'Resize us':>10} "
          f"{'kernel/cv2':>10} {'Resize/cv2':>10} {'rrc/cv2':>8}")
    for n in (int(t) for t in a.threads.split(",")):
        numba.set_num_threads(n)
        cv2.setNumThreads(n)
        for size in a.sizes.split(","):
            bands, side = (int(v) for v in size.split("x"))
            for dtype in a.dtypes.split(","):
                src = _data(bands, side, dtype)
                h = w = max(1, round(side * a.factor))
                ocv, ker = _case(src, None, h, w)
                crop = round(side / math.sqrt(2.0))
                c0 = (side - crop) // 2
                rocv, rker = _case(src, (c0, c0, crop, crop), side, side)
                tr = geoaug.Resize(h, w, antialias=False)
                t = timeit({"cv2": ocv, "kernel": ker, "Resize": lambda tr=tr, src=src: tr(src),
                           "rrc_cv2": rocv, "rrc": rker}, a.repeats)[0]
                print(f"{n:>7} {size:>8} {dtype:>8} {t['cv2'] * 1e3:9.1f} {t['kernel'] * 1e3:10.1f} "
                      f"{t['Resize'] * 1e3:10.1f} {t['kernel'] / t['cv2']:10.2f} {t['Resize'] / t['cv2']:10.2f} "
                      f"{t['rrc'] / t['rrc_cv2']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
