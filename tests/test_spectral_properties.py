"""Hypothesis properties shared by every spectral transform (discovered from the registry)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import rasters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import GeoRaster
from geoaug.transforms import REGISTRY, SpectralTransform

FACTORIES = {
    "Brightness": lambda: geoaug.Brightness((-0.3, 0.3), per_band=True),
    "Contrast": lambda: geoaug.Contrast((0.5, 2.0)),
    "Gamma": lambda: geoaug.Gamma((0.5, 2.0), per_band=True),
    "BandGain": lambda: geoaug.BandGain((0.0, 3.0)),
    "ChannelShift": lambda: geoaug.ChannelShift((-50, 50), per_band=True),
    "GaussianNoise": lambda: geoaug.GaussianNoise((0.0, 0.2)),
    "BandDropout": lambda: geoaug.BandDropout(max_bands=3, fill="nodata"),
    "PCAJitter": lambda: geoaug.PCAJitter(std=0.5),
    "Normalize": lambda: geoaug.Normalize(100.0, 50.0),
    "PercentileStretch": lambda: geoaug.PercentileStretch((1, 5), (95, 99)),
    "ToFloat": lambda: geoaug.ToFloat(),
    # sensor-aware transforms (issue 17)
    "Haze": lambda: geoaug.Haze((0.0, 0.5), wavelengths={f"band_{i}": 400.0 + 50 * i for i in range(1, 41)}),
    "Illumination": lambda: geoaug.Illumination((0.0, 1.0), order=3),
    "CloudShadow": lambda: geoaug.CloudShadow(coverage=(0.0, 1.0), size=(1, 30), shadow=(0.0, 1.0)),
}
TO_FLOAT32 = {"Normalize", "PercentileStretch", "ToFloat"}
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_factories_cover_every_spectral_transform() -> None:
    assert set(FACTORIES) == {n for n, c in REGISTRY.items() if issubclass(c, SpectralTransform)}


@pytest.mark.parametrize("name", sorted(FACTORIES))
@SETTINGS
@given(r=rasters(with_nodata=True), seed=st.integers(0, 2**32 - 1))
def test_shared_rules(name: str, r: GeoRaster, seed: int) -> None:
    t = FACTORIES[name]()
    out = t(r, rng=np.random.default_rng(seed))
    assert out.transform == r.transform and out.shape == r.shape
    assert out.dtype == (np.float32 if name in TO_FLOAT32 else r.dtype)
    bm, obm = r.band_mask, out.band_mask
    if name == "BandDropout":
        assert not (obm & ~bm).any()  # only ever removes validity
    else:
        np.testing.assert_array_equal(out.mask, r.mask)
        # invalid pixels keep their value (cast for the float32 outputs)
        np.testing.assert_array_equal(out.data[~bm], r.data[~bm].astype(out.dtype))
    vals = out.data[obm]
    if out.dtype.kind == "f":
        assert not np.isnan(vals).any()
    if r.nodata is not None and not math.isnan(r.nodata):
        # a value the transform produced never lands on nodata (untouched pixels stay as they were)
        before = r.data[obm].astype(out.dtype)
        assert not ((vals == out.dtype.type(r.nodata)) & (vals != before)).any()


@SETTINGS
@given(r=rasters(nan_ok=True), delta=st.floats(0.0, 0.5))
def test_saturation_never_wraps(r: GeoRaster, delta: float) -> None:
    up = geoaug.Brightness(delta)(r)
    down = geoaug.Brightness(-delta)(r)
    bm = r.band_mask
    assert (up.data[bm] >= r.data[bm]).all()
    assert (down.data[bm] <= r.data[bm]).all()
    if r.dtype.kind in "iu":
        info = np.iinfo(r.dtype)
        top = r.data[bm] == info.max
        assert (up.data[bm][top] == info.max).all()
