"""The PyTorch way in: epochs in persistent workers, per-worker default draws, tensors, batches, dict samples.

Real DataLoaders (fork, spawn, forkserver), real GeoTIFFs from fixtures/.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from conftest import BY_DTYPE, FIXTURES, TILES
from rasterio.coords import BoundingBox as RioBounds

import geoaug
from geoaug.errors import ParameterError, UnsupportedDtypeError
from geoaug.transforms.base import check_layout, looks_hwc

torch = pytest.importorskip("torch")
import geoaug.torch as gt  # noqa: E402

S2 = TILES / "sentinel2_l2a_12band_int16.tif"          # (12, 100, 100) int16
BEN = TILES / "bigearthnet_s2_12band_uint16.tif"       # (12, 120, 120) uint16
S2_LABELS = FIXTURES / "labels" / "sentinel2_l2a_12band_int16.tif"

PIPE = geoaug.Compose([geoaug.RandomCrop(40, 40), geoaug.HorizontalFlip(), geoaug.Rot90(),
                       geoaug.Affine(rotate=(-20, 20)), geoaug.GaussianNoise(0.001)])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Four 12-band tiles (two Sentinel-2 int16, two BigEarthNet uint16)."""
    d = tmp_path / "tiles"
    d.mkdir()
    for k in range(2):
        shutil.copyfile(S2, d / f"a{k}.tif")
        shutil.copyfile(BEN, d / f"b{k}.tif")
    return d


def _epochs(ds: gt.GeoTiffDataset, loader: torch.utils.data.DataLoader, n: int) -> list[list[torch.Tensor]]:
    out = []
    for epoch in range(n):
        ds.set_epoch(epoch)
        out.append([b["image"] for b in loader])
    return out


# ------------------------------------------------------------------------ epochs reach (persistent) workers
@pytest.mark.filterwarnings("ignore:This DataLoader will create 4 worker processes")
@pytest.mark.parametrize("context,workers,persistent", [
    ("fork", 2, True), ("fork", 4, True), ("fork", 2, False), ("spawn", 2, True), ("forkserver", 2, True)])
def test_epochs_advance_in_workers_and_are_reproducible(folder: Path, context: str, workers: int,
                                                        persistent: bool) -> None:
    ds = gt.GeoTiffDataset(folder, PIPE, seed=3)
    ref = _epochs(ds, torch.utils.data.DataLoader(ds, batch_size=2), 3)  # in this process
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers, persistent_workers=persistent,
                                         multiprocessing_context=context,
                                         worker_init_fn=None if persistent else gt.worker_init_fn)
    got = _epochs(ds, loader, 3)
    for e in range(3):
        assert len(got[e]) == 2
        for a, b in zip(got[e], ref[e]):
            assert a.shape == (2, 12, 40, 40)
            assert torch.equal(a, b), f"epoch {e} differs from the in-process draws"
    assert not torch.equal(got[0][0], got[1][0]) and not torch.equal(got[1][0], got[2][0])


def test_set_epoch_is_shared_memory(folder: Path) -> None:
    ds = gt.GeoTiffDataset(folder, seed=0)
    assert ds.epoch == 0 and ds._epoch.is_shared()
    ds.set_epoch(5)
    assert ds.epoch == 5 and int(ds._epoch) == 5
    assert torch.equal(ds[0]["image"], gt.GeoTiffDataset(folder, seed=0)[0]["image"])  # no pipeline: no draws


# ------------------------------------------------------------------------ pipelines without rng in workers
NO_RNG = geoaug.Compose([geoaug.GaussianNoise(1.0)], seed=11)


class NoiseDataset(torch.utils.data.Dataset):
    """A user's own Dataset that calls its pipeline without ``rng`` (pickled into spawned workers)."""

    def __init__(self, pipe: geoaug.Compose = NO_RNG) -> None:
        self.pipe = pipe

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        import numba

        out = self.pipe(np.zeros((2, 4, 4), np.float32))
        return {"x": torch.from_numpy(out), "threads": numba.get_num_threads(),
                "worker": torch.utils.data.get_worker_info().id}


def _noise_run(seed: int = 0, context: str = "fork") -> list[dict]:
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(NoiseDataset(), batch_size=None, num_workers=2,
                                         multiprocessing_context=context)
    return list(loader)


