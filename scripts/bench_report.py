#!/usr/bin/env python3
"""Write docs/benchmarks.md from the JSON of a full ``scripts/bench.py --json docs/benchmarks.json`` run.

Usage: ``python scripts/bench_report.py [docs/benchmarks.json] [docs/benchmarks.md]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """# Benchmarks

`python scripts/bench.py` (full, about 7 minutes) or `python scripts/bench.py --quick` (13 x 512²
only, about 35 s) times geoaug against the tools users would pick instead, in one process, on the
same arrays, with interleaved repeats after a warm-up (medians in ms; the JSON also has minimums).
`python scripts/bench.py --json docs/benchmarks.json && python scripts/bench_report.py` rewrites
this page. `./scripts/test` installs what the benchmark needs except albumentations:
`pip install -e ".[bench]"` adds it (without it those columns are left out).

Peers:
* **np.copy**: the floor, a plain memory copy of the `(bands, H, W)` array;
* **opencv per band**: `cv2.warpAffine` / `cv2.flip` / `cv2.rotate` once per band on the
  `(bands, H, W)` layout (the fastest way to use OpenCV on many bands; no channel limit);
* **opencv hwc4**: what albumentations does beyond 4 channels: `(H, W, bands)`, OpenCV on chunks of
  4 channels, transposes there and back included;
