#!/usr/bin/env python3
"""Side-by-side timings: geoaug against the tools users would pick instead.

Needs the bench extra (``pip install -e ".[bench]"``: OpenCV, scipy, albumentations, matplotlib).

One process, same data, interleaved repeats after warm-up; medians and
minimums in milliseconds, and ratios to ``np.copy`` (the floor) and to the
fastest peer. Peers: OpenCV per band on the (bands, H, W) layout, OpenCV on
HWC chunks of 4 channels with the layout transposes (what albumentations
does), albumentations itself when installed, scipy.ndimage per band, GDAL
through ``rasterio.warp.reproject`` (2 threads).

Usage: ``python scripts/bench.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import cv2
import numpy as np
import rasterio
import rasterio.warp
from affine import Affine
from rasterio.enums import Resampling
from scipy import ndimage

import geoaug
from geoaug import geometry
from geoaug.kernels import index_copy, warp_affine

CV_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
GDAL_INTERP = {"nearest": Resampling.nearest, "bilinear": Resampling.bilinear, "cubic": Resampling.cubic}
SCIPY_ORDER = {"nearest": 0, "bilinear": 1, "cubic": 3}


def timeit(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Interleaved repeats (so machine noise hits every method alike); (median, min) in ms."""
    for f in fns.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in times.items()}


