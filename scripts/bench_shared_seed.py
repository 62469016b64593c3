"""What the benchmark's shared seed does to a RandomResizedCrop of a GeoRaster, against OpenCV.

``python scripts/bench_shared_seed.py``

Before its contenders had generators of their own, ``scripts/bench.py`` gave the plain-array and GeoRaster
contenders generators with the same seed and called them in turn, so the GeoRaster call drew the crop its
array twin had just drawn and found that crop's plan in the resize kernel's cache. A user's
crops move from call to call. This times, interleaved, best of 41, one thread, uint16,
``RandomResizedCrop(s, s, scale=(0.5, 0.5), ratio=(1, 1))``: the array call and the GeoRaster call with the
same seed (as ``bench.py`` did) and a GeoRaster call with a seed of its own, each as a ratio to
``cv2.resize`` per band of the crop into preallocated outputs.
"""

from __future__ import annotations

import os
import time


def main() -> int:
    import cv2
    import numba
    import numpy as np

    import geoaug

    numba.set_num_threads(1)
    cv2.setNumThreads(1)
    for bands, side in ((13, 64), (13, 512), (1, 512)):
        a = (np.random.default_rng(0).random((bands, side, side)) * 3000).astype(np.uint16)
        t = geoaug.RandomResizedCrop(side, side, scale=(0.5, 0.5), ratio=(1.0, 1.0))
        raster = geoaug.GeoRaster.from_array(a)
        g_array, g_twin, g_own = np.random.default_rng(0), np.random.default_rng(0), np.random.default_rng(7)
        crop_side = round((side * side * 0.5) ** 0.5)
        crop = np.ascontiguousarray(a[:, :crop_side, :crop_side])
        outs = [np.empty((side, side), np.uint16) for _ in range(bands)]

        def opencv(crop=crop, outs=outs, side=side):
            for b, o in enumerate(outs):
                cv2.resize(crop[b], (side, side), dst=o, interpolation=cv2.INTER_LINEAR)

        calls = {"array (shared seed)": lambda t=t, a=a, g=g_array: t(a, rng=g),
                 "GeoRaster (shared seed)": lambda t=t, r=raster, g=g_twin: t(r, rng=g),
                 "GeoRaster (own seed)": lambda t=t, r=raster, g=g_own: t(r, rng=g),
                 "opencv": opencv}
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(41):
            for name, call in calls.items():
                call()
                t0 = time.perf_counter()
                call()
                best[name] = min(best[name], time.perf_counter() - t0)
        ratios = ", ".join(f"{name} {best[name] / best['opencv']:.2f}x" for name in calls if name != "opencv")
        print(f"{bands}x{side}² uint16: {ratios}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    raise SystemExit(main())
