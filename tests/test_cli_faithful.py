"""Faithful reruns and command line: fingerprints, full disks, INPUT forms, --nodata, Ctrl-C, stats, units."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, TILES, UNTAGGED

import geoaug
from geoaug.bandstats import load_stats
from geoaug.batch import RUN_FILE, RerunMismatchError, augment_folder, format_rate
from geoaug.cli import main as cli

POLICY = ROOT / "docs" / "examples" / "generic.yaml"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.output


def manifest(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture
def tiles(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("landsat7_rgb_uint8_collar.tif", "float32_nan.tif", "sentinel2_l2a_12band_int16.tif"):
        shutil.copy(TILES / name, src / name)
    return src


def test_rerun_with_another_seed_or_pipeline_refuses(tiles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = [str(tiles), str(out), "--pipeline", str(POLICY), "--copies", "2", "-q"]
    assert run("augment", *base, "--seed", "1")[0] == 0
    before = {p.name: p.read_bytes() for p in out.glob("*.tif")}
    first = (out / "manifest.jsonl").read_text()
    assert len({ln["fingerprint"] for ln in manifest(out)}) == 1
    other = tmp_path / "other.yaml"
    other.write_text("transforms: [HorizontalFlip: {p: 1}]\n")
    for extra, what in ((["--seed", "2"], "seed 1, not 2"), (["--seed", "1", "--copies", "3"], "copies 2, not 3"),
                        (["--seed", "1", "--pipeline", str(other)], "another pipeline"),
                        (["--seed", "1", "--nodata", "0"], "nodata None, not 0.0")):
        code, text = run("augment", *base, *extra)
        assert code == 2, text
        assert "holds outputs of another run" in text and what in text and "--overwrite" in text
        # nothing changed: files and manifest still describe the first run
        assert {p.name: p.read_bytes() for p in out.glob("*.tif")} == before
        assert (out / "manifest.jsonl").read_text() == first
    # an input added or changed is another run too
    shutil.copy(TILES / "landsat7_b1_float64_nan.tif", tiles / "zz.tif")
    code, text = run("augment", *base, "--seed", "1")
    assert code == 2 and "other inputs" in text
    (tiles / "zz.tif").unlink()
    # the same run resumes (explicit --resume is the default)
    code, text = run("augment", *base, "--seed", "1", "--resume")
    assert code == 0 and "outputs: 0 written, 6 already done" in text
    # the Python API refuses the same way
    with pytest.raises(RerunMismatchError, match="seed 1, not 9"):
        augment_folder(tiles, out, geoaug.load_pipeline(POLICY), copies=2, seed=9)


def test_overwrite_redoes_all_and_removes_outputs_of_the_earlier_run(tiles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("augment", str(tiles), str(out), "--pipeline", str(POLICY), "--copies", "3", "-q")[0] == 0
    code, text = run("augment", str(tiles), str(out), "--pipeline", str(POLICY), "--copies", "1", "--seed", "4",
                     "--overwrite", "-q")
    assert code == 0 and "3 written" in text and "6 outputs of the earlier run removed" in text
    assert sorted(p.name for p in out.glob("*.tif")) == sorted(f"{p.stem}_aug0.tif" for p in tiles.glob("*.tif"))
    # the manifest describes the files: each record replays to its output
    pipe = geoaug.load_pipeline(POLICY)
    for ln in manifest(out):
        want = pipe.replay(geoaug.read(tiles / ln["input"]), ln["params"])
        got = geoaug.read(out / ln["output"])
        np.testing.assert_array_equal(got.data[got.band_mask], want.data[want.band_mask])
    assert json.loads((out / RUN_FILE).read_text())["seed"] == 4


def test_outputs_without_a_record_are_not_adopted(tiles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("augment", str(tiles), str(out), "--pipeline", str(POLICY), "-q")[0] == 0
    (out / "manifest.jsonl").unlink()
    (out / RUN_FILE).unlink()
    code, text = run("augment", str(tiles), str(out), "--pipeline", str(POLICY), "-q")
    assert code == 2 and "no record of the run" in text


def test_a_failed_input_leaves_no_partial_copies(tmp_path: Path) -> None:
    """The tutorial's old batch step: 12-band PCA statistics over tiles of 1, 3, 7 and 12 bands."""
    st = geoaug.stats([TILES / "sentinel2_l2a_12band_int16.tif"])
    st.save(tmp_path / "s2.json")
    policy = tmp_path / "p.yaml"
    policy.write_text(f"transforms:\n  - HorizontalFlip: {{p: 0.5}}\n"
                      f"  - PCAJitter: {{std: 0.1, stats: {tmp_path / 's2.json'}, p: 0.5}}\n")
    code, text = run("augment", str(TILES), str(tmp_path / "out"), "--pipeline", str(policy), "--copies", "6", "-q")
    assert code == 1
    lines = manifest(tmp_path / "out")
    by_input: dict[str, set] = {}
    for ln in lines:
        by_input.setdefault(ln["input"], set()).add(ln["status"])
    assert by_input["sentinel2_l2a_12band_int16.tif"] == {"ok"}
    failed = [k for k, v in by_input.items() if v == {"failed"}]
    assert len(failed) == 5 and all(v in ({"ok"}, {"failed"}) for v in by_input.values())
    for rel in failed:
        assert not list((tmp_path / "out").glob(f"{Path(rel).stem}_aug*.tif")), rel
        assert f"FAILED {rel}" in text
    assert "statistics have 12 bands" in text