def hwc_chunks(a: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """albumentations' way for > 4 channels: HWC, chunks of 4 channels, back to CHW."""
    x = np.ascontiguousarray(a.transpose(1, 2, 0))
    outs = []
    for k in range(0, x.shape[2], 4):
        o = fn(np.ascontiguousarray(x[:, :, k:k + 4]))
        outs.append(o if o.ndim == 3 else o[:, :, None])
    return np.ascontiguousarray(np.concatenate(outs, axis=2).transpose(2, 0, 1))


def _albumentations():
    try:
        import albumentations as A
    except ImportError:
        return None
    return A


def _try(fn: Callable[[], object]) -> Callable[[], object] | None:
    """``fn`` if it runs on this data, else None (reported as "fails")."""
    try:
        fn()
    except Exception:
        return None
    return fn


def bench_case(bands: int, size: int, dtype: str, repeats: int, ops: list[str]) -> list[dict]:
    A = _albumentations()
    rng = np.random.default_rng(0)
    if dtype == "float32":
        a = rng.random((bands, size, size), dtype=np.float32) * 10000
    else:
        a = rng.integers(0, 10000, (bands, size, size)).astype(dtype)
    mask = np.ones((1, size, size), bool)
    shape = (size, size)
    hwc = np.ascontiguousarray(a.transpose(1, 2, 0))  # albumentations' native layout, made once
    rows = []
    failures: list[str] = []
    copy = timeit({"np.copy": lambda: a.copy()}, repeats)["np.copy"]

    def add(op: str, res: dict[str, tuple[float, float]]) -> None:
        g = res.pop("geoaug")
        res = {k: v for k, v in res.items() if v is not None}
        peers = {k: v for k, v in res.items() if v is not None}
        best = min(peers.items(), key=lambda kv: kv[1][0]) if peers else ("all fail", (float("nan"),) * 2)
        rows.append({
            "op": op, "bands": bands, "size": size, "dtype": dtype, "geoaug_ms": g[0], "geoaug_min_ms": g[1],
            "copy_ms": copy[0], "peers_ms": {k: v[0] for k, v in peers.items()},
            "fastest_peer": best[0], "ratio_to_copy": g[0] / copy[0], "ratio_to_fastest_peer": g[0] / best[1][0],
            "ratio_to_albumentations": g[0] / res["albumentations"][0] if "albumentations" in res else None,
            "failed_peers": [f for f in failures if f.startswith(op + ":")],
        })

    def timed(op: str, fns: dict[str, Callable[[], object] | None], reps: int) -> dict:
        for k, f in list(fns.items()):
            if f is None or _try(f) is None:
                failures.append(f"{op}:{k}")
                fns.pop(k)
        return timeit(fns, reps)

    if "hflip" in ops:
        m, sh = geometry.hflip(shape)
        plan = geometry.strided_plan(m, shape, sh)
        add("hflip", timed("hflip", {
            "geoaug": lambda: index_copy(a, mask, plan, sh),
            "numpy [:, :, ::-1]": lambda: np.ascontiguousarray(a[:, :, ::-1]),
            "opencv per band": lambda: np.stack([cv2.flip(b, 1) for b in a]),
            "opencv hwc4": lambda: hwc_chunks(a, lambda x: cv2.flip(x, 1)),
            "albumentations": (lambda: A.HorizontalFlip(p=1)(image=hwc)["image"]) if A else None,
        }, repeats))
    if "rot90" in ops:
        m, sh = geometry.rot90(shape, 1)
        plan = geometry.strided_plan(m, shape, sh)
        add("rot90", timeit({
            "geoaug": lambda: index_copy(a, mask, plan, sh),
            "numpy rot90": lambda: np.ascontiguousarray(np.rot90(a, 1, axes=(1, 2))),
            "opencv per band": lambda: np.stack([cv2.rotate(b, cv2.ROTATE_90_COUNTERCLOCKWISE) for b in a]),
        }, repeats))
    m = geometry.affine_matrix(shape, rotate=17)
    mc = geometry.to_opencv(m)
    lin = np.array([[mc[1, 1], mc[1, 0]], [mc[0, 1], mc[0, 0]]])
    off = np.array([mc[1, 2], mc[0, 2]])
    dst_t = Affine.identity() @ geometry.to_affine(m)
    for interp in ("nearest", "bilinear", "cubic"):
        if f"rotate_{interp}" not in ops:
            continue
        flag = CV_INTERP[interp] | cv2.WARP_INVERSE_MAP
        fns: dict[str, Callable[[], object]] = {
            "geoaug": lambda interp=interp: warp_affine(a, mask, m, shape, interp),
        }
        # per band works for any band count; a single OpenCV call would refuse > 128 channels
        fns["opencv per band"] = lambda flag=flag: np.stack([cv2.warpAffine(b, mc, shape[::-1], flags=flag)
                                                             for b in a])
        fns["opencv hwc4"] = lambda flag=flag: hwc_chunks(a, lambda x: cv2.warpAffine(x, mc, shape[::-1],
                                                                                    flags=flag))
        if repeats >= 5 and bands * size * size <= 13 * 512 * 512:
            fns["scipy per band"] = lambda interp=interp: np.stack([
                ndimage.affine_transform(b, lin, off, order=SCIPY_ORDER[interp]) for b in a])

        def gdal(interp=interp) -> np.ndarray:
            out = np.zeros_like(a)
            rasterio.warp.reproject(a, out, src_transform=Affine.identity(), dst_transform=dst_t,
                                    src_crs="EPSG:3857", dst_crs="EPSG:3857", resampling=GDAL_INTERP[interp],
                                    num_threads=2, warp_mem_limit=512)
            return out
        fns["gdal reproject"] = gdal
        if A is not None:
            t = A.Affine(rotate=(17, 17), interpolation=CV_INTERP[interp], p=1)
            fns["albumentations"] = lambda t=t: t(image=hwc)["image"]
        add(f"rotate_{interp}", timed(f"rotate_{interp}", fns, max(3, repeats // 2) if interp == "cubic" else repeats))
    if "random_resized_crop" in ops:
        rrc = geoaug.RandomResizedCrop(size, size, scale=(0.5, 1.0))
        r = geoaug.GeoRaster.from_array(a)
        fns = {"geoaug": lambda: rrc(r, rng=1)}
        if A is not None:
            t = A.RandomResizedCrop(size=(size, size), scale=(0.5, 1.0), p=1)
            fns["albumentations"] = lambda t=t: t(image=hwc)["image"]
        add("random_resized_crop", timed("random_resized_crop", fns, repeats))
    if "pipeline" in ops:
        top = 65535.0 if dtype == "uint16" else 1.0
        pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Affine(rotate=17, scale=1.1),
                               geoaug.BandGain((0.9, 1.1)), geoaug.GaussianNoise(0.01)])
        r = geoaug.GeoRaster.from_array(a)
        fns = {"geoaug": lambda: pipe(r, rng=1)}
        if A is not None:
            ap = A.Compose([A.HorizontalFlip(p=1), A.Affine(rotate=(17, 17), scale=(1.1, 1.1), p=1),
                            A.MultiplicativeNoise(multiplier=(0.9, 1.1), per_channel=True, p=1),
                            A.GaussNoise(std_range=(0.01, 0.01), p=1)])
            if dtype == "uint16":  # its GaussNoise refuses uint16: to float and back, as a user must
                fns["albumentations"] = lambda: np.clip(
                    ap(image=hwc.astype(np.float32) / top)["image"] * top, 0, top).astype(np.uint16)
            else:
                fns["albumentations"] = lambda: ap(image=hwc)["image"]
        add("pipeline", timed("pipeline", fns, repeats))
    return rows


def bench_batch(n_tiles: int, copies: int) -> dict[str, float]:
    """Throughput of the batch job on 13-band 512 x 512 uint16 tiles: in-process and 2 Dask workers."""
    import shutil
    import tempfile
    from pathlib import Path

    from geoaug.batch import _dask_client, augment_folder

    root = Path(tempfile.mkdtemp(prefix="geoaug-bench-"))
    try:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:512, 0:512]
        (root / "in").mkdir()
        for i in range(n_tiles):
            data = np.stack([(5000 + 3000 * np.sin(xx / (20 + b) + i) * np.cos(yy / (15 + b))).astype(np.uint16)
                             for b in range(13)])
            data += rng.integers(0, 200, data.shape, dtype=np.uint16)
            geoaug.write(geoaug.GeoRaster.from_array(data, nodata=0), root / "in" / f"t{i:03d}.tif",
                         compress="deflate", predictor=2, tiled=True, blockxsize=256, blockysize=256)
        pipe = geoaug.load_pipeline(Path(__file__).resolve().parents[1] / "docs/examples/sentinel2_13band.yaml")
        augment_folder(root / "in", root / "warm", pipe, copies=1, seed=0)  # compile outside the timing
        one = augment_folder(root / "in", root / "one", pipe, copies=copies, seed=0)
        out = {"tiles": n_tiles, "copies": copies, "in_process_mpx_s": one.mpx_per_s, "in_process_s": one.seconds}
        # the clusters `--workers n` starts (_dask_client: cores / n numba threads per worker), and one
        # single-threaded worker (the unit that scale-out multiplies), warmed up before the timed runs
        for key, n, threads in (("workers1", 1, None), ("workers2", 2, None), ("workers1_1thread", 1, 1)):
            with _dask_client(n, None, numba_threads=threads) as client:
                address = client.scheduler.address
                augment_folder(root / "in", root / f"warm{key}", pipe, copies=1, seed=0, scheduler=address)
                run = augment_folder(root / "in", root / key, pipe, copies=copies, seed=0, scheduler=address)
            out[f"{key}_mpx_s"], out[f"{key}_s"] = run.mpx_per_s, run.seconds
        out["speedup_vs_in_process"] = out["workers2_mpx_s"] / out["in_process_mpx_s"]
        out["speedup_vs_1_worker"] = out["workers2_mpx_s"] / out["workers1_mpx_s"]
        out["speedup_vs_1_single_thread_worker"] = out["workers2_mpx_s"] / out["workers1_1thread_mpx_s"]
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


MEMORY_CHILD = """
import json, sys, tempfile, numpy as np
from pathlib import Path
import geoaug
from geoaug.batch import plan, run_task
size = int(sys.argv[2])
root = Path(tempfile.mkdtemp(prefix="geoaug-mem-"))
(root / "in").mkdir(); (root / "small").mkdir()
data = np.random.default_rng(0).integers(1, 10000, (13, size, size), dtype=np.uint16)
geoaug.write(geoaug.GeoRaster.from_array(data, nodata=0), root / "in" / "big.tif")
del data
geoaug.write(geoaug.GeoRaster.from_array(np.ones((13, 64, 64), np.uint16), nodata=0), root / "small" / "s.tif")
pj = json.dumps(geoaug.load_pipeline(sys.argv[1]).to_dict(), sort_keys=True)
for t in plan(root / "small", root / "o1", 1):
    (root / "o1").mkdir(); run_task(t, pj, 0)  # compile first
def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS:")
(root / "o2").mkdir()
lines = run_task(plan(root / "in", root / "o2", 1)[0], pj, 0)
print(json.dumps({"status": lines[0]["status"], "tile_bytes": 13 * size * size * 2,
                  "peak_extra_bytes": status("VmHWM:") - base}))
import shutil; shutil.rmtree(root)
"""


def bench_memory(size: int) -> dict[str, float]:
    """Peak resident memory of one batch task (13 x size x size uint16) over the tile's size."""
    import subprocess
    import sys
    from pathlib import Path

    policy = Path(__file__).resolve().parents[1] / "docs/examples/sentinel2_13band.yaml"
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(policy), str(size)], capture_output=True,
                       text=True, check=True)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    d["ratio"] = d["peak_extra_bytes"] / d["tile_bytes"]
    d["size"] = size
    return d


