"""Batch transforms (MixUp, CutMix, Mosaic): their own contract, the torch collate and the Keras generator.

They are not per-image transforms, so the per-image contract suite does not run them; this file holds
their contract: seeded reproducibility and replay, serialisation, every dtype, nodata (validity followed,
invalid pixels never used as data), labels mixed by weight or area, masks pasted, geotransforms per
Mosaic quadrant.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
from affine import Affine
from conftest import TILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import ParameterError
from geoaug.transforms import REGISTRY, CutMix, MixUp, Mosaic, batch_transform_from_dict
from geoaug.transforms.examples import EXAMPLE_ARGS
from geoaug.transforms.mixing import BATCH_REGISTRY

S2 = TILES / "sentinel2_l2a_12band_int16.tif"   # 12 bands int16, nodata collar
DTYPES = ["uint8", "uint16", "int16", "int32", "float32", "float64"]
MAKERS = {"MixUp": lambda: MixUp(alpha=0.4, p=0.9), "CutMix": lambda: CutMix(alpha=1.0),
          "Mosaic": lambda: Mosaic(center=(0.3, 0.7))}


def chips(n: int = 4, size: int = 32) -> list[geoaug.GeoRaster]:
    """``n`` windows of the real Sentinel-2 tile (diagonal steps: each its own geotransform, some nodata)."""
    return [geoaug.read(S2, window=((8 * k, 8 * k + size), (60 - 8 * k, 60 - 8 * k + size))) for k in range(n)]


def batch(dtype: str = "int16", n: int = 4) -> tuple[np.ndarray, np.ndarray, list]:
    cs = chips(n)
    x = np.stack([c.data for c in cs])
    if dtype != "int16":
        x = np.clip(x.astype(np.float64) / (40 if dtype == "uint8" else 1), 0, 254 if dtype == "uint8" else None)
        x = x.astype(dtype)
    return x, np.stack([c.pixel_mask for c in cs]), [c.transform for c in cs]


def test_batch_transforms_stay_out_of_the_per_image_registry() -> None:
    assert set(BATCH_REGISTRY) == {"MixUp", "CutMix", "Mosaic"}
    assert not set(BATCH_REGISTRY) & set(REGISTRY) and set(EXAMPLE_ARGS) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_seeded_replayable_and_serialisable(name: str) -> None:
    t = MAKERS[name]()
    x, valid, _ = batch()
    y = np.eye(4, dtype=np.float32)
    a = t(x, labels=y, valid=valid, rng=7)
    b = t(x, labels=y, valid=valid, rng=np.random.default_rng(7))
    assert a.images.tobytes() == b.images.tobytes() and a.params == b.params
    record = json.loads(json.dumps(a.params))  # plain data
    again = t.apply(x, record, labels=y, valid=valid)
    assert again.images.tobytes() == a.images.tobytes() and np.array_equal(again.valid, a.valid)
    assert np.array_equal(again.labels, a.labels)
    rebuilt = batch_transform_from_dict(json.loads(json.dumps(t.to_dict())))
    assert rebuilt.get_config() == t.get_config() and type(rebuilt) is type(t)
    assert rebuilt(x, labels=y, valid=valid, rng=7).images.tobytes() == a.images.tobytes()
    assert t(x, rng=8).images.tobytes() != a.images.tobytes()  # another seed, another draw
    off = type(t)(**{**t.get_config(), "p": 0.0})
    assert off(x, rng=7).images.tobytes() == x.tobytes()  # p = 0 is the identity


@pytest.mark.parametrize("name", sorted(MAKERS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_kept_and_valid_pixels_only_from_valid_pixels(name: str, dtype: str) -> None:
    x, valid, _ = batch(dtype)
    x = x.copy()
    info = np.iinfo(dtype) if dtype[0] in "ui" else None
    poison = info.max if info else np.float32(3e38).astype(dtype)
    x[np.broadcast_to(~valid[:, None], x.shape)] = poison  # whatever is under invalid pixels must never show
    res = MAKERS[name]()(x, valid=valid, rng=3)
    assert res.images.dtype == x.dtype and res.images.shape == x.shape
    out, v = res.images, res.valid
    assert not (out[np.broadcast_to(v[:, None], out.shape)] == poison).any()
    if dtype[0] == "f":
        assert np.isfinite(out[np.broadcast_to(v[:, None], out.shape)]).all()
    # nothing invented: a valid output pixel comes from valid input pixels
    for i, rec in enumerate(res.params["samples"]):
        if not rec["applied"]:
            assert np.array_equal(v[i], valid[i]) and np.array_equal(out[i], x[i])
        elif name == "MixUp":
            assert np.array_equal(v[i], valid[i] & valid[rec["partner"]])
            lam = rec["lam"]
            want = lam * x[i].astype(np.float64) + (1 - lam) * x[rec["partner"]].astype(np.float64)
            if info:
                want = np.clip(np.rint(want), info.min, info.max)
            m = np.broadcast_to(v[i], want.shape)
            np.testing.assert_allclose(out[i][m].astype(np.float64), want[m], rtol=1e-6, atol=1.0 if info else 1e-3)
            assert np.array_equal(out[i][~m], x[i][~m])  # invalid pixels keep the sample's own value


def test_cutmix_pastes_a_box_and_mixes_labels_by_area() -> None:
    x, valid, _ = batch()
    masks = (np.arange(4)[:, None, None] * np.ones((4, 32, 32), np.int64))  # each sample's own class raster
    res = CutMix()(x, labels=np.array([0, 1, 2, 3]), masks=masks, valid=valid, num_classes=4, rng=5)
    for i, rec in enumerate(res.params["samples"]):
        j, (r0, r1, c0, c1) = rec["partner"], rec["box"]
        assert j != i
        box = np.zeros((32, 32), bool)
        box[r0:r1, c0:c1] = True
        assert np.array_equal(res.images[i][:, box], x[j][:, box])
        assert np.array_equal(res.images[i][:, ~box], x[i][:, ~box])
        assert np.array_equal(res.masks[i], np.where(box, j, i))
        assert np.array_equal(res.valid[i], np.where(box, valid[j], valid[i]))
        share = box.mean()
        want = np.zeros(4)
        want[i] += 1 - share
        want[j] += share
        np.testing.assert_allclose(res.labels[i], want, atol=1e-6)


def apply(t: Affine, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transform applied to coordinate arrays."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def test_mosaic_quadrants_keep_their_geotransforms() -> None:
    """Each quadrant's recorded transform puts its output pixels where their values lie in the full tile."""
    full = geoaug.read(S2)
    x, valid, ts = batch()
    res = Mosaic()(x, labels=np.eye(4, dtype=np.float32), valid=valid, transforms=ts, rng=11)
    inv = ~full.transform
    for i, rec in enumerate(res.params["samples"]):
        quads = rec["quadrants"]
        assert quads[0]["source"] == i and len(quads) == 4 and quads[0]["offset"] == [0, 0]
        assert quads[0]["transform"] == list(tuple(ts[i])[:6])  # the sample's own corner, its own transform
        area = np.zeros(4)
        for q in quads:
            r0, r1, c0, c1 = q["window"]
            area[q["source"]] += (r1 - r0) * (c1 - c0) / 32**2
            t = Affine(*q["transform"])
            rows, cols = np.mgrid[r0:r1, c0:c1]
            xs, ys = apply(t, cols + 0.5, rows + 0.5)
            fc, fr = apply(inv, xs, ys)
            fr, fc = np.floor(fr).astype(int), np.floor(fc).astype(int)
            assert np.array_equal(res.images[i][:, rows, cols], full.data[:, fr, fc])
            assert np.array_equal(res.valid[i][rows, cols], full.pixel_mask[fr, fc])
        np.testing.assert_allclose(res.labels[i], area, atol=1e-6)  # labels mixed by quadrant area


