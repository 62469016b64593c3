"""Ways in from training code: PyTorch Dataset, Keras-style generator, xarray accessor (real libraries)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the CPU torch wheel (its numpy backend needs jax)

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import BY_DTYPE, FIXTURES, TILES
from helpers import interior, smooth_image

import geoaug

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
rioxarray = pytest.importorskip("rioxarray")

from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasIDG  # noqa: E402

import geoaug.keras as gk  # noqa: E402
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


# ------------------------------------------------------------------------------------------ keras
KERAS_CASES = [
    {"theta": 20.0},
    {"tx": 5.0, "ty": -3.0},
    {"shear": 15.0},
    {"zx": 0.8, "zy": 1.2},
    {"theta": -30.0, "tx": 2.0, "ty": 4.0, "shear": 5.0, "zx": 1.1, "zy": 0.9, "flip_horizontal": True},
    {"channel_shift_intensity": 30.0, "flip_vertical": True},
    {"brightness": 1.3},
    {"theta": 10.0, "brightness": 0.7},
]


@pytest.mark.parametrize("params", KERAS_CASES)
@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect"])
def test_apply_transform_agrees_with_keras(params: dict, fill_mode: str) -> None:
    """Same parameters, 3-band 48 x 64 image (non-square on purpose), interior pixels.

    Tolerance: 1e-3 for geometry and channel shift (both bilinear in float); brightness goes
    through PIL's 8-bit image in Keras, so 2.5 levels of 0..255 there.
    """
    img = np.moveaxis(smooth_image(3, 48, 64, "float32") / 1000 * 250, 0, -1).astype(np.float32)
    ours = gk.ImageDataGenerator(fill_mode=fill_mode, cval=7.0).apply_transform(img.copy(), params)
    theirs = KerasIDG(fill_mode=fill_mode, cval=7.0).apply_transform(img.copy(), params)
    assert ours.shape == theirs.shape == img.shape and ours.dtype == np.float32
    # compare where the source point lies well inside the input: at the border scipy's "constant"
    # mode does not interpolate towards cval while geoaug's does (docs/keras.md)
    gen = gk.ImageDataGenerator()
    m = gen.transform_matrix(params, img.shape[:2])
    footprint = geoaug.warp(geoaug.GeoRaster.from_array(np.ones(img.shape[:2], np.float32)), m, img.shape[:2],
                            "bilinear", "nodata").mask
    inside = interior(footprint, 2)
    assert inside.mean() > 0.3
    tol = 2.5 if params.get("brightness") else 1e-3
    assert np.abs(ours[inside] - theirs[inside]).max() <= tol


def test_random_parameters_have_keras_keys() -> None:
    kw = dict(rotation_range=30, width_shift_range=0.1, height_shift_range=4, shear_range=10, zoom_range=0.2,
              channel_shift_range=20.0, horizontal_flip=True, vertical_flip=True, brightness_range=(0.8, 1.2))
    ours = gk.ImageDataGenerator(**kw).get_random_transform((64, 64, 13), seed=1)
    theirs = KerasIDG(**kw).get_random_transform((64, 64, 13), seed=1)
    assert set(ours) == set(theirs)
    assert abs(ours["theta"]) <= 30 and abs(ours["ty"]) <= 6.4 and ours["tx"] in range(-4, 5)


@pytest.mark.parametrize("bands", [13, 200])
def test_many_bands_work_where_keras_fails(bands: int) -> None:
    img = np.moveaxis(smooth_image(bands, 32, 32, "float32") / 4, 0, -1).astype(np.float32)
    params = {"theta": 15.0, "brightness": 1.2, "channel_shift_intensity": 5.0, "flip_horizontal": True}
    with pytest.raises(Exception, match="(?i)channel|mode|image"):
        KerasIDG().apply_transform(img.copy(), params)
    out = gk.ImageDataGenerator().apply_transform(img.copy(), params)
    assert out.shape == img.shape and np.isfinite(out).all()


@pytest.fixture
def eurosat_like(tmp_path: Path) -> Path:
    """Class folders of 7-band uint16 GeoTIFF chips with a nodata collar (cut from the Landsat SR tile)."""
    src = geoaug.read(BY_DTYPE["uint16"])
    root = tmp_path / "eurosat"
    for c, rows in (("forest", range(0, 4)), ("crops", range(4, 8))):
        (root / c).mkdir(parents=True)
        for i in rows:
            chip = geoaug.RandomCrop(64, 64)(src, rng=i)
            geoaug.write(chip, root / c / f"{c}_{i}.tif")
    return root


def test_keras_cannot_read_multiband_geotiffs_geoaug_can(tmp_path: Path, eurosat_like: Path) -> None:
    six = tmp_path / "six" / "olinda"
    six.mkdir(parents=True)
    shutil.copyfile(FIXTURES / "misc" / "landsat7_etm_6band_uint8.tif", six / "a.tif")
    with pytest.raises(Exception, match="cannot identify image file"):
        next(iter(KerasIDG().flow_from_directory(str(six.parent), target_size=(32, 32), batch_size=1)))
    x, _ = gk.ImageDataGenerator().flow_from_directory(six.parent, target_size=(32, 32), batch_size=1)[0]
    assert x.shape == (1, 32, 32, 6)
    # a 7-band uint16 file is opened by PIL, but Keras silently keeps 3 channels, clipped to 255
    kx, _ = next(iter(KerasIDG().flow_from_directory(str(eurosat_like), target_size=(32, 32), batch_size=2)))
    assert kx.shape[-1] == 3 and kx.max() <= 255
    gx, _ = gk.ImageDataGenerator().flow_from_directory(eurosat_like, target_size=(32, 32), batch_size=2)[0]
    assert gx.shape[-1] == 7 and gx.max() > 255


def test_flow_from_directory_eurosat_layout(eurosat_like: Path) -> None:
    gen = gk.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 65535, validation_split=0.25)
    it = gen.flow_from_directory(eurosat_like, target_size=(32, 32), batch_size=3, seed=1, subset="training")
    assert it.n == 6 and it.class_indices == {"crops": 0, "forest": 1}
    x, y = it[0]
    assert x.shape == (3, 32, 32, 7) and x.dtype == np.float32 and y.shape == (3, 2)
    assert np.isfinite(x).all() and x.max() <= 1.0
    x2, _ = it[0]
    np.testing.assert_array_equal(x, x2)  # a batch depends on (seed, epoch, index) only
    val = gen.flow_from_directory(eurosat_like, target_size=(32, 32), batch_size=8, subset="validation",
                                  class_mode="sparse")
    xv, yv = val[0]
    assert len(xv) == 2 and sorted(yv.tolist()) == [0, 1]


def test_flow_arrays_fit_and_keras_model_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((10, 16, 16, 13)).astype(np.float32)
    y = rng.integers(0, 2, 10)
    gen = gk.ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rotation_range=10,
                                width_shift_range=0.1, horizontal_flip=True, brightness_range=(0.9, 1.1),
                                validation_split=0.2)
    gen.fit(x)
    assert gen.mean.shape == (1, 1, 13)
    it = gen.flow(x, y, batch_size=4, seed=3, subset="training")
    assert len(it) == 2
    bx, by = it[0]
    assert bx.shape == (4, 16, 16, 13) and by.shape == (4,)
    assert isinstance(it, keras.utils.PyDataset)
    layers = keras.layers
    model = keras.Sequential([keras.Input((16, 16, 13)), layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    hist = model.fit(it, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


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
    assert (float(out.xc[0, 0]), float(out.yc[0, 0])) == pytest.approx((x, y))
