"""ElasticTransform, GridDistortion, BandMisregistration and the remap kernel: oracles, nodata, georeferencing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BY_DTYPE, TILES
from helpers import DTYPES, smooth_image
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import map_coordinates

import geoaug
from geoaug import GeoRaster
from geoaug.errors import ParameterError
from geoaug.kernels.remap import remap_field
from geoaug.kernels.warp import warp_affine
from geoaug.transforms.compose import Compose

S2 = TILES / "bigearthnet_s2_12band_uint16.tif"
COLLAR = TILES / "landsat8_sr_7band_uint16_collar.tif"


def full_field(field: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The field upsampled bilinearly at every pixel centre (numpy float64), as the kernel does."""
    gh, gw = field.shape[1:]

    def axis(n: int, g: int) -> tuple[np.ndarray, np.ndarray]:
        t = (np.arange(n) + 0.5) * (g - 1) / n
        b = np.minimum(t.astype(int), g - 2)
        return b, t - b

    ra, rf = axis(h, gh)
    cb, cf = axis(w, gw)
    f = field[:, ra][:, :, cb] * (1 - rf)[None, :, None] * (1 - cf)[None, None, :]
    f += field[:, ra][:, :, cb + 1] * (1 - rf)[None, :, None] * cf[None, None, :]
    f += field[:, ra + 1][:, :, cb] * rf[None, :, None] * (1 - cf)[None, None, :]
    f += field[:, ra + 1][:, :, cb + 1] * rf[None, :, None] * cf[None, None, :]
    return f[0], f[1]


def scipy_remap(data: np.ndarray, dx: np.ndarray, dy: np.ndarray, order: int, mode: str, cval: float = 0.0):
    """scipy's centre-origin map_coordinates: output pixel (i, j) reads (i + dy, j + dx)."""
    h, w = data.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    coords = np.stack([yy + dy, xx + dx])
    return np.stack([map_coordinates(b.astype(np.float64), coords, order=order, mode=mode, cval=cval) for b in data])


# the remap's row kernel is compiled per interpolation and dtype (kernels/remap.py, _make_rows): bilinear with
# every dtype; cubic and nearest with one dtype of each kind of arithmetic, to keep the suite's compile time down
_INTERP_DTYPES = [("bilinear", d) for d in DTYPES] + [("cubic", d) for d in ("uint8", "int32", "float32")] + [
    ("nearest", d) for d in ("uint16", "float64")]


@pytest.mark.parametrize(("interp", "dtype"), _INTERP_DTYPES)
@pytest.mark.parametrize("fill", ["nodata", "constant", "edge", "reflect", "mirror", "wrap"])
def test_a_constant_field_is_the_warp_translation(dtype: str, interp: str, fill: str) -> None:
    """Same taps, weights, fill modes and mask rule as the warp kernel (shared and per-band masks)."""
    rng = np.random.default_rng(1)
    x = smooth_image(5, 23, 31, dtype)
    for mask in (rng.random((1, 23, 31)) > 0.15, rng.random((5, 23, 31)) > 0.15, None):
        f = np.empty((2, 3, 4))
        f[0], f[1] = 2.3, -1.6
        out, om = remap_field(x, mask, f, interp, fill, fill_value=7.0, out_fill=3.0)
        ref, rm = warp_affine(x, mask, np.array([[1, 0, 2.3], [0, 1, -1.6], [0, 0, 1.0]]), (23, 31), interp, fill,
                              fill_value=7.0, out_fill=3.0)
        assert np.array_equal(om, rm)
        tol = 1 if x.dtype.kind in "iu" else 1e-5 * np.abs(x).max()
        assert np.abs(out.astype(np.float64) - ref).max() <= tol
        assert (out[~np.broadcast_to(om, out.shape)] == 3).all()


@pytest.mark.parametrize("order,interp", [(0, "nearest"), (1, "bilinear")])
def test_elastic_matches_scipy_map_coordinates(order: int, interp: str) -> None:
    r = geoaug.read(S2)
    x = r.data.astype(np.float64)
    t = geoaug.ElasticTransform(alpha=5.0, sigma=16, interpolation=interp, fill="mirror")
    res = t(GeoRaster.from_array(x), rng=0, return_params=True)
    dx, dy = full_field(t.field(res.params, (120, 120)), 120, 120)
    if order == 0:  # nearest: the pixel containing the point, floor() of the corner coordinate
        ref = scipy_remap(x, np.floor(dx + 0.5 + np.arange(120)[None]) - np.arange(120)[None],
                          np.floor(dy + 0.5 + np.arange(120)[:, None]) - np.arange(120)[:, None], 0, "mirror")
    else:
        ref = scipy_remap(x, dx, dy, 1, "mirror")
    np.testing.assert_allclose(res.image.data, ref, rtol=1e-9, atol=1e-6)