def test_hwc_layout_and_torch_tensors() -> None:
    torch = pytest.importorskip("torch")
    x, valid, _ = batch("float32")
    hwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    a = MixUp()(x, rng=2)
    b = MixUp()(hwc, rng=2, layout="hwc")
    assert np.array_equal(b.images.transpose(0, 3, 1, 2), a.images)
    c = MixUp()(torch.from_numpy(x), labels=torch.tensor([0, 1, 2, 3]), valid=torch.from_numpy(valid),
                num_classes=4, rng=2)
    assert isinstance(c.images, torch.Tensor) and np.array_equal(c.images.numpy(), a.images)
    assert c.labels.shape == (4, 4) and c.labels.dtype == torch.float32 and c.valid.dtype == torch.bool


def test_bad_parameters_and_inputs_are_clear_errors() -> None:
    x, _, _ = batch()
    with pytest.raises(ParameterError, match="alpha"):
        MixUp(alpha=0)
    with pytest.raises(ParameterError, match="alpha"):
        CutMix(alpha=-1)
    with pytest.raises(ParameterError, match="center"):
        Mosaic(center=(0.0, 0.5))
    with pytest.raises(ParameterError, match="p must"):
        CutMix(p=2)
    with pytest.raises(ParameterError, match="num_classes"):
        MixUp()(x, labels=np.array([0, 1, 2, 3]), rng=0)
    with pytest.raises(ParameterError, match="masks must be"):
        CutMix()(x, masks=np.zeros((4, 16, 16)), rng=0)
    with pytest.raises(ParameterError, match="batch"):
        MixUp()(x[0], rng=0)
    with pytest.raises(ParameterError, match="record has 2 samples for a batch of 4"):
        MixUp().apply(x, MixUp().sample(np.random.default_rng(0), 2, (32, 32)))
    with pytest.raises(ParameterError, match="unknown batch transform"):
        batch_transform_from_dict({"MixIn": {}})
    with pytest.raises(ParameterError, match="unknown parameter"):
        batch_transform_from_dict({"MixUp": {"beta": 1}})