def _check_independent(samples: list[dict]) -> None:
    assert {s["worker"] for s in samples} == {0, 1}
    xs = [s["x"] for s in samples]
    for i in range(len(xs)):
        for j in range(i):
            assert not torch.equal(xs[i], xs[j]), f"samples {i} and {j} got the same draw"
    assert all(s["threads"] == 1 for s in samples)  # numba single-threaded inside workers


def test_pipeline_without_rng_draws_independently_per_worker_and_reproducibly() -> None:
    NO_RNG(np.zeros((2, 4, 4), np.float32))  # the parent's generator exists before the fork
    a = _noise_run()
    _check_independent(a)
    b = _noise_run()
    assert all(torch.equal(x["x"], y["x"]) for x, y in zip(a, b))  # torch.manual_seed -> same draws
    c = _noise_run(seed=1)
    assert not torch.equal(a[0]["x"], c[0]["x"])


def test_pipeline_without_rng_in_spawned_workers() -> None:
    NO_RNG(np.zeros((2, 4, 4), np.float32))  # a generator with state: pickled, it must not be replayed
    s = _noise_run(context="spawn")
    _check_independent(s)
    # the worker seeds come from torch's generator, whatever the start method: the same draws as fork
    assert all(torch.equal(x["x"], y["x"]) for x, y in zip(s, _noise_run(context="fork")))


def _noise_in_child(_: int) -> tuple[int, np.ndarray]:
    import os

    return os.getpid(), NO_RNG(np.zeros((2, 4, 4), np.float32))


def test_forked_child_does_not_replay_the_parents_stream() -> None:
    NO_RNG(np.zeros((2, 4, 4), np.float32))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(_noise_in_child, range(4), chunksize=1)
    parent_next = NO_RNG(np.zeros((2, 4, 4), np.float32))
    for _, x in children:
        assert not np.array_equal(x, parent_next)
    firsts: dict[int, np.ndarray] = {}
    for pid, x in children:
        firsts.setdefault(pid, x)
    if len(firsts) == 2:
        a, b = firsts.values()
        assert not np.array_equal(a, b)


def test_default_generator_rule() -> None:
    from geoaug import seeding

    assert seeding.process_key() == ()
    main = seeding.default_generator(4, ()).random(3)
    assert np.array_equal(main, np.random.default_rng(np.random.SeedSequence(4)).random(3))
    w1, w2 = (seeding.default_generator(4, ("worker", s)).random(3) for s in (123, 124))
    assert not np.array_equal(w1, w2) and not np.array_equal(w1, main)
    assert np.array_equal(w1, seeding.default_generator(4, ("worker", 123)).random(3))
    assert not np.array_equal(seeding.default_generator(4, ("pid", 9)).random(3), main)


# ------------------------------------------------------------------------ tensors in, tensors out
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32"])
def test_tensor_in_tensor_out_same_as_numpy(dtype: str) -> None:
    arr = geoaug.read(BY_DTYPE[dtype]).data
    pipe = geoaug.Compose([geoaug.Affine(rotate=(-30, 30)), geoaug.HorizontalFlip(), geoaug.Brightness(0.01)])
    x = torch.from_numpy(arr.copy())
    out = pipe(x, rng=1)
    assert isinstance(out, torch.Tensor) and out.dtype == x.dtype and out.device.type == "cpu"
    np.testing.assert_array_equal(out.numpy(), pipe(arr, rng=1))
    res = pipe(x[0], rng=1, labels=x[0], return_params=True)  # (H, W) tensor, labels tensor
    assert res.image.shape == x.shape[1:] and isinstance(res.labels, torch.Tensor)


def test_tensor_view_is_not_copied_and_gradients_detached() -> None:
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6)
    out = geoaug.HorizontalFlip(p=0.0)(x, rng=0)          # not applied: the same pixels, no copy
    assert out.data_ptr() == x.data_ptr()
    flipped = geoaug.HorizontalFlip(p=1.0)(x.requires_grad_(), rng=0)
    assert torch.equal(flipped, torch.flip(x.detach(), dims=[2])) and not flipped.requires_grad