EFBIG_SCRIPT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # the write gets EFBIG instead of the signal
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
from geoaug.cli import main
main(sys.argv[2:])
"""


def test_file_size_limit_stops_the_run_with_the_os_cause_and_a_rerun_resumes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):  # small tiles first, then one too large for the limit, then more
        shutil.copy(TILES / "landsat7_rgb_uint8_collar.tif", src / f"a{i}.tif")
    shutil.copy(TILES / "landsat7_b1_float64_nan.tif", src / "b.tif")
    for i in range(3):
        shutil.copy(TILES / "landsat7_rgb_uint8_collar.tif", src / f"c{i}.tif")
    args = ["augment", str(src), str(tmp_path / "out"), "--pipeline", str(POLICY), "--copies", "2", "-q"]
    assert run(*args[:2], str(tmp_path / "ref"), *args[3:])[0] == 0
    small = max(p.stat().st_size for p in (tmp_path / "ref").glob("[ac]*.tif"))
    large = min(p.stat().st_size for p in (tmp_path / "ref").glob("b*.tif"))
    assert small < large
    limit = (small + large) // 2
    script = tmp_path / "efbig.py"
    script.write_text(EFBIG_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(limit), *args], capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert proc.returncode == 1, proc.stderr
    assert "File too large" in proc.stderr and "FAILED b.tif" in proc.stderr
    assert "STOPPED" in proc.stderr and "8 outputs are done" in proc.stderr
    assert "failures: 1" in proc.stdout
    lines = manifest(tmp_path / "out")
    assert {ln["input"] for ln in lines} == {"a0.tif", "a1.tif", "a2.tif", "a3.tif", "b.tif"}  # c*: never tried
    assert all(ln["stop"] == "EFBIG" for ln in lines if ln["status"] == "failed")
    assert not list((tmp_path / "out").glob("b_aug*")) and not list((tmp_path / "out").glob(".*.part"))
    # without the limit, a rerun resumes: the 8 done outputs are kept, the rest made
    code, text = run(*args)
    assert code == 0, text
    assert "outputs: 8 written, 8 already done" in text


def test_full_disk_is_named_and_stops_in_process(tiles: Path, tmp_path: Path, monkeypatch) -> None:
    """ENOSPC as the OS reports it (a probe write in the output folder fails with it)."""
    import errno

    import geoaug.io
    from geoaug.batch import run as batch

    real = geoaug.io.write
    calls = []

    def full_after_two(raster, path, **kw):
        calls.append(path)
        if len(calls) > 2:
            raise geoaug.io.RasterWriteError(f"{path}: cannot write raster: Write failed. See previous exception")
        return real(raster, path, **kw)

    monkeypatch.setattr(geoaug.io, "write", full_after_two)
    monkeypatch.setattr(batch, "_probe_errno", lambda folder, nbytes: errno.ENOSPC)
    summary = augment_folder(tiles, tmp_path / "out", geoaug.load_pipeline(POLICY), copies=2)
    assert "No space left on device" in summary.stopped
    assert summary.outputs == 2 and summary.failures == 1 and summary.files == 3
    assert len(list((tmp_path / "out").glob("*_aug*.tif"))) == 2


def test_single_file_and_glob_inputs(tmp_path: Path) -> None:
    one = TILES / "float32_nan.tif"
    code, text = run("augment", str(one), str(tmp_path / "one"), "--pipeline", str(POLICY), "-q")
    assert code == 0 and "files: 1, outputs: 1 written" in text
    assert (tmp_path / "one" / "float32_nan_aug0.tif").exists()
    code, text = run("augment", str(TILES / "*12band*.tif"), str(tmp_path / "glob"), "--pipeline", str(POLICY), "-q")
    assert code == 0 and "files: 2, outputs: 2 written" in text
    code, text = run("augment", str(TILES / "*nomatch*.tif"), str(tmp_path / "none"), "--pipeline", str(POLICY))
    assert code == 2 and "no file matches" in text
    code, text = run("augment", str(tmp_path / "missing.tif"), str(tmp_path / "none"), "--pipeline", str(POLICY))
    assert code == 2 and "no such file or folder" in text
    code, text = run("info", str(TILES / "*12band*.tif"))
    assert code == 0 and len(text.splitlines()) == 2


def test_nodata_on_every_reading_command(tmp_path: Path) -> None:
    code, text = run("info", str(UNTAGGED))
    assert code == 0 and "nodata=none invalid=0.0%" in text
    code, text = run("info", str(UNTAGGED), "--nodata", "0")
    assert code == 0 and "nodata=0" in text and "invalid=0.0%" not in text
    code, _ = run("stats", str(UNTAGGED), "--nodata", "0", "-o", str(tmp_path / "s.json"))
    assert code == 0
    st = json.loads((tmp_path / "s.json").read_text())
    assert min(st["min"]) > 0
    code, text = run("augment", str(UNTAGGED), str(tmp_path / "a"), "--pipeline", str(POLICY), "--nodata", "0", "-q")
    assert code == 0, text
    out = geoaug.read(tmp_path / "a" / f"{UNTAGGED.stem}_aug0.tif")
    assert out.nodata == 0 and not out.mask.all()
    for cmd in ("augment", "preview", "stats", "info"):
        assert "--nodata" in run(cmd, "--help")[1]


def test_unknown_parameter_lists_valid_ones_with_did_you_mean(tiles: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("transforms:\n  - Affine: {fil: reflect}\n")
    code, text = run("augment", str(tiles), str(tmp_path / "o"), "--pipeline", str(bad))
    assert code == 2
    assert "did you mean 'fill'?" in text and "Affine takes: rotate, translate_x" in text and "__init__" not in text


def test_stats_skips_bad_files_and_writes_the_good_ones(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(TILES / "sentinel2_l2a_12band_int16.tif", src / "a.tif")
    (src / "b.tif").write_bytes(b"not a raster")
    shutil.copy(TILES / "float32_nan.tif", src / "c.tif")  # 1 band, not 12
    shutil.copy(TILES / "bigearthnet_s2_12band_uint16.tif", src / "d.tif")
    res = CliRunner().invoke(cli, ["stats", str(src), "-o", str(tmp_path / "s.json")])
    assert res.exit_code == 1
    assert "FAILED" in res.output and "b.tif" in res.output and "c.tif: 1 bands" in res.output
    st = load_stats(tmp_path / "s.json")
    assert st.bands == 12 and len(st.files) == 2
    assert "2 file(s) skipped" in res.output


def test_throughput_units() -> None:
    assert format_rate(2_500_000, 2.0) == "1.25 Mpx/s"
    assert format_rate(46_000, 1.0) == "46 kpx/s"
    assert format_rate(999, 1.0) == "999 px/s"
    assert format_rate(3e9, 1.0) == "3 Gpx/s"


def _default_sigint() -> None:
    """Ctrl-C as in a terminal: a test run started in the background (``cmd &``) inherits SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("workers", [["--workers", "2"], []], ids=["dask", "in-process"])