# --------------------------------------------------------------------------------------- torch path
def _loader_batches(collate, ds, workers: int) -> list[dict]:
    import torch

    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=collate)
    return list(loader)


def test_mix_collate_in_a_dataloader_with_two_workers() -> None:
    torch = pytest.importorskip("torch")
    import geoaug.torch as gt

    pipe = geoaug.Compose([geoaug.RandomCrop(32, 32), geoaug.HorizontalFlip()])
    ds = gt.GeoTiffDataset([S2] * 6, pipeline=pipe, labels=[0, 1, 2, 0, 1, 2], seed=1)
    collate = gt.MixCollate(geoaug.CutMix(), num_classes=3, seed=4, record=True)
    two = _loader_batches(collate, ds, 2)
    zero = _loader_batches(collate, ds, 0)
    assert len(two) == 2
    for a, b in zip(two, zero):  # the draw depends on the samples, not on the worker
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
        assert a["mix"] == b["mix"]
        assert a["image"].shape == (3, 12, 32, 32) and a["label"].shape == (3, 3)
        assert torch.allclose(a["label"].sum(1), torch.ones(3))
        assert torch.equal(a["valid"], a["mask"])
        assert not a["image"].permute(1, 0, 2, 3)[:, ~a["valid"]].any()  # invalid pixels stay 0 (the fill)
    collate.set_epoch(1)
    assert not torch.equal(_loader_batches(collate, ds, 0)[0]["image"], zero[0]["image"])


def test_mix_collate_torchgeo_samples_paste_label_rasters() -> None:
    torch = pytest.importorskip("torch")
    import geoaug.torch as gt

    labels = TILES.parent / "labels" / "sentinel2_l2a_12band_int16.tif"
    ds = gt.GeoTiffDataset([S2] * 4, pipeline=geoaug.RandomCrop(40, 40), labels=[labels] * 4,
                           sample_format="torchgeo", seed=2)
    collate = gt.MixCollate(geoaug.Mosaic(), record=True)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate)))
    plain = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["mask"].dtype == torch.int64 and batch["mask"].shape == (4, 40, 40)
    for i, rec in enumerate(batch["mix"]["samples"]):
        for q in rec["quadrants"]:
            r0, r1, c0, c1 = q["window"]
            oy, ox = q["offset"]
            src = plain["mask"][q["source"], oy:oy + r1 - r0, ox:ox + c1 - c0]
            assert torch.equal(batch["mask"][i, r0:r1, c0:c1], src)
            assert len(q["transform"]) == 6  # each quadrant's geotransform, from the samples' "transform"


def test_mix_collate_tuples_and_bad_transform() -> None:
    torch = pytest.importorskip("torch")
    import geoaug.torch as gt

    samples = [(torch.full((3, 8, 8), float(i)), i) for i in range(4)]
    images, labels = gt.MixCollate(geoaug.MixUp(), num_classes=4)(samples)
    assert images.shape == (4, 3, 8, 8) and labels.shape == (4, 4)
    assert torch.allclose(images[:, 0, 0, 0], labels @ torch.arange(4.0))  # image value = mixed class index
    with pytest.raises(ParameterError, match="batch transform"):
        gt.MixCollate(geoaug.HorizontalFlip())


