"""A corpus of raster kinds the fixtures don't have: read -> augment -> write -> read keeps location, mask, values.

Built from the real Landsat tile in fixtures/: GCP- and RPC-georeferenced
GeoTIFFs and VRTs, RGBA and alpha GeoTIFFs, internal and sidecar masks,
JPEG/YCbCr and other codecs, south-up and rotated geotransforms, a compound
CRS, all-nodata, 1x1, 1xN, 200 bands, scale/offset, and dtypes geoaug refuses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import BY_DTYPE, ROOT
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.rpc import RPC
from rasterio.transform import GCPTransformer, RPCTransformer

import geoaug
from geoaug import geometry
from geoaug.errors import ParameterError, UnsupportedDtypeError

UTM = CRS.from_epsg(32633)
T = Affine(30, 0, 500000, 0, -30, 4600000)


def landsat(bands: int = 3) -> np.ndarray:
    """A real uint8 Landsat window (bands, 64, 80)."""
    with rasterio.open(BY_DTYPE["uint8"]) as src:
        a = src.read(window=((20, 84), (20, 100)))
    return np.concatenate([a] * ((bands + a.shape[0] - 1) // a.shape[0]))[:bands]


def write_tif(path: Path, data: np.ndarray, **kw) -> Path:
    prof = {"driver": "GTiff", "count": data.shape[0], "height": data.shape[1], "width": data.shape[2],
            "dtype": data.dtype.name}
    extras = {k: kw.pop(k) for k in ("gcps", "rpcs", "colorinterp", "mask", "scales", "offsets") if k in kw}
    prof.update(kw)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=extras.get("mask", (None, True))[1]), \
            rasterio.open(path, "w", **prof) as dst:
        dst.write(data)
        if "gcps" in extras:
            dst.gcps = extras["gcps"]
        if "rpcs" in extras:
            dst.rpcs = extras["rpcs"]
        if "colorinterp" in extras:
            dst.colorinterp = extras["colorinterp"]
        if "mask" in extras:
            dst.write_mask(extras["mask"][0])
        if "scales" in extras:
            dst.scales, dst.offsets = extras["scales"], extras["offsets"]
    return path


def round_trip(src: Path, tmp: Path, pipe, seed: int = 0, **write_kw):
    r = geoaug.read(src)
    res = pipe(r, rng=seed, return_params=True)
    out = geoaug.write(res.image, tmp / f"out_{src.stem}.tif", **write_kw)
    return r, res, geoaug.read(out), out


def matrix_of(pipe, r, params) -> np.ndarray:
    """The draw's output->input matrix of a geometric transform (for the location checks)."""
    m, _ = pipe.matrix(params, (r.height, r.width))
    return m


# ------------------------------------------------------------------------- GCPs
def affine_gcps(h: int, w: int) -> list[GroundControlPoint]:
    pts = [(0, 0), (0, w), (h, 0), (h, w), (h / 2, w / 3)]
    return [GroundControlPoint(row=r, col=c, x=T.c + 30 * c + 3 * r, y=T.f - 30 * r + 2 * c, z=0, id=str(k))
            for k, (r, c) in enumerate(pts)]


@pytest.mark.parametrize("pipe", [geoaug.Rot90(p=1), geoaug.Affine(rotate=(20, 20), scale=(1.1, 1.1)),
                                  geoaug.RandomCrop(32, 40)], ids=["rot90", "affine", "crop"])
def test_gcps_are_moved_and_written(tmp_path: Path, pipe) -> None:
    data = landsat()
    src = write_tif(tmp_path / "gcp.tif", data, gcps=(affine_gcps(64, 80), UTM))
    r, res, back, _ = round_trip(src, tmp_path, pipe, seed=3)
    assert r.gcps and r.crs == UTM and r.transform.is_identity
    assert back.gcps and back.crs == UTM
    with rasterio.open(_ := tmp_path / f"out_{src.stem}.tif") as f:
        assert f.transform.is_identity  # no pixel-space geotransform written beside a CRS
        gcps, crs = f.gcps
        assert crs == UTM and len(gcps) == 5
    m = matrix_of(pipe, r, res.params)
    t_in, t_out = GCPTransformer(list(r.gcps)), GCPTransformer(list(back.gcps))
    for i, j in [(0, 0), (5, 7), (back.height - 1, back.width - 1)]:
        x_in, y_in, _ = m @ np.array([j + 0.5, i + 0.5, 1.0])
        a = t_out.xy(i, j)
        b = t_in.xy(y_in - 0.5, x_in - 0.5)
        assert np.allclose(a, b, atol=1e-6)


