#!/usr/bin/env python3
"""Make the PNG figures of docs/ from the real fixtures (reproducible: fixed seeds).

Usage: ``python scripts/make_docs_images.py [--out docs/images]`` (needs matplotlib:
``pip install -e ".[docs]"``).
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

ROOT = Path(__file__).resolve().parents[1]


def rgb(r: geoaug.GeoRaster, bands: tuple[int, int, int], stretch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    lo, hi = stretch
    img = (r.data[list(bands)].astype(float) - lo[:, None, None]) / (hi - lo)[:, None, None]
    img = np.clip(img, 0, 1).transpose(1, 2, 0)
    alpha = r.pixel_mask.astype(float)[..., None]
    return np.concatenate([img, alpha], axis=2)


def footprint(r: geoaug.GeoRaster) -> np.ndarray:
    corners = [(0, 0), (r.width, 0), (r.width, r.height), (0, r.height), (0, 0)]
    return np.array([r.transform @ c for c in corners])


def save_small(fig: plt.Figure, out: Path, dpi: int) -> None:
    """Save as a 256-colour palette PNG (a fraction of the size of an RGBA one)."""
    from PIL import Image

    tmp = out.with_suffix(".rgba.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    Image.open(tmp).convert("RGB").quantize(colors=256).save(out, optimize=True)
    tmp.unlink()


def georeferencing_figure(out: Path) -> None:
    src = geoaug.read(ROOT / "fixtures/tiles/landsat8_sr_7band_uint16_collar.tif")
    bands = (3, 2, 1)  # SR_B4, SR_B3, SR_B2: true colour
    vals = src.data[list(bands)][:, src.pixel_mask]
    stretch = (np.percentile(vals, 2, axis=1), np.percentile(vals, 98, axis=1))
    t = geoaug.Affine(rotate=30, scale=1.2, translate_x=10)
    aug = t(src, rng=np.random.default_rng(0))
    # GDAL places the augmented pixels by their geotransform back on the input grid
    back = np.zeros_like(src.data)
    rasterio.warp.reproject(aug.filled(), back, src_transform=aug.transform, src_crs=aug.crs,
                            dst_transform=src.transform, dst_crs=src.crs, src_nodata=0, dst_nodata=0,
                            resampling=Resampling.nearest)
    placed = src.replace(data=back, mask=(back != 0).all(axis=0))

    fig, ax = plt.subplots(1, 3, figsize=(13, 4.6))
    ax[0].imshow(rgb(src, bands, stretch))
    ax[0].set_title("input (pixel grid)")
    ax[1].imshow(rgb(aug, bands, stretch))
    ax[1].set_title("Affine(rotate=30, scale=1.2, translate_x=10)\noutput array as stored")
    left, bottom, right, top = src.bounds
    ax[2].imshow(rgb(src, bands, stretch), extent=(left, right, bottom, top), alpha=0.35)
    ax[2].imshow(rgb(placed, bands, stretch), extent=(left, right, bottom, top))
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
    save_small(fig, out, dpi=80)


def transforms_figure(out: Path) -> None:
    src = geoaug.read(ROOT / "fixtures/tiles/bigearthnet_s2_12band_uint16.tif")
    bands = (3, 2, 1)  # B04, B03, B02
    vals = src.data[list(bands)][:, src.pixel_mask]
    stretch = (np.percentile(vals, 2, axis=1), np.percentile(vals, 98, axis=1))
    panels = [
        ("input", None),
        ("HorizontalFlip", geoaug.HorizontalFlip(p=1)),
        ("VerticalFlip", geoaug.VerticalFlip(p=1)),
        ("Rot90(k=1)", geoaug.Rot90(k=1, p=1)),
        ("Transpose", geoaug.Transpose(p=1)),
        ("Affine(rotate=25)", geoaug.Affine(rotate=25)),
        ("Affine(scale=1.5)", geoaug.Affine(scale=1.5)),
        ("Affine(shear_x=20)", geoaug.Affine(shear_x=20)),
        ("Affine(translate_x=20,\ntranslate_y=-10)", geoaug.Affine(translate_x=20, translate_y=-10)),
        ("Affine(rotate=25,\nfill='reflect')", geoaug.Affine(rotate=25, fill="reflect")),
        ("CenterCrop(80, 80)", geoaug.CenterCrop(80, 80)),
        ("RandomResizedCrop(120, 120)", geoaug.RandomResizedCrop(120, 120)),
    ]
    fig, axes = plt.subplots(2, 6, figsize=(14, 5.4))
    for ax, (title, t) in zip(axes.ravel(), panels):
        r = src if t is None else t(src, rng=np.random.default_rng(1))
        ax.imshow(rgb(r, bands, stretch))
        ax.set_facecolor("magenta")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("BigEarthNet Sentinel-2 patch (12 bands, B04/B03/B02 shown); nodata = magenta", fontsize=9)
    fig.tight_layout()
    save_small(fig, out, dpi=72)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    georeferencing_figure(out / "georeferencing.png")
    transforms_figure(out / "geometric_transforms.png")
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
