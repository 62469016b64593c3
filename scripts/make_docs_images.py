#!/usr/bin/env python3
"""Make the PNG figures of docs/ from the real fixtures (reproducible: fixed seeds).

Usage: ``python scripts/make_docs_images.py [--out docs/images] [--only NAME ...]``
(needs matplotlib: ``pip install -e ".[docs]"``). Names: georeferencing, readme_strip, nodata,
gallery (one picture per transform in docs/images/transforms/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio.warp
from rasterio.enums import Resampling

import geoaug
from geoaug.preview import composite, preview_grid, stretch_limits
from geoaug.transforms import REGISTRY, GeometricTransform, SpectralIndex, SpectralTransform
from geoaug.transforms.examples import example_args

ROOT = Path(__file__).resolve().parents[1]
BEN = ROOT / "fixtures/tiles/bigearthnet_s2_12band_uint16.tif"
LANDSAT = ROOT / "fixtures/tiles/landsat8_sr_7band_uint16_collar.tif"

#: one configured example per transform, shown on the BigEarthNet patch (B04, B03, B02; SpectralIndex appends
#: bands, so its picture shows those bands unchanged)
# the one table of examples (geoaug.transforms.examples), every transform always applied
#: per-image transforms: geometric, spectral, and blur/resolution, dropout and distortions (issue 17)
PER_IMAGE_MODULES = ("geoaug.transforms.filters", "geoaug.transforms.dropout", "geoaug.transforms.distort")
GALLERY = {name: REGISTRY[name](**{**example_args(name, 12), "p": 1.0})
           for name, cls in REGISTRY.items()
           if issubclass(cls, (GeometricTransform, SpectralTransform, SpectralIndex))
           or cls.__module__ in PER_IMAGE_MODULES}


def save_small(fig, out: Path, dpi: int) -> None:
    """Save as a 256-colour palette PNG (a fraction of the size of an RGBA one)."""
    from PIL import Image

    tmp = out.with_suffix(".rgba.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    Image.open(tmp).convert("RGB").quantize(colors=256).save(out, optimize=True)
    tmp.unlink()


def footprint(r: geoaug.GeoRaster) -> np.ndarray:
    corners = [(0, 0), (r.width, 0), (r.width, r.height), (0, r.height), (0, 0)]
    return np.array([r.transform @ c for c in corners])


def georeferencing(out: Path) -> None:
    src = geoaug.read(LANDSAT)
    bands = [3, 2, 1]  # SR_B4, SR_B3, SR_B2: true colour
    limits = stretch_limits(src, bands)
    aug = geoaug.Affine(rotate=30, scale=1.2, translate_x=10)(src, rng=0)
    # GDAL places the augmented pixels by their geotransform back on the input grid
    back = np.zeros_like(src.data)
    rasterio.warp.reproject(aug.filled(), back, src_transform=aug.transform, src_crs=aug.crs,
                            dst_transform=src.transform, dst_crs=src.crs, src_nodata=0, dst_nodata=0,
                            resampling=Resampling.nearest)
    placed = src.replace(data=back, mask=(back != 0).all(axis=0))
    fig, ax = plt.subplots(1, 3, figsize=(13, 4.6))
    ax[0].imshow(composite(src, bands, limits))
    ax[0].set_title("input (pixel grid; nodata magenta)")
    ax[1].imshow(composite(aug, bands, limits))
    ax[1].set_title("Affine(rotate=30, scale=1.2, translate_x=10)\noutput array as stored")
    left, bottom, right, top = src.bounds
    faded = composite(src, bands, limits)
    ax[2].imshow(np.concatenate([faded, np.full((*faded.shape[:2], 1), 0.35)], axis=2),
                 extent=(left, right, bottom, top))
    shown = composite(placed, bands, limits)
    alpha = placed.pixel_mask.astype(float)[..., None]
    ax[2].imshow(np.concatenate([shown, alpha], axis=2), extent=(left, right, bottom, top))
    fp_in, fp_out = footprint(src), footprint(aug)
    ax[2].plot(fp_in[:, 0], fp_in[:, 1], "k--", lw=1, label="input footprint")
    ax[2].plot(fp_out[:, 0], fp_out[:, 1], "r-", lw=1.5, label="output footprint (out.transform)")
    ax[2].set_xlim(min(fp_in[:, 0].min(), fp_out[:, 0].min()), max(fp_in[:, 0].max(), fp_out[:, 0].max()))
    ax[2].set_ylim(min(fp_in[:, 1].min(), fp_out[:, 1].min()), max(fp_in[:, 1].max(), fp_out[:, 1].max()))
    ax[2].set_title("output placed by GDAL with out.transform\nover the input (faded): features line up")
    ax[2].legend(loc="lower left", fontsize=7)
    ax[2].ticklabel_format(style="plain")
    ax[2].tick_params(labelsize=6)
    for a in ax[:2]:
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    save_small(fig, out / "georeferencing.png", dpi=80)


def readme_strip(out: Path) -> None:
    pipe = geoaug.load_pipeline(ROOT / "docs/examples/sentinel2_13band.yaml")
    fig = preview_grid(geoaug.read(BEN), pipe, n=5, bands="4,3,2", seed=0, columns=6, panel_size=2.0,
                       title="docs/examples/sentinel2_13band.yaml on a 12-band BigEarthNet patch (B04, B03, B02)")
    save_small(fig, out / "readme_strip.png", dpi=70)


def nodata(out: Path) -> None:
    pipe = geoaug.Compose([geoaug.Affine(rotate=(-45, 45), scale=(0.8, 1.2)), geoaug.BandGain((0.9, 1.1)),
                           geoaug.BandDropout(max_bands=3, p=0.5)])
    fig = preview_grid(geoaug.read(LANDSAT), pipe, n=4, bands="4,3,2", seed=3, columns=5, panel_size=2.2,
                       title="Landsat 8 SR tile with a nodata collar (magenta): the collar moves with the "
                             "image and never mixes into valid pixels")
    save_small(fig, out / "nodata.png", dpi=70)


def gallery(out: Path) -> None:
    d = out / "transforms"
    d.mkdir(exist_ok=True)
    src = geoaug.read(BEN)
    for name, t in GALLERY.items():
        fig = preview_grid(src, t, n=3, bands="4,3,2", seed=1, columns=4, panel_size=1.9, title=repr(t)[:110])
        save_small(fig, d / f"{name}.png", dpi=60)


MAKERS = {"georeferencing": georeferencing, "readme_strip": readme_strip, "nodata": nodata, "gallery": gallery}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    ap.add_argument("--only", nargs="*", choices=sorted(MAKERS), help="make only these figures")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only or MAKERS:
        MAKERS[name](out)
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
