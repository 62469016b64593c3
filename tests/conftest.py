"""Shared test fixtures: paths to the real GeoTIFFs in ``fixtures/``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
TILES = FIXTURES / "tiles"

#: one real file per dtype, as used by the round-trip and transform tests
BY_DTYPE = {
    "uint8": TILES / "landsat7_rgb_uint8_collar.tif",
    "uint16": TILES / "landsat8_sr_7band_uint16_collar.tif",
    "int16": TILES / "sentinel2_l2a_12band_int16.tif",
    "float32": TILES / "float32_nan.tif",
    "float64": TILES / "landsat7_b1_float64_nan.tif",
}
ROTATED = TILES / "rotated_geotransform_uint8.tif"
BEN_STACK = FIXTURES / "stacks" / "bigearthnet_S2B_43_47"
UNTAGGED = FIXTURES / "misc" / "landsat8_l1_uint16_untagged_collar.tif"


@pytest.fixture(params=sorted(BY_DTYPE))
def dtype_file(request: pytest.FixtureRequest) -> Path:
    """Each real fixture file of a distinct dtype."""
    return BY_DTYPE[request.param]


#: The kernels' parallel thresholds while the suite runs in this process: the values before they were
#: lowered to where 2 threads measured faster (scripts/bench_threads.py). At the lowered values nearly every
#: test raster (13 x 64², the real tiles) takes the parallel entries, and compiling those for every dtype the
#: suite covers took the clean-clone run from about 7 to 9.5 minutes. The parallel entries are checked
#: against one thread by the tests that force them (thresholds 0: test_parallel_units, test_nearest_kernel,
#: test_resize_kernel, test_transpose_copies, test_fastpaths, test_store_runs, test_indirect), by
#: test_production_thresholds_parallel_equals_one_thread below the production values, and in the process
#: model scenarios (subprocesses: production values).
def load_script(name: str) -> object:
    """``scripts/<name>.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _old_thresholds() -> list[tuple[str, str, int]]:
    # one home for the previous values: scripts/bench_threads.py, which times them against the new ones
    return list(load_script("bench_threads").OLD)


SUITE_THRESHOLDS = _old_thresholds()
#: the production values, as the modules define them (read before the suite's are set)
PRODUCTION_THRESHOLDS: dict[tuple[str, str], int] = {}


@pytest.fixture(autouse=True, scope="session")
def _suite_thresholds() -> object:
    from geoaug import kernels

    for name, attr, value in SUITE_THRESHOLDS:
        mod = getattr(kernels, name)
        PRODUCTION_THRESHOLDS.setdefault((name, attr), getattr(mod, attr))
        setattr(mod, attr, value)
    yield
    for name, attr, _ in SUITE_THRESHOLDS:
        setattr(getattr(kernels, name), attr, PRODUCTION_THRESHOLDS[(name, attr)])
