"""Time geoaug's warp kernel against OpenCV per band and in chunks of 4 bands; print ratios.

Usage::

    python scripts/bench_warp.py                      # every case, 1 and 2 threads
    python scripts/bench_warp.py --sizes 13x512x512 --dtypes uint16 --interps bilinear --threads 1

Contenders run interleaved in one process (warm-up first, best of ``--repeat``), every one
writing into a preallocated output:

* **geoaug**: ``warp_affine(src, mask, M, shape, interp, out=..., out_mask=...)`` with an
  all-valid ``(1, H, W)`` mask, as a raster passes it;
* **nodata**: the same with a 16-pixel collar of invalid pixels in the mask;
* **cv/band**: ``cv2.warpAffine`` once per band into ``dst=`` (same matrix, centre-origin);
* **cv/4**: ``cv2.warpAffine`` on HWC chunks of at most 4 bands (prepared before timing).

Columns: ``ratio`` = geoaug / fastest OpenCV way, ``vs band`` = geoaug / cv per band,
``vs 4`` = geoaug / cv chunks of 4, ``nodata`` = nodata / all-valid geoaug time,
``n/1`` = geoaug at this thread count / geoaug on one thread (timed in the same loop).
The matrix rotates by 17 degrees and zooms by 1.1 about the centre (the output is the
input's size). Thread counts are set with ``cv2.setNumThreads`` and ``numba.set_num_threads``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoaug import geometry
from geoaug.kernels import warp_affine

SIZES = ("13x64x64", "13x120x120", "12x256x256", "13x512x512", "4x512x512", "1x512x512", "200x256x256")
DTYPES = ("uint16", "int16", "float32")
INTERPS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def _best(funcs: dict[str, callable], repeat: int) -> dict[str, float]:
    """Best time of each function, calls interleaved, after one warm-up call each."""
    for f in funcs.values():
        f()
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeat):
        for name, f in funcs.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def bench_case(bands: int, h: int, w: int, dtype: str, interp: str, repeat: int) -> dict[str, float]:
    """Ratios for one case at the current thread settings."""
    rng = np.random.default_rng(0)
    src = rng.integers(0, 10000, (bands, h, w)).astype(dtype)
    mask = np.ones((1, h, w), bool)
    collar = mask.copy()
    collar[:, :16] = collar[:, -16:] = False
    collar[:, :, :16] = collar[:, :, -16:] = False
    m = geometry.affine_matrix((h, w), rotate=17, scale=1.1)
    mc = geometry.to_opencv(m)
    flag = INTERPS[interp] | cv2.WARP_INVERSE_MAP
    out = np.empty_like(src)
    out_mask = np.empty((1, h, w), bool)
    dst = np.empty_like(src)
    chunks = [np.ascontiguousarray(src[b:b + 4].transpose(1, 2, 0)) for b in range(0, bands, 4)]
    cdst = [np.empty_like(c) for c in chunks]

    def geo() -> None:
        warp_affine(src, mask, m, (h, w), interp, out=out, out_mask=out_mask)

    def geo_nodata() -> None:
        warp_affine(src, collar, m, (h, w), interp, out=out, out_mask=out_mask)

    threads = numba.get_num_threads()

    def geo_one_thread() -> None:
        numba.set_num_threads(1)
        warp_affine(src, mask, m, (h, w), interp, out=out, out_mask=out_mask)
        numba.set_num_threads(threads)

    def per_band() -> None:
        for b in range(bands):
            cv2.warpAffine(src[b], mc, (w, h), dst=dst[b], flags=flag, borderMode=cv2.BORDER_CONSTANT)

    def by_four() -> None:
        for c, d in zip(chunks, cdst, strict=True):
            cv2.warpAffine(c, mc, (w, h), dst=d if d.shape[2] > 1 else d[:, :, 0], flags=flag,
                           borderMode=cv2.BORDER_CONSTANT)

    funcs = {"geo": geo, "nodata": geo_nodata, "band": per_band, "four": by_four}
    if threads > 1:
        funcs["geo1"] = geo_one_thread
    t = _best(funcs, repeat)
    return {
        "n/1": t["geo"] / t["geo1"] if threads > 1 else 1.0,
        "ratio": t["geo"] / min(t["band"], t["four"]),
        "vs band": t["geo"] / t["band"],
        "vs 4": t["geo"] / t["four"],
        "nodata": t["nodata"] / t["geo"],
    }


def main(argv: list[str] | None = None) -> None:
    """Run the selected cases and print one line of ratios per case."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), help="BANDSxROWSxCOLS")
    ap.add_argument("--dtypes", nargs="+", default=list(DTYPES))
    ap.add_argument("--interps", nargs="+", default=list(INTERPS))
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeat", type=int, default=21)
    args = ap.parse_args(argv)
    print(f"{'case':<14}{'dtype':<9}{'interp':<10}{'thr':>4}{'ratio':>8}{'vs band':>9}{'vs 4':>7}{'nodata':>8}"
          f"{'n/1':>6}")
    for n in args.threads:
        cv2.setNumThreads(n)
        numba.set_num_threads(n)
        for size in args.sizes:
            bands, h, w = (int(v) for v in size.split("x"))
            for dtype in args.dtypes:
                for interp in args.interps:
                    r = bench_case(bands, h, w, dtype, interp, args.repeat)
                    print(f"{size:<14}{dtype:<9}{interp:<10}{n:>4}{r['ratio']:>8.2f}{r['vs band']:>9.2f}"
                          f"{r['vs 4']:>7.2f}{r['nodata']:>8.2f}{r['n/1']:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
