#!/usr/bin/env python3
"""Write docs/benchmarks.md from the JSON of ``scripts/bench.py`` (which calls :func:`render` itself).

Usage: ``python scripts/bench_report.py [docs/benchmarks.json] [docs/benchmarks.md]``
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from bench import GEO, NOISY, row_key, row_ratios, spread  # noqa: E402

WARPS = ("affine_nearest", "affine_bilinear", "affine_cubic")
FLIPS = ("hflip", "vflip", "rot90")
COLUMNS = ("geoaug array", "geoaug GeoRaster", "opencv per band", "opencv hwc4", "albumentations", "np.copy")


#: docs/benchmarks.md keeps everything from this line on when the page is rendered again
KEPT_MARKER = "<!-- kept on re-render: sections measured by other commands -->"

def fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1e3:.1f} µs" if v < 0.1 else f"{v:.3g} ms" if v < 10 else f"{v:.1f} ms"


def fmt_r(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


# ------------------------------------------------------------------------------------------ goals

def _figures(rows: list[dict], ops: tuple[str, ...], ratio: str, keep: Callable[[dict], bool] = lambda r: True,
             ) -> list[tuple[str, float]]:
    """``(where, value)`` of ``ratio`` for each geoaug variant of each row of ``ops`` that ``keep`` accepts."""
    out = []
    for r in rows:
        if r["op"] not in ops or not keep(r):
            continue
        rat = row_ratios(r)
        names = [ratio.format(g=g) for g in GEO] if "{g}" in ratio else [ratio]
        for name in names:
            if name in rat:
                where = f"{r['op']} {r['bands']}x{r['size']}² {r['dtype']}"
                if name.startswith("geoaug"):
                    where += " (array)" if name.startswith("geoaug array") else " (GeoRaster)"
                out.append((where, rat[name]))
    return out


def _fixed(rows: list[dict], op: str) -> list[tuple[str, float]]:
    return [(f"{op} ({g.split()[1]})", r["ms"][g] * 1e3) for r in rows if r["op"] == op for g in GEO if g in r["ms"]]


def goals(d: dict) -> list[dict]:
    """Each goal: name, limit, sense ("<=" or ">="), and per scope ("1 thread", "2 threads", "-") its figures."""
    out = []
    by_t = {t: v["rows"] for t, v in d.get("threads", {}).items()}

    def add(name: str, limit: float, figures: Callable[[list[dict]], list[tuple[str, float]]], unit: str = "x",
            sense: str = "<=") -> None:
        scopes = {f"{t} thread{'s' if t != '1' else ''}": figures(rows) for t, rows in sorted(by_t.items())}
        out.append({"name": name, "limit": limit, "unit": unit, "sense": sense, "scopes": scopes})

    small = lambda r: r["bands"] <= 4  # noqa: E731
    many = lambda r: r["bands"] >= 12  # noqa: E731
    add("Warp (nearest, bilinear, cubic) vs OpenCV per band, 1 and 4 bands", 1.0,
        lambda rows: _figures(rows, WARPS, "{g} / opencv per band", small))
    add("Warp (nearest, bilinear, cubic) vs OpenCV per band, >= 12 bands", 0.7,
        lambda rows: _figures(rows, WARPS, "{g} / opencv per band", many))
    add("Warp with a nodata collar vs all-valid (GeoRaster)", 1.3,
        lambda rows: _figures(rows, WARPS, "collar / all-valid"))
    add("Resize and RandomResizedCrop vs OpenCV resize per band", 1.0,
        lambda rows: _figures(rows, ("resize", "random_resized_crop"), "{g} / opencv per band"))
    add("Flips, rot90 vs OpenCV per band, every size", 1.0,
        lambda rows: _figures(rows, FLIPS, "{g} / opencv per band"))
    add("Flips, rot90 vs np.copy of the same bytes, 256² and up", 1.5,
        lambda rows: _figures(rows, FLIPS, "{g} / np.copy", lambda r: r["size"] >= 256))
    add("Fixed cost per call: p=0 HorizontalFlip on 13x64² (µs)", 15.0,
        lambda rows: _fixed(rows, "fixed_cost_p0"), unit="µs")
    add("Fixed cost per call: HorizontalFlip of 13x1x1 (µs)", 15.0,
        lambda rows: _fixed(rows, "fixed_cost_1x1"), unit="µs")
    add("13x64² hflip vs np.copy", 2.0,
        lambda rows: _figures(rows, ("hflip",), "{g} / np.copy", lambda r: (r["bands"], r["size"]) == (13, 64)))
    add("Normalize vs the plain numpy expression", 1.0,
        lambda rows: _figures(rows, ("normalize",), "{g} / numpy (a - mean) / std"))
    add("README pipeline vs albumentations' closest Compose, every size", 0.5,
        lambda rows: _figures(rows, ("pipeline",), "{g} / albumentations"))
    # every figure at 2 threads <= its figure at 1 thread
    if "1" in by_t and "2" in by_t:
        one = {row_key(r): r for r in by_t["1"]}
        figs = []
        for r2 in by_t["2"]:
            r1 = one.get(row_key(r2))
            if r1 is None:
                continue
            for g in (*GEO, "geoaug GeoRaster collar"):
                if g in r1["ms"] and g in r2["ms"]:
                    figs.append((f"{r2['op']} {r2['bands']}x{r2['size']}² {r2['dtype']} ({g})",
                                 r2["ms"][g] / r1["ms"][g]))
        out.append({"name": "Every geoaug figure at 2 threads vs at 1 thread", "limit": 1.0, "unit": "x",
                    "sense": "<=", "scopes": {"2 threads / 1 thread": figs}})
    cold = d.get("cold") or {}
    for key, name, limit in (("first_call_empty_cache_s", "Cold start: README pipeline's first call, empty numba "
                              "cache (s)", 5.0),
                             ("first_call_warm_cache_s", "Cold start: README pipeline's first call, warm cache (s)",
                              0.3),
                             ("import_s", "`import geoaug` (s)", 0.5)):
        figs = [("fresh process, 2 cores", cold[key])] if key in cold else []
        out.append({"name": name, "limit": limit, "unit": "s", "sense": "<=", "scopes": {"-": figs}})
    loader = d.get("loader") or {}
    figs = [(f"2 workers, {run['context']}", run["ratio"]) for run in loader.get("runs", [])
            if run["workers"] == 2 and "ratio" in run]
    out.append({"name": "DataLoader: geoaug samples/s over rasterio + albumentations, 2 workers", "limit": 1.5,
                "unit": "x", "sense": ">=", "scopes": {"-": figs}})
    return out


def goal_lines(gs: list[dict]) -> list[str]:
    lines = ["| goal | scope | limit | worst measured (where) | cases met | met? |", "|---|---|---|---|---|---|"]
    for g in gs:
        for scope, figs in g["scopes"].items():
            lim = f"{g['sense']} {g['limit']:g}{'' if g['unit'] == 'x' else ' '}{g['unit']}"
            if not figs:
                lines.append(f"| {g['name']} | {scope} | {lim} | not measured in this run | - | **not measured** |")
                continue
            lim_v, above = g["limit"], g["sense"] == ">="
            worst = max(figs, key=lambda f: f[1]) if g["sense"] == "<=" else min(figs, key=lambda f: f[1])
            n_ok = sum((v >= lim_v) if above else (v <= lim_v) for _, v in figs)
            met = "**met**" if n_ok == len(figs) else "**not met**"
            unit = "x" if g["unit"] == "x" else f" {g['unit']}"
            lines.append(f"| {g['name']} | {scope} | {lim} | {worst[1]:.2f}{unit} ({worst[0]}) | "
                         f"{n_ok}/{len(figs)} | {met} |")
    return lines


# ------------------------------------------------------------------------------------------ tables

def result_lines(rows: list[dict]) -> list[str]:
    lines = ["| op | case | geoaug array | geoaug GeoRaster | OpenCV per band | OpenCV HWCx4 | albumentations | "
             "np.copy | other | array / CV per band | GeoRaster / CV per band | GeoRaster / fastest CV | "
             "GeoRaster / np.copy | GeoRaster / albumentations | spread |",
             "|---|---|" + "---|" * 13]
    for r in rows:
        ms, rat = r["ms"], row_ratios(r)
        other = [f"{k}: {fmt_ms(v)}" for k, v in ms.items() if k not in COLUMNS]
        cells = [fmt_ms(ms.get(k)) if k in ms else ("n/a" if k in r["notes"] else "-") for k in COLUMNS]
        other_r = "; ".join(other)
        if "geoaug GeoRaster / numpy (a - mean) / std" in rat:
            other_r += f" (GeoRaster / numpy {rat['geoaug GeoRaster / numpy (a - mean) / std']:.2f})"
        if "collar / all-valid" in rat:
            other_r += f" (collar / all-valid {rat['collar / all-valid']:.2f})"
        lines.append(f"| {r['op']} | {r['bands']}x{r['size']}² {r['dtype']} | {' | '.join(cells)} | "
                     f"{other_r or '-'} | {fmt_r(rat.get('geoaug array / opencv per band'))} | "
                     f"{fmt_r(rat.get('geoaug GeoRaster / opencv per band'))} | "
                     f"{fmt_r(rat.get('geoaug GeoRaster / fastest opencv'))} | "
                     f"{fmt_r(rat.get('geoaug GeoRaster / np.copy'))} | "
                     f"{fmt_r(rat.get('geoaug GeoRaster / albumentations'))} | "
                     f"{spread(r):.2f}{' **noisy**' if spread(r) > NOISY else ''} |")
    return lines


def note_lines(d: dict) -> list[str]:
    seen: dict[str, list[str]] = {}
    for _, v in sorted(d.get("threads", {}).items()):
        for r in v["rows"]:
            for k, why in r["notes"].items():
                seen.setdefault(f"{k}: {why}", []).append(f"{r['op']} {r['bands']}x{r['size']}² {r['dtype']}")
    if not seen:
        return []
    out = ["", "### Contenders not measured, and how", ""]
    for what, where in seen.items():
        uniq = sorted(set(where))
        shown = ", ".join(uniq[:6]) + (f" and {len(uniq) - 6} more" if len(uniq) > 6 else "")
        out.append(f"* {what} ({shown})")
    return out


def load_lines(d: dict) -> list[str]:
    """The machine's load during each phase: figures at 2 threads need both cores free.

    The warning that the load exceeded the cores reads every figure but the DataLoader phase's last:
    that phase starts worker processes of its own (up to 4, and the Dataset's), which are the load
    its "after" figure shows (2.8-3.8 in the runs of 856f66f, 3.0 in those of 33ccc4a), not other work.
    """
    # (name, phase, whether its "after" figure is work of its own)
    phases = [(f"{t} thread{'s' if t != '1' else ''}", v, False) for t, v in sorted(d.get("threads", {}).items())]
    phases += [(name, d[key], key == "loader") for key, name in (("cold", "cold start"), ("loader", "DataLoader"))
               if isinstance(d.get(key), dict) and "load_average" in d[key]]
    parts = []
    peak = 0.0
    for name, ph, own_after in phases:
        la = [x for x in ph.get("load_average") or [] if x is not None]
        if la:
            peak = max(peak, *(la[:1] if own_after else la))
            parts.append(f"{name} {'/'.join(f'{x:.1f}' for x in la)} ({ph.get('seconds', 0):.0f} s)")
    if not parts:
        return []
    cores = d["meta"]["machine"]["cores"] or 1
    out = ["Load average (1 minute, before/after each phase, on this machine that other work shares; the "
           "DataLoader's figure after it counts its own worker processes): " + "; ".join(parts) + "."]
    if peak > cores:
        out.append("")
        out.append(f"**The load exceeded the {cores} cores during this run**: other processes were running, so "
                   "threads waited for a core. Figures at 2 threads (a parallel region needs both cores at once) "
                   "and the cold-start seconds are the most affected; rerun on a quiet machine and compare "
                   "with `--check` before believing them.")
    return out


def order_text(meta: dict) -> str:
    """The contenders' order in a round (runs from before it was shuffled: nothing)."""
    if meta.get("round_order") != "shuffled":
        return ""
    return (" Round r starts at contender r and takes the others in an order of its own (`random.Random(r)`), so "
            "that no contender always follows the same one: in a fixed cycle geoaug's plain array came after "
            "albumentations and `np.copy` in every round and, at 2 threads, read 1.2-1.5x its GeoRaster twin "
            "(Normalize and Resize on 1x512² uint16; 0.8-1.1x in shuffled rounds).")


def passes_text(meta: dict) -> str:
    """How the run shared each row's calls out among its passes over the matrix (nothing for one pass)."""
    passes = meta.get("passes", 1)
    if passes <= 1:
        return ""
    return (f", made in {passes} passes over the whole matrix ({meta['repeats'] // passes} rounds of each row per "
            "pass, the passes minutes apart)")


def import_runs(d: dict) -> str:
    """How many processes the import figure is the best of: recorded since the harness kept them all."""
    runs = (d.get("cold") or {}).get("import_all_s")
    return str(len(runs)) if runs else "3 or more"


def bytecode_text(d: dict) -> str:
    """What the cold-start processes read geoaug's modules from (runs before the harness compiled them: nothing)."""
    if not (d.get("cold") or {}).get("bytecode"):
        return ""
    return (" Every process reads geoaug's compiled bytecode, as an installed package has it: the harness "
            "compiles it first (`python -m compileall geoaug`, as `scripts/demo` and `scripts/test` do). Where "
            "`PYTHONDONTWRITEBYTECODE` is set Python never writes it for an editable install, and each process "
            "compiled geoaug's modules from source, 0.13-0.20 s of its import on a 2-core Xeon.")


def render(d: dict) -> str:
    """The whole page from one run's JSON."""
    meta, v, m = d["meta"], d["meta"]["versions"], d["meta"]["machine"]
    mode = meta["mode"]
    out = ["# Benchmarks", ""]
    if mode != "full":
        out += [f"> **This page is from a `--{mode}` run** ({meta['date']}, commit `{meta['git']}`): a subset "
                "that checks the harness on the code of that day, **not the final figures**. "
                "The full run is `python scripts/bench.py` (below).", ""]
    else:
        out += [f"> Full run of {meta['date']}, commit `{meta['git']}`.", ""]
    out += [
        "## Reproduce", "",
        "<!-- no-test: a full benchmark run takes long; tests/test_bench_harness.py runs the harness -->",
        "```bash",
        'pip install -e ".[bench,torch]"    # OpenCV, albumentations; torch for the DataLoader figures',
        "python scripts/bench.py            # the full matrix at 1 and 2 threads, cold start, DataLoader;",
        "                                   # writes docs/benchmarks.json and this page",
        "python scripts/bench.py --json /tmp/second.json --md - --check docs/benchmarks.json",
        "                                   # a second run; lists every ratio > 15 % off the first, exit 1 if any",
        "python scripts/bench.py --quick    # a subset in < 2 minutes",
        "python scripts/bench.py --only affine_bilinear,resize --sizes 13x512,4x512 --dtypes uint16 --threads 1",
        "python scripts/bench.py --only affine_nearest --rotate 88 --md -   # Affine rows nearly a quarter turn "
        "(default 17)",
        "python scripts/bench_trees.py --old ../old --new .   # geoaug's own run time, two checkouts alternating",
        "python scripts/bits_trees.py --old ../old --new .    # do two checkouts give the same bits?",
        "```", "",
        f"This page: `{meta['command']}` ({meta['seconds']:.0f} s). "
        "`python scripts/bench_report.py JSON MD` rewrites a page from a JSON file.", "",
        "## How it measures", "",
        "* **Ratios, not times.** Every row times all its contenders in one process on the same array, "
        "interleaved (one call of each in turn), after a warm-up call of each, and keeps the best (min) of "
        f"{meta['repeats']} calls{passes_text(meta)}. Each timed call comes right after an untimed call of the same "
        "function, "
        "so every contender is timed in the state its own previous call left (its code and its freed output "
        "buffer at hand), not in the state the contender before it left: timed straight after the others, "
        "the first contender of a row paid for their allocations and code (a 13x512² uint16 Normalize on a "
        "plain array, first in its row: 1.9 ms right after the numpy expression's temporaries, 0.41 ms "
        "right after its own call)." + order_text(meta) + " Ratios within a row are what to read; absolute "
        "times on this shared machine move with the load.",
        "* **Threads.** The thread counts are interleaved in one fresh subprocess started with the largest "
        "(`NUMBA_NUM_THREADS`, `OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`): each round of a row times every "
        "contender at 1 thread, then at 2 (`numba.set_num_threads(n)`, `cv2.setNumThreads(n)` and "
        "threadpoolctl's BLAS limit before each). A 2-thread / 1-thread figure thus compares calls made a "
        "moment apart, under the same load (run in separate processes, minutes apart, they moved by up to "
        "2x with the machine's other work). The 1-thread and 2-thread tables are separate.",
        *([f"* **Memory.** The timing process runs with glibc's malloc thresholds fixed "
           f"(`GLIBC_TUNABLES={meta['settings']['malloc']}`): blocks up to 64 MB come from the heap and freed "
           "memory stays mapped, the steady state of a long-running training process (glibc raises its mmap "
           "threshold itself once a large block is freed). Left dynamic, a row's regime depended on the rows "
           "before it: albumentations' README Compose on 1x512² uint16 took 5.35 ms when its temporaries were "
           "mapped and unmapped on every call (a page fault per 4 kB), 1.31 ms in the steady state."]
          if meta.get("settings", {}).get("malloc") else []),
        "* **geoaug** is called as users call it: the transform object on a plain `(bands, H, W)` ndarray "
        "(*geoaug array*) and on a `GeoRaster` (*geoaug GeoRaster*), each with a `numpy.random.Generator` of "
        "its own made once (seeds 0, 1 and 2 for the collar below: with one seed, a GeoRaster "
        "`RandomResizedCrop` drew the crop its array twin had just drawn and found its plan cached)."
        " For the warps a third call uses a GeoRaster whose mask has a nodata collar "
        f"({meta['settings']['collar']:.0%} of each side invalid).",
        "* **OpenCV per band**: `cv2.flip` / `cv2.rotate` / `cv2.warpAffine` / `cv2.resize` once per band "
        "into a preallocated output (`dst=`). **OpenCV HWCx4**: what albumentations does beyond 4 channels: "
        "the array transposed to HWC in chunks of 4 channels, OpenCV on each chunk, transposed back; the "
        "transposes are timed, the buffers are preallocated.",
        "* **albumentations** runs on its native `(H, W, bands)` layout, prepared once (no transposes timed). "
        "Where it refuses a dtype (int16 in its brightness and PCA steps) the row times what a user must do: "
        "to float32 (scaled to 0..1) and back. Where it raises (OpenCV's channel limits), the row says "
        "\"n/a\" and the reason is listed below the tables.",
        "* **np.copy** of the same array is the floor.",
        f"* **Ops**: flips and `Rot90(k=1)`; `Affine(rotate={meta['settings']['rotate_deg']:g})` with nearest, "
        "bilinear, cubic (OpenCV `WARP_INVERSE_MAP` with geoaug's matrix converted to OpenCV's centre-origin "
        "convention, constant border); `RandomResizedCrop(H, W, scale=("
        f"{meta['settings']['rrc_scale']:g}, {meta['settings']['rrc_scale']:g}), ratio=(1, 1))` so every call "
        "resamples the same area (OpenCV: `cv2.resize` of a crop of that size), at a position drawn per call: "
        "geoaug's contenders are reseeded per round like the README pipeline's (below), so the plain array, "
        "the GeoRaster and both thread counts time the same 21 crops (a crop finds the plan its size got at an "
        "earlier position and reads it from its own corner, as in a training loop; only a crop whose taps reach "
        "past an edge on both axes plans for its position, each time); `Resize` to "
        f"{meta['settings']['resize_factor']:g} x the side (geoaug's default `Resize(n, n)`, whose "
        "`antialias=True` takes the area filter along each shrinking axis: at this factor two taps per output "
        "pixel, as many as bilinear; OpenCV `INTER_LINEAR`, albumentations' default); "
        "`Normalize(mean, std)` per band against the expression `(a - mean[:, None, None]) / std[:, None, None]` "
        "with float32 mean and std; the fixed cost per call as a `HorizontalFlip(p=0)` call on 13x64² and "
        "a `HorizontalFlip(p=1)` of a 13x1x1 array.",
        "* **The README pipeline** (README.md \"In 15 lines\"): `HorizontalFlip(), Rot90(), Affine(rotate=(-20, "
        "20), scale=(0.9, 1.1)), Brightness((-0.01, 0.01), value_range=(0, 10000)), PCAJitter(std=0.1, "
        "value_range=(0, 10000))`. albumentations' closest Compose: `HorizontalFlip(p=0.5), "
        "RandomRotate90(p=0.5), Affine(rotate=(-20, 20), scale=(0.9, 1.1)), "
        "RandomBrightnessContrast(brightness_limit=0.01, contrast_limit=0)` (one additive brightness shift for "
        "all bands, as `Brightness`; the size of the shift does not change the work) and `FancyPCA(alpha=0.1)` "
        "(AlexNet's PCA colour jitter, which like `PCAJitter` takes the band covariance of each image and "
        "works on any channel count). Both draw their parameters on every call, so the best of the calls "
        "is a draw without flips or quarter turns on either side. Each contender is reseeded before every "
        "call, outside the timing: the timed call of round r draws with seed r, so geoaug's plain array and "
        "GeoRaster time the same 21 draws at every thread count and in every run (geoaug's per-matrix cache of "
        "output geotransforms emptied before each call, as a new draw finds it), and albumentations "
        "(`Compose.set_random_state`, one stream for all its transforms) its own 21 (with running generators "
        "each contender had timed other draws, and a plain array read 0.51x albumentations where its "
        "GeoRaster twin read 0.41x).",
        "* **Cold start**: each figure in a fresh `python -c` process, best of "
        f"{(d.get('cold') or {}).get('runs', '-')} (import: best of {import_runs(d)}): `import geoaug`; the README "
        "snippet's first `pipe(image, labels=labels, ...)` call on `fixtures/tiles/sentinel2_l2a_12band_int16.tif` "
        "with `NUMBA_CACHE_DIR` pointing at a new empty folder (everything compiles), and again with that "
        "folder filled (the cache loads)." + bytecode_text(d),
        "* **DataLoader**: 13x120² uint16 GeoTIFF chips written from "
        "`fixtures/tiles/bigearthnet_s2_12band_uint16.tif` (its 12 bands plus a 13th copy of B8A, rolled "
        "sideways per chip), `geoaug.torch.GeoTiffDataset(paths, pipeline=<README pipeline>)` against a "
        "torch Dataset a user would write: `rasterio` reads the chip, the albumentations Compose above "
        "augments it on HWC, a float32 CHW tensor comes out. `DataLoader(batch_size=16, "
        "persistent_workers=True)`; one warm-up epoch (workers start, kernels load), then samples/s of the "
        "best following epoch.",
        "* **`--check OTHER.json`** compares every ratio of two runs (every ratio in the tables, every "
        "2-thread / 1-thread figure, the DataLoader ratios) and prints those more than 15 % apart (exit "
        "status 1 if any), marking the rows that were noisy in either run (median / min above "
        f"{NOISY:g}: another process took the core during that row). Two runs agree only on a quiet machine; "
        "the load average of every phase is recorded below to tell.",
        "",
        "## Machine and versions", "",
        f"{m['cpu']}, {m['cores']} cores, {m['system']}; Python {v['python']}, numpy {v['numpy']}, numba "
        f"{v['numba']} (threading layer {v['threading_layer']}), OpenCV {v['opencv']}, albumentations "
        f"{v['albumentations'] or 'not installed (its columns are empty)'}, torch "
        f"{v['torch'] or 'not installed (no DataLoader figures)'}, geoaug {v['geoaug']}.",
        "", *load_lines(d), "",
        "## Goals", "",
        "Each goal holds for every case it covers (the matrix of this run: sizes "
        f"{', '.join(s + '²' for s in meta['sizes'])}; dtypes {', '.join(meta['dtypes'])}; geoaug with a plain "
        "array and with a GeoRaster). \"worst measured\" is the case furthest from the goal; \"cases met\" "
        "counts the cases within it.", "",
    ]
    out += goal_lines(goals(d))
    for t, res in sorted(d.get("threads", {}).items()):
        out += ["", f"## Results at {t} thread{'s' if t != '1' else ''}", "",
                f"numba threads {res['numba_threads']}, OpenCV threads {res['cv2_threads']}. Best of "
                f"{meta['repeats']}; ratios < 1: geoaug is faster. *spread*: the row's largest median / min "
                f"over its contenders; above {NOISY:g} (**noisy**) other work disturbed the row.", ""]
        out += result_lines(res["rows"])
    out += note_lines(d)
    cold = d.get("cold")
    out += ["", "## Cold start", ""]
    if cold:
        empty = cold.get("first_call_empty_cache_s")
        out += ["| figure | seconds |", "|---|---|",
                f"| `import geoaug` | {cold['import_s']:.3f} |",
                f"| README pipeline's first call, empty numba cache | "
                f"{'not measured' if empty is None else f'{empty:.2f}'} |",
                f"| README pipeline's first call, warm cache | {cold['first_call_warm_cache_s']:.3f} |"]
        no_scipy = cold.get("first_call_warm_cache_without_scipy_s")
        if no_scipy is not None:
            out += [f"| the same, scipy not importable | {no_scipy:.3f} |", "",
                    "With scipy installed (the bench extra has it), numba imports `scipy.linalg` on its first "
                    "compiled call, for its BLAS check"
                    + (" (it did here)" if cold.get("scipy_imported_by_first_call") else "")
                    + "; geoaug does not need scipy. The last row is the same first call in a process where "
                    "scipy cannot be imported. The goal above is judged on the row with scipy."]
    else:
        out.append("Not measured in this run (`--no-cold`).")
    loader = d.get("loader")
    out += ["", "## DataLoader epoch throughput", ""]
    if not loader:
        out.append("Not measured in this run (`--no-loader`).")
    elif "missing" in loader:
        out.append(f"Not measured: {loader['missing']}.")
    else:
        out += [f"{loader['chips']} chips of 13x120² uint16, batch size {loader['batch_size']}, torch "
                f"{loader['torch']}." + ("" if loader["albumentations"] else
                                         " albumentations not installed: no baseline, no ratio."), "",
                "| workers | start method | geoaug samples/s | rasterio + albumentations samples/s | ratio |",
                "|---|---|---|---|---|"]
        for run in loader["runs"]:
            alb = run.get("albumentations_samples_s")
            out.append(f"| {run['workers']} | {run['context']} | {run['geoaug_samples_s']:.0f} | "
                       f"{'-' if alb is None else f'{alb:.0f}'} | {fmt_r(run.get('ratio'))} |")
    return "\n".join(out) + "\n"


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/benchmarks.json"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/benchmarks.md"
    dst.write_text(render(json.loads(src.read_text())))
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()

