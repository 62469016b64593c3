"""Keras' way in: geoaug.keras.ImageDataGenerator against Keras' own legacy generator (real Keras 3, torch backend)."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the CPU torch wheel (its numpy backend needs jax)

import inspect
import pickle
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import BY_DTYPE, FIXTURES, ROOT
from helpers import interior, run_markdown_python, smooth_image

import geoaug

keras = pytest.importorskip("keras")
pd = pytest.importorskip("pandas")
PIL_Image = pytest.importorskip("PIL.Image")

from keras.src.legacy.preprocessing import image as kimage  # noqa: E402
from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasIDG  # noqa: E402

import geoaug.keras as gk  # noqa: E402
from geoaug.errors import GeoAugError, ParameterError  # noqa: E402

# ------------------------------------------------------------------------------------------ transforms
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




# ------------------------------------------------------------------------------------------ interface
# (ours, Keras') -> parameters whose default differs on purpose (docs/keras.md)
SIGNATURES = [
    (gk.ImageDataGenerator.__init__, KerasIDG.__init__, set()),
    (gk.ImageDataGenerator.flow, KerasIDG.flow, set()),
    (gk.ImageDataGenerator.flow_from_directory, KerasIDG.flow_from_directory, {"color_mode"}),
    (gk.ImageDataGenerator.flow_from_dataframe, KerasIDG.flow_from_dataframe, {"color_mode"}),
    (gk.ImageDataGenerator.fit, KerasIDG.fit, set()),
    (gk.ImageDataGenerator.standardize, KerasIDG.standardize, set()),
    (gk.ImageDataGenerator.random_transform, KerasIDG.random_transform, set()),
    (gk.ImageDataGenerator.apply_transform, KerasIDG.apply_transform, set()),
    (gk.ImageDataGenerator.get_random_transform, KerasIDG.get_random_transform, set()),
    (gk.NumpyArrayIterator.__init__, kimage.NumpyArrayIterator.__init__, set()),
    (gk.DirectoryIterator.__init__, kimage.DirectoryIterator.__init__, {"color_mode"}),
    (gk.DataFrameIterator.__init__, kimage.DataFrameIterator.__init__, {"color_mode", "data_format", "dtype"}),
]


@pytest.mark.parametrize("ours,theirs,differ", SIGNATURES, ids=lambda v: getattr(v, "__qualname__", ""))
def test_signatures_are_keras_argument_for_argument(ours, theirs, differ: set) -> None:
    """Keras' parameters in Keras' order and with its defaults; geoaug adds keyword-only ones after them."""
    kind = inspect.Parameter
    a, b = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    positional = [n for n, p in a.items() if p.kind == kind.POSITIONAL_OR_KEYWORD]
    assert positional == [n for n, p in b.items() if p.kind == kind.POSITIONAL_OR_KEYWORD]
    assert [n for n, p in a.items() if p.kind == kind.VAR_KEYWORD] == [n for n, p in b.items()
                                                                       if p.kind == kind.VAR_KEYWORD]
    for name in positional:
        if name not in differ:
            assert a[name].default == b[name].default, name
    if "color_mode" in differ:
        assert a["color_mode"].default is None and b["color_mode"].default == "rgb"


def test_iterators_have_keras_attributes(png_classes: Path) -> None:
    x = np.zeros((5, 4, 4, 3), np.float32)
    frame = pd.DataFrame({"filename": ["cats/a.png", "dogs/d.png"], "class": ["cats", "dogs"]})
    its = [gk.ImageDataGenerator().flow(x, np.arange(5)),
           gk.ImageDataGenerator().flow_from_directory(png_classes, target_size=(10, 12)),
           gk.ImageDataGenerator().flow_from_dataframe(frame, png_classes, target_size=(10, 12))]
    for it in its:
        for name in ("n", "samples", "batch_size", "shuffle", "seed", "batch_index", "total_batches_seen",
                     "next", "reset", "on_epoch_end", "__len__", "workers", "use_multiprocessing",
                     "max_queue_size"):
            assert hasattr(it, name), (type(it).__name__, name)
    for it in its[1:]:
        for name in ("classes", "class_indices", "filenames", "filepaths", "labels", "sample_weight",
                     "image_shape", "color_mode", "target_size", "split", "subset", "directory"):
            assert hasattr(it, name), (type(it).__name__, name)


BAD_GENERATOR_ARGS = [
    {"brightness_range": 0.1},
    {"brightness_range": (0.1, 0.2, 0.3)},
    {"zoom_range": (0.5, 1.0, 1.5)},
    {"zoom_range": "ab"},
    {"data_format": "channels_middle"},
    {"validation_split": 1.5},
    {"validation_split": -0.2},
]


@pytest.mark.parametrize("kw", BAD_GENERATOR_ARGS, ids=str)
def test_bad_generator_arguments_are_value_errors_as_in_keras(kw: dict) -> None:
    with pytest.raises(ValueError):
        KerasIDG(**kw)
    with pytest.raises(ParameterError, match=next(iter(kw))):
        gk.ImageDataGenerator(**kw)


def test_keras_warnings_and_overrides() -> None:
    for kw, attr in (({"featurewise_std_normalization": True}, "featurewise_center"),
                     ({"samplewise_std_normalization": True}, "samplewise_center"),
                     ({"zca_whitening": True}, "featurewise_center")):
        with pytest.warns(UserWarning, match="overrides"):
            ours = gk.ImageDataGenerator(**kw)
        with pytest.warns(UserWarning, match="overrides"):
            theirs = KerasIDG(**kw)
        assert getattr(ours, attr) is getattr(theirs, attr) is True


def _flow_cases() -> list:
    x = np.zeros((10, 4, 4, 3), np.float32)
    y_sorted = np.array([0] * 5 + [1] * 5)
    return [
        ("rank 3", dict(x=x[0], y=None)),
        ("y length", dict(x=x, y=np.arange(9))),
        ("sample_weight length", dict(x=x, y=np.arange(10), sample_weight=np.ones(9))),
        ("subset name", dict(x=x, y=None, subset="test")),
        ("class missing from a subset", dict(x=x, y=y_sorted, subset="training")),
        ("misc length", dict(x=(x, np.zeros(9)), y=None)),
    ]


@pytest.mark.parametrize("case", _flow_cases(), ids=lambda c: c[0])
def test_flow_errors_as_in_keras(case) -> None:
    _, kw = case
    with pytest.raises(ValueError):
        KerasIDG(validation_split=0.3).flow(**kw)
    with pytest.raises(ParameterError):
        gk.ImageDataGenerator(validation_split=0.3).flow(**kw)


def test_validation_split_checks_classes_unless_told_not_to() -> None:
    x = np.arange(10 * 16 * 3, dtype=np.float32).reshape(10, 4, 4, 3)
    y = np.array(["a"] * 5 + ["b"] * 5)
    with pytest.raises(ParameterError, match="different number of classes"):
        gk.ImageDataGenerator(validation_split=0.3).flow(x, y, subset="validation")
    for subset, n in (("training", 7), ("validation", 3)):
        ours = gk.ImageDataGenerator(validation_split=0.3).flow(x, y, subset=subset, ignore_class_split=True,
                                                                shuffle=False, batch_size=10)
        theirs = KerasIDG(validation_split=0.3).flow(x, y, subset=subset, ignore_class_split=True, shuffle=False,
                                                     batch_size=10)
        assert ours.n == ours.samples == theirs.n == n
        for a, b in zip(ours[0], theirs[0]):
            np.testing.assert_array_equal(a, b)


def test_flow_batches_match_keras_inputs_labels_weights_and_past_the_end() -> None:
    """Tuples of inputs, sample_weight, ordering and batch count, without augmentation: equal to Keras."""
    rng = np.random.default_rng(0)
    x = rng.random((7, 5, 6, 3)).astype(np.float32)
    misc = [rng.random((7, 2)), rng.random((7, 3))]
    y, w = np.arange(7), rng.random(7)
    kw = dict(batch_size=3, shuffle=False)
    ours = gk.ImageDataGenerator(rescale=0.5).flow((x, misc), y, sample_weight=w, **kw)
    theirs = KerasIDG(rescale=0.5).flow((x, misc), y, sample_weight=w, **kw)
    assert len(ours) == len(theirs) == 3
    for i in range(3):
        (ox, oy, ow), (tx, ty, tw) = ours[i], theirs[i]
        assert isinstance(ox, list) and len(ox) == len(tx) == 3
        for a, b in zip(ox, tx):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        np.testing.assert_array_equal(oy, ty)
        np.testing.assert_array_equal(ow, tw)
    with pytest.raises(ValueError, match="length 3"):
        theirs[3]
    with pytest.raises(ValueError, match="length 3"):
        ours[3]
    with pytest.raises(ParameterError):
        ours[-1]
    # x alone: a bare array, as in Keras
    assert isinstance(gk.ImageDataGenerator().flow(x, shuffle=False)[0], np.ndarray)


def test_next_reset_epochs_and_threads() -> None:
    x = np.random.default_rng(1).random((5, 8, 8, 13)).astype(np.float32)
    it = gk.ImageDataGenerator(rotation_range=30, horizontal_flip=True).flow(x, np.arange(5), batch_size=2,
                                                                               seed=4)
    first = [it.next() for _ in range(3)]
    assert [len(b[1]) for b in first] == [2, 2, 1] and it.epoch == 0
    np.testing.assert_array_equal(first[0][0], it[0][0])
    second = next(it)  # wraps into epoch 1: a new order and new draws
    assert it.epoch == 1 and not np.array_equal(second[0], first[0][0])
    it.reset()
    assert it.batch_index == 0
    np.testing.assert_array_equal(it.next()[0], second[0])
    # batches from two threads at once are the serial ones
    serial = [it[i] for i in range(len(it))]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(it.__getitem__, range(len(it))))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a[0], b[0])


def test_shift_ranges_draw_like_keras() -> None:
    """width_shift_range=2 means -1, 0 or +1 pixels (Keras' docs); a list means its values with a sign."""
    ours = {gk.ImageDataGenerator(width_shift_range=2).get_random_transform((8, 8, 3), s)["ty"] for s in range(200)}
    theirs = {float(KerasIDG(width_shift_range=2).get_random_transform((8, 8, 3), s)["ty"]) for s in range(200)}
    assert ours == theirs == {-1.0, 0.0, 1.0}
    ours = {gk.ImageDataGenerator(height_shift_range=[3, 5]).get_random_transform((8, 8, 3), s)["tx"]
            for s in range(200)}
    assert ours == {-5.0, -3.0, 3.0, 5.0}


def test_zca_whitening_matches_keras() -> None:
    x = np.random.default_rng(2).random((12, 4, 4, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that 2 channels are not 1, 3 or 4
        ours, theirs = gk.ImageDataGenerator(zca_whitening=True), KerasIDG(zca_whitening=True)
        ours.fit(x)
        theirs.fit(x)
    np.testing.assert_allclose(ours.zca_whitening_matrix, theirs.zca_whitening_matrix, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.standardize(x[:3].copy()), theirs.standardize(x[:3].copy()), rtol=1e-3,
                               atol=1e-3)


# ------------------------------------------------------------------------------------------ folders
@pytest.fixture
def png_classes(tmp_path: Path) -> Path:
    """RGB PNGs (10 x 12) that Keras and geoaug both read: two classes, a nested folder, a linked folder."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pngs"
    names = {"cats": ["a.png", "b.png", "c.png", "z.png"], "dogs": ["d.png", "e.png", "sub/f.png", "y.png"]}
    for c, files in names.items():
        for f in files:
            p = root / c / f
            p.parent.mkdir(parents=True, exist_ok=True)
            PIL_Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(p)
    (root / "dogs" / "notes.txt").write_text("not an image")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    PIL_Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(outside / "g.png")
    (root / "cats" / "linked").symlink_to(outside, target_is_directory=True)
    return root


@pytest.mark.parametrize("kw", [dict(), dict(follow_links=True), dict(subset="training"),
                                dict(subset="validation"), dict(classes=["dogs", "cats"])], ids=str)
@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
def test_flow_from_directory_matches_keras(png_classes: Path, kw: dict, class_mode) -> None:
    """Same files, order, classes, class indices, labels and pixels as Keras' on RGB PNGs (no augmentation)."""
    args = dict(target_size=(10, 12), batch_size=4, shuffle=False, class_mode=class_mode, **kw)
    ours = gk.ImageDataGenerator(validation_split=0.25).flow_from_directory(png_classes, color_mode="rgb", **args)
    theirs = KerasIDG(validation_split=0.25).flow_from_directory(str(png_classes), **args)
    assert ours.filenames == theirs.filenames and ours.filepaths == theirs.filepaths
    assert ours.samples == theirs.samples and len(ours) == len(theirs)
    assert ours.class_indices == theirs.class_indices and ours.num_classes == theirs.num_classes
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    np.testing.assert_array_equal(ours.labels, theirs.labels)
    assert ours.image_shape == theirs.image_shape and ours.sample_weight is theirs.sample_weight is None
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        for u, v in zip(*((a, b) if class_mode else ((a,), (b,)))):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError):
        theirs[len(theirs)]
    with pytest.raises(ParameterError):
        ours[len(ours)]


@pytest.mark.parametrize("color_mode,tol", [("grayscale", 1.0), ("rgba", 0.0)])
def test_color_modes_and_keep_aspect_ratio_match_keras(png_classes: Path, color_mode: str, tol: float) -> None:
    for target, keep in (((10, 12), False), ((6, 6), True), ((5, 6), False)):
        args = dict(target_size=target, batch_size=8, shuffle=False, class_mode=None, color_mode=color_mode,
                    keep_aspect_ratio=keep)
        ours = gk.ImageDataGenerator().flow_from_directory(png_classes, **args)
        theirs = KerasIDG().flow_from_directory(str(png_classes), **args)
        assert ours[0].shape == theirs[0].shape == (8, *target, {"grayscale": 1, "rgba": 4}[color_mode])
        assert np.abs(ours[0] - theirs[0]).max() <= tol, (target, keep)


def test_color_mode_errors(png_classes: Path, eurosat_like: Path) -> None:
    with pytest.raises(ValueError, match="color mode"):
        KerasIDG().flow_from_directory(str(png_classes), color_mode="cmyk")
    with pytest.raises(ParameterError, match="color mode"):
        gk.ImageDataGenerator().flow_from_directory(png_classes, color_mode="cmyk")
    it = gk.ImageDataGenerator().flow_from_directory(eurosat_like, target_size=(16, 16), color_mode="rgb")
    with pytest.raises(ParameterError, match=r"_[0-9]\.tif: color_mode='rgb' needs a file with 1, 3 or 4 bands"):
        it[0]
    for mode in (None, "any"):
        x, _ = gk.ImageDataGenerator().flow_from_directory(eurosat_like, target_size=(16, 16), color_mode=mode)[0]
        assert x.shape[-1] == 7


def test_flow_from_directory_argument_errors(png_classes: Path) -> None:
    gen = gk.ImageDataGenerator()
    for kw, match in ((dict(class_mode="raw"), "class_mode"), (dict(subset="test"), "subset"),
                      (dict(interpolation="lanczos"), "interpolation"), (dict(classes=["cats", "birds"]), "birds"),
                      (dict(save_to_dir="/nonexistent/dir"), "save_to_dir"), (dict(batch_size=0), "batch_size"),
                      (dict(workers=-1), "workers")):
        with pytest.raises(ParameterError, match=match):
            gen.flow_from_directory(png_classes, **kw)
    with pytest.raises(ParameterError, match="does not exist"):
        gen.flow_from_directory(png_classes / "missing")


# ------------------------------------------------------------------------------------------ data frames
@pytest.fixture
def frame(png_classes: Path) -> pd.DataFrame:
    return pd.DataFrame({"filename": ["cats/a.png", "dogs/d.png", "cats/b.png", "dogs/missing.png", "dogs/e.png",
                                      "cats/c.png"],
                         "class": ["cats", "dogs", "cats", "dogs", "dogs", "cats"],
                         "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                         "tags": [["cats"], ["dogs"], ["cats", "dogs"], ["dogs"], ["dogs"], ["cats"]],
                         "score": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]})


@pytest.mark.parametrize("kw", [dict(class_mode="categorical", weight_col="weight"), dict(class_mode="binary"),
                                dict(class_mode="sparse", subset="training"), dict(class_mode="raw", y_col="score"),
                                dict(class_mode="multi_output", y_col=["class", "score"]),
                                dict(class_mode="categorical", y_col="tags"), dict(class_mode=None),
                                dict(class_mode="input", subset="validation"),
                                dict(class_mode="categorical", classes=["dogs"])], ids=str)
def test_flow_from_dataframe_matches_keras(png_classes: Path, frame: pd.DataFrame, kw: dict) -> None:
    args = dict(target_size=(10, 12), batch_size=2, shuffle=False, **kw)
    with pytest.warns(UserWarning, match="1 invalid image filename"):
        ours = gk.ImageDataGenerator(validation_split=0.4).flow_from_dataframe(frame, png_classes,
                                                                                 color_mode="rgb", **args)
    with pytest.warns(UserWarning, match="1 invalid image filename"):
        theirs = KerasIDG(validation_split=0.4).flow_from_dataframe(frame, str(png_classes), **args)
    assert ours.filenames == theirs.filenames and ours.filepaths == theirs.filepaths
    assert ours.samples == theirs.samples and len(ours) == len(theirs) > 0
    if kw["class_mode"] not in ("raw", "multi_output", "input", None):
        assert ours.class_indices == theirs.class_indices and ours.classes == theirs.classes
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        a, b = ((a,), (b,)) if isinstance(a, np.ndarray) else (a, b)
        assert len(a) == len(b)
        for u, v in zip(a, b):
            for p, q in (zip(u, v) if isinstance(u, list) else ((u, v),)):
                np.testing.assert_array_equal(p, q)


DATAFRAME_ERRORS = [
    (dict(class_mode="binary", y_col="tags"), TypeError),          # binary labels must be strings
    (dict(class_mode="multi_output", y_col="class"), TypeError),  # y_col must be a list
    (dict(class_mode="unknown"), ValueError),
    (dict(class_mode="categorical", weight_col="class"), TypeError),
    (dict(class_mode="binary", classes=["a", "b", "c"]), ValueError),
    (dict(x_col="weight"), TypeError),                             # file names must be strings
    (dict(class_mode="categorical", y_col="score"), TypeError),
]


@pytest.mark.parametrize("kw,exc", DATAFRAME_ERRORS, ids=str)
def test_flow_from_dataframe_errors_as_in_keras(png_classes: Path, frame: pd.DataFrame, kw: dict, exc) -> None:
    with pytest.raises(exc):
        KerasIDG().flow_from_dataframe(frame, str(png_classes), **kw)
    with pytest.raises(exc) as err:
        gk.ImageDataGenerator().flow_from_dataframe(frame, png_classes, **kw)
    assert isinstance(err.value, GeoAugError)


def test_flow_from_dataframe_geoaug_checks(png_classes: Path, frame: pd.DataFrame, eurosat_like: Path) -> None:
    gen = gk.ImageDataGenerator()
    with pytest.raises(ParameterError, match="no column"):
        gen.flow_from_dataframe(frame, png_classes, y_col="label")
    with pytest.raises(TypeError, match="unexpected keyword"):
        gen.flow_from_dataframe(frame, png_classes, target_sise=(4, 4))  # a typo is not silently ignored
    with pytest.raises(TypeError, match="DataFrame"):
        gen.flow_from_dataframe(frame.to_dict(), png_classes)
    with pytest.warns(DeprecationWarning, match="sort"), pytest.warns(UserWarning):
        gen.flow_from_dataframe(frame, png_classes, sort=False)
    with pytest.warns(DeprecationWarning, match="raw"), pytest.warns(UserWarning):
        it = gen.flow_from_dataframe(frame, png_classes, class_mode="other", y_col="score", target_size=(10, 12))
    assert it.class_mode == "raw"
    # multispectral GeoTIFFs from a data frame: every band
    files = sorted(p.relative_to(eurosat_like).as_posix() for p in eurosat_like.rglob("*.tif"))
    df = pd.DataFrame({"filename": files, "class": [f.split("/")[0] for f in files]})
    x, y = gen.flow_from_dataframe(df, eurosat_like, target_size=(16, 16), batch_size=8)[0]
    assert x.shape == (8, 16, 16, 7) and y.shape == (8, 2)


# ------------------------------------------------------------------------------------------ save_to_dir
def test_save_to_dir(tmp_path: Path, eurosat_like: Path) -> None:
    x = np.random.default_rng(3).random((4, 8, 8, 3)).astype(np.float32)
    out = tmp_path / "seen"
    out.mkdir()
    gk.ImageDataGenerator(rotation_range=20).flow(x, batch_size=4, save_to_dir=out, save_prefix="aug",
                                                   save_format="jpeg", seed=0)[0]
    saved = sorted(out.iterdir())
    assert len(saved) == 4 and all(p.name.startswith("aug_") and p.suffix == ".jpeg" for p in saved)
    assert PIL_Image.open(saved[0]).size == (8, 8)
    many = np.random.default_rng(3).random((4, 8, 8, 13)).astype(np.float32)
    with pytest.raises(ParameterError, match="save_format='tif'"):
        gk.ImageDataGenerator().flow(many, save_to_dir=out)
    tifs = tmp_path / "tifs"
    tifs.mkdir()
    it = gk.ImageDataGenerator(rotation_range=20).flow_from_directory(
        eurosat_like, target_size=(64, 64), batch_size=2, shuffle=False, save_to_dir=tifs, save_format="tif")
    batch, _ = it[0]
    files = sorted(tifs.glob("_*.tif"))
    assert len(files) == 2
    back = [geoaug.read(f) for f in files]
    src = geoaug.read(it.filepaths[0])
    assert back[0].count == 7 and back[0].crs == src.crs
    assert back[0].transform != src.transform  # the rotated chip's own geotransform
    by_index = {int(f.name.split("_")[1]): r for f, r in zip(files, back)}
    np.testing.assert_allclose(np.moveaxis(by_index[0].data, 0, -1), batch[0])


# ------------------------------------------------------------------------------------------ PyDataset and fit
def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=ROOT)


