"""Scene builders for the scene/chip tests: real pixels from fixtures/ (scenes/, stacks/), written in tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = FIXTURES / "scenes"  # real band files, copied by scripts/make_fixtures.py (provenance: fixtures/README.md)
L8_C2 = REAL / "landsat8_c2l2_LC08_008059_20191201"
L8_L1T = REAL / "landsat8_l1t_LC80200392015216"
S2_L2A = REAL / "sentinel2_l2a_T01UBT_20230122_1098m"
BEN = FIXTURES / "stacks" / "bigearthnet_S2B_43_47"


def write_tif(path: Path, data: np.ndarray, transform: Affine, crs: object, nodata: float | None = None,
              **extra: object) -> Path:
    """A tiled, deflate GeoTIFF (or another driver via ``driver=``)."""
    prof = {"driver": "GTiff", "dtype": data.dtype.name, "count": data.shape[0], "height": data.shape[1],
            "width": data.shape[2], "transform": transform, "crs": crs, "nodata": nodata, "tiled": True,
            "blockxsize": 128, "blockysize": 128, "compress": "deflate"}
    prof.update(extra)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(data)
    return path


def collar_scene(folder: Path) -> Path:
    """Landsat 8 C2 SR bands 2-4 (512 x 512, a 31 % nodata collar) as one tiled deflate GeoTIFF."""
    bands = []
    for b in (2, 3, 4):
        with rasterio.open(L8_C2 / f"SR_B{b}.tif") as src:
            bands.append(src.read(1))
            t, crs = src.transform, src.crs
    return write_tif(folder / "landsat_c2_sr.tif", np.stack(bands), t, crs, nodata=0)


def clear_scene(folder: Path) -> Path:
    """Landsat 8 L1T bands 2-5 (603 x 627 at 30 m, no nodata anywhere) as one tiled deflate GeoTIFF."""
    bands = []
    for b in (2, 3, 4, 5):
        with rasterio.open(L8_L1T / f"l8_B{b}_30m.tif") as src:
            bands.append(src.read(1))
            t, crs = src.transform, src.crs
    return write_tif(folder / "landsat_l1t.tif", np.stack(bands), t, crs)


def vrt_mosaic(scene: Path, folder: Path) -> Path:
    """The scene cut into 4 tiles (2 x 2) and a hand-written VRT mosaic of them."""
    with rasterio.open(scene) as src:
        data, t, crs, nd = src.read(), src.transform, src.crs, src.nodata
        dtype = src.dtypes[0]
    _, h, w = data.shape
    hh, hw = h // 2, w // 2
    tiles = []
    for i, (r0, r1) in enumerate(((0, hh), (hh, h))):
        for j, (c0, c1) in enumerate(((0, hw), (hw, w))):
            p = write_tif(folder / f"tile_{i}{j}.tif", data[:, r0:r1, c0:c1], t @ Affine.translation(c0, r0), crs, nd)
            tiles.append((p, r0, c0, r1 - r0, c1 - c0))
    vdt = {"uint16": "UInt16", "uint8": "Byte", "int16": "Int16"}[dtype]
    bands = []
    for b in range(1, data.shape[0] + 1):
        srcs = "".join(
            f'<ComplexSource><SourceFilename relativeToVRT="1">{p.name}</SourceFilename><SourceBand>{b}</SourceBand>'
            f'<SrcRect xOff="0" yOff="0" xSize="{tw}" ySize="{th}"/>'
            f'<DstRect xOff="{c0}" yOff="{r0}" xSize="{tw}" ySize="{th}"/>'
            + (f"<NODATA>{nd:g}</NODATA>" if nd is not None else "") + "</ComplexSource>"
            for p, r0, c0, th, tw in tiles)
        ndx = f"<NoDataValue>{nd:g}</NoDataValue>" if nd is not None else ""
        bands.append(f'<VRTRasterBand dataType="{vdt}" band="{b}">{ndx}{srcs}</VRTRasterBand>')
    gt = ", ".join(repr(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    xml = (f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}"><SRS>{crs.to_wkt()}</SRS>'
           f"<GeoTransform>{gt}</GeoTransform>{''.join(bands)}</VRTDataset>")
    out = folder / "mosaic.vrt"
    out.write_text(xml)
    return out


def ben_folder(folder: Path, upper: bool = False) -> Path:
    """A copy of a BigEarthNet patch folder (12 band files at 10/20/60 m); ``upper`` renames to ``.TIF``."""
    dst = folder / "ben_patch"
    dst.mkdir()
    for f in sorted(BEN.glob("*.tif")):
        shutil.copy(f, dst / (f.stem + (".TIF" if upper else ".tif")))
    return dst


def safe_product(folder: Path) -> Path:
    """A Sentinel-2 SAFE-like tree: B02 at 10 and 20 m, B05 at 20 m, B01 at 60 m, as lossless JPEG 2000."""
    root = folder / "S2X_MSIL2A_TEST.SAFE" / "GRANULE" / "L2A_T01UBT" / "IMG_DATA"
    for res in ("R10m", "R20m", "R60m"):
        (root / res).mkdir(parents=True)
    opts = {"driver": "JP2OpenJPEG", "QUALITY": "100", "REVERSIBLE": "YES", "tiled": False, "compress": None,
            "blockxsize": None, "blockysize": None}

    def put(band: str, res: str, factor: int) -> None:
        src_name = {"B02": "B02_10m", "B05": "B05_20m", "B01": "B01_20m"}[band]
        with rasterio.open(S2_L2A / f"T01UBT_20230122T231849_{src_name}.tif") as src:
            data, t, crs = src.read(), src.transform, src.crs
        data = data[:, ::factor, ::factor].copy()
        t = t @ Affine.scale(factor)
        prof = {k: v for k, v in opts.items() if v is not None}
        with rasterio.open(root / f"R{res}m" / f"T01UBT_20230122T231849_{band}_{res}m.jp2", "w",
                           dtype="uint16", count=1, height=data.shape[1], width=data.shape[2], transform=t,
                           crs=crs, **prof) as dst:
            dst.write(data)

    put("B02", "10", 1)
    put("B02", "20", 2)
    put("B05", "20", 2)
    put("B01", "60", 4)
    return folder / "S2X_MSIL2A_TEST.SAFE"


def l1t_band_folder(folder: Path) -> Path:
    """The Landsat 8 L1T band files B2-B5 copied with Collection-2-like upper-case names."""
    dst = folder / "LC08_TEST"
    dst.mkdir()
    for b in (2, 3, 4, 5):
        shutil.copy(L8_L1T / f"l8_B{b}_30m.tif", dst / f"LC08_L1TP_020039_20150804_B{b}.TIF")
    return dst