* **albumentations** 2.0.8: `HorizontalFlip`, `Affine`, `RandomResizedCrop`, and the full pipeline as
  an `A.Compose` (flip + affine + `MultiplicativeNoise` per channel + `GaussNoise`), on its native
  `(H, W, bands)` layout prepared once (no transposes timed). Its `GaussNoise` refuses uint16 under
  OpenCV 5, so for uint16 the conversion to float and back is timed, as a user must do; its
  `HorizontalFlip` fails at 200 channels (OpenCV's channel limit);
* **scipy per band**: `scipy.ndimage.affine_transform` band by band (13 x 512² and below);
* **gdal reproject**: `rasterio.warp.reproject`, 2 threads, `warp_mem_limit=512`.

Every rotation is 17 degrees; the pipeline is `HorizontalFlip, Affine(rotate=17, scale=1.1),
BandGain((0.9, 1.1)), GaussianNoise(0.01)`.

## Machine and versions
AMD EPYC, 2 cores (2 MiB L2, 32 MiB L3), 24 GiB, Linux; Python 3.11.7, numpy 2.4.6, numba 0.68.1,
OpenCV 5.0.0, albumentations 2.0.8, rasterio 1.4.4 / GDAL 3.10.3, scipy 1.17.1, dask 2026.8.0.
This is a shared virtual machine and it is noisy: the same call varies by up to 2-3x between
runs (the 13 x 512² uint16 bilinear rotation measured 7.1 to 12.5 ms across runs). Read ratios
within one run.
"""


def find(rows: list[dict], op: str, bands: int, size: int, dtype: str) -> dict | None:
    return next((r for r in rows if (r["op"], r["bands"], r["size"], r["dtype"]) == (op, bands, size, dtype)), None)


def ratio(r: dict | None, peer: str) -> float | None:
    if r is None or peer not in r["peers_ms"]:
        return None
    return r["geoaug_ms"] / r["peers_ms"][peer]


def f(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/benchmarks.json"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/benchmarks.md"
    d = json.loads(src.read_text())
    rows, comp, batch, mem, sweep = d["rows"], d["compile"], d["batch"], d["memory"], d.get("band_sweep")
    out = [HEADER, "## Results (one full run)",
           "| op | shape | dtype | geoaug ms | np.copy ms | fastest peer | peer ms | geoaug/copy | geoaug/peer "
           "| geoaug/albumentations |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peer = r["fastest_peer"]
        out.append(f"| {r['op']} | {r['bands']}x{r['size']}x{r['size']} | {r['dtype']} | {r['geoaug_ms']:.2f} | "
                   f"{r['copy_ms']:.2f} | {peer} | {f(r['peers_ms'].get(peer))} | {r['ratio_to_copy']:.2f} | "
                   f"{f(r['ratio_to_fastest_peer'] if r['peers_ms'] else None)} | {f(r['ratio_to_albumentations'])} |")
    out += ["", "`geoaug/copy`: geoaug's time over `np.copy`'s; `geoaug/peer`: over the fastest other tool's;",
            "`geoaug/albumentations`: over albumentations' (< 1: geoaug is faster).", "",
            "All peers, fastest first (\"fails\": the peer raised on this data):", "",
            "| op | shape | dtype | all peers (median ms) |", "|---|---|---|---|"]
    for r in rows:
        peers = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["peers_ms"].items(), key=lambda kv: kv[1]))
        fails = ", ".join(x.split(":", 1)[1] + " fails" for x in r["failed_peers"])
        out.append(f"| {r['op']} | {r['bands']}x{r['size']}x{r['size']} | {r['dtype']} | {peers}"
                   f"{'; ' + fails if fails else ''} |")
    if sweep:
        out += ["", "## Band count", "Bilinear rotation of 512 x 512 uint16, median ms, 1 to 200 bands:", "",
                "![time vs band count](images/benchmark_bands.png)", "", "| method | " +
                " | ".join(str(b) for b in next(iter(sweep.values()))) + " |",
                "|---|" + "---|" * len(next(iter(sweep.values())))]
        for k, v in sweep.items():
            out.append(f"| {k} | " + " | ".join(f"{t:.2f}" for t in v.values()) + " |")
        out += ["", "Per band, OpenCV's SIMD fixed-point loop stays ahead of geoaug's scalar gather loop at "
                "large band counts, but the two ways users reach it from many-band data, albumentations and "
                "OpenCV on HWC chunks of 4, fall behind geoaug beyond about 32 bands."]
    out += ["", "## Start-up and compilation",
            f"`import geoaug`: {comp['import_geoaug_s']:.2f} s. First call of `Affine` on uint16 in a new "
            f"process: {comp['cold_first_call_s']:.2f} s with a cold numba cache, "
            f"{comp['cached_first_call_s']:.2f} s with it warm. Kernels compile only for the dtypes and mask "
            "layouts actually used; the cache lives in `geoaug/kernels/__pycache__`.",
            "", "## The batch command",
            f"{batch['tiles']} synthetic 13 x 512 x 512 uint16 tiles (deflate), policy "
            f"`docs/examples/sentinel2_13band.yaml`, {batch['copies']} copies each; clusters started as "
            "`--workers N` starts them, warmed up before the timed runs:", "",
            "| run | Mpx/s | s |", "|---|---|---|",
            f"| in-process | {batch['in_process_mpx_s']:.2f} | {batch['in_process_s']:.2f} |",
            f"| 1 Dask worker (2 numba threads) | {batch['workers1_mpx_s']:.2f} | {batch['workers1_s']:.2f} |",
            f"| 1 Dask worker, 1 numba thread | {batch['workers1_1thread_mpx_s']:.2f} | "
            f"{batch['workers1_1thread_s']:.2f} |",
            f"| 2 Dask workers (1 numba thread each) | {batch['workers2_mpx_s']:.2f} | {batch['workers2_s']:.2f} |",
            "", f"2 workers: {batch['speedup_vs_1_worker']:.2f}x one worker, "
            f"{batch['speedup_vs_1_single_thread_worker']:.2f}x one single-threaded worker, "
            f"{batch['speedup_vs_in_process']:.2f}x in-process. One worker with both cores already runs its "
            "kernels (warp, noise, store) on two numba threads, so on this 2-core machine a second worker "
            "gains on the serial parts (decoding, encoding, Python) only.", "",
            f"Memory of one task on a 13 x {mem['size']} x {mem['size']} uint16 tile "
            f"({mem['tile_bytes'] / 1e6:.0f} MB): peak resident set {mem['peak_extra_bytes'] / 1e6:.0f} MB above "
            f"the process baseline, {mem['ratio']:.2f}x the tile (docs/cli.md: what it means for full "
            "Sentinel-2 tiles)."]
    t = []
    for dt in ("uint16", "float32"):
        for interp in ("bilinear", "cubic", "nearest"):
            r = find(rows, f"rotate_{interp}", 13, 512, dt)
            t.append((f"13 x 512² {dt} {interp} <= 1.0 vs OpenCV per band", ratio(r, "opencv per band")))
            t.append((f"13 x 512² {dt} {interp} <= 0.5 vs albumentations", ratio(r, "albumentations"), 0.5))
    for op in ("rotate_bilinear", "rotate_cubic", "hflip", "rot90"):
        t.append((f"200 x 256² {op} <= 1.0 vs OpenCV per band", ratio(find(rows, op, 200, 256, "float32"),
                                                                      "opencv per band")))
    for b, s in ((4, 512), (13, 512), (13, 1024)):
        for op in ("hflip", "rot90"):
            t.append((f"{b} x {s}² {op} <= 1.0 vs OpenCV per band", ratio(find(rows, op, b, s, "uint16"),
                                                                         "opencv per band")))
    for op in ("hflip", "rot90"):
        r = find(rows, op, 13, 1024, "uint16")
        t.append((f"13 x 1024² {op} within 2x of np.copy", r["ratio_to_copy"] if r else None, 2.0))
    for s in (512, 1024):
        t.append((f"full pipeline 13 x {s}² uint16 <= 0.5 vs albumentations' Compose",
                  ratio(find(rows, "pipeline", 13, s, "uint16"), "albumentations"), 0.5))
    t.append(("`import geoaug` <= 1 s", comp["import_geoaug_s"]))
    t.append(("cached first call <= 0.5 s", comp["cached_first_call_s"], 0.5))
    t.append(("batch: 2 workers >= 1.6x one single-threaded worker", batch["speedup_vs_1_single_thread_worker"],
              "speedup"))
    t.append(("batch: 2 workers >= 1.6x one worker with 2 numba threads", batch["speedup_vs_1_worker"], "speedup"))
    t.append(("memory of one task <= ~3x its tile", mem["ratio"], 3.0))
    out += ["", "## Targets", "| target | measured | met |", "|---|---|---|"]
    for item in t:
        name, v = item[0], item[1]
        limit = item[2] if len(item) > 2 else 1.0
        if limit == "speedup":
            met = "yes" if v >= 1.6 else "no"
        else:
            met = "-" if v is None else ("yes" if v <= limit else "no")
        out.append(f"| {name} | {f(v)} | {met} |")
    out += ["", "## What stands in the way, and what would help",
            "* **Gather throughput.** geoaug's interpolation is a scalar loop over output pixels (indexes and "
            "weights shared by all bands); OpenCV vectorises the same work with fixed-point SIMD. A SIMD-friendly "
            "formulation (several output pixels per step, int16 weights for uint16 data) is the next step; a "
            "tiled kernel (32 x 64 output tiles, every band per tile) was tried and was not faster here.",
            "* **Small arrays.** At 1-4 bands the fixed cost per call (mask check, parallel launch, per-row "
            "buffers) dominates, about 1.2 ms for one 512² band against OpenCV's 0.3 ms. `RandomResizedCrop` "
            "goes through the general warp where albumentations calls `cv2.resize`; a first separable version "
            "(two 1-D passes, parallel over bands, every input row) was 1.4x slower than the general warp at "
            "13 bands and was dropped: one that resamples only the rows a crop needs, parallel over rows, is "
            "the next attempt.",
            "* **Transposes.** Quarter turns at 200 bands trail OpenCV's `cv2.rotate`; a cache-blocked "
            "transpose per band would help.",
            "* **Pipeline.** The Gaussian noise (a counter-based Box-Muller generator, parallel) is about half "
            "of the full pipeline's time.", ""]
    dst.write_text("\n".join(out))
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
