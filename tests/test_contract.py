"""The contract every registered transform passes, for 1, 4, 13 and 200 bands.

One table of examples (``geoaug.transforms.examples``) drives it; a registered
transform missing from the table fails :func:`test_every_registered_transform_has_an_example`.

For every example:
* p=0 is the identity; replay equals the call; ``from_dict(to_dict(t))`` gives
  byte-identical output for the same rng; the config equals the constructor's
  arguments;
* dtype (except the float-producing ones) and band count are kept;
* nodata never leaks (no valid output pixel drawn from an invalid input pixel)
  and never appears (valid stays valid, except where a transform is meant to
  invalidate: BandDropout's "nodata");
* a label raster gets the same geometry, and the geotransform of every output
  pixel points at the input pixel its label came from (the inverse-coordinate
  check of the georeferencing).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from affine import Affine

from geoaug import GeoRaster
from geoaug.transforms import REGISTRY, GeometricTransform
from geoaug.transforms.compose import Compose, to_entry
from geoaug.transforms.examples import EXAMPLE_ARGS, example, example_args
from geoaug.transforms.spectral import (
    BandGain,
    Contrast,
    Normalize,
    PercentileStretch,
    SpectralTransform,
    ToFloat,
)

BANDS = (1, 4, 13, 200)
#: transforms whose output dtype is float32 by design, whatever the input's
TO_FLOAT = {"ToFloat", "Normalize", "PercentileStretch"}
#: transforms that may make valid pixels invalid by design
INVALIDATES = {"BandDropout", "CoarseDropout", "GridDropout"}
#: transforms that move content locally on a kept grid (displacement fields, band shifts): they say by how much
DISPLACES = {n for n, c in REGISTRY.items() if callable(getattr(c, "max_displacement", None))}
#: transforms that append bands (float bands: float64 for int32 and float64 input, float32 otherwise)
ADDS_BANDS = {"SpectralIndex"}
T = Affine(10, 0, 500000, 0, -10, 4000000)


def test_every_registered_transform_has_an_example() -> None:
    assert set(EXAMPLE_ARGS) == set(REGISTRY)


def image(bands: int, dtype: str = "uint16", seed: int = 0) -> GeoRaster:
    """A (bands, 56, 64) raster with a 3-pixel invalid collar on two sides and a hole; 65535/NaN under it."""
    rng = np.random.default_rng(seed)
    h, w = 56, 64
    yy, xx = np.mgrid[0:h, 0:w]
    base = 2000 + 800 * np.sin(xx / 7.0)[None] + 600 * np.cos(yy / 5.0)[None] + rng.normal(0, 50, (bands, h, w))
    data = np.clip(base + 37 * np.arange(bands)[:, None, None], 0, 60000).astype(dtype)
    mask = np.ones((h, w), bool)
    mask[:3] = False
    mask[:, -3:] = False
    mask[20:24, 30:36] = False
    data[:, ~mask] = np.nan if data.dtype.kind == "f" else 65535
    return GeoRaster(data=data, mask=mask, transform=T, nodata=None if data.dtype.kind == "f" else 65535)


def label_of(r: GeoRaster) -> GeoRaster:
    """Each pixel's own index (row * width + col): a label raster that says where output pixels came from."""
    idx = np.arange(r.height * r.width, dtype=np.int32).reshape(1, r.height, r.width)
    return GeoRaster(data=idx, mask=np.ones((r.height, r.width), bool), transform=r.transform)


def digest(r: GeoRaster) -> str:
    h = hashlib.sha256(np.ascontiguousarray(r.data).tobytes())
    h.update(np.ascontiguousarray(r.mask).tobytes())
    h.update(repr(tuple(r.transform)).encode())
    return h.hexdigest()


def _plain(v):
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def geometric(t) -> bool:
    if isinstance(t, GeometricTransform):
        return True
    return hasattr(t, "transforms") and any(geometric(s) for s in t.transforms)


