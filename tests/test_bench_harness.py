"""The benchmark harness (scripts/bench.py, scripts/bench_report.py) runs end to end in its smallest mode.

No timing is asserted: these tests keep the harness from rotting (API changes, JSON schema, the page,
``--check``), without albumentations.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "scripts" / "bench.py"
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402
import bench_report  # noqa: E402


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("bench")
    out_json, out_md = tmp / "run.json", tmp / "run.md"
    r = subprocess.run([sys.executable, str(BENCH), "--smoke", "--no-albumentations", "--no-cold",
                        "--only", "hflip,affine_bilinear,normalize,pipeline,fixed_cost",
                        "--json", str(out_json), "--md", str(out_md)],
                       capture_output=True, text=True, env=_env(), timeout=120, check=False)
    return out_json, out_md, r


def test_smoke_run_writes_json_and_page(smoke_run: tuple[Path, Path, subprocess.CompletedProcess]) -> None:
    out_json, out_md, r = smoke_run
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(out_json.read_text())
    assert d["meta"]["mode"] == "smoke" and d["meta"]["repeats"] == 3
    assert d["meta"]["versions"]["albumentations"] is None
    # the layer geoaug chooses, not the OpenMP layer numba.set_num_threads starts when called first
    assert d["meta"]["versions"]["threading_layer"] in ("tbb", "workqueue")
    assert set(d["threads"]) == {"1", "2"}
    assert d["threads"]["1"]["numba_threads"] == 1 and d["threads"]["2"]["numba_threads"] == 2
    # the timing process ran with malloc's steady-state thresholds, and the page says so
    assert d["threads"]["1"]["malloc"] == d["meta"]["settings"]["malloc"] == bench.MALLOC_STEADY
    rows = {(row["op"], row["bands"], row["size"]) for row in d["threads"]["1"]["rows"]}
    assert {("hflip", 13, 16), ("affine_bilinear", 13, 16), ("pipeline", 13, 16), ("fixed_cost_p0", 13, 64),
            ("fixed_cost_1x1", 13, 1)} <= rows
    by_op = {row["op"]: row for row in d["threads"]["2"]["rows"]}
    assert {"geoaug array", "geoaug GeoRaster", "opencv per band", "opencv hwc4", "np.copy"} <= set(
        by_op["hflip"]["ms"])
    assert "geoaug GeoRaster collar" in by_op["affine_bilinear"]["ms"]
    assert "samples_ms" not in by_op["hflip"]  # the timings themselves only with --samples
    assert "numpy (a - mean) / std" in by_op["normalize"]["ms"]
    assert by_op["hflip"]["notes"]["albumentations"] == "not installed"
    assert all(v > 0 for row in by_op.values() for v in row["ms"].values())
    assert all(row["median_ms"][k] >= v for row in by_op.values() for k, v in row["ms"].items())
    assert "cold" not in d
    assert d["loader"]["runs"][0]["workers"] == 0 and d["loader"]["runs"][0]["geoaug_samples_s"] > 0
    page = out_md.read_text()
    assert "This page is from a `--smoke` run" in page
    assert d["meta"]["round_order"] == "shuffled" and "takes the others in an order of its own" in page
    assert "## Results at 1 thread" in page and "## Results at 2 threads" in page
    assert f"`GLIBC_TUNABLES={bench.MALLOC_STEADY}`" in page
    assert "albumentations not installed" in page
    assert "| Warp with a nodata collar vs all-valid (GeoRaster) | 1 thread |" in page


def _check(this: Path, other: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = bench.main(["--from", str(this), "--check", str(other)])
    return code, capsys.readouterr().out


def test_check_compares_two_runs(smoke_run: tuple[Path, Path, subprocess.CompletedProcess], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out_json = smoke_run[0]
    code, out = _check(out_json, out_json, capsys)
    assert code == 0, out
    assert "--check: 0 of" in out
    d = json.loads(out_json.read_text())
    row = next(r for r in d["threads"]["1"]["rows"] if r["op"] == "hflip")
    row["ms"]["geoaug GeoRaster"] *= 1.3  # 30 % slower: every ratio of that figure moves by 30 %
    other = tmp_path / "other.json"
    other.write_text(json.dumps(d))
    code, out = _check(out_json, other, capsys)
    assert code == 1
    assert "[1t] hflip 13x16 uint16: geoaug GeoRaster / opencv per band" in out
    assert "[2t/1t] hflip 13x16 uint16: geoaug GeoRaster" in out
    assert not any(line.startswith("[1t] hflip 13x16 uint16: geoaug array") for line in out.splitlines())
    row["median_ms"]["np.copy"] = row["ms"]["np.copy"] * 3  # a disturbed row is marked as such
    other.write_text(json.dumps(d))
    code, out = _check(out_json, other, capsys)
    assert code == 1 and "[1t] hflip 13x16 uint16: geoaug GeoRaster / np.copy" in out
    flagged = [line for line in out.splitlines() if line.startswith("[1t] hflip")]
    assert flagged and all("[noisy: median/min > 1.5 in a run]" in line for line in flagged)


def test_goals_report_met_and_not_met() -> None:
    rows = [{"op": "affine_bilinear", "bands": 13, "size": 512, "dtype": "uint16", "notes": {},
             "ms": {"geoaug array": 6.0, "geoaug GeoRaster": 5.0, "geoaug GeoRaster collar": 7.0,
                    "opencv per band": 10.0, "opencv hwc4": 12.0, "np.copy": 0.1}}]
    d = {"threads": {"1": {"rows": rows}}, "cold": {"import_s": 0.4, "first_call_warm_cache_s": 0.5},
         "loader": {"runs": [{"workers": 2, "context": "fork", "ratio": 1.6}]}}
    goals = {g["name"]: g for g in bench_report.goals(d)}
    warp = goals["Warp (nearest, bilinear, cubic) vs OpenCV per band, >= 12 bands"]["scopes"]["1 thread"]
    assert sorted(v for _, v in warp) == [0.5, 0.6]
    lines = "\n".join(bench_report.goal_lines(list(goals.values())))
    assert "| 0.60x (affine_bilinear 13x512² uint16 (array)) | 2/2 | **met** |" in lines
    assert "| 1.40x (affine_bilinear 13x512² uint16) | 0/1 | **not met** |" in lines  # collar 7 / 5
    assert "| `import geoaug` (s) | - | <= 0.5 s | 0.40 s" in lines
    assert "0.50 s (fresh process, 2 cores) | 0/1 | **not met** |" in lines
    assert "1.60x (2 workers, fork) | 1/1 | **met** |" in lines
    assert "empty numba cache (s) | - | <= 5 s | not measured in this run" in lines


def test_cold_start_reads_compiled_bytecode(tmp_path: Path) -> None:
    # the cold-start processes import what an installed package gives them: bytecode, written even where
    # PYTHONDONTWRITEBYTECODE keeps Python's imports from writing it
    import importlib.util

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "mod.py").write_text("Y = 2\n")
    env = {**_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    code = f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import bench; print(bench.compile_bytecode(" \
           f"__import__('pathlib').Path({str(pkg)!r})))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert r.stdout.strip() == "True"
    assert all(Path(importlib.util.cache_from_source(str(pkg / m))).is_file() for m in ("__init__.py", "mod.py"))
    # the page says so; a run from before the harness compiled it says nothing
    assert "Every process reads geoaug's compiled bytecode" in bench_report.bytecode_text({"cold": {"bytecode": True}})
    assert bench_report.bytecode_text({"cold": {"import_s": 0.6}}) == ""


def test_bad_selection_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, msg in ((["--only", "hflop"], "unknown ops ['hflop']"), (["--threads", "0"], "must be >= 1"),
                      (["--dtypes", "uint8"], "--dtypes: choose from")):
        with pytest.raises(SystemExit) as e:
            bench.main(argv)
        assert e.value.code == 2 and msg in capsys.readouterr().err
    with pytest.raises(SystemExit, match="BANDSxSIDE"):
        bench.parse_size("13by512")


def test_scene_benchmark_builds_its_scene_and_measures_each_reader(tmp_path: Path) -> None:
    """scripts/bench_scenes.py in its smallest form: a 600² COG and its mosaic, 8 chips, every reader in-process."""
    pytest.importorskip("torch")
    import bench_scenes
    import rasterio

    cog, vrt = bench_scenes.build(tmp_path, 600)
    with rasterio.open(cog) as a, rasterio.open(vrt) as b:
        assert (a.count, a.height, a.width, a.dtypes[0]) == (4, 600, 600, "uint16") and a.profile["tiled"]
        assert (b.height, b.width) == (600, 1200)
    kinds = ["geoaug", "plain"]
    try:
        import torchgeo  # noqa: F401
    except Exception:  # torchgeo is a contender, not a dependency
        pass
    else:
        kinds.append("torchgeo")
    valid = {}
    for kind in kinds:
        row = bench_scenes.run_one(kind, str(cog), 0, 16, 64)
        assert row["chips"] == 8 and row["chips_per_s"] > 0  # the first batch of 8 is not timed
        valid[kind] = row["valid_fraction"]
    # context-aware chips take real pixels where the others fill rotated corners
    assert valid["geoaug"] > valid["plain"] and valid["plain"] < 1.0


def test_cold_comparison_names_a_tree_that_is_not_a_checkout(tmp_path: Path) -> None:
    # scripts/bench_cold.py imports geoaug from each tree in a fresh process; a tree without geoaug would
    # silently time the installed copy, so the child checks where geoaug came from and the script says which
    import bench_cold

    with pytest.raises(SystemExit, match=str(tmp_path)) as e:
        bench_cold.first_call(tmp_path, "readme")
    assert "the child failed" in str(e.value)


def test_bench_trees_names_a_tree_without_geoaug(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # scripts/bench_trees.py times the same calls from two checkouts; a tree without the package is refused by
    # name before anything runs, and a timing process that fails names its tree
    import bench_trees

    with pytest.raises(SystemExit):
        bench_trees.main(["--old", str(tmp_path), "--new", str(ROOT)])
    assert f"--old {tmp_path}: no geoaug package there" in capsys.readouterr().err
    (tmp_path / "geoaug").mkdir()
    (tmp_path / "geoaug" / "__init__.py").write_text("raise ImportError('broken tree')\n")
    with pytest.raises(SystemExit, match=str(tmp_path)) as e:
        bench_trees.run(tmp_path, 21)
    assert "the timing process failed" in str(e.value) and "broken tree" in str(e.value)
    with pytest.raises(SystemExit):
        bench_trees.main(["--old", str(ROOT), "--new", str(ROOT), "--only", "affine_nearest", "no_such_op"])
    assert "--only: no case no_such_op" in capsys.readouterr().err


def test_bench_resize_orders_prints_every_order_and_the_pick(capsys: pytest.CaptureFixture) -> None:
    # scripts/bench_resize_orders.py: one small case, every forced order timed, the plan's own pick named
    import bench_resize_orders

    assert bench_resize_orders.main(["--bands", "2", "--size", "40", "--out", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["case", "rows", "columns", "lanes", "picked"]
    assert [line.split()[-1] for line in out[1:]] == ["lanes", "lanes"]
    assert all(float(v) > 0 for line in out[1:] for v in line.split()[2:5])


def test_bits_trees_finds_a_tree_whose_normalize_moved(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # scripts/bits_trees.py hashes the same calls' outputs from two trees: one tree against itself is the same;
    # a copy of it whose Normalize adds a little to every value differs in the spectral family
    import shutil

    import bits_trees

    assert bits_trees.main(["--old", str(ROOT), "--new", str(ROOT), "--trials", "1"]) == 0
    out = capsys.readouterr().out.split("\n")
    assert out[0].split()[:2] == ["warp", "same"] and out[1].split()[:2] == ["spectral", "same"]
    shutil.copytree(ROOT / "geoaug", tmp_path / "geoaug", ignore=shutil.ignore_patterns("__pycache__"))
    spectral = tmp_path / "geoaug" / "transforms" / "spectral.py"
    text = spectral.read_text()
    old = "return ctx[0], ctx[1], ctx[2], True  # (x - a) / s + c"
    assert old in text
    spectral.write_text(text.replace(old, "return ctx[0], ctx[1], ctx[2] + 1e-3, True  # (x - a) / s + c"))
    # (the copy compiles its kernels into its own cache: one spectral raster, uint16)
    assert bits_trees.main(["--old", str(ROOT), "--new", str(tmp_path), "--trials", "5", "--only", "spectral"]) == 1
    assert capsys.readouterr().out.split()[:2] == ["spectral", "DIFFERENT"]
    with pytest.raises(SystemExit):
        bits_trees.main(["--old", str(tmp_path / "nowhere"), "--new", str(ROOT)])
    assert "no geoaug package there" in capsys.readouterr().err


def test_seeded_contenders_time_the_same_draws_at_every_thread_count() -> None:
    # timeit_threads reseeds a Seeded contender before each call: the timed call of round r draws with seed r
    # at every thread count, the untimed call before it with a seed of its own
    seen: list[float] = []
    lib: list[int] = []
    fns = {"draws": bench.Seeded(lambda g: seen.append(float(g.random()))),
           "library": bench.Seeded(lambda _: None, lib.append), "plain": lambda: None}
    bench.timeit_threads(fns, 3, [None, None])
    import numpy as np

    # one warm-up call per thread count, then per round and thread count an untimed and a timed call
    assert len(seen) == 2 + 3 * 2 * 2
    timed = seen[3::2]
    assert timed == [float(np.random.default_rng(r).random()) for r in (0, 0, 1, 1, 2, 2)]
    untimed = seen[2::2]
    assert untimed == [float(np.random.default_rng(bench.UNTIMED_SEED + 1 + r).random()) for r in (0, 0, 1, 1, 2, 2)]
    assert lib == [bench.UNTIMED_SEED] * 2 + [s for r in (0, 0, 1, 1, 2, 2) for s in (bench.UNTIMED_SEED + 1 + r, r)]


def test_a_run_in_passes_keeps_every_timing_when_asked(tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "run.json", tmp_path / "run.md"
    r = subprocess.run([sys.executable, str(BENCH), "--smoke", "--no-albumentations", "--no-cold", "--no-loader",
                        "--only", "hflip,fixed_cost", "--threads", "1", "--passes", "2", "--samples",
                        "--json", str(out_json), "--md", str(out_md)],
                       capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "pass 2/2" in r.stderr
    d = json.loads(out_json.read_text())
    assert (d["meta"]["passes"], d["meta"]["repeats"]) == (2, 4)  # 3 repeats asked: 2 rounds in each pass
    rows = {row["op"]: row for row in d["threads"]["1"]["rows"]}
    assert {len(v) for v in rows["hflip"]["samples_ms"].values()} == {4}
    assert {len(v) for v in rows["fixed_cost_p0"]["samples_ms"].values()} == {22}  # at least 21, in 2 passes
    assert all(rows["hflip"]["ms"][k] == min(v) for k, v in rows["hflip"]["samples_ms"].items())
    assert "made in 2 passes over the whole matrix (2 rounds of each row per pass" in out_md.read_text()


def test_a_pass_times_its_own_rounds() -> None:
    # a run in passes shares a row's rounds out: the second pass of 2 rounds times rounds 2 and 3, with their
    # draws and their turns, so that the passes together time the draws of one pass of 4 rounds
    seen: list[float] = []
    calls: list[str] = []
    fns = {"draws": bench.Seeded(lambda g: (seen.append(float(g.random())), calls.append("draws"))),
           "plain": lambda: calls.append("plain")}
    bench.time_rounds(fns, 2, [None], start=2)
    import numpy as np

    assert seen[2::2] == [float(np.random.default_rng(r).random()) for r in (2, 3)]
    assert calls[2:] == ["draws", "draws", "plain", "plain", "plain", "plain", "draws", "draws"]  # round 2 starts at 0


def test_passes_merge_into_the_best_and_median_of_all_their_timings() -> None:
    def rows(a: list[float], c: list[float]) -> dict[int, list[dict]]:
        return {1: [bench.row_from("hflip", 13, 64, "uint16", {"geoaug array": a, "np.copy": c}, {"x": "note"}),
                    bench.row_from("vflip", 13, 64, "uint16", {"geoaug array": c, "np.copy": a}, {})]}

    merged = bench.merge_passes([rows([5.0, 6.0, 7.0], [2.0, 2.5, 3.0]), rows([1.5, 9.0, 9.5], [4.0, 4.5, 5.0])])
    hflip, vflip = merged[1]
    assert (hflip["op"], vflip["op"]) == ("hflip", "vflip") and hflip["notes"] == {"x": "note"}
    assert hflip["ms"] == {"geoaug array": 1.5, "np.copy": 2.0}  # the best of either pass
    assert hflip["median_ms"] == {"geoaug array": 7.0, "np.copy": 4.0}  # the median of all six
    assert vflip["ms"] == {"geoaug array": 2.0, "np.copy": 1.5}
    assert "samples_ms" not in hflip


def test_contenders_take_turns_at_going_first() -> None:
    # the first call after a thread count is set runs slow: round r starts at contender r, the others follow in
    # an order of the round's own, the same at every thread count
    calls: list[str] = []
    fns = {k: (lambda k=k: calls.append(k)) for k in "abcd"}
    res = bench.timeit_threads(fns, 8, [None, None])
    assert list(res[None][0]) == ["a", "b", "c", "d"]  # results keep the contenders' order
    rounds = calls[8:]  # after one warm-up call of each per thread count: per round and thread count, each twice
    blocks = [rounds[i:i + 8:2] for i in range(0, len(rounds), 8)]
    assert all(rounds[i] == rounds[i + 1] for i in range(0, len(rounds), 2))  # untimed, then timed
    assert [b[0] for b in blocks] == ["a", "a", "b", "b", "c", "c", "d", "d"] * 2
    assert all(blocks[i] == blocks[i + 1] for i in range(0, len(blocks), 2))  # both thread counts alike
    assert all(sorted(b) == ["a", "b", "c", "d"] for b in blocks)
    assert blocks == [bench.round_order(list("abcd"), r) for r in range(8) for _ in (0, 1)]


def test_a_contender_follows_others_of_every_kind() -> None:
    # a fixed cycle put geoaug's plain array after albumentations and np.copy in every round; at 2 threads that
    # cost it 1.2-1.5x its GeoRaster twin. Over a row's 21 rounds each contender follows each other one
    order = ["geoaug array", "geoaug GeoRaster", "opencv per band", "opencv hwc4", "albumentations", "np.copy"]
    before = {k: set() for k in order}
    for r in range(21):
        o = bench.round_order(order, r)
        assert o[0] == order[r % len(order)] and sorted(o) == sorted(order)
        assert o == bench.round_order(order, r)  # the same in every run
        for prev, k in itertools.pairwise(o):
            before[k].add(prev)
    assert all(before[k] == set(order) - {k} for k in order), before


def test_reseeding_is_not_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    # a fake clock: each contender call takes 1 ms, each reseed 10 s; every timed figure must be the 1 ms
    clock = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def call(_: object) -> None:
        clock[0] += 1e-3

    def seed(_: int) -> None:
        clock[0] += 10.0

    res = bench.timeit_threads({"a": bench.Seeded(call, seed), "b": bench.Seeded(call)}, 3, [None])
    best, median = res[None]
    assert best == pytest.approx({"a": 1.0, "b": 1.0}) and median == pytest.approx({"a": 1.0, "b": 1.0})


def test_albumentations_reseeding_keeps_its_transforms_independent() -> None:
    # set_random_seed would give every child transform the same seed: HorizontalFlip(p=0.5) and
    # RandomRotate90(p=0.5) would always decide alike; one shared stream makes them independent
    A = pytest.importorskip("albumentations")
    import numpy as np

    compose = A.Compose([A.HorizontalFlip(p=0.5), A.RandomRotate90(p=0.5)])
    x = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    reseed = bench.albumentations_reseed(compose)
    kinds = set()
    for s in range(40):
        reseed(s)
        y = compose(image=x)["image"][:, :, 0]
        flipped = any(np.array_equal(y, np.rot90(x[:, ::-1, 0], k)) for k in range(4))
        rotated = not np.array_equal(y, x[:, :, 0]) and not np.array_equal(y, x[:, ::-1, 0])
        kinds.add((flipped, rotated))
        reseed(s)  # the same seed, the same draw
        assert np.array_equal(compose(image=x)["image"][:, :, 0], y)
    # with the same seed in every child a rotation came only with a flip (both decide with the same number)
    assert (False, True) in kinds and (True, False) in kinds


def test_the_cold_child_without_scipy_cannot_import_it() -> None:
    code = bench.NO_SCIPY + "import numpy\ntry:\n    import scipy.linalg\nexcept ImportError:\n    print('blocked')\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert r.stdout.strip() == "blocked"


def test_the_random_resized_crop_row_times_the_same_crops_for_every_contender(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the crop's position changes the work: geoaug's contenders are reseeded per round (Seeded), like the
    # README pipeline's, so the plain array, the GeoRaster and both thread counts time the same crops
    seen: dict[str, object] = {}

    def capture(fns: dict, rounds: int, threads: list, start: int = 0) -> dict:
        seen.update(fns)
        return {n: {k: [1.0] for k in fns} for n in threads}

    monkeypatch.setattr(bench, "time_rounds", capture)
    bench.bench_case(2, 16, "uint16", ["random_resized_crop"], 1, None)
    assert isinstance(seen["geoaug array"], bench.Seeded) and isinstance(seen["geoaug GeoRaster"], bench.Seeded)


def test_reseeding_a_geoaug_contender_forgets_the_caches_of_a_draw() -> None:
    # the same seeded crop, timed on the array and then on its GeoRaster twin, must not find the array's plan of
    # that position (a crop over the whole raster: its taps reach the edges); the plan of a crop size, which
    # every position inside finds (kernels/resize.py _plan), stays, as in training
    import numpy as np

    import geoaug
    from geoaug.kernels import resize

    whole = geoaug.RandomResizedCrop(24, 24, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    inside = geoaug.RandomResizedCrop(24, 24, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    a = np.ones((2, 32, 32), np.uint16)
    r = geoaug.GeoRaster.from_array(a)  # a plain array's call makes no output geotransform: the raster's does
    c = bench.Seeded(lambda g: (whole(a, rng=g), inside(a, rng=g), whole(r, rng=g)))
    c.reseed(3)
    resize._moved_plan.cache_clear()
    c()
    moved = resize._moved_plan.cache_info().currsize
    assert resize._cached_plan.cache_info().currsize > 0 and geoaug.geometry._FROM_IDENTITY and moved > 0
    c.reseed(3)
    assert resize._cached_plan.cache_info().currsize == 0 and not geoaug.geometry._FROM_IDENTITY
    assert resize._moved_plan.cache_info().currsize == moved


def test_bench_nan_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # scripts/bench_nan.py: one small case per interpolation, each ratio printed
    import bench_nan

    assert bench_nan.main(["--sizes", "2x24", "--repeats", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all(len(line.split()) == 6 for line in out[1:])


def test_load_warning_ignores_the_dataloader_workers_own_load() -> None:
    """The DataLoader phase's load after it is its own workers; a timing phase above the cores is other work."""
    def page(two_threads_after: float) -> str:
        d = {"meta": {"machine": {"cores": 2}},
             "threads": {"1": {"load_average": [0.2, 1.1], "seconds": 10},
                         "2": {"load_average": [0.2, two_threads_after], "seconds": 10}},
             "cold": {"load_average": [1.1, 1.0], "seconds": 5},
             "loader": {"load_average": [1.0, 3.3], "seconds": 5}}
        return "\n".join(bench_report.load_lines(d))

    quiet = page(1.1)
    assert "DataLoader 1.0/3.3 (5 s)" in quiet and "exceeded" not in quiet
    assert "**The load exceeded the 2 cores during this run**" in page(2.6)