def test_pydataset_whatever_the_import_order(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "KERAS_BACKEND": "torch"}
    code = """if True:
        import sys
        import numpy as np
        from geoaug.keras import ImageDataGenerator
        assert "keras" not in sys.modules            # importing geoaug does not import Keras
        gen = ImageDataGenerator(rotation_range=10)   # created before `import keras`
        it = gen.flow(np.zeros((4, 8, 8, 5), np.float32), np.arange(4), batch_size=2, workers=2)
        import keras
        assert isinstance(it, keras.utils.PyDataset) and it.workers == 2
        print("ok")
    """
    res = _python(code, env)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
    # no backend: Keras 3 falls back to tensorflow, absent here; the warning says what to do
    env.pop("KERAS_BACKEND")
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json naming a backend
    code = """if True:
        import warnings
        import numpy as np
        from geoaug.keras import ImageDataGenerator
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            it = ImageDataGenerator().flow(np.zeros((4, 8, 8, 5), np.float32), batch_size=2)
        print([str(w.message) for w in caught])
        print(it[0].shape)
    """
    res = _python(code, env)
    assert res.returncode == 0, res.stderr
    assert "KERAS_BACKEND=torch" in res.stdout and "(2, 8, 8, 5)" in res.stdout


def test_pickled_iterator_is_a_pydataset_with_the_same_batches(eurosat_like: Path) -> None:
    it = gk.ImageDataGenerator(rotation_range=30).flow_from_directory(eurosat_like, target_size=(16, 16),
                                                                      batch_size=3, seed=2, workers=2)
    it.on_epoch_end()
    copy = pickle.loads(pickle.dumps(it))
    assert type(copy) is type(it) and isinstance(copy, keras.utils.PyDataset)
    assert copy.epoch == 1 and copy.workers == 2
    for a, b in zip(it[1], copy[1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_keras_fit_with_two_workers_after_geoaug_ran_in_the_parent(use_multiprocessing: bool) -> None:
    """Workers are threads or forked processes; the parent has already run geoaug's kernels."""
    rng = np.random.default_rng(0)
    x = rng.random((12, 16, 16, 6)).astype(np.float32)
    y = np.tile([0, 1], 6)
    gen = gk.ImageDataGenerator(rotation_range=20, zoom_range=0.1, horizontal_flip=True, brightness_range=(0.9, 1.1))
    gen.random_transform(x[0], seed=0)  # the warp kernel runs here first
    it = gen.flow(x, y, batch_size=4, seed=1, workers=2, use_multiprocessing=use_multiprocessing)
    assert it[0][0].shape == (4, 16, 16, 6)
    assert isinstance(it, keras.utils.PyDataset)
    assert (it.workers, it.use_multiprocessing, it.max_queue_size) == (2, use_multiprocessing, 10)
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([keras.Input((16, 16, 6)), layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    hist = model.fit(it, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2 and np.all(np.isfinite(hist.history["loss"]))
    assert it.epoch >= 2  # Keras called on_epoch_end after each epoch: new orders, new draws


def test_docs_keras_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns = run_markdown_python("docs/keras.md", tmp_path, monkeypatch, min_blocks=2)
    assert ns["train"].samples == 8 and ns["x"].shape == (4, 32, 32, 12) and ns["w"].shape == (4,)


def test_channels_first_and_no_generator(eurosat_like: Path) -> None:
    kw = dict(rotation_range=25, horizontal_flip=True, brightness_range=(0.8, 1.2))
    last = gk.ImageDataGenerator(**kw).flow_from_directory(eurosat_like, target_size=(16, 16), seed=3, batch_size=4)
    first = gk.ImageDataGenerator(data_format="channels_first", **kw).flow_from_directory(
        eurosat_like, target_size=(16, 16), seed=3, batch_size=4)
    assert first.image_shape == (None, 16, 16) and last.image_shape == (16, 16, None)
    np.testing.assert_allclose(np.moveaxis(first[1][0], 1, -1), last[1][0], rtol=1e-5, atol=1e-3)
    plain = gk.DirectoryIterator(eurosat_like, None, target_size=(64, 64), class_mode="sparse", shuffle=False)
    x, y = plain[0]
    src = geoaug.read(plain.filepaths[0])
    assert x.dtype == np.float32 and y.tolist() == [0.0] * 4 + [1.0] * 4
    np.testing.assert_array_equal(np.moveaxis(x[0], -1, 0), np.where(src.band_mask, src.data, 0))