def test_bad_tensors_are_refused() -> None:
    with pytest.raises(ParameterError, match="CPU tensors"):
        geoaug.HorizontalFlip()(torch.zeros((2, 4, 4), device="meta"), rng=0)
    with pytest.raises(UnsupportedDtypeError):
        geoaug.HorizontalFlip()(torch.zeros((2, 4, 4), dtype=torch.bfloat16), rng=0)
    with pytest.raises(UnsupportedDtypeError):
        geoaug.HorizontalFlip()(torch.zeros((2, 4, 4), dtype=torch.float16), rng=0)


# ------------------------------------------------------------------------ (B, C, H, W) batches
def _batch() -> np.ndarray:
    return np.stack([geoaug.read(S2).data, geoaug.read(S2).data[::-1].copy(), geoaug.read(S2).data[:, ::-1].copy()])


@pytest.mark.parametrize("as_tensor", [False, True])
def test_batch_one_draw_per_sample(as_tensor: bool) -> None:
    b = _batch()
    x = torch.from_numpy(b) if as_tensor else b
    labels = np.asarray(geoaug.read(S2_LABELS).data[0], np.int64)[None].repeat(3, 0)
    y = torch.from_numpy(labels) if as_tensor else labels
    res = PIPE(x, rng=5, labels=y, return_params=True)
    assert type(res.image) is type(x) and tuple(res.image.shape) == (3, 12, 40, 40)
    assert tuple(res.labels.shape) == (3, 40, 40) and res.labels.dtype == y.dtype
    assert isinstance(res.params, list) and len(res.params) == 3
    gen = np.random.default_rng(5)  # the same as one call per sample from one generator
    for i in range(3):
        one = PIPE(b[i], rng=gen, labels=labels[i], return_params=True)
        np.testing.assert_array_equal(np.asarray(res.image[i]), one.image)
        np.testing.assert_array_equal(np.asarray(res.labels[i]), one.labels)
        assert res.params[i] == one.params
    assert res.params[0] != res.params[1]


def test_batch_shared_draw() -> None:
    b = _batch()
    res = PIPE(b, rng=2, batch_draw="shared", return_params=True)
    assert isinstance(res.params, dict)
    for i in range(3):
        np.testing.assert_array_equal(res.image[i], PIPE.replay(b[i], res.params))
    with pytest.raises(ParameterError, match="batch_draw"):
        PIPE(b, rng=2, batch_draw="each")


def test_batch_of_different_output_shapes_is_refused() -> None:
    pipe = geoaug.Compose([geoaug.Rot90()])
    x = np.zeros((4, 1, 8, 6), np.uint8)
    with pytest.raises(ParameterError, match="different shapes"):
        for seed in range(20):  # some seed turns one sample and not another
            pipe(x, rng=seed)
    assert pipe(x, rng=0, batch_draw="shared").shape[0] == 4


# ------------------------------------------------------------------------ dict samples (torchgeo style)
@dataclasses.dataclass(frozen=True)
class TGBounds:
    """torchgeo's BoundingBox fields (minx, maxx, miny, maxy, mint, maxt)."""

    minx: float
    maxx: float
    miny: float
    maxy: float
    mint: float = 0.0
    maxt: float = 1.0


def _centre(t: Affine, row: int, col: int) -> tuple[float, float]:
    return t @ (col + 0.5, row + 0.5)


