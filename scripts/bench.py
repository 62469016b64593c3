#!/usr/bin/env python3
"""Benchmark harness: geoaug against OpenCV, albumentations and ``np.copy``, as ratios.

Needs the bench extra (``pip install -e ".[bench]"``: OpenCV, albumentations; torch for the
DataLoader figures). Without albumentations or torch those columns say so.

What it measures (docs/benchmarks.md explains every choice):

* the matrix: sizes 13x64², 13x120², 12x256², 13x512², 4x512², 1x512², 200x256²; dtypes uint16,
  int16, float32; ops hflip, vflip, rot90, affine_nearest, affine_bilinear, affine_cubic,
  random_resized_crop, resize, normalize, pipeline (README.md "In 15 lines"), plus the fixed cost
  per call (a p=0 call on 13x64², a 13x1x1 flip);
* contenders: geoaug with a plain ndarray and with a GeoRaster (and a GeoRaster with a nodata collar
  for the warps), OpenCV per band (preallocated ``dst=``), OpenCV in chunks of 4 channels (HWC,
  transposes included), albumentations (native HWC prepared once), the plain numpy expression for
  Normalize, ``np.copy`` of the same bytes;
* interleaved in one process, warm-up first, each timed call right after an untimed call of the
  same function, best (min) of ``--repeats`` (>= 21 by default), at
  every thread count: the thread counts are interleaved too (each round times every contender at 1
  thread, then at 2: ``numba.set_num_threads``, ``cv2.setNumThreads`` and threadpoolctl's BLAS
  limit), so a 2-thread / 1-thread figure compares two calls made a moment apart;
* cold start (``import geoaug``; the README pipeline's first call with an empty and with a warm numba
  cache, each in a fresh subprocess, best of a few);
* DataLoader epoch throughput: 13x120² uint16 GeoTIFF chips, ``geoaug.torch.GeoTiffDataset`` with the
  README pipeline against rasterio + an albumentations Compose in a user's own torch Dataset.

Usage::

    python scripts/bench.py                       # everything (long), writes docs/benchmarks.{json,md}
    python scripts/bench.py --quick               # a subset in < 2 minutes
    python scripts/bench.py --only hflip,affine_bilinear --sizes 13x512,4x512 --dtypes uint16 --threads 1
    python scripts/bench.py --check OTHER.json    # run, then list every ratio > 15 % off OTHER.json
    python scripts/bench.py --passes 3 --samples  # each row's 21 rounds in 3 passes over the matrix, minutes
                                                  # apart; every timing kept in the JSON (samples_ms)
    python scripts/bench.py --from A.json --check B.json   # compare two runs without running
    python scripts/bench.py --only transforms --sizes 13x512 --dtypes uint16,float32   # issue 17's transforms
    python scripts/bench.py --scenes [--side 10980 --chips 128 --repeat 3]   # scenes to chips (bench_scenes.py)

Exit status 1 when ``--check`` finds a ratio that differs by more than ``--tolerance``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = ["13x64", "13x120", "12x256", "13x512", "4x512", "1x512", "200x256"]
DTYPES = ["uint16", "int16", "float32"]
OPS = ["hflip", "vflip", "rot90", "affine_nearest", "affine_bilinear", "affine_cubic", "random_resized_crop",
       "resize", "normalize", "pipeline", "fixed_cost"]
#: issue 17 transforms, each against albumentations' transform of the same name (``--only transforms``: all of them)
TRANSFORM_OPS = ["gaussian_blur", "sharpen", "downscale", "coarse_dropout", "grid_dropout", "elastic",
                 "grid_distortion"]
OPS += TRANSFORM_OPS
GROUPS = {"transforms": TRANSFORM_OPS}
BLUR_SIGMA = 1.0       # GaussianBlur / Sharpen: sigma in pixels (7 taps per axis)
SHARPEN_ALPHA = 0.5
DOWNSCALE = 2.0        # Downscale: coarse pixel = 2 input pixels (albumentations scale 0.5), area down, linear up
QUICK = {"sizes": ["13x64", "13x512", "1x512"], "dtypes": ["uint16"], "repeats": 7, "passes": 1, "cold_runs": 1,
         "loader_workers": [0, 2], "loader_contexts": ["fork"], "loader_epochs": 1, "loader_chips": 16}
FULL = {"repeats": 21, "passes": 1, "cold_runs": 3, "loader_workers": [0, 2, 4], "loader_contexts": ["fork", "spawn"],
        "loader_epochs": 3, "loader_chips": 64}
SMOKE = {"sizes": ["13x16"], "dtypes": ["uint16"], "repeats": 3, "passes": 1, "loader_workers": [0],
         "loader_contexts": ["fork"], "loader_epochs": 1, "loader_chips": 2}
ROTATE = 17.0          # degrees, every Affine row
RRC_SCALE = 0.5        # RandomResizedCrop: fixed area share and ratio 1, so every call does the same work
RESIZE_FACTOR = 0.75   # Resize: output side = round(0.75 * input side)
COLLAR = 0.1           # nodata collar: this share of each side invalid
#: glibc malloc in the timing process: blocks up to 64 MB come from the heap and freed memory stays mapped,
#: as in a long-running training process once it has freed one large block (glibc then raises its mmap
#: threshold itself). Left dynamic, each row's regime depended on the rows before it: albumentations' README
#: Compose on 1x512² uint16 took 5.35 ms when its temporaries were mapped and unmapped on every call (a page
#: fault per 4 kB) and 1.31 ms in the steady state; the previous pages measured it at 1.24-1.51 ms after the
#: larger rows, and the 13x120² rows at 4.2-6.1 ms (2.2 ms steady)
MALLOC_STEADY = "glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456"
NOISY = 1.5            # a row whose median / min exceeds this was disturbed by other work on the machine
README_RANGE = (0, 10000)
IMAGE = ROOT / "fixtures/tiles/sentinel2_l2a_12band_int16.tif"
LABELS = ROOT / "fixtures/labels/sentinel2_l2a_12band_int16.tif"
CHIP_SOURCE = ROOT / "fixtures/tiles/bigearthnet_s2_12band_uint16.tif"

# -------------------------------------------------------------------------------------------- helpers


def parse_size(s: str) -> tuple[int, int]:
    """``"13x512"`` -> (13, 512): bands x side (square)."""
    try:
        b, n = s.lower().split("x")
        out = int(b), int(n)
    except ValueError:
        raise SystemExit(f"--sizes: {s!r} is not BANDSxSIDE, e.g. 13x512") from None
    if min(out) < 1:
        raise SystemExit(f"--sizes: {s!r} must be positive")
    return out


def timeit(fns: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best (min) and median time in ms of each function; warm-up first, then interleaved repeats."""
    return timeit_threads(fns, repeats, [None])[None]


#: thread counts the timing child interleaves (``--threads``); set by :func:`child_run`
THREADS: list[int] = [1]
_blas = None  # threadpoolctl's controller, made on first use


def set_threads(n: int | None) -> None:
    """Run numba kernels, OpenCV and BLAS on ``n`` threads from now on (None: leave them)."""
    global _blas
    if n is None:
        return
    import cv2
    import numba

    numba.set_num_threads(n)
    cv2.setNumThreads(n)
    try:
        import threadpoolctl
    except ImportError:  # BLAS keeps the limit its environment variables gave it
        return
    if _blas is None:
        _blas = threadpoolctl.ThreadpoolController()
    _blas.limit(limits=n, user_api="blas")


