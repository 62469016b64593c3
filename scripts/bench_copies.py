#!/usr/bin/env python3
"""The strided copies (hflip, vflip, rot90, transpose) against OpenCV per band and a plain copy, as ratios.

For each size and dtype, one process interleaves (one call of each in turn, a warm-up first, best
of ``--repeats``):

* ``geoaug``: :func:`geoaug.kernels.flip.index_copy` with the plan :func:`geoaug.geometry.strided_plan`
  makes of the op's matrix (what ``geoaug.Rot90(k=1)``, ``geoaug.HorizontalFlip``, ``geoaug.VerticalFlip``
  and ``geoaug.Transpose`` run), no mask, into a preallocated ``out=``;
* ``opencv``: ``cv2.rotate(band, cv2.ROTATE_90_COUNTERCLOCKWISE, dst=pre)`` (``cv2.flip(band, 1, dst=)``,
  ``cv2.flip(band, 0, dst=)``, ``cv2.transpose(band, dst=)``) for each band into preallocated outputs;
* ``copy``: ``np.copyto`` of the same bytes into a preallocated array (memory speed).

It prints ``geoaug / opencv`` and ``geoaug / copy`` per op, once per thread count
(``numba.set_num_threads(n)`` and ``cv2.setNumThreads(n)``). Needs OpenCV (the bench extra).

Usage::

    python scripts/bench_copies.py                                 # every size, dtype, op; 1 and 2 threads
    python scripts/bench_copies.py --ops rot90 --sizes 13x120,1x512 --dtypes uint16 --threads 1
    python scripts/bench_copies.py --ops rot90 --sizes 1x500,1x512,1x1000,1x1024 --threads 1  # row pitches
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import timeit

SIZES = ["13x64", "13x120", "12x256", "13x512", "4x512", "1x512", "200x256"]
DTYPES = ["uint16", "int16", "float32"]
OPS = ["rot90", "hflip", "vflip", "transpose"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=",".join(SIZES), help="BANDSxSIDE, comma separated")
    p.add_argument("--dtypes", default=",".join(DTYPES))
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--threads", default="1,2", help="thread counts, comma separated")
    p.add_argument("--repeats", type=int, default=31, help="timed calls of each (best of; >= 21)")
    a = p.parse_args(argv)
    if a.repeats < 21:
        p.error("--repeats must be >= 21")
    bad = set(a.ops.split(",")) - set(OPS)
    if bad:
        p.error(f"--ops: unknown {sorted(bad)}; choose from {OPS}")
    return a


def cases(op: str, a, geometry, cv2):
    """(matrix, output shape, per-band OpenCV call) of ``op`` on ``a``."""
    shape = a.shape[1:]
    if op == "rot90":
        m, out_shape = geometry.rot90(shape, 1)
        return m, out_shape, lambda s, d: cv2.rotate(s, cv2.ROTATE_90_COUNTERCLOCKWISE, dst=d)
    if op == "hflip":
        m, out_shape = geometry.hflip(shape)
        return m, out_shape, lambda s, d: cv2.flip(s, 1, dst=d)
    if op == "vflip":
        m, out_shape = geometry.vflip(shape)
        return m, out_shape, lambda s, d: cv2.flip(s, 0, dst=d)
    m, out_shape = geometry.transpose(shape)
    return m, out_shape, lambda s, d: cv2.transpose(s, dst=d)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import cv2
    import numba
    import numpy as np

    # geoaug first: importing it selects numba's threading layer before set_num_threads starts one
    from geoaug import geometry
    from geoaug.kernels.flip import index_copy

    rng = np.random.default_rng(0)
    print(f"# best of {args.repeats}; ratios: time / time (lower is faster for geoaug)")
    for n in map(int, args.threads.split(",")):
        numba.set_num_threads(n)
        cv2.setNumThreads(n)
        print(f"\n## {n} thread{'s' if n > 1 else ''}")
        print(f"{'op':<10}{'size':>9}{'dtype':>9}{'geoaug us':>11}{'opencv us':>11}{'copy us':>10}"
              f"{'/opencv':>9}{'/copy':>8}")
        for op in args.ops.split(","):
            for size in args.sizes.split(","):
                bands, side = map(int, size.lower().split("x"))
                for dtype in args.dtypes.split(","):
                    a = rng.integers(1, 10000, (bands, side, side)).astype(dtype)
                    m, out_shape, cv_call = cases(op, a, geometry, cv2)
                    plan = geometry.strided_plan(m, a.shape[1:], out_shape)
                    out = np.empty((bands, *out_shape), dtype=a.dtype)
                    cv_out = np.empty_like(out)
                    cp_out = np.empty_like(a)
                    bands_in = list(a)
                    bands_out = list(cv_out)

                    def per_band(bands_in=bands_in, bands_out=bands_out, cv_call=cv_call):
                        for s, d in zip(bands_in, bands_out):
                            cv_call(s, d)

                    t = timeit({
                        "geoaug": lambda a=a, plan=plan, out_shape=out_shape, out=out: index_copy(
                            a, None, plan, out_shape, out=out),
                        "opencv": per_band,
                        "copy": lambda a=a, cp_out=cp_out: np.copyto(cp_out, a),
                    }, args.repeats)[0]
                    if not np.array_equal(out, cv_out):
                        raise SystemExit(f"{op} {size} {dtype}: geoaug and OpenCV disagree")
                    print(f"{op:<10}{size:>9}{dtype:>9}{t['geoaug'] * 1e3:>11.1f}{t['opencv'] * 1e3:>11.1f}"
                          f"{t['copy'] * 1e3:>10.1f}{t['geoaug'] / t['opencv']:>9.2f}"
                          f"{t['geoaug'] / t['copy']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
