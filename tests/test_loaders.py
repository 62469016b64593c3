"""Ways in from training code: PyTorch Dataset, Keras-style generator, xarray accessor (real libraries)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the CPU torch wheel (its numpy backend needs jax)

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import BY_DTYPE, FIXTURES, TILES

import geoaug

torch = pytest.importorskip("torch")
rioxarray = pytest.importorskip("rioxarray")


import geoaug.torch as gt  # noqa: E402
import geoaug.xarray  # noqa: E402


# ------------------------------------------------------------------------------------------ torch
@pytest.fixture
def twelve_band_folder(tmp_path: Path) -> Path:
    """Six 12-band tiles: the Sentinel-2 int16 tile and the BigEarthNet patch, three copies each."""
    d = tmp_path / "s2"
    d.mkdir()
    for k in range(3):
        shutil.copyfile(TILES / "sentinel2_l2a_12band_int16.tif", d / f"a{k}.tif")
        shutil.copyfile(TILES / "bigearthnet_s2_12band_uint16.tif", d / f"b{k}.tif")
    return d


PIPE = geoaug.Compose([geoaug.RandomCrop(48, 48), geoaug.HorizontalFlip(), geoaug.Rot90(),
                       geoaug.Affine(rotate=(-20, 20)), geoaug.GaussianNoise(0.001)])


def _batches(ds, workers: int) -> list[dict]:
    loader = torch.utils.data.DataLoader(ds, batch_size=3, shuffle=False, num_workers=workers,
                                         multiprocessing_context="spawn" if workers else None)
    return list(loader)


def test_dataloader_same_batches_with_0_and_2_workers(twelve_band_folder: Path) -> None:
    ds = gt.GeoTiffDataset(twelve_band_folder, PIPE, labels=[0, 1, 0, 1, 0, 1], seed=5)
    ds.set_epoch(3)
    a, b = _batches(ds, 0), _batches(ds, 2)
    assert len(a) == len(b) == 2
    for x, y in zip(a, b):
        assert x["image"].shape == (3, 12, 48, 48) and x["image"].dtype == torch.float32
        for key in ("image", "mask", "label", "index"):
            assert torch.equal(x[key], y[key])
    ds.set_epoch(4)
    assert not torch.equal(_batches(ds, 0)[0]["image"], a[0]["image"])  # a new epoch, new draws


def test_segmentation_labels_follow_the_image(tmp_path: Path) -> None:
    images, labels = tmp_path / "img", tmp_path / "lab"
    images.mkdir()
    labels.mkdir()
    shutil.copyfile(TILES / "sentinel2_l2a_12band_int16.tif", images / "t.tif")
    shutil.copyfile(FIXTURES / "labels" / "sentinel2_l2a_12band_int16.tif", labels / "t.tif")
    ds = gt.GeoTiffDataset(images, geoaug.Compose([geoaug.Affine(rotate=(30, 40), interpolation="cubic")]),
                           labels=labels, seed=1)
    s = ds[0]
    assert s["label"].shape == (100, 100) and s["label"].dtype == torch.int64
    outside = s["label"] == -1  # outside the rotated footprint: the ignore index
    assert outside.float().mean() > 0.05
    assert not s["mask"][outside].any()  # where the label is gone, so is the image
    assert set(np.unique(s["label"][s["label"] >= 0].numpy())) <= set(range(0, 12))


def test_three_training_steps_of_a_tiny_cnn(twelve_band_folder: Path) -> None:
    torch.manual_seed(0)
    ds = gt.GeoTiffDataset(twelve_band_folder, PIPE, labels=[0, 1, 0, 1, 0, 1], seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, shuffle=True)
    model = torch.nn.Sequential(torch.nn.Conv2d(12, 8, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for step, batch in enumerate(loader):
        x = batch["image"] / 10000.0
        loss = torch.nn.functional.cross_entropy(model(x), batch["label"].long())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if step == 2:
            break
    assert len(losses) == 3 and all(np.isfinite(losses))


# ------------------------------------------------------------------------------------------ xarray
@pytest.mark.parametrize("make", [lambda: geoaug.HorizontalFlip(p=1), lambda: geoaug.CenterCrop(100, 80),
                                  lambda: geoaug.Affine(rotate=30, scale=1.1)], ids=["flip", "crop", "rotation"])
def test_xarray_accessor_round_trip_with_rioxarray(make, tmp_path: Path) -> None:
    path = BY_DTYPE["uint16"]
    da = rioxarray.open_rasterio(path)
    t = make()
    out = da.geoaug.augment(t, seed=0)
    ref = t(geoaug.read(path), rng=0)
    assert out.dims == da.dims and list(out["band"].values) == list(da["band"].values)
    assert out.rio.crs == da.rio.crs and out.rio.nodata == da.rio.nodata
    assert out.rio.transform().almost_equals(ref.transform)
    assert out.attrs["long_name"] == da.attrs["long_name"]
    out.rio.to_raster(tmp_path / "out.tif")
    back = geoaug.read(tmp_path / "out.tif")
    assert back.transform.almost_equals(ref.transform)
    np.testing.assert_array_equal(back.mask, ref.mask)
    np.testing.assert_array_equal(back.data[back.band_mask], ref.data[ref.band_mask])
    if ref.transform.b == 0:
        x, y = ref.transform @ (0.5, 0.5)
        assert (float(out.x[0]), float(out.y[0])) == pytest.approx((x, y))


def test_xarray_quarter_turns_keep_the_geotransform() -> None:
    da = rioxarray.open_rasterio(BY_DTYPE["uint16"])
    t = geoaug.Rot90(k=1, p=1)
    out = da.geoaug.augment(t)
    ref = t(geoaug.read(BY_DTYPE["uint16"]))
    assert out.geoaug.raster().transform == ref.transform  # from spatial_ref's GeoTransform
    x, y = ref.transform @ (0.5, 0.5)
    assert (float(out.x[0]), float(out.y[0])) == pytest.approx((x, y))  # axis-aligned: 1-D x/y kept