def gcp_vrt(base: Path, vrt: Path, gcps: list[GroundControlPoint]) -> None:
    """A VRT over a raw image with GCPs (what gdal_translate -gcp writes)."""
    pts = "".join(f'<GCP Id="{g.id}" Pixel="{g.col}" Line="{g.row}" X="{g.x}" Y="{g.y}" Z="0"/>' for g in gcps)
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource><SourceFilename relativeToVRT="1">'
        f"{base.name}</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>"
        for b in (1, 2, 3))
    vrt.write_text(f'<VRTDataset rasterXSize="80" rasterYSize="64"><GCPList Projection="EPSG:32633">{pts}'
                   f"</GCPList>{bands}</VRTDataset>")


def test_gcp_vrt_input(tmp_path: Path) -> None:
    data = landsat()
    base = write_tif(tmp_path / "raw.tif", data)
    vrt = tmp_path / "scan.vrt"
    gcp_vrt(base, vrt, affine_gcps(64, 80))
    r = geoaug.read(vrt)
    assert r.gcps and r.crs == UTM
    out = geoaug.write(geoaug.HorizontalFlip(p=1)(r), tmp_path / "flipped.tif")
    back = geoaug.read(out)
    assert back.transform.is_identity and len(back.gcps) == 5
    g = next(p for p in back.gcps if p.x == T.c and p.y == T.f)  # GeoTIFF tie points carry no ids
    assert g.col == pytest.approx(80) and g.row == pytest.approx(0)  # the corner (0, 0) is now at col 80


# ------------------------------------------------------------------------- RPCs
def rpc_model() -> RPC:
    z = [0.0] * 20
    ln, sn, den = list(z), list(z), list(z)
    ln[2], ln[1] = -1.0, 0.1
    sn[1], sn[7] = 1.0, 0.05
    den[0] = 1.0
    return RPC(height_off=0, height_scale=100, lat_off=45, lat_scale=0.1, long_off=7, long_scale=0.1,
               line_off=32, line_scale=32, samp_off=40, samp_scale=40, line_num_coeff=ln, line_den_coeff=den,
               samp_num_coeff=sn, samp_den_coeff=den)


@pytest.mark.parametrize("pipe", [geoaug.HorizontalFlip(p=1), geoaug.Rot90(p=1), geoaug.Transpose(p=1),
                                  geoaug.RandomCrop(30, 50), geoaug.Resize(32, 40)],
                         ids=["hflip", "rot90", "transpose", "crop", "resize"])
def test_rpcs_follow_axis_aligned_draws(tmp_path: Path, pipe) -> None:
    src = write_tif(tmp_path / "rpc.tif", landsat(), rpcs=rpc_model())
    r, res, back, out = round_trip(src, tmp_path, pipe, seed=1)
    assert r.rpcs is not None and back.rpcs is not None and r.crs is None
    with rasterio.open(out) as f:
        assert f.transform.is_identity and f.crs is None
    m = matrix_of(pipe, r, res.params)
    t_in, t_out = RPCTransformer(r.rpcs), RPCTransformer(back.rpcs)
    # ground -> pixel is the RPC model's exact direction (GDAL inverts it iteratively to 0.1 px)
    for lon, lat in [(6.93, 45.08), (6.97, 45.09), (6.99, 45.11)]:
        row_in, col_in = t_in.rowcol(lon, lat, zs=0, op=lambda v: v)
        row_out, col_out = t_out.rowcol(lon, lat, zs=0, op=lambda v: v)
        expect = np.linalg.inv(m) @ np.array([col_in, row_in, 1.0])
        assert np.allclose([col_out, row_out], expect[:2], atol=1e-9)


def test_rpc_raster_refuses_a_rotation_clearly(tmp_path: Path) -> None:
    src = write_tif(tmp_path / "rpc.tif", landsat(), rpcs=rpc_model())
    with pytest.raises(ParameterError, match="RPC"):
        geoaug.Affine(rotate=(10, 10))(geoaug.read(src), rng=0)


