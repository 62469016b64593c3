#!/usr/bin/env python3
"""Cut the small test fixtures in ``fixtures/`` from the real data in ``../shared/data/real``.

Run from the repository root: ``python scripts/make_fixtures.py [--shared PATH]``.
The outputs are committed; rerunning gives the same pixels and metadata.
Provenance of every file is in ``fixtures/README.md``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

import geoaug
from geoaug import GeoRaster

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
DEFLATE = {"compress": "deflate", "predictor": 2, "tiled": True, "blockxsize": 64, "blockysize": 64}


def crop(r: GeoRaster, rows: slice, cols: slice) -> GeoRaster:
    mask = r.mask[..., rows, cols]
    t = r.transform @ r.transform.translation(cols.start, rows.start)
    return r.replace(data=r.data[:, rows, cols].copy(), mask=mask.copy(), transform=t)


#: whole real band files the scene tests (tests/_scenes.py) build their scenes from, copied as they are
SCENE_FILES = {
    "landsat8_c2l2_LC08_008059_20191201": [f"SR_B{b}.tif" for b in (2, 3, 4)],
    "landsat8_l1t_LC80200392015216": [f"l8_B{b}_30m.tif" for b in (2, 3, 4, 5)],
    "sentinel2_l2a_T01UBT_20230122_1098m": [f"T01UBT_20230122T231849_{b}.tif" for b in ("B01_20m", "B02_10m",
                                                                                     "B05_20m")],
}


def scenes(real: Path) -> None:
    """fixtures/scenes: the band files the scene/chip tests mosaic, tile and stack into scenes."""
    from rasterio.shutil import copy as rio_copy

    out = FIX / "scenes"
    shutil.rmtree(out, ignore_errors=True)
    for folder, names in SCENE_FILES.items():
        (out / folder).mkdir(parents=True)
        for n in names:  # the same pixels and georeferencing, compressed losslessly (DEFLATE, predictor 2)
            rio_copy(str(real / folder / n), str(out / folder / n), driver="GTiff", compress="deflate",
                     predictor=2, zlevel=9)
        for side in (out / folder).glob("*.IMD"):  # GDAL's Landsat metadata sidecars: not needed
            side.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data" / "real"))
    ap.add_argument("--only-scenes", action="store_true", help="copy only fixtures/scenes")
    args = ap.parse_args()
    real = Path(args.shared)
    scenes(real)
    if args.only_scenes:
        return
    tiles, stacks, labels, misc = (FIX / d for d in ("tiles", "stacks", "labels", "misc"))
    for d in (tiles, stacks, labels, misc):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)

    # 1. Landsat 8 C2 L2 surface reflectance, 7 bands, uint16, nodata=0 collar (256 x 256 corner)
    sr = real / "landsat8_c2l2_LC08_008059_20191201"
    stack = geoaug.read_stack([sr / f"SR_B{i}.tif" for i in range(1, 8)])
    stack = crop(stack, slice(0, 256), slice(0, 256)).replace(band_names=tuple(f"SR_B{i}" for i in range(1, 8)))
    geoaug.write(stack, tiles / "landsat8_sr_7band_uint16_collar.tif", **DEFLATE)

    # 2. BigEarthNet Sentinel-2 L2A patch: 12 bands stacked on the 10 m grid, and its band files
    ben = real / "bigearthnet_s2_S2B_MSIL2A_20170924T093019_43_47"
    files = sorted(ben.glob("*_B*.tif"))
    geoaug.write(geoaug.read_stack(files), tiles / "bigearthnet_s2_12band_uint16.tif", **DEFLATE)
    dst = stacks / "bigearthnet_S2B_43_47"
    dst.mkdir()
    for f in files:
        shutil.copyfile(f, dst / f.name)

    # 3. Landsat 7 ETM+ RGB, uint8, nodata=0 collar (256 x 256 corner)
    rgb = geoaug.read(real / "landsat7_etm_rgb_uint8_nodata0_collar.tif")
    geoaug.write(crop(rgb, slice(0, 256), slice(0, 256)), tiles / "landsat7_rgb_uint8_collar.tif", **DEFLATE)

    # 4. float32 with NaN nodata (200 x 200 corner)
    f32 = geoaug.read(real / "float32_nan_nodata_epsg4326_titiler.tif")
    geoaug.write(crop(f32, slice(0, 200), slice(0, 200)), tiles / "float32_nan.tif", **DEFLATE)

    # 5. Landsat 7 C2 L2 band 1, float64, NaN outside the scene (nodata tag 32768), whole file
    #    copied byte for byte: a rewrite would store the NaN area as the tag's 32768
    name = "landsat7_c2l2_LE07_225078_20110306_B1_float64_nan.tif"
    shutil.copyfile(real / name, tiles / "landsat7_b1_float64_nan.tif")

    # 6. the rotated/sheared geotransform, whole file (20 x 20)
    shutil.copyfile(real / "rotated_geotransform_uint8_20x20.tif", tiles / "rotated_geotransform_uint8.tif")

    # 7. int16: Sentinel-2 L2A (processing baseline 04.00) DN minus BOA_ADD_OFFSET 1000 -> signed
    #    reflectance x 10000, nodata -32768. Made from real uint16 data; no real int16 file exists.
    s2 = real / "sentinel2_l2a_T01UBT_20230122_1098m"
    bands = sorted(p for p in s2.glob("*_B*.tif"))
    u16 = geoaug.read_stack(bands)
    i16 = (u16.data.astype(np.int32) - 1000).clip(-32767, 32767).astype(np.int16)
    refl = u16.replace(data=i16, nodata=-32768.0, tags={**u16.tags, "BOA_ADD_OFFSET": "-1000"})
    geoaug.write(refl, tiles / "sentinel2_l2a_12band_int16.tif", **DEFLATE)
    # its scene classification (SCL, uint8 classes) as the label raster with the same name
    scl = geoaug.read(s2 / "T01UBT_20230122T231849_SCL_20m.tif")
    geoaug.write(scl, labels / "sentinel2_l2a_12band_int16.tif", **DEFLATE)

    # 8. Landsat 8 L1 uint16 whose zero collar has no nodata tag (200 x 200 corner)
    l1 = geoaug.read(real / "landsat8_l1_LC81390452014295_B5_uint16_600m.tif")
    geoaug.write(crop(l1, slice(0, 200), slice(0, 200)), misc / "landsat8_l1_uint16_untagged_collar.tif", **DEFLATE)

    # 9. Landsat 7 ETM+ 6-band uint8 (Olinda), 128 x 128: the file PIL (and Keras) cannot identify
    olinda = geoaug.read(real / "landsat7_etm_6band_uint8_olinda.tif")
    geoaug.write(crop(olinda, slice(0, 128), slice(0, 128)), misc / "landsat7_etm_6band_uint8.tif", **DEFLATE)

    total = sum(p.stat().st_size for p in FIX.rglob("*") if p.is_file())
    print(f"fixtures written to {FIX} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