def compile_costs() -> dict[str, float]:
    """``import geoaug``, and the first call of a transform with a cold and with a warm numba cache."""
    import subprocess
    import sys
    import tempfile

    code_import = "import time; t=time.perf_counter(); import geoaug; print(time.perf_counter()-t)"
    code_first = (
        "import numpy as np, time, geoaug; a=np.ones((13,256,256),'uint16'); t=time.perf_counter(); "
        "geoaug.Affine(rotate=10)(a); print(time.perf_counter()-t)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for name, code in (("import_geoaug_s", code_import), ("cold_first_call_s", code_first),
                           ("cached_first_call_s", code_first)):
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            out[name] = float(r.stdout.strip().splitlines()[-1])
    return out


def band_sweep(path: str, repeats: int = 5) -> dict[str, dict[int, float]]:
    """Bilinear rotation of 512 x 512 uint16 for 1..200 bands, per method; writes a PNG plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    A = _albumentations()
    shape = (512, 512)
    m = geometry.affine_matrix(shape, rotate=17)
    mc = geometry.to_opencv(m)
    flag = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    results: dict[str, dict[int, float]] = {}
    for bands in (1, 3, 4, 8, 13, 32, 64, 128, 200):
        a = np.random.default_rng(0).integers(0, 10000, (bands, *shape)).astype(np.uint16)
        hwc = np.ascontiguousarray(a.transpose(1, 2, 0))
        mask = np.ones((1, *shape), bool)
        fns: dict[str, Callable[[], object] | None] = {
            "geoaug": lambda a=a, mask=mask: warp_affine(a, mask, m, shape, "bilinear"),
            "opencv per band": lambda a=a: [cv2.warpAffine(b, mc, shape[::-1], flags=flag) for b in a],
            "opencv hwc4 (albumentations' way)": lambda a=a: hwc_chunks(
                a, lambda x: cv2.warpAffine(x, mc, shape[::-1], flags=flag)),
        }
        if A is not None:
            t = A.Affine(rotate=(17, 17), p=1)
            fns["albumentations Affine"] = lambda t=t, hwc=hwc: t(image=hwc)["image"]
        fns = {k: f for k, f in fns.items() if f is not None and _try(f) is not None}
        for k, (med, _) in timeit(fns, repeats).items():
            results.setdefault(k, {})[bands] = med
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for k, v in results.items():
        ax.plot(list(v), list(v.values()), marker="o", label=k)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bands (512 x 512 uint16)")
    ax.set_ylabel("median ms, bilinear rotation by 17 degrees")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return results


def _ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="13 x 512^2 only, fewer repeats (< 60 s)")
    ap.add_argument("--json", help="also write the rows as JSON here")
    args = ap.parse_args()
    ops = ["hflip", "rot90", "rotate_nearest", "rotate_bilinear", "rotate_cubic", "random_resized_crop", "pipeline"]
    if args.quick:
        cases, repeats = [(13, 512, "uint16"), (13, 512, "float32")], 7
    else:
        cases = [(4, 512, "uint16"), (13, 512, "uint16"), (13, 512, "float32"), (13, 1024, "uint16"),
                 (200, 256, "float32")]
        repeats = 21
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}, "
          f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}), geoaug {geoaug.__version__}")
    rows = []
    print("| op | shape | dtype | geoaug ms | np.copy ms | fastest peer | peer ms | geoaug/copy | geoaug/peer "
          "| geoaug/albumentations |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for bands, size, dtype in cases:
        for r in bench_case(bands, size, dtype, repeats, ops):
            rows.append(r)
            peer = r["fastest_peer"]
            print(f"| {r['op']} | {bands}x{size}x{size} | {dtype} | {r['geoaug_ms']:.2f} | {r['copy_ms']:.2f} | "
                  f"{peer} | {r['peers_ms'].get(peer, float('nan')):.2f} | {r['ratio_to_copy']:.2f} | "
                  f"{r['ratio_to_fastest_peer']:.2f} | {_ratio(r['ratio_to_albumentations'])} |", flush=True)
    print()
    print("| op | shape | dtype | all peers (median ms) |")
    print("|---|---|---|---|")
    for r in rows:
        peers = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["peers_ms"].items(), key=lambda kv: kv[1]))
        fails = ", ".join(f.split(":", 1)[1] + " fails" for f in r["failed_peers"])
        print(f"| {r['op']} | {r['bands']}x{r['size']}x{r['size']} | {r['dtype']} | {peers}"
              f"{'; ' + fails if fails else ''} |")
    costs = compile_costs()
    print(f"\nimport geoaug: {costs['import_geoaug_s']:.2f} s; first call of Affine on uint16 with a cold numba "
          f"cache: {costs['cold_first_call_s']:.2f} s, with the cache warm: {costs['cached_first_call_s']:.2f} s")
    batch = bench_batch(8 if args.quick else 24, 2)
    print(f"\nbatch (geoaug augment, docs/examples/sentinel2_13band.yaml, {batch['tiles']} tiles 13 x 512^2 uint16 "
          f"x {batch['copies']} copies): in-process {batch['in_process_mpx_s']:.2f} Mpx/s "
          f"({batch['in_process_s']:.2f} s), 1 Dask worker {batch['workers1_mpx_s']:.2f} Mpx/s, 2 Dask workers "
          f"{batch['workers2_mpx_s']:.2f} Mpx/s ({batch['workers2_s']:.2f} s): "
          f"{batch['speedup_vs_1_worker']:.2f}x one worker, {batch['speedup_vs_in_process']:.2f}x in-process, "
          f"{batch['speedup_vs_1_single_thread_worker']:.2f}x one single-threaded worker "
          f"({batch['workers1_1thread_mpx_s']:.2f} Mpx/s)")
    mem = bench_memory(1024 if args.quick else 4096)
    print(f"memory of one task, 13 x {mem['size']}^2 uint16 ({mem['tile_bytes'] / 1e6:.0f} MB): peak "
          f"{mem['peak_extra_bytes'] / 1e6:.0f} MB above the process baseline = {mem['ratio']:.2f}x the tile")
    sweep = None
    if not args.quick:
        from pathlib import Path

        png = Path(__file__).resolve().parents[1] / "docs/images/benchmark_bands.png"
        sweep = band_sweep(str(png))
        print(f"\nband sweep (bilinear rotation, 512 x 512 uint16, median ms), plotted in {png}:")
        for k, v in sweep.items():
            print(f"  {k}: " + ", ".join(f"{b}: {t:.2f}" for b, t in v.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "compile": costs, "batch": batch, "memory": mem, "band_sweep": sweep}, fh,
                      indent=1)


if __name__ == "__main__":
    main()