def test_masked_elastic_mask_is_the_tap_rule() -> None:
    """Valid exactly where every bilinear tap of non-zero weight is valid: the interpolated mask is 1."""
    r = geoaug.read(COLLAR)
    t = geoaug.ElasticTransform(alpha=6.0, sigma=24)
    res = t(r, rng=3, return_params=True)
    dx, dy = full_field(t.field(res.params, (r.height, r.width)), r.height, r.width)
    m = scipy_remap(r.mask[None].astype(np.float64), dx, dy, 1, "constant", 0.0)[0]
    assert np.array_equal(res.image.mask, m >= 1 - 1e-9)
    v = res.image.mask
    ref = scipy_remap(r.data.astype(np.float64), dx, dy, 1, "constant")
    assert np.abs(res.image.data[:, v] - np.rint(ref[:, v])).max() <= 1
    assert res.image.transform == r.transform and res.image.crs == r.crs


def test_grid_distortion_is_piecewise_linear_and_keeps_the_edges() -> None:
    r = geoaug.read(S2)
    x = r.data.astype(np.float32)
    t = geoaug.GridDistortion(num_steps=4, distort_limit=0.4, fill="edge")
    res = t(x, rng=5, return_params=True)
    f = t.field(res.params, (120, 120))
    assert np.allclose(f[:, [0, -1]][:, :, [0, -1]], 0)  # corners stay put (normalised steps)
    nodes = np.arange(5) * 30.0
    sx = np.asarray(res.params["steps_x"])
    src = np.concatenate([[0], np.cumsum(sx)]) / sx.sum() * 120
    xc = np.arange(120) + 0.5
    dx = np.interp(xc, nodes, src) - xc
    sy = np.asarray(res.params["steps_y"])
    srcy = np.concatenate([[0], np.cumsum(sy)]) / sy.sum() * 120
    dy = np.interp(xc, nodes, srcy) - xc
    ref = scipy_remap(x, np.broadcast_to(dx[None], (120, 120)), np.broadcast_to(dy[:, None], (120, 120)), 1,
                      "nearest")
    np.testing.assert_allclose(res.image, ref, rtol=2e-6, atol=1e-3)
    bound = t.max_displacement(res.params, (120, 120))  # the largest node displacement
    assert max(np.abs(dx).max(), np.abs(dy).max()) <= bound == np.abs(f).max()


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 12.0), st.floats(2.0, 40.0), st.integers(4, 50), st.integers(4, 50), st.integers(0, 2**31))
def test_labels_move_by_at_most_alpha(alpha: float, sigma: float, h: int, w: int, seed: int) -> None:
    """Nearest labels name their source pixel: within alpha (+ half a pixel) of where they land."""
    t = geoaug.ElasticTransform(alpha=alpha, sigma=sigma, fill="nodata")
    idx = GeoRaster.from_array(np.arange(h * w, dtype=np.int32).reshape(1, h, w))
    res = t(np.zeros((3, h, w), np.uint8), rng=seed, labels=idx, return_params=True)
    assert t.max_displacement(res.params, (h, w)) <= alpha
    lab = res.labels.data[0]
    rows, cols = np.nonzero(res.labels.pixel_mask)  # the label pixels whose source lies inside
    si, sj = lab[rows, cols] // w, lab[rows, cols] % w
    assert np.abs(si - rows).max(initial=0) <= alpha + 0.5 + 1e-9
    assert np.abs(sj - cols).max(initial=0) <= alpha + 0.5 + 1e-9


@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
def test_zero_displacement_is_the_identity(interp: str) -> None:
    r = geoaug.read(BY_DTYPE["int16"])
    for t in (geoaug.ElasticTransform(alpha=0.0, sigma=8, interpolation=interp),
              geoaug.GridDistortion(distort_limit=0.0, interpolation=interp),
              geoaug.BandMisregistration(max_shift=0.0, interpolation=interp)):
        out = t(r, rng=0)
        assert np.array_equal(out.data, r.data) and np.array_equal(out.band_mask, r.band_mask), type(t).__name__


