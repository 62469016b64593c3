"""What looking for NaN costs the warp of a plain float array: the row kernels' tests against a scan of the input.

A plain float array's NaN pixels are nodata. The warp takes it as all valid and its row kernels test the rows
they wrote for NaN (``warp_affine(..., return_nan=True)``, :mod:`geoaug.kernels.nans`); before, the input was
scanned first (``np.min``, which propagates NaN). This script times, in one process and interleaved (each
timed call right after an untimed call of its own, best of ``--repeats``), per interpolation and size, the
kernel into a reused output buffer three ways and prints each against the plain kernel::

    python scripts/bench_nan.py                      # 1 thread
    python scripts/bench_nan.py --threads 2 --sizes 13x120,12x256

* ``tests``: ``return_nan=True`` (what a plain float array pays now);
* ``scan``: ``np.min`` of the input, then the plain kernel (what it paid before);
* the plain kernel itself (a GeoRaster's call, whose validity is known).

Float32 data of random values (no NaN), ``Affine(rotate=17)``'s matrix, ``fill="nodata"``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba
import numpy as np

from geoaug import geometry
from geoaug.kernels import warp_affine

SIZES = "13x64,13x120,12x256,1x512,4x512,13x512"


def bench(interp: str, bands: int, side: int, repeats: int) -> dict[str, float]:
    """Best seconds of the plain kernel, with the row tests, and after a scan of the input."""
    a = (np.random.default_rng(0).random((bands, side, side), dtype=np.float32) * 10000).astype(np.float32)
    m = geometry.affine_matrix((side, side), rotate=17)
    out = np.empty_like(a)
    fns = {"kernel": lambda: warp_affine(a, None, m, (side, side), interp, out=out),
           "tests": lambda: warp_affine(a, None, m, (side, side), interp, out=out, return_nan=True),
           "scan": lambda: (a.min(), warp_affine(a, None, m, (side, side), interp, out=out))}
    best = dict.fromkeys(fns, float("inf"))
    for f in fns.values():
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            f()
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=SIZES, help=f"bands x side, comma-separated (default {SIZES})")
    ap.add_argument("--interpolations", default="nearest,bilinear,cubic")
    ap.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    ap.add_argument("--repeats", type=int, default=41, help="timed calls per contender (default 41)")
    args = ap.parse_args(argv)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(f"{'interpolation':<14}{'case':<10}{'kernel':>12}{'tests / kernel':>16}{'scan / kernel':>15}")
    for interp in args.interpolations.split(","):
        for size in args.sizes.split(","):
            bands, side = (int(v) for v in size.split("x"))
            b = bench(interp, bands, side, args.repeats)
            print(f"{interp:<14}{size:<10}{b['kernel'] * 1e6:>9.1f} µs{b['tests'] / b['kernel']:>16.3f}"
                  f"{b['scan'] / b['kernel']:>15.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