# ------------------------------------------------------------------------- alpha and masks
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_alpha_band_is_a_mask_and_stays_alpha(tmp_path: Path, dtype: str) -> None:
    rgb = landsat().astype(dtype)
    top = np.iinfo(dtype).max
    alpha = np.full(rgb.shape[1:], top, dtype)
    alpha[:10] = 0
    rgb[:, 30:40, 30:40] = top  # opaque pixels at the top value must keep it
    src = write_tif(tmp_path / "rgba.tif", np.concatenate([rgb, alpha[None]]), transform=T, crs=UTM,
                    colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha])
    r = geoaug.read(src)
    assert r.count == 3 and r.mask_kind == "alpha" and r.nodata is None
    assert r.colorinterp == ("red", "green", "blue")
    assert not r.pixel_mask[:10].any() and r.pixel_mask[10:].all()
    out = geoaug.write(geoaug.VerticalFlip(p=1)(r), tmp_path / "o.tif")
    with rasterio.open(out) as f:
        assert f.count == 4 and f.nodata is None
        assert f.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)
        data = f.read()
    assert np.array_equal(data[:3][:, ::-1][:, 10:], rgb[:, 10:])  # opaque values unchanged, 255 stays 255
    assert (data[3][::-1][:10] == 0).all() and (data[3][::-1][10:] == top).all()


@pytest.mark.parametrize("sidecar", [False, True])
def test_dataset_mask_stays_a_mask(tmp_path: Path, sidecar: bool) -> None:
    data = landsat()
    mask = np.full(data.shape[1:], 255, np.uint8)
    mask[:, :7] = 0
    src = write_tif(tmp_path / "m.tif", data, transform=T, crs=UTM, mask=(mask, "NO" if sidecar else "YES"))
    assert (tmp_path / "m.tif.msk").exists() == sidecar
    r = geoaug.read(src)
    assert r.mask_kind == "dataset" and r.nodata is None and not r.pixel_mask[:, :7].any()
    out = geoaug.write(geoaug.HorizontalFlip(p=1)(r), tmp_path / "o.tif")
    with rasterio.open(out) as f:
        assert f.nodata is None and f.count == 3
        assert (f.read_masks(1)[:, -7:] == 0).all() and (f.read_masks(1)[:, :-7] == 255).all()
        assert np.array_equal(f.read()[:, :, :-7], data[:, :, 7:][:, :, ::-1])


# ------------------------------------------------------------------------- codecs, CRS, grids
@pytest.mark.parametrize("codec", [dict(compress="jpeg", photometric="YCBCR"), dict(compress="jpeg"),
                                   dict(compress="webp"), dict(compress="lzw"), dict(compress="zstd")],
                         ids=["jpeg-ycbcr", "jpeg", "webp", "lzw", "zstd"])
def test_lossless_output_by_default(tmp_path: Path, codec: dict) -> None:
    src = write_tif(tmp_path / "c.tif", landsat(), transform=T, crs=UTM, tiled=True, blockxsize=16,
                    blockysize=16, **codec)
    r = geoaug.read(src)
    out = geoaug.write(r, tmp_path / "o.tif")
    back = geoaug.read(out)
    assert np.array_equal(back.data, r.data)  # not one value changed by the write
    lossy = codec["compress"] in ("jpeg", "webp")
    assert (geoaug.io.lossless_note(r) is not None) == lossy
    with rasterio.open(out) as f:
        assert (f.compression.name.lower() == "deflate") if lossy else (f.compression.name.lower() == codec["compress"])
        assert f.profile.get("tiled") and f.block_shapes[0] == (16, 16)
    kept = geoaug.write(r, tmp_path / "kept.tif", keep_lossy=True)
    with rasterio.open(kept) as f:
        assert f.compression.name.lower() == codec["compress"]


def test_compound_crs_and_colorinterp_kept(tmp_path: Path) -> None:
    crs = CRS.from_string("EPSG:32633+5773")
    src = write_tif(tmp_path / "c.tif", landsat(), transform=T, crs=crs,
                    colorinterp=[ColorInterp.red, ColorInterp.green, ColorInterp.blue])
    _, _, _, out = round_trip(src, tmp_path, geoaug.Rot90(p=1))
    with rasterio.open(out) as f:
        assert "EGM96" in f.crs.to_wkt() and f.crs == crs
        assert f.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


@pytest.mark.parametrize("transform", [Affine(30, 0, 500000, 0, 30, 4500000),  # south-up
                                       Affine(21.2, 21.2, 500000, 21.2, -21.2, 4600000)],  # rotated 45 deg
                         ids=["south-up", "rotated"])