def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path, workers: list[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        shutil.copy(TILES / "landsat8_sr_7band_uint16_collar.tif", src / f"t{i:02d}.tif")
    slow = tmp_path / "slow.yaml"
    slow.write_text("transforms:\n  - Resize: {height: 600, width: 600, interpolation: cubic}\n"
                    "  - Affine: {rotate: [-30, 30], interpolation: cubic}\n")
    proc = subprocess.Popen([sys.executable, "-m", "geoaug", "augment", str(src), str(tmp_path / "out"),
                             "--pipeline", str(slow), "--copies", "4", *workers],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list((tmp_path / "out").glob("*_aug*.tif")):
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("interrupted:")]
    assert "rerun the same command to resume" in err


def test_a_full_disk_under_the_manifest_stops_and_a_rerun_resumes(tiles: Path, tmp_path: Path, monkeypatch) -> None:
    import builtins
    import errno

    from geoaug.batch import run as batch

    class FullAfterOneLine:
        def __init__(self, fh) -> None:
            self.fh, self.lines = fh, 0

        def write(self, text: str) -> int:
            self.lines += 1
            if self.lines > 1:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.fh.write(text)

        def __getattr__(self, name: str):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

    def full_open(path, mode="r", *args, **kwargs):
        fh = builtins.open(path, mode, *args, **kwargs)
        return FullAfterOneLine(fh) if "manifest.jsonl" in str(path) and "w" in mode else fh

    pipe = geoaug.load_pipeline(POLICY)
    monkeypatch.setattr(batch, "open", full_open, raising=False)
    summary = augment_folder(tiles, tmp_path / "out", pipe)
    assert "cannot write the manifest: No space left on device" in summary.stopped
    assert summary.outputs == 2 and summary.failures == 0  # the third input never started
    monkeypatch.undo()
    again = augment_folder(tiles, tmp_path / "out", pipe)
    assert (again.outputs, again.skipped, again.stopped) == (1, 2, "")
    assert len(manifest(tmp_path / "out")) == 3


def test_preview_shows_what_augment_writes(tmp_path: Path) -> None:
    """Same seed, same file: the preview's copy k has exactly the draw augment wrote as copy k."""
    import json

    from click.testing import CliRunner

    import geoaug
    from geoaug.cli import main
    from geoaug.seeding import rng_for

    src = tmp_path / "in"
    src.mkdir()
    tile = "bigearthnet_s2_12band_uint16.tif"
    (src / tile).write_bytes((Path(__file__).resolve().parents[1] / "fixtures" / "tiles" / tile).read_bytes())
    pipe = Path(__file__).resolve().parents[1] / "docs" / "examples" / "generic.yaml"
    res = CliRunner().invoke(main, ["augment", str(src), str(tmp_path / "out"), "--pipeline", str(pipe),
                                    "--copies", "2", "--seed", "7", "--quiet"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    written = {ln["copy"]: ln["params"] for ln in lines if "copy" in ln}
    p = geoaug.load_pipeline(pipe)
    r = geoaug.read(src / tile)
    from geoaug.preview import describe, preview_grid

    fig = preview_grid(r, p, n=2, seed=7, name=tile)
    titles = [ax.get_title() for ax in fig.axes][1:]
    for k in (0, 1):  # the batch job's rule; the preview's panels are titled with the same draws
        drawn = p(r, rng_for(7, tile, k), return_params=True).params
        assert json.loads(json.dumps(drawn)) == written[k]
        assert titles[k] == describe(p, drawn)
    out = tmp_path / "grid.png"
    res = CliRunner().invoke(main, ["preview", str(src / tile), "--pipeline", str(pipe), "-n", "2",
                                    "--seed", "7", "-o", str(out)])
    assert res.exit_code == 0 and out.exists(), res.output