def test_band_misregistration_shifts_each_band_like_the_warp() -> None:
    r = geoaug.read(COLLAR)
    t = geoaug.BandMisregistration(max_shift=0.8, interpolation="cubic")
    lab = np.arange(r.height * r.width, dtype=np.int32).reshape(r.height, r.width)
    res = t(r, rng=11, labels=lab, return_params=True)
    out = res.image
    shifts = np.asarray(res.params["shifts"])
    assert shifts.shape == (7, 2) and (np.hypot(shifts[:, 0], shifts[:, 1]) <= 0.8).all()
    assert len({tuple(s) for s in shifts.tolist()}) == 7  # independent per band
    assert out.mask.shape == r.shape  # validity differs per band now
    for b, (dy, dx) in enumerate(shifts):
        ref, rm = warp_affine(r.data[b:b + 1], r.mask[None], np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1.0]]),
                              (r.height, r.width), "cubic", "nodata", out_fill=r.nodata)
        assert np.array_equal(out.mask[b], rm[0])
        assert np.abs(out.data[b].astype(int) - ref[0]).max() <= 1
    assert np.array_equal(res.labels, lab)  # the ground did not move
    assert out.transform == r.transform


def test_band_misregistration_moves_content_the_documented_way() -> None:
    x = np.zeros((1, 9, 9), np.float64)
    x[0, 4, 4] = 1.0
    t = geoaug.BandMisregistration(max_shift=1.0, interpolation="bilinear", fill="constant")
    out = t.apply(x, {"shifts": [[0.0, 1.0]]})  # dx = +1: content one pixel to the right
    assert out[0, 4, 5] == 1.0 and out.sum() == 1.0


@pytest.mark.parametrize("name", ["ElasticTransform", "GridDistortion", "BandMisregistration"])
def test_written_read_back_and_replayed(tmp_path, name: str) -> None:
    r = geoaug.read(COLLAR)
    t = {"ElasticTransform": geoaug.ElasticTransform(alpha=(1, 5), sigma=40, interpolation="cubic"),
         "GridDistortion": geoaug.GridDistortion(num_steps=6, distort_limit=(-0.2, 0.4)),
         "BandMisregistration": geoaug.BandMisregistration(max_shift=0.7)}[name]
    pipe = Compose([geoaug.Rot90(k=1), t])
    res = pipe(r, rng=2, return_record=True)
    assert np.array_equal(pipe.replay(r, res.params).data, res.image.data)
    assert np.array_equal(Compose.from_dict(pipe.to_dict())(r, rng=2).data, res.image.data)
    geoaug.write(res.image, tmp_path / "d.tif")
    back = geoaug.read(tmp_path / "d.tif")
    assert back.transform == res.image.transform == geoaug.Rot90(k=1).apply(r, {"k": 1}).transform
    assert np.array_equal(back.pixel_mask, res.image.pixel_mask)


def test_two_hundred_bands_share_one_field() -> None:
    x = np.random.default_rng(0).integers(0, 3000, (200, 24, 20)).astype(np.uint16)
    t = geoaug.ElasticTransform(alpha=3.0, sigma=6)
    res = t(x, rng=4, return_params=True)
    for b in (0, 150, 199):
        assert np.array_equal(res.image[b], t.apply(x[b:b + 1], res.params)[0])