def test_dict_sample_moves_image_mask_transform_and_bounds() -> None:
    r = geoaug.read(S2)
    lab = geoaug.read(S2_LABELS).data[0].astype(np.int64)
    left, bottom, right, top = r.bounds
    sample = {"image": torch.from_numpy(r.data.copy()), "mask": torch.from_numpy(lab), "crs": r.crs,
              "bounds": TGBounds(left, right, bottom, top, 3.0, 4.0), "transform": r.transform, "id": "x7"}
    pipe = geoaug.Compose([geoaug.Rot90(), geoaug.Affine(rotate=(-30, 30), interpolation="nearest")])
    out = pipe(sample, rng=4)
    ref = pipe(r, rng=4, labels=geoaug.read(S2_LABELS), return_params=True)
    assert out["id"] == "x7" and out["crs"] == r.crs and sample["transform"] == r.transform  # input untouched
    assert isinstance(out["image"], torch.Tensor) and out["mask"].dtype == torch.int64
    inside = ref.image.pixel_mask  # the file has a nodata collar; the plain tensor fills 0 outside the footprint
    np.testing.assert_array_equal(out["image"].numpy()[:, inside], ref.image.data[:, inside])
    lab_inside = ref.labels.pixel_mask
    np.testing.assert_array_equal(out["mask"].numpy()[lab_inside], ref.labels.data[0][lab_inside])
    assert out["transform"] == ref.image.transform != r.transform
    l2, b2, r2, t2 = ref.image.bounds
    assert out["bounds"] == TGBounds(l2, r2, b2, t2, 3.0, 4.0)
    # a pixel's map coordinate: the output pixel shows the input pixel that lies at the same place
    out_img, valid = ref.image.data, ref.image.pixel_mask
    rows, cols = np.nonzero(valid)
    for row, col in list(zip(rows, cols))[:: max(1, len(rows) // 50)]:
        x, y = _centre(out["transform"], row, col)
        c_in, r_in = ~r.transform @ (x, y)
        np.testing.assert_array_equal(out_img[:, row, col], r.data[:, int(r_in), int(c_in)])


def test_dict_sample_with_bounds_only_and_tensor_transform() -> None:
    r = geoaug.read(BEN)
    rb = RioBounds(*r.bounds)
    out = geoaug.VerticalFlip(p=1)({"image": r.data, "bounds": rb}, rng=0)
    assert out["bounds"] == rb and isinstance(out["bounds"], RioBounds)  # a flip keeps the footprint
    np.testing.assert_array_equal(out["image"], r.data[:, ::-1])
    t = torch.tensor(tuple(r.transform)[:6], dtype=torch.float64)
    out = geoaug.CenterCrop(60, 60)({"image": r.data, "transform": t}, rng=0)
    assert isinstance(out["transform"], torch.Tensor) and out["transform"].shape == (6,)
    assert Affine(*out["transform"].tolist()) == r.transform @ Affine.translation(30, 30)


def test_bad_dict_samples_are_refused() -> None:
    r = geoaug.read(BEN)
    with pytest.raises(ParameterError, match="\"image\" key"):
        PIPE({"pixels": r.data}, rng=0)
    with pytest.raises(ParameterError, match="ambiguous"):
        PIPE({"image": r.data, "bounds": r.bounds}, rng=0)
    with pytest.raises(ParameterError, match="6 \\(or 9\\) coefficients"):
        PIPE({"image": r.data, "transform": [1, 2, 3]}, rng=0)
    with pytest.raises(ParameterError, match="dict sample"):
        PIPE.apply({"image": r.data}, {"steps": []})
    with pytest.raises(ParameterError, match="own target"):
        PIPE({"image": r.data}, rng=0, labels=r.data[0])


# ------------------------------------------------------------------------ keyword style
def test_keyword_style_image_mask() -> None:
    img = geoaug.read(S2).data
    lab = geoaug.read(S2_LABELS).data[0]
    out = PIPE(image=img, mask=lab, rng=9)
    ref = PIPE(img, rng=9, labels=lab)
    assert set(out) == {"image", "mask"}
    np.testing.assert_array_equal(out["image"], ref.image)
    np.testing.assert_array_equal(out["mask"], ref.labels)
    with_params = PIPE(image=img, mask=lab, rng=9, return_params=True)
    assert with_params["params"]["steps"][0]["applied"]
    with pytest.raises(ParameterError, match="no image"):
        PIPE(mask=lab, rng=0)
    with pytest.raises(ParameterError, match="give one"):
        PIPE(img, rng=0, labels=lab, mask=lab)


# ------------------------------------------------------------------------ layouts
def test_hwc_is_refused_unless_named() -> None:
    rgb = geoaug.read(BY_DTYPE["uint8"]).data            # (3, 256, 256)
    hwc = np.ascontiguousarray(rgb.transpose(1, 2, 0))
    pipe = geoaug.Compose([geoaug.Affine(rotate=(-20, 20)), geoaug.RandomCrop(64, 64)])
    with pytest.raises(ParameterError, match="layout=\"hwc\""):
        pipe(hwc, rng=0)
    with pytest.raises(ParameterError, match="layout=\"hwc\""):
        pipe(torch.from_numpy(hwc), rng=0)
    out = pipe(hwc, rng=0, layout="hwc")
    assert out.shape == (64, 64, 3)
    np.testing.assert_array_equal(out, pipe(rgb, rng=0).transpose(1, 2, 0))
    tout = pipe(torch.from_numpy(hwc), rng=0, layout="hwc")
    assert isinstance(tout, torch.Tensor) and torch.equal(tout, torch.from_numpy(out))
    batch = pipe(np.stack([hwc, hwc]), rng=0, layout="hwc")         # (B, H, W, C)
    assert batch.shape == (2, 64, 64, 3)
    kw = pipe(image=hwc, mask=hwc[..., :1], rng=0, layout="hwc")     # (H, W, 1) target
    assert kw["mask"].shape == (64, 64, 1)
    forced = geoaug.HorizontalFlip(p=1)(hwc, rng=0, layout="chw")     # 256 "bands" of 256 x 3, as told
    np.testing.assert_array_equal(forced, hwc[:, :, ::-1])
    with pytest.raises(ParameterError, match="layout must be"):
        pipe(rgb, rng=0, layout="HWC")


def test_legitimate_band_first_arrays_are_not_refused() -> None:
    for shape in [(13, 64, 64), (1, 5, 5), (200, 256, 256), (3, 2, 3), (2, 3, 4), (4, 8, 8), (12, 100, 100),
                  (7, 256, 256), (40, 24, 24), (3, 32, 32)]:
        assert check_layout(shape) == "chw", shape
    assert geoaug.HorizontalFlip(p=1)(np.zeros((200, 256, 256), np.uint8), rng=0).shape == (200, 256, 256)
    for shape in [(64, 64, 3), (256, 256, 4), (8, 8, 1), (64, 64, 13), (16, 16, 13), (120, 120, 12)]:
        assert looks_hwc(shape), shape


# ------------------------------------------------------------------------ GeoTiffDataset sample formats
def test_dataset_valid_key_and_torchgeo_format(tmp_path: Path) -> None:
    images, labels = tmp_path / "img", tmp_path / "lab"
    images.mkdir()
    labels.mkdir()
    shutil.copyfile(S2, images / "t.tif")
    shutil.copyfile(S2_LABELS, labels / "t.tif")
    plain = gt.GeoTiffDataset(images, PIPE, labels=labels, seed=1)[0]
    assert set(plain) == {"image", "valid", "mask", "label", "index"} and torch.equal(plain["valid"], plain["mask"])
    ds = gt.GeoTiffDataset(images, PIPE, labels=labels, seed=1, sample_format="torchgeo")
    s = ds[0]
    assert set(s) == {"image", "valid", "mask", "index", "crs", "transform", "bounds"}
    assert torch.equal(s["mask"], plain["label"]) and torch.equal(s["valid"], plain["valid"])
    assert torch.equal(s["image"], plain["image"]) and s["crs"] == "EPSG:32601"
    res = PIPE(geoaug.read(S2), ds.rng(0), return_params=True)
    assert Affine(*s["transform"].tolist()) == res.image.transform
    left, bottom, right, top = res.image.bounds
    assert s["bounds"].tolist() == [left, right, bottom, top]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=1)))  # the default collate takes it
    assert batch["transform"].shape == (1, 6) and batch["crs"] == ["EPSG:32601"]
    with pytest.raises(ParameterError, match="sample_format"):
        gt.GeoTiffDataset(images, sample_format="tg")


# ------------------------------------------------------------------------ the docs' PyTorch section runs
def test_training_doc_pytorch_section_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import re

    from conftest import ROOT

    text = (ROOT / "docs/training.md").read_text()
    section = text[text.index("## PyTorch"):text.index("## Keras")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 5
    for name in ("fixtures", "docs"):
        os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    try:
        for block in blocks:
            exec(compile(block, "docs/training.md", "exec"), ns)
        assert tuple(ns["per"].shape) == (4, 12, 64, 64) and ns["per"].dtype == torch.int16
        assert ns["out"]["transform"] != ns["r"].transform and ns["d"]["mask"].shape == (64, 64)
        assert sorted(ns["s"]) == ["bounds", "crs", "image", "index", "mask", "transform", "valid"]
    finally:
        # the blocks' functions hold the namespace (their globals): a cycle that only the garbage collector
        # frees, and torch's persistent workers, shut down from there, waited out a 5 s join each
        ns.clear()
