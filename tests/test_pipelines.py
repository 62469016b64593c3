"""Pipelines: serialisation round trips for every transform, replay, fusion, probabilities, seeds."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import FIXTURES, ROOT, TILES

import geoaug
from geoaug import GeoRaster
from geoaug.transforms import REGISTRY
from geoaug.transforms import compose as compose_mod
from geoaug.transforms.examples import EXAMPLE_ARGS, example

IMAGE = TILES / "sentinel2_l2a_12band_int16.tif"
LABEL = FIXTURES / "labels" / "sentinel2_l2a_12band_int16.tif"

# one configured instance per registered transform, from the one table (geoaug.transforms.examples)
EXAMPLES = {name: (lambda name=name: example(name, 12)) for name in EXAMPLE_ARGS}


def digest(r: GeoRaster) -> str:
    h = hashlib.sha256(r.data.tobytes())
    h.update(np.ascontiguousarray(r.mask).tobytes())
    h.update(repr(tuple(r.transform)).encode())
    return h.hexdigest()


def test_examples_cover_the_registry() -> None:
    assert set(EXAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip_dict_yaml_json_gives_identical_outputs(name: str, tmp_path: Path) -> None:
    r = geoaug.read(IMAGE)
    pipe = geoaug.Compose([EXAMPLES[name]()])
    d = pipe.to_dict()
    assert d["version"] == 1
    from_dict = geoaug.Compose.from_dict(json.loads(json.dumps(d)))
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(d))
    (tmp_path / "p.json").write_text(json.dumps(d))
    from_yaml = geoaug.load_pipeline(tmp_path / "p.yaml")
    from_json = geoaug.load_pipeline(tmp_path / "p.json")
    assert from_yaml.to_dict() == d == from_json.to_dict()
    for seed in (0, 1, 2):
        want = digest(pipe(r, rng=seed))
        for other in (from_dict, from_yaml, from_json):
            assert digest(other(r, rng=seed)) == want


def test_replay_is_byte_identical_also_on_a_label_grid() -> None:
    r, lab = geoaug.read(IMAGE), geoaug.read(LABEL)
    pipe = geoaug.load_pipeline(ROOT / "docs" / "examples" / "sentinel2_13band.yaml")
    for seed in range(5):
        res = pipe(r, rng=seed, labels=lab, return_record=True)
        record = json.loads(json.dumps(res.params))  # plain data
        assert digest(pipe.replay(r, record)) == digest(res.image)
        assert digest(pipe.replay_label(lab, record)) == digest(res.labels)
        # another raster of the same grid gets the same geometry
        other = r.replace(data=(r.data // 2).astype(r.dtype))
        again = pipe.replay(other, record)
        assert again.transform == res.image.transform
        np.testing.assert_array_equal(again.mask, res.image.mask)


def _sequential(pipe: geoaug.Compose, r: GeoRaster, record: dict) -> GeoRaster:
    for t, p in compose_mod.flatten(pipe, record):
        r = t.apply(r, p)
    return r


def test_fused_equals_unfused_for_exact_steps() -> None:
    r = geoaug.read(TILES / "landsat8_sr_7band_uint16_collar.tif")
    pipe = geoaug.Compose([
        geoaug.HorizontalFlip(p=0.5), geoaug.Rot90(p=0.7), geoaug.RandomCrop(200, 180), geoaug.Transpose(p=0.5),
        geoaug.VerticalFlip(p=0.5), geoaug.CenterCrop(150, 100), geoaug.Rot90(k=(1, 3), p=1),
    ])
    for seed in range(10):
        res = pipe(r, rng=seed, return_record=True)
        seq = _sequential(pipe, r, res.params)
        np.testing.assert_array_equal(res.image.data, seq.data)
        np.testing.assert_array_equal(res.image.mask, seq.mask)
        assert res.image.transform.almost_equals(seq.transform, precision=1e-6)


def test_consecutive_geometric_steps_resample_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = compose_mod.warp
    monkeypatch.setattr(compose_mod, "warp", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = geoaug.read(IMAGE)
    pipe = geoaug.Compose([geoaug.HorizontalFlip(p=1), geoaug.Affine(rotate=20), geoaug.Rot90(k=1, p=1),
                           geoaug.RandomCrop(60, 60), geoaug.Brightness(0.01), geoaug.Affine(scale=1.1),
                           geoaug.Affine(rotate=5, interpolation="nearest")])
    res = pipe(r, rng=0, return_record=True)
    assert len(calls) == 3  # [flip, rotate, rot90, crop] | brightness | [scale] [nearest rotate]
    # the fused warp equals warping once with the product matrix
    m, shape = np.eye(3), (r.height, r.width)
    for t, p in compose_mod.flatten(pipe, res.params)[:4]:
        mi, shape = t.matrix(p, shape)
        m = m @ mi
    once = geoaug.warp(r, m, shape, "bilinear")
    first4 = compose_mod.run(compose_mod.flatten(pipe, res.params)[:4], r, label=False)
    np.testing.assert_array_equal(first4.data, once.data)


def test_p_and_weights_are_respected() -> None:
    r = geoaug.GeoRaster.from_array(np.zeros((2, 8, 8), np.uint16))
    n = 4000
    pipe = geoaug.Compose([geoaug.HorizontalFlip(p=0.3), geoaug.OneOf([geoaug.Gamma(1.0), geoaug.Gamma(2.0)],
                                                                       weights=[1, 3])], seed=11)
    rng = np.random.default_rng(11)
    records = [pipe.sample(rng, r) for _ in range(n)]
    flips = sum(rec["steps"][0]["applied"] for rec in records)
    choice1 = sum(rec["steps"][1]["choice"] == 1 for rec in records)
    for count, prob in ((flips, 0.3), (choice1, 0.75)):
        sigma = (n * prob * (1 - prob)) ** 0.5
        assert abs(count - n * prob) < 4 * sigma, (count, prob)
    some = geoaug.SomeOf([geoaug.Gamma(1.0)] * 4, n=(1, 3))
    ks = [len(some.sample(rng, r)["chosen"]) for _ in range(600)]
    assert set(ks) == {1, 2, 3}


def test_own_seed_gives_a_reproducible_stream() -> None:
    r = geoaug.read(IMAGE)
    a = geoaug.load_pipeline(ROOT / "docs" / "examples" / "sentinel2_13band.yaml")
    b = geoaug.load_pipeline(ROOT / "docs" / "examples" / "sentinel2_13band.yaml")
    first = [digest(a(r)) for _ in range(3)]
    assert first == [digest(b(r)) for _ in range(3)]
    assert len(set(first)) > 1  # successive calls take successive draws


CHILD = """
import hashlib, sys, numpy as np, geoaug
r = geoaug.read(sys.argv[1])
pipe = geoaug.load_pipeline(sys.argv[2])
out = pipe(r, rng=np.random.default_rng(12345))
print(hashlib.sha256(out.data.tobytes() + np.ascontiguousarray(out.mask).tobytes()).hexdigest())
"""


def test_same_seed_same_output_in_another_process() -> None:
    policy = ROOT / "docs" / "examples" / "landsat8_sr.yaml"
    tile = TILES / "landsat8_sr_7band_uint16_collar.tif"
    child = subprocess.run([sys.executable, "-c", CHILD, str(tile), str(policy)], capture_output=True, text=True,
                           check=True).stdout.strip()
    out = geoaug.load_pipeline(policy)(geoaug.read(tile), rng=np.random.default_rng(12345))
    assert child == hashlib.sha256(out.data.tobytes() + np.ascontiguousarray(out.mask).tobytes()).hexdigest()


@pytest.mark.parametrize("text,match", [
    ("transforms:\n  - Flipp: {p: 0.5}\n", r"policy.yaml: pipeline.Compose.transforms\[0\]: unknown transform 'Flipp'"),
    ("transforms:\n  - HorizontalFlip: {p: 1.5}\n", r"policy.yaml: .*transforms\[0\].HorizontalFlip: .*p must be"),
    ("transforms:\n  - Affine: {rotate: [10, 5]}\n", r"policy.yaml: .*transforms\[0\].Affine: .*low 10.0 > high 5.0"),
    ("transforms:\n  - Affine: {rotate: ten}\n", r"policy.yaml: .*Affine: Affine.rotate must be a number"),
    ("transforms:\n  - Affine: {spin: 3}\n", r"policy.yaml: .*Affine: .*unexpected keyword argument 'spin'"),
    ("transforms:\n  - OneOf: {transforms: [{Gamma: {}}], weights: [-1]}\n", r"policy.yaml: .*OneOf: .*weights"),
    ("version: 9\ntransforms: []\n", r"policy.yaml: version: unsupported"),
    ("transforms: [\n", r"policy.yaml: not valid YAML"),
    ("transforms:\n  - !!python/object/apply:os.system [echo hi]\n", r"policy.yaml: not valid YAML"),
])
def test_clear_errors_name_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    with pytest.raises(geoaug.ParameterError, match=match):
        geoaug.load_pipeline(p)


def test_example_policies_load_and_run() -> None:
    landsat = TILES / "landsat8_sr_7band_uint16_collar.tif"
    for name, tile in (("sentinel2_13band.yaml", IMAGE), ("landsat8_sr.yaml", landsat)):
        pipe = geoaug.load_pipeline(ROOT / "docs" / "examples" / name)
        r = geoaug.read(tile)
        out = pipe(r, rng=0)
        assert out.dtype == r.dtype and out.count == r.count


@pytest.mark.parametrize("name", sorted(n for n, c in REGISTRY.items()
                                        if issubclass(c, geoaug.transforms.base.GeometricTransform)))
def test_output_shape_is_the_matrix_shape(name: str) -> None:
    # pipelines draw the next step on output_shape (Affine answers without its matrix): it must be matrix()'s
    t = example(name, bands=3)
    proxy = GeoRaster.proxy(3, 90, 70, "uint16")
    for seed in range(5):
        p = t.sample(np.random.default_rng(seed), proxy)
        if not p.get("applied", True):
            continue
        assert t.output_shape(p, (90, 70)) == t.matrix(p, (90, 70))[1]


def test_a_pipeline_draws_after_an_affine_subclass_on_its_own_output_shape() -> None:
    class _Cropped(geoaug.Affine):  # a subclass whose matrix() changes the output shape
        def matrix(self, params, shape):
            m, _ = super().matrix(params, shape)
            return m, (shape[0] // 2, shape[1] // 2)

    pipe = geoaug.Compose([_Cropped(rotate=5), geoaug.RandomCrop(30, 30)])
    proxy = GeoRaster.proxy(2, 80, 80, "uint16")
    for seed in range(20):  # the crop is drawn inside the 40 x 40 output, never on the 80 x 80 input
        crop = pipe.sample(np.random.default_rng(seed), proxy)["steps"][1]
        assert crop["row"] <= 10 and crop["col"] <= 10
