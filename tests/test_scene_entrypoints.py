"""Scenes to chips through the public entry points: `geoaug chip`, geoaug.torch, the Keras generator, xarray."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

from pathlib import Path

import numpy as np
import pytest
from _scenes import clear_scene
from click.testing import CliRunner

import geoaug
from geoaug.cli import main

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clear_scene(tmp_path_factory.mktemp("scene"))


def test_chip_is_a_geoaug_command(scene: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["chip", str(scene), str(tmp_path / "out"), "--size", "32", "--count", "3",
                                    "--seed", "0"])
    assert res.exit_code == 0, res.output
    chips = sorted((tmp_path / "out").rglob("*.tif"))
    assert len(chips) == 3 and (tmp_path / "out" / "manifest.jsonl").exists()


def test_scene_dataset_from_geoaug_torch(scene: Path) -> None:
    import geoaug.torch as gt
    from geoaug.loaders.scenes_torch import SceneDataset

    assert gt.SceneDataset is SceneDataset
    ds = gt.SceneDataset([scene], size=32, length=4, seed=1)
    a, b = ds[0], ds[0]
    assert a["image"].shape[-2:] == (32, 32) and torch.equal(a["image"], b["image"])


def test_flow_from_scenes_on_the_generator(scene: Path) -> None:
    from geoaug.keras import ImageDataGenerator

    it = ImageDataGenerator(horizontal_flip=True).flow_from_scenes([scene], size=32, length=4, batch_size=2,
                                                                   seed=0)
    x = it[0]
    x = x[0] if isinstance(x, tuple) else x
    assert x.shape[0] == 2 and 32 in x.shape[1:3]


def test_dataarray_sample_accessor(scene: Path) -> None:
    rioxarray = pytest.importorskip("rioxarray")
    from geoaug.loaders.scenes_xarray import sample

    da = rioxarray.open_rasterio(scene)
    got = [c.values for c in da.geoaug.sample(32, count=3, seed=2)]
    want = [c.values for c in sample(da, 32, 3, seed=2)]
    assert len(got) == 3 and all(np.array_equal(g, w) for g, w in zip(got, want))
    assert geoaug.sample is not None


def test_nodata_override_for_scenes(tmp_path: Path) -> None:
    """An untagged zero collar: without --nodata its zeros are data; with it they are invalid (sample and chip)."""
    from conftest import UNTAGGED

    plain = next(geoaug.sample(UNTAGGED, 200, stride=200))
    over = next(geoaug.sample(UNTAGGED, 200, stride=200, nodata=0))
    zeros = plain.image.data[0] == 0
    assert zeros.any() and plain.image.pixel_mask.all()
    assert not over.image.pixel_mask[zeros].any() and over.image.pixel_mask[~zeros].all()
    res = CliRunner().invoke(main, ["chip", str(UNTAGGED), str(tmp_path / "o"), "--size", "200", "--stride", "200",
                                    "--nodata", "0"])
    assert res.exit_code == 0, res.output
    out = geoaug.read(next((tmp_path / "o").rglob("*.tif")))
    assert np.array_equal(out.pixel_mask, over.image.pixel_mask)