# ---------------------------------------------------------------------------------------- Keras path
def test_keras_generator_mixes_each_batch() -> None:
    keras = pytest.importorskip("keras")
    import geoaug.keras as gk

    x, _, _ = batch("float32", 4)
    x = np.concatenate([x, x[::-1]]).transpose(0, 2, 3, 1)  # channels_last, 8 samples of 12 bands
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    gen = gk.ImageDataGenerator(horizontal_flip=True, batch_transform=geoaug.CutMix())
    it = gen.flow(x, y, batch_size=4, seed=3)
    bx, by = it[0]
    assert bx.shape == (4, 32, 32, 12) and by.shape == (4, 3) and by.dtype == np.float32
    np.testing.assert_allclose(by.sum(1), 1.0, atol=1e-6)
    bx2, by2 = it[0]
    assert np.array_equal(bx, bx2) and np.array_equal(by, by2)  # seed, epoch and batch number decide
    plain_x, _ = gk.ImageDataGenerator(horizontal_flip=True).flow(x, y, batch_size=4, seed=3)[0]
    assert not np.array_equal(bx, plain_x)
    # the real Keras training loop takes the mixed batches (soft labels, categorical cross-entropy)
    model = keras.Sequential([keras.Input((32, 32, 12)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    hist = model.fit(gen.flow(x / 10000.0, y, batch_size=4, seed=3), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    with pytest.raises(ParameterError, match="batch_transform"):
        gk.ImageDataGenerator(batch_transform=geoaug.Brightness())


def test_keras_directory_iterators_sparse_and_input_targets(tmp_path) -> None:
    pytest.importorskip("keras")
    import shutil

    import geoaug.keras as gk

    for cls, tile in (("crops", S2), ("forest", TILES / "bigearthnet_s2_12band_uint16.tif")):
        (tmp_path / cls).mkdir()
        for k in range(3):
            shutil.copyfile(tile, tmp_path / cls / f"{cls}_{k}.tif")
    gen = gk.ImageDataGenerator(rescale=1 / 10000, batch_transform=geoaug.MixUp(alpha=1.0))
    it = gen.flow_from_directory(tmp_path, target_size=(24, 24), batch_size=6, class_mode="sparse", seed=0)
    x, y = it[0]
    assert x.shape == (6, 24, 24, 12) and y.shape == (6, 2)  # class ids one-hot encoded, then mixed
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
    assert (y.max(1) >= 0.5 - 1e-6).all()  # keep_dominant: each sample stays mostly itself
    it = gen.flow_from_directory(tmp_path, target_size=(24, 24), batch_size=6, class_mode="input", seed=0)
    x, y = it[0]
    assert np.array_equal(x, y)  # an autoencoder's target is the mixed input
    first = gk.ImageDataGenerator(rescale=1 / 10000, data_format="channels_first",
                                  batch_transform=geoaug.Mosaic()).flow_from_directory(
        tmp_path, target_size=(24, 24), batch_size=6, class_mode="categorical", seed=0)
    x, y = first[0]
    assert x.shape == (6, 12, 24, 24) and y.shape == (6, 2)
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(MAKERS)), dtype=st.sampled_from(DTYPES), n=st.integers(1, 5),
       bands=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_invariants_on_random_batches(name: str, dtype: str, n: int, bands: int, h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 120, (n, bands, h, w)).astype(dtype)
    valid = rng.random((n, h, w)) > 0.3
    masks = rng.integers(0, 5, (n, h, w))
    res = MAKERS[name]()(x, labels=rng.integers(0, 3, n), masks=masks, valid=valid, num_classes=3, rng=seed)
    assert res.images.dtype == x.dtype and res.images.shape == x.shape
    np.testing.assert_allclose(res.labels.sum(axis=1), 1.0, atol=1e-6)
    assert (res.labels >= -1e-9).all()
    assert np.isin(res.masks, masks).all()  # pasted or kept, never invented
    assert res.valid.dtype == bool and res.valid.shape == valid.shape
    for i, rec in enumerate(res.params["samples"]):  # validity comes with the pixels it describes
        if not rec["applied"]:
            assert np.array_equal(res.valid[i], valid[i])
        elif name == "MixUp":
            assert np.array_equal(res.valid[i], valid[i] & valid[rec["partner"]])
        else:
            t = MAKERS[name]()
            for src, (r0, r1, c0, c1), (sr, sc) in t.pieces(i, rec, (h, w)):
                assert np.array_equal(res.valid[i, r0:r1, c0:c1], valid[src, sr:sr + r1 - r0, sc:sc + c1 - c0])
                assert np.array_equal(res.masks[i, r0:r1, c0:c1], masks[src, sr:sr + r1 - r0, sc:sc + c1 - c0])
    lo, hi = x.min(initial=0), x.max(initial=0)
    assert (res.images >= lo).all() and (res.images <= hi).all()  # mixing stays within the inputs' range


def test_mixup_stays_within_each_pair_despite_float32_rounding() -> None:
    # found by test_invariants_on_random_batches: 115 * lam + 115 * (1 - lam) is 115.00001 in float32
    x = np.full((1, 1, 2, 4), 115.0, dtype=np.float32)
    x[0, 0, 0] = [60.0, 9.0, 41.0, 71.0]
    res = MixUp().apply(x, {"samples": [{"applied": True, "partner": 0, "lam": 0.8167920621351484}]})
    np.testing.assert_array_equal(res.images, x)  # mixing a sample with itself gives it back