#: the seed of a :class:`Seeded` contender's warm-up calls; its untimed call of round ``r`` takes this + 1 + r
#: (the timed call of round ``r`` takes ``r``: the rounds are fewer than this)
UNTIMED_SEED = 1_000_000


class Seeded:
    """A contender that draws its parameters, reseeded by :func:`timeit_threads` before every call.

    ``call(gen)`` runs the contender with ``gen``; ``seed(s)``, when given, reseeds a library's own
    generators instead (:func:`albumentations_reseed`) and ``call`` is then called with None. A geoaug
    contender also empties geoaug's caches keyed on one draw (:func:`forget_draws`): the same draw timed
    again (by the GeoRaster twin, at the next thread count) would find its entries there, where a training
    loop, drawing anew each call, does not.
    The README pipeline's best of 21 calls is its cheapest draw (no flip, no quarter turn, a small
    rotation): with a running generator each contender, and each thread count, timed other draws, and
    the row's ratios moved with the luck of those draws (a plain array 0.51x albumentations where its
    GeoRaster twin, the same code, was 0.41x). Reseeded, every contender of geoaug times the same 21
    draws at every thread count and in every run, and albumentations its own 21.
    """

    def __init__(self, call: Callable[[object], object], seed: Callable[[int], None] | None = None) -> None:
        self.call, self.seed = call, seed
        self.gen: object = None

    def reseed(self, s: int) -> None:
        import numpy as np

        if self.seed is not None:
            self.seed(s)
        else:
            forget_draws()
            self.gen = np.random.default_rng(s)

    def __call__(self) -> object:
        return self.call(self.gen)


def forget_draws() -> None:
    """Empty geoaug's caches whose entries belong to one draw: the output geotransform of each matrix
    (``geometry._FROM_IDENTITY``) and the separable resize's plan of a crop at one position
    (``kernels.resize._cached_plan``: a crop whose taps reach past an edge on both axes). Caches keyed on sizes alone
    (flips, quarter turns, the taps a moving crop shifts, the plan of a crop moved towards the corner,
    ``kernels.resize._moved_plan``) stay: a training loop finds them warm too. Without this, a
    RandomResizedCrop timed on the array and then on its GeoRaster twin with the same seed found the array's
    plan: at 13x64² uint16 the array read 82 µs and the GeoRaster 56 µs, and the array 59 µs at the second
    thread count."""
    from geoaug import geometry
    from geoaug.kernels import resize

    geometry._FROM_IDENTITY.clear()
    resize._cached_plan.cache_clear()


def albumentations_reseed(compose) -> Callable[[int], None]:
    """Reseed an albumentations Compose: one numpy and one Python stream for all its transforms.

    ``Compose.set_random_seed(s)`` gives every child transform generators of the same seed ``s``, so
    ``HorizontalFlip(p=0.5)`` and ``RandomRotate90(p=0.5)`` would decide with the same number (both or
    neither) and Affine's rotation would be that number too; ``set_random_state`` shares one stream, as
    an unseeded Compose draws.
    """
    import random

    import numpy as np

    return lambda s: compose.set_random_state(np.random.default_rng(s), random.Random(s))


def _reseed(f: Callable[[], object], s: int) -> None:
    reseed = getattr(f, "reseed", None)
    if reseed is not None:
        reseed(s)


def timeit_threads(fns: dict[str, Callable[[], object]], repeats: int, threads: list[int | None], start: int = 0,
                   ) -> dict[int | None, tuple[dict[str, float], dict[str, float]]]:
    """Per thread count, best (min) and median time in ms of each function (:func:`time_rounds`)."""
    return {n: summarize(tn) for n, tn in time_rounds(fns, repeats, threads, start).items()}