@pytest.mark.parametrize("make,match", [
    (lambda: geoaug.ElasticTransform(alpha=-1), "alpha"),
    (lambda: geoaug.ElasticTransform(sigma=1.0), "sigma"),
    (lambda: geoaug.ElasticTransform(sigma=(4, 8)), "sigma"),
    (lambda: geoaug.ElasticTransform(interpolation="lanczos"), "interpolation"),
    (lambda: geoaug.ElasticTransform(fill="zero"), "fill"),
    (lambda: geoaug.ElasticTransform(fill="constant", fill_value=float("inf")), "fill_value"),
    (lambda: geoaug.GridDistortion(num_steps=0), "num_steps"),
    (lambda: geoaug.GridDistortion(distort_limit=1.0), "distort_limit"),
    (lambda: geoaug.GridDistortion(distort_limit=(-1.5, 0.2)), "distort_limit"),
    (lambda: geoaug.BandMisregistration(max_shift=-0.5), "max_shift"),
    (lambda: geoaug.BandMisregistration(max_shift=(0, 1)), "max_shift"),
])
def test_bad_parameters_fail_at_construction(make, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        make()


def test_a_field_too_fine_for_the_image_is_refused() -> None:
    with pytest.raises(ParameterError, match="sigma"):
        geoaug.ElasticTransform(alpha=1, sigma=2)(np.zeros((1, 600, 600), np.uint8), rng=0)


def test_preview_titles_summarise_fields_and_shifts() -> None:
    """The gallery/preview title of a draw holding a field or per-band shifts is a range, not 242 numbers."""
    from geoaug.preview import describe

    x = np.zeros((13, 64, 64), np.uint16)
    for t in (geoaug.ElasticTransform(alpha=2.0, sigma=8), geoaug.BandMisregistration(max_shift=0.5)):
        res = t(x, rng=0, return_params=True)
        title = describe(t, res.params)
        assert len(title) < 60 and ".." in title, title


def _issue17_pipe():
    # 12 x 256² after the resize: the blur, store and remap kernels all take their parallel paths
    return Compose([geoaug.Resize(256, 256), geoaug.GaussianBlur((0.5, 1.5)), geoaug.Sharpen(0.5),
                    geoaug.Downscale(factor=(1.5, 3.0)), geoaug.ElasticTransform(alpha=3, sigma=32),
                    geoaug.GridDistortion(), geoaug.BandMisregistration(0.5), geoaug.CoarseDropout(),
                    geoaug.GridDropout()])


class _Chips:
    """A map-style dataset running the pipeline on the real tile (torch's DataLoader calls it in workers)."""

    def __init__(self) -> None:
        self.image = geoaug.read(S2)
        self.pipe = _issue17_pipe()

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> np.ndarray:
        return self.pipe(self.image, rng=i).data


def test_kernels_run_in_dataloader_workers_and_threads() -> None:
    """Parallel kernels ran in this process; forked DataLoader workers and concurrent threads give the same bytes."""
    import concurrent.futures as cf

    torch = pytest.importorskip("torch")
    ds = _Chips()
    serial = [ds[i] for i in range(len(ds))]
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
    for i, x in enumerate(loader):
        assert np.array_equal(x.numpy(), serial[i])
    with cf.ThreadPoolExecutor(2) as ex:
        for i, x in enumerate(ex.map(ds.__getitem__, range(len(ds)))):
            assert np.array_equal(x, serial[i])


def test_dask_backed_xarray_gives_the_eager_result() -> None:
    """Neighbourhood steps on a chunked DataArray run on the whole image (no seams at chunk edges)."""
    xr = pytest.importorskip("xarray")
    dsa = pytest.importorskip("dask.array")
    import geoaug.xarray  # registers the accessor

    r = geoaug.read(BY_DTYPE["float32"])  # NaN nodata, a geographic CRS
    pipe = Compose([geoaug.GaussianBlur(1.0, fill="nodata"), geoaug.ElasticTransform(alpha=3, sigma=20),
                    geoaug.BandMisregistration(0.5), geoaug.GridDropout(0.3, unit_size=(20, 40)),
                    geoaug.Downscale(factor=2.0)])
    eager = xr.DataArray(r.filled(), dims=("band", "y", "x"))
    lazy = eager.copy(data=dsa.from_array(r.filled(), chunks=(1, 64, 64)))
    a = eager.geoaug.augment(pipe, seed=3)
    b = lazy.geoaug.augment(pipe, seed=3)
    assert hasattr(b.data, "dask")
    assert np.array_equal(a.values, b.values, equal_nan=True)
    assert np.isnan(a.values).any() and not np.isnan(a.values).all()


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("interp", ["nearest", "bilinear", "cubic"])
def test_remap_return_nan_tests_every_row(monkeypatch: pytest.MonkeyPatch, interp: str, parallel: bool) -> None:
    # a plain float array is remapped as all valid first (GridDistortion, ElasticTransform): the row kernel tests
    # the rows it wrote every SCAN_VALUES values of a band and stops at a NaN. A field of zero displacement reads
    # pixel (i, j) into output (i, j) (bilinear and cubic at weight 1): a NaN in any row is found
    from geoaug.kernels import remap
    from geoaug.kernels.nans import SCAN_VALUES

    if parallel:
        monkeypatch.setattr(remap, "PARALLEL_MIN_WORK", 0)
        monkeypatch.setattr(remap.threads, "num_threads", lambda: 2)
    h, w = 150, 64
    assert SCAN_VALUES // w < h // 3
    src = np.random.default_rng(14).normal(500, 300, (3, h, w)).astype(np.float32)
    field = np.zeros((2, 3, 3))
    want, want_mask = remap_field(src, None, field, interp, "edge")
    out, mask, nan = remap_field(src, None, field, interp, "edge", return_nan=True)
    assert nan is False and out.tobytes() == want.tobytes()
    np.testing.assert_array_equal(mask, want_mask)
    for row in range(h):
        x = src.copy()
        x[row % 3, row, (5 * row) % w] = np.nan
        assert remap_field(x, None, field, interp, "edge", return_nan=True)[2] is True, row
    # a mask given, or an integer raster: nothing looked for
    x[0, 3, 3] = np.nan
    assert remap_field(x, ~np.isnan(x), field, interp, return_nan=True)[2] is False
    assert remap_field(src.astype(np.uint16), None, field, interp, return_nan=True)[2] is False
