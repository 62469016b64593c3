"""Kernels run in every process model after geoaug has already run in the parent.

Each scenario (tests/process_models.py) runs in a fresh interpreter with a
time limit, so a hang (fork after GNU OpenMP) fails the test instead of the
suite. The outputs must equal a serial run byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "process_models.py"


def run_scenario(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> dict:
    """Run one scenario; its JSON result (fails on a crash, a hang or a non-zero exit)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), full_env.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{args}: hung for {timeout} s; stderr: {e.stderr!r}")
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["hashes"] == res["serial"], args
    assert len(set(res["hashes"])) == len(res["hashes"])  # different seeds, different outputs
    return res


@pytest.mark.parametrize("ctx", ["fork", "spawn", "forkserver"])
def test_multiprocessing_pool(ctx: str) -> None:
    res = run_scenario("pool", ctx)
    assert res["layer"] == "tbb"


def test_process_pool_executor_fork() -> None:
    run_scenario("futures-processes", "fork")


def test_four_threads_at_once_equal_serial() -> None:
    run_scenario("threads")


def test_workqueue_layer_threads_and_fork() -> None:
    """The fallback layer (no TBB): fork works and concurrent threads are serialised, not aborted."""
    env = {"NUMBA_THREADING_LAYER": "workqueue"}
    assert run_scenario("threads", env=env)["layer"] == "workqueue"
    assert run_scenario("pool", "fork", env=env)["layer"] == "workqueue"


@pytest.mark.parametrize(("ctx", "workers", "persistent"), [
    ("fork", 2, "once"), ("fork", 4, "persistent"), ("spawn", 2, "once"), ("forkserver", 2, "persistent"),
])
def test_torch_dataloader(ctx: str, workers: int, persistent: str) -> None:
    pytest.importorskip("torch")
    run_scenario("dataloader", ctx, str(workers), persistent)


def test_dask_process_workers() -> None:
    pytest.importorskip("distributed")
    run_scenario("dask")
