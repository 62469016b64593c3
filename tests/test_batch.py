"""The batch command: CLI vs API, workers and a real Dask cluster, kill -9 and resume, bad inputs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT, TILES

import geoaug
from geoaug.batch import augment_folder
from geoaug.cli import main as cli

POLICY = ROOT / "docs" / "examples" / "generic.yaml"
BIN = Path(sys.executable).parent


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.tif"))}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A copy of the fixture tiles in a nested tree (so the output mirrors a tree)."""
    src = tmp_path / "in"
    shutil.copytree(TILES, src / "tiles")
    (src / "tiles" / "nested").mkdir()
    shutil.move(src / "tiles" / "rotated_geotransform_uint8.tif", src / "tiles" / "nested")
    return src


def run_cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["augment", *args])
    return res.exit_code, res.output


def test_cli_equals_python_api_and_manifest_replays(inputs: Path, tmp_path: Path) -> None:
    code, out = run_cli(str(inputs), str(tmp_path / "cli"), "--pipeline", str(POLICY), "--copies", "2",
                        "--seed", "7", "--labels", str(FIXTURES / "labels"), "-q")
    assert code == 0, out
    assert "files: 7, outputs: 14 written" in out and "px/s" in out
    labels = tmp_path / "labels"
    shutil.copytree(FIXTURES / "labels", labels / "tiles")
    summary = augment_folder(inputs, tmp_path / "api", geoaug.load_pipeline(POLICY), copies=2, seed=7,
                             labels_dir=labels)
    assert summary.outputs == 14 and summary.failures == 0
    cli_tree = tree_digest(tmp_path / "cli")
    assert "tiles/nested/rotated_geotransform_uint8_aug1.tif" in cli_tree
    # the CLI run had no labels at tiles/...: compare the images
    api_tree = {k: v for k, v in tree_digest(tmp_path / "api").items() if not k.endswith("_label.tif")}
    assert api_tree == cli_tree
    assert "tiles/sentinel2_l2a_12band_int16_aug0_label.tif" in tree_digest(tmp_path / "api")
    # every manifest record replays to the written output with the Python API
    pipe = geoaug.load_pipeline(POLICY)
    lines = [json.loads(x) for x in (tmp_path / "api" / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 14 and all(ln["status"] == "ok" for ln in lines)
    for ln in lines:
        src = geoaug.read(inputs / ln["input"])
        want = pipe.replay(src, ln["params"])
        got = geoaug.read(tmp_path / "api" / ln["output"])
        np.testing.assert_array_equal(got.mask, want.mask)
        np.testing.assert_array_equal(got.data[got.band_mask], want.data[want.band_mask])
        assert got.transform.almost_equals(want.transform)
        if "label_output" in ln:
            lab = geoaug.read(labels / ln["input"])
            np.testing.assert_array_equal(geoaug.read(tmp_path / "api" / ln["label_output"]).data,
                                          pipe.replay_label(lab, ln["params"]).filled())


def test_subprocess_matches_cli(inputs: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "geoaug", "augment", str(inputs), str(tmp_path / "sub"),
                           "--pipeline", str(POLICY), "--copies", "2", "--seed", "7"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "[7/7]" in proc.stderr  # plain progress lines when not a terminal
    code, _ = run_cli(str(inputs), str(tmp_path / "cli"), "--pipeline", str(POLICY), "--copies", "2",
                      "--seed", "7", "-q")
    assert code == 0
    assert tree_digest(tmp_path / "sub") == tree_digest(tmp_path / "cli")
    assert (tmp_path / "sub" / "manifest.jsonl").read_bytes() == (tmp_path / "cli" / "manifest.jsonl").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster():
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped afterwards."""
    from dask.distributed import Client

    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}  # one numba thread per worker process
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(BIN / "dask"), "worker", addr, "--nthreads", "1", "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        with Client(addr, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield addr
    finally:
        for p in procs[::-1]:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_identical_outputs_in_process_local_workers_and_real_cluster(inputs: Path, tmp_path: Path,
                                                                     dask_cluster: str) -> None:
    common = ["--pipeline", str(POLICY), "--copies", "3", "--seed", "11", "-q"]
    assert run_cli(str(inputs), str(tmp_path / "inproc"), *common)[0] == 0
    assert run_cli(str(inputs), str(tmp_path / "local2"), *common, "--workers", "2")[0] == 0
    code, out = run_cli(str(inputs), str(tmp_path / "cluster"), *common, "--scheduler", dask_cluster)
    assert code == 0, out
    ref = tree_digest(tmp_path / "inproc")
    assert len(ref) == 21
    assert tree_digest(tmp_path / "local2") == ref
    assert tree_digest(tmp_path / "cluster") == ref
    manifest = (tmp_path / "inproc" / "manifest.jsonl").read_bytes()
    assert (tmp_path / "local2" / "manifest.jsonl").read_bytes() == manifest
    assert (tmp_path / "cluster" / "manifest.jsonl").read_bytes() == manifest


SLOW_POLICY = """
version: 1
transforms:
  - Affine: {rotate: [-45, 45], scale: [0.8, 1.2], interpolation: bilinear}
  - Resize: {height: 384, width: 384, interpolation: bilinear}
  - GaussianNoise: {std: 0.01}
"""
#: the kill test's inputs: two tiles of one dtype in a nested tree (each dtype is a kernel compile for the
#: child processes, which is not what this test is about)
KILL_TILES = ("bigearthnet_s2_12band_uint16.tif", "landsat8_sr_7band_uint16_collar.tif")


def test_kill_9_then_rerun_completes_identically(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "tiles" / "nested").mkdir(parents=True)
    shutil.copy(TILES / KILL_TILES[0], inputs / "tiles")
    shutil.copy(TILES / KILL_TILES[1], inputs / "tiles" / "nested")
    policy = tmp_path / "slow.yaml"
    policy.write_text(SLOW_POLICY)
    args = [sys.executable, "-m", "geoaug", "augment", str(inputs), str(tmp_path / "out"), "--pipeline",
            str(policy), "--copies", "24", "--seed", "3", "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "out" / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 13:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written = sorted((tmp_path / "out").rglob("*_aug*.tif"))
    assert 0 < len(written) < 48, "kill came too late or too early"
    for p in written:  # whatever exists under a final name is a complete GeoTIFF
        geoaug.read(p)
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "already done" in rerun.stdout
    assert not list((tmp_path / "out").rglob("*.part"))
    ref = subprocess.run([*args[:5], str(tmp_path / "ref"), *args[6:]], capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0
    assert tree_digest(tmp_path / "out") == tree_digest(tmp_path / "ref")
    a = [json.loads(x) for x in manifest.read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "ref" / "manifest.jsonl").read_text().splitlines()]
    assert [(x["output"], x["params"]) for x in a] == [(x["output"], x["params"]) for x in b]


def test_bad_inputs_are_reported_and_the_rest_done(inputs: Path, tmp_path: Path) -> None:
    (inputs / "tiles" / "aaa_corrupt.tif").write_bytes((TILES / "landsat7_rgb_uint8_collar.tif").read_bytes()[:3000])
    (inputs / "tiles" / "notes.tif").write_text("not a raster")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs.rglob("*") if p.is_file()}
    code, out = run_cli(str(inputs), str(tmp_path / "out"), "--pipeline", str(POLICY), "--copies", "2", "-q")
    assert code == 1
    assert "failures: 2" in out and "outputs: 14 written" in out
    assert "FAILED tiles/aaa_corrupt.tif" in out and "FAILED tiles/notes.tif" in out
    lines = [json.loads(x) for x in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    failed = [ln for ln in lines if ln["status"] == "failed"]
    assert {ln["input"] for ln in failed} == {"tiles/aaa_corrupt.tif", "tiles/notes.tif"}
    assert all("cannot read raster" in ln["error"] for ln in failed)
    assert after_hashes(inputs) == before
    # --fail-fast stops at the first bad input (sorted first)
    code, out = run_cli(str(inputs), str(tmp_path / "ff"), "--pipeline", str(POLICY), "--fail-fast", "-q")
    assert code == 1 and "outputs: 0 written" in out


def after_hashes(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_overwrite_redoes_and_resume_skips(inputs: Path, tmp_path: Path) -> None:
    args = [str(inputs), str(tmp_path / "out"), "--pipeline", str(POLICY), "-q"]
    assert run_cli(*args)[0] == 0
    code, out = run_cli(*args)
    assert code == 0 and "outputs: 0 written, 7 already done" in out
    code, out = run_cli(*args, "--overwrite")
    assert code == 0 and "outputs: 7 written, 0 already done" in out


@pytest.mark.parametrize("where", ["missing", "read_only"])
def test_unusable_output_folder_exits_2(inputs: Path, tmp_path: Path, where: str) -> None:
    if where == "missing":
        out = tmp_path / "no" / "such" / "out"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        out = ro / "out"
        if os.access(ro, os.W_OK):  # root ignores permission bits: a read-only file system instead
            out = Path("/sys/geoaug-out")
    try:
        code, text = run_cli(str(inputs), str(out), "--pipeline", str(POLICY))
    finally:
        if where == "read_only":
            (tmp_path / "ro").chmod(0o755)
    assert code == 2
    assert str(out) in text and ("does not exist" in text or "cannot create" in text or "not writable" in text)


def test_bad_pipeline_and_help(inputs: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("transforms:\n  - Nope: {}\n")
    code, out = run_cli(str(inputs), str(tmp_path / "o"), "--pipeline", str(bad))
    assert code == 2 and "bad.yaml" in out and "unknown transform 'Nope'" in out
    for args in (["--help"], ["augment", "--help"], ["stats", "--help"], ["info", "--help"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0 and "Example" in res.output


def test_local_workers_log_nothing_once_closing() -> None:
    """A worker closed mid-heartbeat (Ctrl-C) logs a traceback; the filter geoaug's local workers carry drops it."""
    import logging
    from types import SimpleNamespace

    from distributed.core import Status

    from geoaug.batch.worker_logs import WORKER_LOGGERS, QuietClose, QuietClosePlugin

    handler = logging.StreamHandler()
    dist = logging.getLogger("distributed")
    dist.addHandler(handler)
    worker = SimpleNamespace(status=Status.running)
    try:
        QuietClosePlugin().setup(worker)
        QuietClosePlugin().setup(worker)  # a worker restarted by its nanny: one filter, not two
        assert [type(f) for f in handler.filters] == [QuietClose]
        record = logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1,
                                   "Failed to communicate with scheduler during heartbeat.", None, None)
        assert handler.filter(record)
        for status in (Status.closing, Status.closed):
            worker.status = status
            assert not handler.filter(record)
        worker.status = Status.paused
        assert handler.filter(record)
    finally:
        dist.removeHandler(handler)
        for name in WORKER_LOGGERS:  # pytest's own handlers on the root logger
            for h in logging.getLogger(name).handlers:
                h.filters = [f for f in h.filters if not isinstance(f, QuietClose)]


async def _close_mid_heartbeat(dask_worker) -> None:
    await asyncio.sleep(0.2)
    heartbeat = asyncio.ensure_future(dask_worker.heartbeat())
    await asyncio.sleep(0.3)  # the scheduler is busy: the heartbeat waits for its connection
    await dask_worker.close(nanny=False)  # what Ctrl-C does to a worker: closes its connections
    await heartbeat


def _arm(dask_worker) -> bool:
    dask_worker.loop.add_callback(_close_mid_heartbeat, dask_worker)
    return True


def test_a_worker_closed_mid_heartbeat_prints_no_traceback(capfd) -> None:
    """The race behind a Ctrl-C that printed distributed's heartbeat traceback, made certain: the
    scheduler is held busy while the worker starts a heartbeat and then closes."""
    from geoaug.batch import dask_client

    with dask_client(1, None) as client:
        client.run(_arm)
        client.run_on_scheduler(time.sleep, 1.5)
        time.sleep(0.5)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "heartbeat" not in err, err
