"""First-call compile time, two source trees side by side: fresh processes alternating, empty numba caches.

``scripts/bench.py`` measures the cold start of the tree it belongs to. To see what a change did to the
compile time, this script runs the same first call from two checkouts (``git worktree add ../old <rev>``),
one fresh process each with an empty ``NUMBA_CACHE_DIR``, alternating old and new so both see the same
machine state, and prints every time and each side's best::

    python scripts/bench_cold.py --old ../old --new . --runs 3
    python scripts/bench_cold.py --old ../old --new . --case resize --case grid_distortion --case cubic

Cases (the first call is timed, imports and reading excluded):

* ``readme``: the README pipeline on its fixtures (12x100² int16 with its uint8 labels), as bench.py's
  cold start;
* ``resize``, ``grid_distortion``, ``cubic``, ``gaussian_blur``: ``Resize(192, 192)``,
  ``GridDistortion``, a cubic ``Affine`` and ``GaussianBlur(sigma=1)`` of a 13x256² uint16 array (large
  enough for the parallel entries at 2 threads);
* ``contrast``: ``Contrast`` of a 1x512² uint16 array at 2 threads (the parallel store), after an untimed
  call on a 64² crop (the serial store), as a training loop meets them.
* ``copies``: ``HorizontalFlip`` and ``Rot90`` of 3x64² GeoRasters with a nodata collar, uint16, uint8,
  float32 and float64 one after the other (the exact copies' kernel for each item size, with its mask planes).

Both trees run under this interpreter (the same numba, numpy and threading layer). Wall-clock seconds of a
whole compile: the machine's other work moves them by about 10 %, so read the alternating pairs together.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys, time
tree, case = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
import geoaug
assert geoaug.__file__.startswith(tree), geoaug.__file__
import numpy as np
if case == "readme":
    sys.path.insert(0, tree + "/scripts")
    from bench import IMAGE, LABELS, readme_pipeline
    image, labels = geoaug.read(str(IMAGE)), geoaug.read(str(LABELS))
    pipe = readme_pipeline()
    call = lambda: pipe(image, rng=np.random.default_rng(0), labels=labels, return_record=True)
elif case == "copies":
    # exact copies (a flip and a quarter turn, with a nodata mask) of four item sizes, one after the other
    rasters = []
    for dt in ("uint16", "uint8", "float32", "float64"):
        x = np.random.default_rng(0).integers(0, 200, (3, 64, 64)).astype(dt)
        valid = np.ones((64, 64), bool)
        valid[:4] = False
        rasters.append(geoaug.GeoRaster.from_array(x, mask=valid))
    flips = (geoaug.HorizontalFlip(p=1), geoaug.Rot90(k=1, p=1))
    call = lambda: [t(r, rng=0) for r in rasters for t in flips]
elif case == "contrast":
    import numba
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    t = geoaug.Contrast((0.8, 1.2))
    x = np.random.default_rng(0).integers(0, 10000, (1, 512, 512)).astype(np.uint16)
    t(x[:, :64, :64].copy(), rng=np.random.default_rng(0))  # untimed: the serial store compiles first
    call = lambda: t(x, rng=np.random.default_rng(0))
else:
    x = np.random.default_rng(0).integers(0, 10000, (13, 256, 256)).astype(np.uint16)
    t = {"resize": lambda: geoaug.Resize(192, 192),
         "grid_distortion": lambda: geoaug.GridDistortion(num_steps=5, distort_limit=(-0.3, 0.3), fill="mirror"),
         "cubic": lambda: geoaug.Affine(rotate=(-20, 20), interpolation="cubic"),
         "gaussian_blur": lambda: geoaug.GaussianBlur(sigma=(1.0, 1.0))}[case]()
    call = lambda: t(x, rng=np.random.default_rng(0))
t0 = time.perf_counter()
call()
print(f"{time.perf_counter() - t0:.3f}")
"""

CASES = ("readme", "resize", "grid_distortion", "cubic", "gaussian_blur", "contrast", "copies")


def first_call(tree: Path, case: str) -> float:
    """Seconds of ``case``'s first call in a fresh process importing geoaug from ``tree``, empty cache."""
    with tempfile.TemporaryDirectory(prefix="geoaug-cold-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("PYTHONPATH", None)
        r = subprocess.run([sys.executable, "-c", CHILD, str(tree), case], capture_output=True, text=True,
                           env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{tree} {case}: the child failed:\n{r.stderr[-2000:]}")
    return float(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, type=Path, help="the tree before the change (a checkout)")
    ap.add_argument("--new", required=True, type=Path, help="the tree after it")
    ap.add_argument("--case", action="append", choices=CASES, help="what to time (repeatable; default readme)")
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per tree and case (default 3)")
    args = ap.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    for case in args.case or ["readme"]:
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.runs):
            for side, tree in trees.items():
                times[side].append(first_call(tree, case))
        for side in trees:
            print(f"{case:16s} {side}: {' '.join(f'{t:.2f}' for t in times[side])} s; best {min(times[side]):.2f} s")
        print(f"{case:16s} new / old (best): {min(times['new']) / min(times['old']):.2f}")


if __name__ == "__main__":
    main()