def test_unusual_geotransforms_keep_location(tmp_path: Path, transform: Affine) -> None:
    src = write_tif(tmp_path / "g.tif", landsat(), transform=transform, crs=UTM)
    pipe = geoaug.Affine(rotate=(15, 15))
    r, res, back, _ = round_trip(src, tmp_path, pipe)
    m = matrix_of(pipe, r, res.params)
    for i, j in [(0, 0), (10, 20)]:
        x_in, y_in, _ = m @ np.array([j + 0.5, i + 0.5, 1.0])
        assert np.allclose(back.transform * (j + 0.5, i + 0.5), r.transform * (x_in, y_in), atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 9), (200, 6, 7), (3, 64, 80)],
                         ids=["1x1", "1xN", "200-bands", "all-nodata"])
def test_small_wide_and_empty_rasters(tmp_path: Path, shape: tuple[int, int, int]) -> None:
    data = np.arange(np.prod(shape), dtype="uint16").reshape(shape) % 1000 + 1
    all_nodata = shape == (3, 64, 80)
    if all_nodata:
        data[:] = 0
    src = write_tif(tmp_path / "s.tif", data, transform=T, crs=UTM, nodata=0)
    _, res, back, _ = round_trip(src, tmp_path, geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Rot90(p=1)]))
    assert back.shape == (shape[0], shape[2], shape[1])
    assert np.array_equal(back.data, res.image.data) and np.array_equal(back.mask, res.image.mask)
    assert back.mask.any() != all_nodata


def test_scale_and_offset_kept(tmp_path: Path) -> None:
    src = write_tif(tmp_path / "so.tif", landsat().astype("uint16"), transform=T, crs=UTM,
                    scales=[2.75e-05] * 3, offsets=[-0.2] * 3)
    _, _, _, out = round_trip(src, tmp_path, geoaug.HorizontalFlip(p=1))
    with rasterio.open(out) as f:
        assert f.scales == (2.75e-05,) * 3 and f.offsets == (-0.2,) * 3


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint32", "complex64"])
def test_unsupported_dtypes_are_refused_naming_the_file(tmp_path: Path, dtype: str) -> None:
    src = write_tif(tmp_path / f"{dtype}.tif", np.ones((1, 4, 4), dtype), transform=T, crs=UTM)
    with pytest.raises(UnsupportedDtypeError, match=f"{dtype}.tif"):
        geoaug.read(src)


def test_geometry_rule_still_one_line() -> None:
    m, _ = geometry.hflip((4, 6))
    assert geometry.output_transform(T, m) == T @ Affine(*m[:2].ravel())


def test_write_error_carries_the_os_cause(tmp_path: Path) -> None:
    """A real file-size limit (EFBIG) in a child process: the error says so and has the errno."""
    import subprocess
    import sys

    code = f"""
import errno, resource, signal, numpy as np, geoaug
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
r = geoaug.GeoRaster.from_array(np.random.default_rng(0).integers(0, 60000, (4, 256, 256), dtype="uint16"))
try:
    geoaug.write(r, {str(tmp_path / 'big.tif')!r})
except geoaug.RasterWriteError as e:
    assert e.errno == errno.EFBIG and "File too large" in str(e) and str(e).startswith({str(tmp_path)!r}), e
    print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "ok", proc.stderr
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_batch_vrt_and_jpeg_inputs_become_lossless_geotiffs(tmp_path: Path) -> None:
    """A .vrt input gives .tif outputs; a JPEG-compressed input gets a lossless codec and a note."""
    from click.testing import CliRunner

    from geoaug.cli import main

    src = tmp_path / "in"
    src.mkdir()
    base = write_tif(src / "raw.tif", landsat(), transform=T, crs=UTM, compress="jpeg")
    (src / "scan.vrt").write_text(
        f'<VRTDataset rasterXSize="80" rasterYSize="64"><SRS>EPSG:32633</SRS>'
        f"<GeoTransform>{T.c}, 30, 0, {T.f}, 0, -30</GeoTransform>"
        + "".join(f'<VRTRasterBand dataType="Byte" band="{b}"><SimpleSource><SourceFilename relativeToVRT="1">'
                  f"{base.name}</SourceFilename><SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>"
                  for b in (1, 2, 3)) + "</VRTDataset>")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["augment", str(src), str(out), "--pattern", "*.tif", "--pattern", "*.vrt",
                                    "--copies", "1", "--seed", "0",
                                    "--pipeline", str(ROOT / "docs/examples/generic.yaml")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*.tif")) == ["raw_aug0.tif", "scan_aug0.tif"]
    assert not list(out.glob("*.vrt"))
    assert "jpeg (lossy) replaced by deflate" in res.output
    with rasterio.open(out / "raw_aug0.tif") as f:
        assert f.compression.name.lower() == "deflate"