def summarize(samples: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Best (min) and median of each contender's timings."""
    return ({k: min(v) for k, v in samples.items()}, {k: sorted(v)[len(v) // 2] for k, v in samples.items()})


def round_order(order: list[str], r: int) -> list[str]:
    """The contenders' order in round ``r``: contender ``r`` (mod their number) first, the others shuffled
    (``random.Random(r)``, the same at every thread count and in every run).

    A fixed cycle (contender ``r`` first, then the rest in their order) put every contender after the same
    one in every round, and at 2 threads geoaug's plain array, always after albumentations and ``np.copy``,
    paid for it (docs/benchmarks.md, "Contenders in an order of each round's own").
    """
    import random

    first = order[r % len(order)]
    rest = [k for k in order if k != first]
    random.Random(r).shuffle(rest)
    return [first, *rest]


def time_rounds(fns: dict[str, Callable[[], object]], rounds: int, threads: list[int | None], start: int = 0,
                ) -> dict[int | None, dict[str, list[float]]]:
    """Per thread count, every timed call's time in ms, per function: rounds ``start`` to ``start + rounds - 1``.

    Warm-up first (each function at each thread count), then ``rounds`` rounds; each round times
    every function at the first thread count, then at the next...: the thread counts are compared
    a moment apart, under the same load. Each timed call comes right after an untimed call of the
    same function, so every contender is timed in the state its own previous call left (its code
    and its freed output buffer at hand), whatever ran before it: timed straight after another
    contender, the first of a row paid for the others' allocations and code (a 13x512² uint16
    Normalize on a plain array took 1.9 ms after the numpy expression's 27 MB of temporaries and
    0.41 ms after its own call; the same call on a GeoRaster, second in the row, 0.42 ms).

    A contender with a ``reseed(seed)`` method (:class:`Seeded`) is reseeded before each call, outside the
    timing: the timed call of round ``r`` draws with seed ``r`` at every thread count, and the untimed call
    before it with a seed of its own (``UNTIMED_SEED + 1 + r``), so that it warms the contender without
    making the timed draw first.
    A run in passes (:func:`child_run`) times rounds 0-6 of a row in its first pass, 7-13 in the second...: the
    same 21 draws, and the same turns, as 21 rounds in one go.

    The contenders take turns at going first: round ``r`` starts at contender ``r`` (mod their number), the
    others follow in an order of that round's own (:func:`round_order`). The first call after a thread count
    is set ran slow, untimed call before it or not: with a fixed order the first contender of every row (the
    plain array) read 1.10-1.35x its GeoRaster twin on 2-core Xeon machines, where the work is the same, and
    0.85-1.04x with the two swapped (the GeoRaster then paid). Taking turns, each contender's best comes from
    a round where another went first, and after a contender of another kind.
    """
    for n in threads:
        set_threads(n)
        for f in fns.values():
            _reseed(f, UNTIMED_SEED)
            f()
    times: dict[int | None, dict[str, list[float]]] = {n: {k: [] for k in fns} for n in threads}
    order = list(fns)
    for r in range(start, start + rounds):
        for n in threads:
            set_threads(n)
            tn = times[n]
            for k in round_order(order, r):
                f = fns[k]
                _reseed(f, UNTIMED_SEED + 1 + r)
                f()  # untimed: the timed call below follows a call of its own
                _reseed(f, r)
                t = time.perf_counter()
                f()
                tn[k].append((time.perf_counter() - t) * 1e3)
    return times


def make_array(bands: int, size: int, dtype: str):
    import numpy as np

    rng = np.random.default_rng(0)
    if dtype == "float32":
        return (rng.random((bands, size, size), dtype=np.float32) * 10000).astype(np.float32)
    return rng.integers(1, 10000, (bands, size, size)).astype(dtype)


def readme_pipeline():
    """README.md "In 15 lines", step for step."""
    import geoaug

    return geoaug.Compose([
        geoaug.HorizontalFlip(), geoaug.Rot90(),
        geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
        geoaug.Brightness((-0.01, 0.01), value_range=README_RANGE),
        geoaug.PCAJitter(std=0.1, value_range=README_RANGE),
    ])


def albumentations_pipeline(A):
    """albumentations' closest Compose to the README pipeline (docs/benchmarks.md says why)."""
    return A.Compose([
        A.HorizontalFlip(p=0.5), A.RandomRotate90(p=0.5),
        A.Affine(rotate=(-20, 20), scale=(0.9, 1.1), p=1.0),
        A.RandomBrightnessContrast(brightness_limit=0.01, contrast_limit=0.0, p=1.0),
        A.FancyPCA(alpha=0.1, p=1.0),
    ])


def albumentations_call(t, hwc, dtype: str):
    """A callable running albumentations transform ``t`` on ``hwc``; a note if it needs float32 first."""
    import numpy as np

    def native():
        return t(image=hwc)["image"]

    try:
        for _ in range(16):  # a random Compose takes other branches on other calls (a flip at 200 bands fails)
            native()
        return native, None
    except Exception as e:  # its dtype rules: retry as a user must, through float32 and back
        first = f"{type(e).__name__}: {str(e)[:80]}"
    lo, hi = README_RANGE
    info = np.iinfo(dtype) if dtype != "float32" else None

    def via_float():
        y = t(image=(hwc.astype(np.float32) - lo) / (hi - lo))["image"]
        y = y * (hi - lo) + lo
        if info is not None:
            y = np.clip(np.rint(y), info.min, info.max).astype(dtype)
        return y

    try:
        for _ in range(16):
            via_float()
    except Exception as e:
        return None, f"fails natively ({first}) and through float32 ({type(e).__name__}: {str(e)[:80]})"
    return via_float, f"{dtype} refused ({first}); timed through float32 and back"


class OpenCV:
    """OpenCV called the two ways a (bands, H, W) user can: per band, and in HWC chunks of 4."""

    def __init__(self, a, out_shape: tuple[int, int]) -> None:
        import numpy as np

        self.a = a
        self.out = np.empty((a.shape[0], *out_shape), a.dtype)
        self.chunks = []
        for k in range(0, a.shape[0], 4):
            c = min(4, a.shape[0] - k)
            cin = np.empty((*a.shape[1:], c) if c > 1 else a.shape[1:], a.dtype)
            cout = np.empty((*out_shape, c) if c > 1 else out_shape, a.dtype)
            self.chunks.append((k, c, cin, cout))

    def per_band(self, fn: Callable) -> Callable[[], object]:
        """``fn(src, dst)`` on each band, into a preallocated output."""
        a, out = self.a, self.out

        def run():
            for b in range(a.shape[0]):
                fn(a[b], out[b])
            return out
        return run

    def hwc4(self, fn: Callable) -> Callable[[], object]:
        """What albumentations does beyond 4 channels: to HWC, chunks of 4, back to (bands, H, W)."""
        import numpy as np

        a, out, chunks = self.a, self.out, self.chunks

        def run():
            for k, c, cin, cout in chunks:
                if c > 1:
                    np.copyto(cin, a[k:k + c].transpose(1, 2, 0))
                    fn(cin, cout)
                    np.copyto(out[k:k + c], cout.transpose(2, 0, 1))
                else:
                    np.copyto(cin, a[k])
                    fn(cin, cout)
                    np.copyto(out[k], cout)
            return out
        return run


def checked(fn: Callable[[], object]) -> tuple[Callable[[], object] | None, str | None]:
    """``fn`` and None if it runs on this data, else None and why."""
    try:
        fn()
    except Exception as e:
        return None, f"{type(e).__name__}: {str(e)[:120]}"
    return fn, None


# ------------------------------------------------------------------------------------------ one case


def bench_case(bands: int, size: int, dtype: str, ops: list[str], repeats: int, A, start: int = 0,
               ) -> dict[int, list[dict]]:
    """Every selected op on one (bands, size, dtype): per thread count (:data:`THREADS`), a row per op with
    min ms per contender, from rounds ``start`` to ``start + repeats - 1`` (:func:`row_from`)."""
    import cv2
    import numpy as np

    import geoaug
    from geoaug import geometry

    a = make_array(bands, size, dtype)
    shape = (size, size)
    hwc = np.ascontiguousarray(a.transpose(1, 2, 0))  # albumentations' native layout, made once
    raster = geoaug.GeoRaster.from_array(a)
    valid = np.ones((size, size), bool)
    c = max(1, round(COLLAR * size))
    valid[:c] = valid[-c:] = False
    valid[:, :c] = valid[:, -c:] = False
    collared = geoaug.GeoRaster.from_array(a, mask=valid)
    rows: dict[int, list[dict]] = {n: [] for n in THREADS}

    def row(op: str, fns: dict[str, Callable[[], object] | None], notes: dict[str, str] | None = None,
            reps: int = repeats) -> None:
        notes = dict(notes or {})
        ok = {}
        for k, f in fns.items():
            if f is None:
                notes.setdefault(k, "not measured")
                continue
            g, why = checked(f)
            if g is None:
                notes[k] = f"fails: {why}"
            else:
                ok[k] = g
        ok["np.copy"] = a.copy
        for n, samples in time_rounds(ok, reps, THREADS, start).items():
            rows[n].append(row_from(op, bands, size, dtype, samples, notes))

    def geo(t, seeded: bool = False) -> dict[str, Callable[[], object]]:
        # a generator each: with one seed the GeoRaster call drew the crop its array twin had just drawn and
        # found that crop's plan cached (scripts/bench_shared_seed.py measures what it hid). ``seeded``: both
        # reseeded before each call instead (Seeded), so they time the same draws, each with the caches of a
        # draw emptied first (forget_draws), as a new draw finds them
        if seeded:
            return {"geoaug array": Seeded(lambda g: t(a, rng=g)),
                    "geoaug GeoRaster": Seeded(lambda g: t(raster, rng=g))}
        gen_a, gen_r = np.random.default_rng(0), np.random.default_rng(1)
        return {"geoaug array": lambda: t(a, rng=gen_a), "geoaug GeoRaster": lambda: t(raster, rng=gen_r)}

    def alb(make: Callable[[], object] | None) -> tuple[Callable[[], object] | None, dict[str, str]]:
        if A is None:
            return None, {"albumentations": "not installed"}
        if make is None:
            return None, {"albumentations": "no fixed-parameter equivalent"}
        fn, note = albumentations_call(make(), hwc, dtype)
        if fn is None:
            return None, {"albumentations": note}
        return fn, ({"albumentations": note} if note else {})

    cv = OpenCV(a, shape)
    for op, code, at in (("hflip", 1, "HorizontalFlip"), ("vflip", 0, "VerticalFlip")):
        if op in ops:
            t = geoaug.HorizontalFlip(p=1) if op == "hflip" else geoaug.VerticalFlip(p=1)
            fa, na = alb(lambda at=at: getattr(A, at)(p=1))
            row(op, {**geo(t),
                     "opencv per band": cv.per_band(lambda s, d, code=code: cv2.flip(s, code, dst=d)),
                     "opencv hwc4": cv.hwc4(lambda s, d, code=code: cv2.flip(s, code, dst=d)),
                     "albumentations": fa}, na)
    if "rot90" in ops:
        t = geoaug.Rot90(k=1, p=1)
        flag = cv2.ROTATE_90_COUNTERCLOCKWISE
        _, na = alb(None)
        # rot90's output is (size, size) here: square inputs only
        row("rot90", {**geo(t),
                      "opencv per band": cv.per_band(lambda s, d: cv2.rotate(s, flag, dst=d)),
                      "opencv hwc4": cv.hwc4(lambda s, d: cv2.rotate(s, flag, dst=d)),
                      "albumentations": None}, na)
    m = geometry.affine_matrix(shape, rotate=ROTATE)
    mc = geometry.to_opencv(m)
    interp_cv = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
    for interp, cvi in interp_cv.items():
        op = f"affine_{interp}"
        if op not in ops:
            continue
        t = geoaug.Affine(rotate=ROTATE, interpolation=interp)
        gen_c = np.random.default_rng(2)
        flags = cvi | cv2.WARP_INVERSE_MAP

        def warp(s, d, flags=flags):
            return cv2.warpAffine(s, mc, (size, size), dst=d, flags=flags, borderMode=cv2.BORDER_CONSTANT)
        fa, na = alb(lambda cvi=cvi: A.Affine(rotate=(ROTATE, ROTATE), interpolation=cvi, p=1))
        row(op, {**geo(t), "geoaug GeoRaster collar": lambda t=t, g=gen_c: t(collared, rng=g),
                 "opencv per band": cv.per_band(warp), "opencv hwc4": cv.hwc4(warp), "albumentations": fa}, na)
    if "random_resized_crop" in ops:
        t = geoaug.RandomResizedCrop(size, size, scale=(RRC_SCALE, RRC_SCALE), ratio=(1.0, 1.0))
        side = round(math.sqrt(size * size * RRC_SCALE))
        crop = OpenCV(np.ascontiguousarray(a[:, :side, :side]), shape)
        crop.a = a[:, :side, :side]  # a view, as a crop is
        fa, na = alb(lambda: A.RandomResizedCrop(size=(size, size), scale=(RRC_SCALE, RRC_SCALE),
                                                 ratio=(1.0, 1.0), p=1))

        def rs(s, d):
            return cv2.resize(s, (size, size), dst=d, interpolation=cv2.INTER_LINEAR)
        # seeded: the crop's position changes the work (taps moved from a cached build inside the raster, built
        # anew at an edge), so with running generators each contender and thread count timed other positions
        # (13x64² uint16: a GeoRaster 49 µs at 1 thread and 67 µs at 2 on one page, by the luck of the draws)
        row("random_resized_crop", {**geo(t, seeded=True), "opencv per band": crop.per_band(rs),
                                    "opencv hwc4": crop.hwc4(rs), "albumentations": fa}, na)
    if "resize" in ops:
        n = max(1, round(size * RESIZE_FACTOR))
        t = geoaug.Resize(n, n)
        small = OpenCV(a, (n, n))
        fa, na = alb(lambda: A.Resize(n, n, p=1))

        def rs2(s, d):
            return cv2.resize(s, (n, n), dst=d, interpolation=cv2.INTER_LINEAR)
        row("resize", {**geo(t), "opencv per band": small.per_band(rs2), "opencv hwc4": small.hwc4(rs2),
                       "albumentations": fa}, na)
    if "normalize" in ops:
        mean = [float(v) for v in np.linspace(900, 2100, bands)]
        std = [float(v) for v in np.linspace(300, 700, bands)]
        t = geoaug.Normalize(mean=mean, std=std)
        m3 = np.asarray(mean, np.float32)[:, None, None]
        s3 = np.asarray(std, np.float32)[:, None, None]
        fa, na = alb(lambda: A.Normalize(mean=mean, std=std, max_pixel_value=1.0, p=1))
        row("normalize", {**geo(t), "numpy (a - mean) / std": lambda: (a - m3) / s3, "albumentations": fa}, na)
    if "pipeline" in ops:
        # every contender reseeded before each call (Seeded): the same draws at every thread count and in
        # every run, and the same ones for the plain array and the GeoRaster
        compose = albumentations_pipeline(A) if A is not None else None
        fa, na = alb(lambda: compose)
        seeded_alb = None if fa is None else Seeded(lambda _: fa(), albumentations_reseed(compose))
        row("pipeline", {**geo(readme_pipeline(), seeded=True), "albumentations": seeded_alb}, na)
    bench_transforms(ops, a, size, cv, A, alb, geo, row, collared)
    return rows


def bench_transforms(ops: list[str], a, size: int, cv: OpenCV, A, alb: Callable, geo: Callable, row: Callable,
                     collared) -> None:
    """Issue 17: blur, resolution, dropout and distortions against albumentations' same-named transforms.

    Same parameters where the two mean the same thing (sigma and kernel size, alpha, scale, hole sizes and
    counts, grid unit and ratio, steps and limits); the elastic field is drawn differently (geoaug: a coarse
    field of bounded nodes; albumentations: full-resolution noise smoothed by a Gaussian), so that row
    compares the same job (a random smooth field, one bilinear remap of every band) rather than the same
    numbers. The ratio that counts is geoaug on all bands over albumentations on all bands.

    A distortion's work depends on its draw (how many pixels' taps a field sends past the edge, each mapped by
    the fill mode), so geoaug's plain array and GeoRaster are reseeded per round (:class:`Seeded`) and time the
    same 21 draws at every thread count: with a generator each, 13x512² ``GridDistortion`` read 0.41x (uint16)
    and 0.34x (float32) albumentations on a plain array, 0.60x and 0.50x on its GeoRaster twin: the same code
    on other draws.
    """
    import cv2
    import numpy as np

    import geoaug
    from geoaug.kernels.blur import gaussian_taps

    k = len(gaussian_taps(BLUR_SIGMA))
    reflect = cv2.BORDER_REFLECT_101
    if "gaussian_blur" in ops:
        fa, na = alb(lambda: A.GaussianBlur(blur_limit=(k, k), sigma_limit=(BLUR_SIGMA, BLUR_SIGMA), p=1))

        def gb(s, d):
            return cv2.GaussianBlur(s, (k, k), BLUR_SIGMA, dst=d, borderType=reflect)
        row("gaussian_blur", {**geo(geoaug.GaussianBlur(sigma=BLUR_SIGMA)),
                              "geoaug GeoRaster collar": lambda: geoaug.GaussianBlur(BLUR_SIGMA)(collared, rng=0),
                              "opencv per band": cv.per_band(gb), "opencv hwc4": cv.hwc4(gb), "albumentations": fa},
            na)
    if "sharpen" in ops:
        fa, na = alb(lambda: A.Sharpen(alpha=(SHARPEN_ALPHA, SHARPEN_ALPHA), method="gaussian", kernel_size=k,
                                       sigma=BLUR_SIGMA, p=1))
        row("sharpen", {**geo(geoaug.Sharpen(alpha=SHARPEN_ALPHA, sigma=BLUR_SIGMA)), "albumentations": fa}, na)
    if "downscale" in ops:
        n = max(1, round(size / DOWNSCALE))
        fa, na = alb(lambda: A.Downscale(scale_range=(1 / DOWNSCALE, 1 / DOWNSCALE), p=1,
                                         interpolation_pair={"downscale": cv2.INTER_AREA,
                                                             "upscale": cv2.INTER_LINEAR}))
        small = np.empty((n, n), a.dtype)

        def ds(s, d):
            cv2.resize(s, (n, n), dst=small, interpolation=cv2.INTER_AREA)
            return cv2.resize(small, (size, size), dst=d, interpolation=cv2.INTER_LINEAR)
        row("downscale", {**geo(geoaug.Downscale(factor=DOWNSCALE)),
                          "geoaug GeoRaster collar": lambda: geoaug.Downscale(factor=DOWNSCALE)(collared, rng=0),
                          "opencv per band": cv.per_band(ds), "albumentations": fa}, na)
    hole = max(1, size // 8)
    if "coarse_dropout" in ops:
        fa, na = alb(lambda: A.CoarseDropout(num_holes_range=(4, 4), hole_height_range=(hole, hole),
                                             hole_width_range=(hole, hole), fill=0, p=1))
        row("coarse_dropout", {**geo(geoaug.CoarseDropout(num_holes=4, hole_height=hole, hole_width=hole, fill=0)),
                               "geoaug GeoRaster nodata": lambda: geoaug.CoarseDropout(
                                   num_holes=4, hole_height=hole, hole_width=hole)(collared, rng=0),
                               "albumentations": fa}, na)
    unit = max(2, size // 8)
    if "grid_dropout" in ops:
        # albumentations draws the unit with integers(low, high): high excluded, (unit, unit + 1) is unit
        fa, na = alb(lambda: A.GridDropout(ratio=0.5, unit_size_range=(unit, unit + 1), random_offset=True, fill=0,
                                           p=1))
        row("grid_dropout", {**geo(geoaug.GridDropout(ratio=0.5, unit_size=unit, fill=0)),
                             "geoaug GeoRaster nodata": lambda: geoaug.GridDropout(ratio=0.5, unit_size=unit)(
                                 collared, rng=0),
                             "albumentations": fa}, na)
    if "elastic" in ops:
        fa, na = alb(lambda: A.ElasticTransform(alpha=40, sigma=8, interpolation=cv2.INTER_LINEAR,
                                                border_mode=reflect, p=1))
        t = geoaug.ElasticTransform(alpha=4.0, sigma=max(2.0, size / 16), fill="mirror")
        row("elastic", {**geo(t, seeded=True), "geoaug GeoRaster collar": lambda: t(collared, rng=0),
                        "albumentations": fa}, na)
    if "grid_distortion" in ops:
        fa, na = alb(lambda: A.GridDistortion(num_steps=5, distort_limit=(-0.3, 0.3), interpolation=cv2.INTER_LINEAR,
                                              border_mode=reflect, p=1))
        t = geoaug.GridDistortion(num_steps=5, distort_limit=(-0.3, 0.3), fill="mirror")
        row("grid_distortion", {**geo(t, seeded=True), "geoaug GeoRaster collar": lambda: t(collared, rng=0),
                                "albumentations": fa}, na)


def row_from(op: str, bands: int, size: int, dtype: str, samples: dict[str, list[float]], notes: dict) -> dict:
    """A row: best and median ms per contender, and the timings themselves (``samples_ms``: :func:`merge_passes`
    needs them; :func:`child_run` drops them before writing)."""
    best, median = summarize(samples)
    return {"op": op, "bands": bands, "size": size, "dtype": dtype, "ms": best, "median_ms": median, "notes": notes,
            "samples_ms": samples}


def merge_passes(passes: list[dict[int, list[dict]]], keep_samples: bool = False) -> dict[int, list[dict]]:
    """One row per thread count and row key from the rows of several passes over the matrix: the best and the
    median of all their timings, in the first pass's order, with its notes; ``samples_ms`` (every timing, in
    round order) dropped unless ``keep_samples``."""
    out: dict[int, list[dict]] = {}
    for n, first in passes[0].items():
        by_key = [{row_key(q): q for q in p[n]} for p in passes]
        merged = []
        for r in first:
            key = row_key(r)
            same = [p[key] for p in by_key if key in p]
            samples = {k: [t for q in same for t in q["samples_ms"].get(k, [])] for k in r["samples_ms"]}
            merged.append({k: v for k, v in row_from(r["op"], r["bands"], r["size"], r["dtype"], samples,
                                                     r["notes"]).items() if keep_samples or k != "samples_ms"})
        out[n] = merged
    return out


def bench_fixed_cost(repeats: int, start: int = 0) -> dict[int, list[dict]]:
    """Fixed cost per call: a p=0 HorizontalFlip on 13x64² uint16, and a p=1 flip of a 13x1x1 array."""
    import numpy as np

    import geoaug

    rows: dict[int, list[dict]] = {n: [] for n in THREADS}
    for op, bands, size, p in (("fixed_cost_p0", 13, 64, 0.0), ("fixed_cost_1x1", 13, 1, 1.0)):
        a = make_array(bands, size, "uint16")
        r = geoaug.GeoRaster.from_array(a)
        t = geoaug.HorizontalFlip(p=p)
        ga, gr = np.random.default_rng(0), np.random.default_rng(1)
        timed = time_rounds({"geoaug array": lambda t=t, a=a, g=ga: t(a, rng=g),
                             "geoaug GeoRaster": lambda t=t, r=r, g=gr: t(r, rng=g), "np.copy": a.copy},
                            repeats, THREADS, start)
        for n, samples in timed.items():
            rows[n].append(row_from(op, bands, size, "uint16", samples, {}))
    return rows


def child_run(args: argparse.Namespace) -> None:
    """Every thread count, interleaved, in this (fresh) process: every selected case, rows per thread count as
    JSON to ``--out``."""
    global ROTATE
    THREADS[:] = [int(n) for n in args.threads_child.split(",")]
    ROTATE = args.rotate
    import cv2
    import numba

    # geoaug before set_num_threads: importing geoaug picks numba's threading layer (TBB), while
    # set_num_threads called first would start numba's default layer (OpenMP) for the whole process
    import geoaug  # noqa: F401

    A = None
    if not args.no_albumentations:
        try:
            import albumentations as A
        except ImportError:
            A = None
    ops = [o for o in args.ops if o != "fixed_cost"]
    label = ",".join(map(str, THREADS))
    per_pass = -(-args.repeats // args.passes)  # rounds of each row per pass
    fixed_per_pass = -(-max(args.repeats, 21) // args.passes)
    passes = []
    for p in range(args.passes):
        rows: dict[int, list[dict]] = {n: [] for n in THREADS}
        if "fixed_cost" in args.ops:
            for n, r in bench_fixed_cost(fixed_per_pass, p * fixed_per_pass).items():
                rows[n] += r
        for s in args.sizes:
            bands, size = parse_size(s)
            for dtype in args.dtypes:
                t0 = time.perf_counter()
                case = bench_case(bands, size, dtype, ops, per_pass, A, p * per_pass)
                for n, r in case.items():
                    rows[n] += r
                print(f"  [threads {label}, pass {p + 1}/{args.passes}] {bands}x{size}² {dtype}: "
                      f"{len(case[THREADS[0]])} ops, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        passes.append(rows)
    rows = merge_passes(passes, keep_samples=args.samples)
    by_threads = {}
    for n in THREADS:
        set_threads(n)
        by_threads[str(n)] = {"threads": n, "numba_threads": numba.get_num_threads(),
                              "cv2_threads": cv2.getNumThreads(), "malloc": os.environ.get("GLIBC_TUNABLES"),
                              "rows": rows[n]}
    Path(args.out).write_text(json.dumps({"by_threads": by_threads, "versions": versions(args.no_albumentations)}))


# ------------------------------------------------------------------------------------------ cold start

#: prepended to a child's code: scipy cannot be imported there (geoaug's core does not need it; numba imports
#: ``scipy.linalg`` for its BLAS check on its first compiled call when scipy is installed)
NO_SCIPY = """
import sys
class _NoScipy:
    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("scipy is blocked in this process")
sys.meta_path.insert(0, _NoScipy())
"""

COLD_CODE = """
import json, sys, time
t0 = time.perf_counter()
import geoaug
t1 = time.perf_counter()
if sys.argv[1] == "import":
    print(json.dumps({"import_s": t1 - t0})); raise SystemExit
import numpy as np
sys.path.insert(0, sys.argv[2])
from bench import readme_pipeline
image = geoaug.read(sys.argv[3])
labels = geoaug.read(sys.argv[4])
pipe = readme_pipeline()
t2 = time.perf_counter()
res = pipe(image, rng=np.random.default_rng(0), labels=labels, return_record=True)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "scipy_imported": "scipy.linalg" in sys.modules}))
"""


def _cold_child(mode: str, cache: str | None, no_scipy: bool = False) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    code = (NO_SCIPY if no_scipy else "") + COLD_CODE
    r = subprocess.run([sys.executable, "-c", code, mode, str(ROOT / "scripts"), str(IMAGE), str(LABELS)],
                       capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compile_bytecode(package: Path) -> bool:
    """Write the bytecode of every module under ``package`` (``__pycache__``), as installing a package does.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, Python never writes it for an editable install or a source tree on
    ``PYTHONPATH`` (what that costs each process: docs/processes.md, "Starting a process"). ``compileall`` writes
    it regardless, and rewrites only modules newer than their bytecode. True when every module compiled.
    """
    import compileall

    return bool(compileall.compile_dir(str(package), quiet=1))


def bench_cold(runs: int, empty_cache: bool) -> dict:
    """Best of ``runs`` fresh processes: import time; README pipeline's first call, empty and warm cache.

    geoaug's bytecode is compiled first (:func:`compile_bytecode`): the processes import what an installed
    package would give them."""
    out: dict = {"runs": runs, "bytecode": compile_bytecode(ROOT / "geoaug")}
    # import: best of 9 or more (a few hundred ms each; best of 3 moved by 26 % between two runs)
    imports = max(3 * runs, 9 if empty_cache else 1)
    out["import_all_s"] = [_cold_child("import", None)["import_s"] for _ in range(imports)]
    out["import_s"] = min(out["import_all_s"])
    with tempfile.TemporaryDirectory(prefix="geoaug-numba-cache-") as keep:
        if empty_cache:
            cold = []
            for i in range(runs):
                d = keep if i == 0 else tempfile.mkdtemp(prefix="geoaug-numba-cache-")
                try:
                    cold.append(_cold_child("first", d)["first_call_s"])
                finally:
                    if d != keep:
                        shutil.rmtree(d, ignore_errors=True)
            out["first_call_empty_cache_s"] = min(cold)
            cache = keep
        else:
            cache = None  # the default cache location, warmed by the timing runs
            _cold_child("first", cache)
            out["note"] = "empty-cache figure not measured in this mode"
        warm = [_cold_child("first", cache) for _ in range(runs)]
        out["first_call_warm_cache_s"] = min(w["first_call_s"] for w in warm)
        out["scipy_imported_by_first_call"] = any(w["scipy_imported"] for w in warm)
        # the same first call where scipy cannot be imported: what a process without scipy (geoaug's core does
        # not need it) pays; with scipy installed numba imports scipy.linalg on its first compiled call
        out["first_call_warm_cache_without_scipy_s"] = min(
            _cold_child("first", cache, no_scipy=True)["first_call_s"] for _ in range(runs))
    return out


# ----------------------------------------------------------------------------------------- DataLoader


class AlbumentationsTiffDataset:
    """What a user writes without geoaug: rasterio reads, albumentations augments, a float32 tensor out."""

    def __init__(self, paths: list[str], seed: int = 0) -> None:
        self.paths, self.seed = paths, seed
        self.compose = None

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        import albumentations as A
        import numpy as np
        import rasterio
        import torch

        if self.compose is None:
            self.compose = albumentations_pipeline(A)
        with rasterio.open(self.paths[i]) as src:
            x = src.read()
        y = self.compose(image=np.ascontiguousarray(x.transpose(1, 2, 0)))["image"]
        return {"image": torch.from_numpy(np.ascontiguousarray(y.transpose(2, 0, 1), dtype=np.float32)),
                "index": i}


def write_chips(folder: Path, n: int) -> list[str]:
    """``n`` 13 x 120² uint16 GeoTIFF chips from the 12-band BigEarthNet fixture (13th band: B8A's twin)."""
    import numpy as np
    import rasterio

    with rasterio.open(CHIP_SOURCE) as src:
        data, profile = src.read(), src.profile
    data = np.concatenate([data, data[-1:]], axis=0)[:, :120, :120]
    profile.update(count=13, height=120, width=120, nodata=None)
    paths = []
    for i in range(n):
        p = folder / f"chip{i:03d}.tif"
        with rasterio.open(p, "w", **profile) as dst:
            dst.write(np.roll(data, i, axis=2))
        paths.append(str(p))
    return paths


def loader_child(args: argparse.Namespace) -> None:
    """Samples/s of one DataLoader epoch (best of ``--loader-epochs`` after a warm-up epoch)."""
    import warnings

    import torch
    from torch.utils.data import DataLoader

    # torch warns when workers outnumber cores: 4 workers on 2 cores is one of the asked-for settings
    warnings.filterwarnings("ignore", message="This DataLoader will create", category=UserWarning)

    import geoaug.torch as gt

    out: dict = {"chips": args.loader_chips, "batch_size": 16, "runs": [], "torch": torch.__version__}
    try:
        import albumentations  # noqa: F401

        have_albu = not args.no_albumentations
    except ImportError:
        have_albu = False
    out["albumentations"] = have_albu
    with tempfile.TemporaryDirectory(prefix="geoaug-loader-") as tmp:
        paths = write_chips(Path(tmp), args.loader_chips)
        datasets = {"geoaug": gt.GeoTiffDataset(paths, pipeline=readme_pipeline())}
        if have_albu:
            datasets["albumentations"] = AlbumentationsTiffDataset(paths)
        for ctx in args.loader_contexts:
            for workers in args.loader_workers:
                if workers == 0 and ctx != args.loader_contexts[0]:
                    continue  # no workers: the start method does not matter
                rec: dict = {"workers": workers, "context": ctx if workers else "-"}
                for name, ds in datasets.items():
                    dl = DataLoader(ds, batch_size=16, num_workers=workers, persistent_workers=workers > 0,
                                    multiprocessing_context=ctx if workers else None)
                    best = math.inf
                    for epoch in range(args.loader_epochs + 1):  # epoch 0 warms up (workers start, compile)
                        t = time.perf_counter()
                        n = sum(len(b["index"]) for b in dl)
                        if epoch:
                            best = min(best, time.perf_counter() - t)
                    del dl
                    rec[f"{name}_samples_s"] = n / best
                if "albumentations_samples_s" in rec:
                    rec["ratio"] = rec["geoaug_samples_s"] / rec["albumentations_samples_s"]
                out["runs"].append(rec)
                print(f"  [loader] {rec}", file=sys.stderr, flush=True)
    Path(args.out).write_text(json.dumps(out))


# ------------------------------------------------------------------------------------------ ratios


GEO = ("geoaug array", "geoaug GeoRaster")


def row_key(r: dict) -> str:
    return f"{r['op']} {r['bands']}x{r['size']} {r['dtype']}"


def row_ratios(r: dict) -> dict[str, float]:
    """Every geoaug figure over every other contender's, plus the collar over the all-valid GeoRaster."""
    ms = r["ms"]
    out = {}
    for g in GEO:
        if g not in ms:
            continue
        for k, v in ms.items():
            if not k.startswith("geoaug") and v > 0:
                out[f"{g} / {k}"] = ms[g] / v
        cvs = [ms[k] for k in ("opencv per band", "opencv hwc4") if k in ms]
        if cvs:
            out[f"{g} / fastest opencv"] = ms[g] / min(cvs)
    if "geoaug GeoRaster collar" in ms and "geoaug GeoRaster" in ms:
        out["collar / all-valid"] = ms["geoaug GeoRaster collar"] / ms["geoaug GeoRaster"]
    return out


def all_ratios(d: dict) -> dict[str, float]:
    """Flat ``{name: ratio}`` of a run: per-thread rows, 2-thread over 1-thread, DataLoader."""
    out = {}
    by_t = {t: {row_key(r): r for r in v["rows"]} for t, v in d.get("threads", {}).items()}
    for t, rows in by_t.items():
        for k, r in rows.items():
            for name, v in row_ratios(r).items():
                out[f"[{t}t] {k}: {name}"] = v
    if "1" in by_t and "2" in by_t:
        for k, r2 in by_t["2"].items():
            r1 = by_t["1"].get(k)
            if r1 is None:
                continue
            for g in (*GEO, "geoaug GeoRaster collar"):
                if g in r1["ms"] and g in r2["ms"]:
                    out[f"[2t/1t] {k}: {g}"] = r2["ms"][g] / r1["ms"][g]
    for run in (d.get("loader") or {}).get("runs", []):
        if "ratio" in run:
            out[f"[loader] {run['workers']} workers {run['context']}: geoaug / albumentations samples/s"] = run["ratio"]
    return out


def spread(r: dict) -> float:
    """The row's largest median / min over its contenders: how much the machine disturbed it."""
    med = r.get("median_ms") or {}
    return max((med[k] / v for k, v in r["ms"].items() if k in med and v > 0), default=1.0)


def noisy_rows(d: dict, limit: float = NOISY) -> set[str]:
    """``"[t] row key"`` of the rows whose spread exceeds ``limit``."""
    return {f"[{t}t] {row_key(r)}" for t, v in d.get("threads", {}).items() for r in v["rows"] if spread(r) > limit}


def check(new: dict, old: dict, tolerance: float) -> list[str]:
    """Ratios present in both runs that differ by more than ``tolerance`` (relative), noisy rows marked."""
    a, b = all_ratios(new), all_ratios(old)
    noisy = noisy_rows(new) | noisy_rows(old)
    bad = []
    for k in sorted(a.keys() & b.keys()):
        rel = a[k] / b[k] - 1 if b[k] else math.inf
        if abs(rel) > tolerance:
            row = k.split(":", 1)[0]
            flag = f" [noisy: median/min > {NOISY:g} in a run]" if row in noisy else ""
            bad.append(f"{k}: {a[k]:.3f} vs {b[k]:.3f} ({rel:+.0%}){flag}")
    return bad


# ------------------------------------------------------------------------------------------ main


def versions(no_albu: bool) -> dict:
    import cv2
    import numba
    import numpy as np

    import geoaug
    from geoaug.kernels import threads

    v = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
         "opencv": cv2.__version__, "geoaug": geoaug.__version__, "threading_layer": threads.threading_layer()}
    for name in ("albumentations", "torch"):  # from the metadata: importing torch costs seconds
        try:
            v[name] = None if name == "albumentations" and no_albu else importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            v[name] = None
    return v


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.system(), "host": platform.node()}


def git_rev() -> str | None:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                       check=False)
    return r.stdout.strip() or None


def load_average() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def run_child(extra: list[str], out: Path, env: dict | None = None) -> dict:
    """Run this script in a fresh process; its JSON result, with the load average before and after."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *extra, "--out", str(out)]
    before, t = load_average(), time.perf_counter()
    r = subprocess.run(cmd, env=env, check=False)
    if r.returncode != 0:
        raise SystemExit(f"benchmark child failed ({r.returncode}): {' '.join(cmd)}")
    res = json.loads(out.read_text())
    res["load_average"] = [before, load_average()]
    res["seconds"] = time.perf_counter() - t
    return res


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--scenes"]:  # the scenes-to-chips benchmark: scripts/bench_scenes.py with the other options
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_scenes

        sys.argv = [str(ROOT / "scripts" / "bench_scenes.py"), *argv[1:]]
        bench_scenes.main()
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a subset (13x64², 13x512², 1x512² uint16; < 2 minutes)")
    ap.add_argument("--smoke", action="store_true", help="one tiny case, 3 repeats: checks the harness, not speed")
    ap.add_argument("--only", help=f"comma-separated ops (default all): {','.join(OPS)}; "
                                   f"'transforms' stands for {','.join(TRANSFORM_OPS)}")
    ap.add_argument("--sizes", help=f"comma-separated BANDSxSIDE (default {','.join(SIZES)})")
    ap.add_argument("--dtypes", help=f"comma-separated (default {','.join(DTYPES)})")
    ap.add_argument("--threads", default="1,2", help="thread counts, interleaved in one process (default 1,2)")
    ap.add_argument("--rotate", type=float, default=ROTATE,
                    help=f"degrees every Affine row turns by (default {ROTATE:g}; e.g. 88: nearly a quarter turn)")
    ap.add_argument("--repeats", type=int, help="best of this many (default 21; --quick 9, --smoke 3)")
    ap.add_argument("--passes", type=int,
                    help="walk the matrix this many times, each row's rounds shared out among the passes "
                         "(default 1)")
    ap.add_argument("--samples", action="store_true",
                    help="keep every timed call's time in the JSON (samples_ms: per contender, in round order)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start figures")
    ap.add_argument("--no-loader", action="store_true", help="skip the DataLoader figures")
    ap.add_argument("--no-albumentations", action="store_true", help="leave albumentations out even if installed")
    ap.add_argument("--json", default=str(ROOT / "docs/benchmarks.json"), help="where the results go")
    ap.add_argument("--md", default=str(ROOT / "docs/benchmarks.md"),
                    help="the page written from them ('-' for none)")
    ap.add_argument("--check", metavar="OTHER.json", help="list every ratio that differs from OTHER.json's")
    ap.add_argument("--from", dest="from_json", metavar="THIS.json", help="with --check: compare, don't run")
    ap.add_argument("--tolerance", type=float, default=0.15, help="--check: relative difference (default 0.15)")
    # internal: one thread count / the DataLoader figures in a child process
    ap.add_argument("--threads-child", help=argparse.SUPPRESS)
    ap.add_argument("--loader-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--loader-workers", help=argparse.SUPPRESS)
    ap.add_argument("--loader-contexts", help=argparse.SUPPRESS)
    ap.add_argument("--loader-epochs", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--loader-chips", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.from_json:
        if not args.check:
            ap.error("--from needs --check OTHER.json")
        return report_check(json.loads(Path(args.from_json).read_text()), args)

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    preset = {"smoke": SMOKE, "quick": QUICK, "full": FULL}[mode]
    args.ops = [o for g in args.only.split(",") for o in GROUPS.get(g, [g])] if args.only else list(OPS)
    unknown = set(args.ops) - set(OPS)
    if unknown:
        ap.error(f"--only: unknown ops {sorted(unknown)}; choose from {','.join(OPS)}")
    args.sizes = args.sizes.split(",") if args.sizes else preset.get("sizes", SIZES)
    for s in args.sizes:
        parse_size(s)
    args.dtypes = args.dtypes.split(",") if args.dtypes else preset.get("dtypes", DTYPES)
    if set(args.dtypes) - set(DTYPES):
        ap.error(f"--dtypes: choose from {','.join(DTYPES)}")
    args.repeats = args.repeats or preset.get("repeats", FULL["repeats"])
    args.passes = args.passes or preset.get("passes", FULL["passes"])
    if args.passes < 1 or args.repeats < 1:
        ap.error("--repeats and --passes must be >= 1")
    args.loader_workers = ([int(w) for w in args.loader_workers.split(",")] if args.loader_workers
                           else preset.get("loader_workers", FULL["loader_workers"]))
    args.loader_contexts = (args.loader_contexts.split(",") if args.loader_contexts
                            else preset.get("loader_contexts", FULL["loader_contexts"]))
    args.loader_epochs = args.loader_epochs or preset.get("loader_epochs", FULL["loader_epochs"])
    args.loader_chips = args.loader_chips or preset.get("loader_chips", FULL["loader_chips"])

    if args.threads_child is not None:
        child_run(args)
        return 0
    if args.loader_child:
        loader_child(args)
        return 0

    t_start = time.perf_counter()
    try:
        thread_counts = [int(t) for t in args.threads.split(",")]
    except ValueError:
        ap.error(f"--threads: expected comma-separated integers, got {args.threads!r}")
    if not thread_counts or min(thread_counts) < 1:
        ap.error(f"--threads: thread counts must be >= 1, got {args.threads!r}")
    common = ["--repeats", str(args.repeats), "--passes", str(args.passes), "--only", ",".join(args.ops),
              "--sizes", ",".join(args.sizes), "--dtypes", ",".join(args.dtypes)]
    common += ["--rotate", repr(args.rotate)]
    common += ["--no-albumentations"] if args.no_albumentations else []
    common += ["--samples"] if args.samples else []
    result: dict = {
        "meta": {"mode": mode, "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "command": " ".join(["python scripts/bench.py", *(argv if argv is not None else sys.argv[1:])]),
                 "git": git_rev(), "repeats": -(-args.repeats // args.passes) * args.passes,
                 "passes": args.passes, "round_order": "shuffled", "ops": args.ops, "sizes": args.sizes,
                 "dtypes": args.dtypes, "machine": machine(),
                 "settings": {"rotate_deg": args.rotate, "rrc_scale": RRC_SCALE, "resize_factor": RESIZE_FACTOR,
                              "collar": COLLAR, "malloc": MALLOC_STEADY}},
        "threads": {},
    }
    with tempfile.TemporaryDirectory(prefix="geoaug-bench-") as tmp:
        label = ",".join(map(str, thread_counts))
        print(f"timing at {label} thread(s), interleaved, in a fresh process ...", file=sys.stderr, flush=True)
        top = str(max(thread_counts))  # numba's pool, OpenMP and BLAS start this wide; set_threads narrows them
        env = {**os.environ, "NUMBA_NUM_THREADS": top, "OMP_NUM_THREADS": top, "OPENBLAS_NUM_THREADS": top,
               "MKL_NUM_THREADS": top, "GLIBC_TUNABLES": MALLOC_STEADY}
        child = run_child([*common, "--threads-child", label], Path(tmp) / "timing.json", env)
        for n, res in child["by_threads"].items():
            result["threads"][n] = {**res, "versions": child["versions"], "load_average": child["load_average"],
                                    "seconds": child["seconds"]}
        if not args.no_cold:
            print("cold start ...", file=sys.stderr, flush=True)
            before, t = load_average(), time.perf_counter()
            result["cold"] = bench_cold(preset.get("cold_runs", 1), empty_cache=mode != "smoke")
            result["cold"]["load_average"] = [before, load_average()]
            result["cold"]["seconds"] = time.perf_counter() - t
        if not args.no_loader:
            try:
                import torch  # noqa: F401
            except ImportError:
                result["loader"] = {"missing": "torch not installed"}
            else:
                print("DataLoader ...", file=sys.stderr, flush=True)
                extra = ["--loader-child", "--loader-workers", ",".join(map(str, args.loader_workers)),
                         "--loader-contexts", ",".join(args.loader_contexts), "--loader-epochs",
                         str(args.loader_epochs), "--loader-chips", str(args.loader_chips)]
                if args.no_albumentations:
                    extra.append("--no-albumentations")
                result["loader"] = run_child(extra, Path(tmp) / "loader.json")
    # versions as the timing processes saw them (importing them here would only slow the parent down)
    result["meta"]["versions"] = next(iter(result["threads"].values())).pop("versions")
    for res in result["threads"].values():
        res.pop("versions", None)
    result["meta"]["seconds"] = time.perf_counter() - t_start
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json} ({result['meta']['seconds']:.0f} s)", file=sys.stderr)
    if args.md != "-":
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench_report

        md = Path(args.md)
        kept = ""  # sections from other commands (bench_scenes.py, --only transforms) below the marker stay
        if md.exists() and bench_report.KEPT_MARKER in md.read_text():
            kept = md.read_text()[md.read_text().index(bench_report.KEPT_MARKER):]
        md.write_text(bench_report.render(result) + ("\n" + kept if kept else ""))
        print(f"wrote {args.md}", file=sys.stderr)
    if args.check:
        return report_check(result, args)
    return 0


def report_check(new: dict, args: argparse.Namespace) -> int:
    old = json.loads(Path(args.check).read_text())
    bad = check(new, old, args.tolerance)
    shared = len(all_ratios(new).keys() & all_ratios(old).keys())
    for line in bad:
        print(line)
    print(f"--check: {len(bad)} of {shared} shared ratios differ by > {args.tolerance:.0%} from {args.check}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