@pytest.fixture(params=sorted(EXAMPLE_ARGS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("bands", BANDS)
def test_contract(name: str, bands: int) -> None:
    r = image(bands)
    t = example(name, bands)

    # the config equals the constructor's arguments (containers: their sub-transforms' entries)
    cfg = t.get_config()
    for key, value in example_args(name, bands).items():
        if key == "transforms":
            assert [to_entry(s) for s in cfg[key]] == [to_entry(s) for s in value]
        else:
            assert _plain(cfg[key]) == _plain(value), (name, key)

    # p = 0 is the identity
    off = REGISTRY[name](**{**example_args(name, bands), "p": 0.0})
    out0 = off(r, rng=1)
    assert digest(out0) == digest(r)

    for seed in (0, 1, 2):
        res = t(r, rng=seed, labels=label_of(r), return_params=True)
        out, lab = res.image, res.labels
        # replay equals the call; serialisation gives the same bytes for the same rng
        assert digest(t.apply(r, res.params)) == digest(out)
        again = Compose.from_dict(Compose([t]).to_dict())
        assert digest(again(r, rng=seed)) == digest(Compose([t])(r, rng=seed))
        # dtype and band count
        if name in ADDS_BANDS:  # the input's bands come first, unchanged, then the new ones
            assert out.count > r.count and np.array_equal(out.data[: r.count], r.data.astype(out.dtype))
            out = out.replace(data=out.data[: r.count], mask=out.band_mask[: r.count],
                              band_names=out.band_names[: r.count], band_tags=out.band_tags[: r.count])
        assert out.count == r.count
        assert out.dtype == (np.dtype("float32") if name in TO_FLOAT | ADDS_BANDS else r.dtype)
        assert lab.data.dtype == np.int32 and lab.shape[1:] == out.shape[1:]
        if name in DISPLACES:
            check_displaced(name, t, r, out, lab, res.params)
        else:
            check_nodata_and_georef(name, t, r, out, lab)


def apply(t: Affine, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transform applied to coordinate arrays."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def check_nodata_and_georef(name: str, t, r: GeoRaster, out: GeoRaster, lab: GeoRaster) -> None:
    src_valid = r.pixel_mask
    if not geometric(t) or (out.shape == r.shape and (lab.data[0] == label_of(r).data[0]).all()):
        # no geometry drawn: pixels stay in place, validity neither leaks nor appears
        assert out.transform == r.transform
        if name not in INVALIDATES:
            assert np.array_equal(out.band_mask, r.band_mask), name
        else:
            assert not (out.band_mask & ~r.band_mask).any()
        return
    # geometry: every valid label pixel names the input pixel it came from; its map position agrees
    rows, cols = np.nonzero(lab.pixel_mask)
    src = lab.data[0][rows, cols]
    si, sj = src // r.width, src % r.width
    xo, yo = apply(out.transform, cols + 0.5, rows + 0.5)
    ci, ri = apply(~r.transform, xo, yo)  # output pixel centre in input pixel coordinates
    inside = (ci >= 0) & (ci < r.width) & (ri >= 0) & (ri < r.height)
    assert inside.mean() > 0.5, name
    # nearest rule: the source point lies in the label's input pixel (0.5 px, plus float slack)
    assert np.abs(ci[inside] - (sj[inside] + 0.5)).max() <= 0.5 + 1e-6, name
    assert np.abs(ri[inside] - (si[inside] + 0.5)).max() <= 0.5 + 1e-6, name
    # nodata never leaks: a valid image pixel whose source point is inside comes from a valid input pixel
    img_valid = out.pixel_mask[rows, cols]
    leak = img_valid & inside & ~src_valid[si, sj]
    assert not leak.any(), f"{name}: {int(leak.sum())} valid output pixels drawn from invalid input"


def check_displaced(name: str, t, r: GeoRaster, out: GeoRaster, lab: GeoRaster, params: dict) -> None:
    """Grid and geotransform kept; content moved by at most ``t.max_displacement`` pixels; no leak."""
    from scipy.ndimage import maximum_filter

    tol = t.max_displacement(params, (r.height, r.width))
    assert out.transform == r.transform and out.shape == r.shape, name
    # a valid output pixel of a band draws from valid input pixels of that band within the displacement + taps
    reach = int(np.ceil(tol)) + 2
    near = maximum_filter(r.band_mask, size=(1, 2 * reach + 1, 2 * reach + 1), mode="constant", cval=False)
    assert not (out.band_mask & ~near).any(), name
    # labels (nearest) name their source pixel: within the displacement of the output pixel, and valid there
    rows, cols = np.nonzero(lab.pixel_mask)
    src = lab.data[0][rows, cols]
    si, sj = src // r.width, src % r.width
    assert np.abs(sj - cols).max(initial=0) <= tol + 0.5 + 1e-6, name
    assert np.abs(si - rows).max(initial=0) <= tol + 0.5 + 1e-6, name
    if (lab.data[0] == label_of(r).data[0]).all():
        return  # labels not moved (a per-band shift): the band-wise check above is the leak check
    leak = out.pixel_mask[rows, cols] & ~r.pixel_mask[si, sj]
    assert not leak.any(), f"{name}: {int(leak.sum())} valid output pixels drawn from invalid input"


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32", "float64"])
def test_dtypes_kept(name: str, dtype: str) -> None:
    r = image(4, "uint16")
    data = r.data.astype(dtype) if dtype != "uint8" else (r.data // 300).astype(dtype)
    r = GeoRaster(data=data, mask=r.mask, transform=r.transform)
    out = example(name, 4)(r, rng=0)
    if name in ADDS_BANDS:
        assert out.dtype == (np.dtype("float64") if dtype in ("int32", "float64") else np.dtype("float32"))
        assert not np.isnan(out.data[out.band_mask]).any()
        return
    assert out.dtype == (np.dtype("float32") if name in TO_FLOAT else np.dtype(dtype))
    if issubclass(REGISTRY[name], SpectralTransform) and out.dtype.kind == "f":
        assert not np.isnan(out.data[out.band_mask]).any()  # NaN never invented in valid pixels


def test_normalize_keeps_mean_beside_stats_on_a_round_trip(tmp_path) -> None:
    """The configuration is the constructor's call: mean given beside a stats file survives to_dict/from_dict."""
    import geoaug

    r = image(4)
    path = tmp_path / "stats.json"
    src = tmp_path / "img.tif"
    geoaug.write(r, src)
    geoaug.stats([src]).save(path)
    t = geoaug.Normalize(mean=[1000.0, 1100.0, 1200.0, 1300.0], stats=path)
    again = Compose.from_dict(Compose([t]).to_dict()).transforms[0]
    assert again.get_config()["mean"] == [1000.0, 1100.0, 1200.0, 1300.0]
    assert again.get_config()["stats"] == str(path)
    assert digest(again(r, rng=0)) == digest(t(r, rng=0))
    assert type(t)(**t.get_config()).get_config() == t.get_config()


@pytest.mark.parametrize("make", [lambda: ToFloat(value_range=(0, 1e-3)), lambda: Normalize(mean=0.0, std=1e-3),
                                  lambda: PercentileStretch(0, 1e-6), lambda: Contrast(5.0), lambda: BandGain(9.0)],
                         ids=["ToFloat", "Normalize", "PercentileStretch", "Contrast", "BandGain"])
def test_huge_float_values_saturate_never_become_infinite(make) -> None:
    """Saturating float outputs: a scale that overflows float32 gives its largest value, never inf or NaN."""
    r = image(4, "float32")
    data = r.data.copy()
    data[:, 10:20, 10:20] = 3.0e38
    data[:, 20:30, 10:20] = -3.0e38
    r = GeoRaster(data=data, mask=r.mask, transform=r.transform)
    out = make()(r, rng=0)
    v = out.data[out.band_mask]
    assert np.isfinite(v).all()
