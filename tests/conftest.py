"""Shared test fixtures: paths to the real GeoTIFFs in ``fixtures/``."""

from __future__ import annotations

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
