"""Fuzzed pipeline files end in a named error or a correct result, never a raw traceback.

Hypothesis writes pipeline files (YAML and JSON) of every transform with values drawn from
plausible, out-of-range and absurd ones (NaN, infinities, 2**70, strings, nested lists), nested
pipelines, misspelt names, and raw bytes. Loading must give a Compose or a ParameterError; a
loaded pipeline applied to a real tile must give a raster with a finite geotransform and finite
valid pixels, or a GeoAugError.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug.errors import GeoAugError, ParameterError
from geoaug.transforms import REGISTRY
from geoaug.transforms.serialize import MAX_DEPTH, load_pipeline, parameter_names

CONTAINERS = ("Compose", "OneOf", "SomeOf")
LEAVES = sorted(n for n in REGISTRY if n not in CONTAINERS)
TILE = geoaug.read(TILES / "sentinel2_l2a_12band_int16.tif", window=((40, 64), (40, 64)))

numbers = st.one_of(
    st.floats(-3, 3), st.floats(0, 1), st.integers(-4, 40),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, 2**63, 2**63 - 1, -(2**63), 0, 1e-300]),
)
values = st.one_of(
    numbers,
    st.lists(numbers, min_size=0, max_size=3),
    st.tuples(st.floats(-2, 0), st.floats(0, 2)).map(list),
    st.none(), st.booleans(), st.text(max_size=6),
    st.sampled_from(["nearest", "bilinear", "cubic", "reflect", "nodata", "constant", "wrap", "zero", "mean"]),
    st.dictionaries(st.text(max_size=3), numbers, max_size=2),
)


def pair(lo: float, hi: float) -> st.SearchStrategy:
    return st.tuples(st.floats(lo, hi), st.floats(lo, hi)).map(sorted)


def number_or_pair(lo: float, hi: float) -> st.SearchStrategy:
    return st.one_of(st.floats(lo, hi), pair(lo, hi))


#: values a user would plausibly write, by parameter name (the rest: number_or_pair(-2, 2))
PLAUSIBLE = {
    "p": st.floats(0, 1), "height": st.integers(1, 30), "width": st.integers(1, 30),
    "k": st.one_of(st.integers(-5, 5), pair(-5, 5).map(lambda v: [int(v[0]), int(v[1])])),
    "n": st.one_of(st.integers(0, 4), st.just([0, 2])), "max_bands": st.integers(1, 14),
    "interpolation": st.sampled_from(["nearest", "bilinear", "cubic"]),
    "fill": st.sampled_from(["nodata", "constant", "edge", "reflect", "mirror", "wrap", "zero", "mean"]),
    "fill_value": st.floats(-100, 100), "value_range": pair(-1e4, 1e4), "per_band": st.booleans(),
    "weights": st.lists(st.floats(0, 3), min_size=1, max_size=3), "mean": st.floats(-100, 100),
    "std": st.floats(0.001, 100), "scale": number_or_pair(0.5, 2), "ratio": pair(0.5, 2),
    "low": st.floats(0, 40), "high": st.floats(60, 100), "gamma": number_or_pair(0.3, 3),
}


REQUIRED = {"RandomCrop": ("height", "width"), "CenterCrop": ("height", "width"), "Resize": ("height", "width"),
            "RandomResizedCrop": ("height", "width"), "Normalize": ("mean", "std")}


@st.composite
def leaf(draw: st.DrawFn, wild: bool = True) -> dict:
    name = draw(st.sampled_from(LEAVES))
    params = [p for p in parameter_names(REGISTRY[name]) if p != "stats"]
    keys = draw(st.lists(st.sampled_from(params), unique=True, max_size=len(params))) if params else []
    keys += [k for k in REQUIRED.get(name, ()) if k not in keys]
    absurd = wild and draw(st.integers(0, 9)) == 0
    config = {k: draw(values if absurd else PLAUSIBLE.get(k, number_or_pair(-2, 2))) for k in keys}
    if wild and draw(st.integers(0, 19)) == 0:
        config[draw(st.sampled_from(["fil", "rotat", "pp", "x"]))] = draw(values)
    return {name: config}


def container(children: st.SearchStrategy, wild: bool = True) -> st.SearchStrategy:
    def build(name: str, subs: list, extra: dict) -> dict:
        return {name: {"transforms": subs, **extra}}
    p = st.one_of(PLAUSIBLE["p"], numbers) if wild else PLAUSIBLE["p"]
    return st.builds(build, st.sampled_from(CONTAINERS), st.lists(children, min_size=1, max_size=3),
                     st.fixed_dictionaries({}, optional={"p": p}))


def pipelines(wild: bool) -> st.SearchStrategy:
    entries = st.recursive(leaf(wild), lambda c: container(c, wild), max_leaves=6)
    top = {"version": st.one_of(st.just(1), st.integers(0, 2)), "seed": st.one_of(st.integers(0, 9), numbers),
           "p": st.one_of(PLAUSIBLE["p"], numbers)} if wild else {"seed": st.integers(0, 9)}
    return st.fixed_dictionaries({"transforms": st.lists(entries, max_size=4)}, optional=top)


def check_result(out: geoaug.GeoRaster) -> None:
    assert all(math.isfinite(v) for v in tuple(out.transform)[:6])
    assert out.mask.shape[-2:] == out.data.shape[1:]
    if out.dtype.kind == "f":
        assert np.isfinite(out.data[np.broadcast_to(out.band_mask, out.data.shape)]).all()


def load_and_apply(path: Path, seed: int) -> None:
    try:
        pipe = load_pipeline(path)
    except ParameterError as exc:
        assert str(path) in str(exc)
        return
    for k in range(2):
        try:
            out = pipe(TILE, rng=seed + k)
        except GeoAugError:
            continue
        check_result(out)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pipelines")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=pipelines(wild=True), as_json=st.booleans(), seed=st.integers(0, 2**32))
def test_fuzzed_pipeline_files(folder: Path, d: dict, as_json: bool, seed: int) -> None:
    path = folder / ("policy.json" if as_json else "policy.yaml")
    path.write_text(json.dumps(d) if as_json else yaml.safe_dump(d))
    load_and_apply(path, seed)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=pipelines(wild=False), seed=st.integers(0, 2**32))
def test_fuzzed_plausible_pipelines_apply(folder: Path, d: dict, seed: int) -> None:
    path = folder / "plausible.yaml"
    path.write_text(yaml.safe_dump(d))
    load_and_apply(path, seed)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".yaml", ".json", ".yml"]))
def test_fuzzed_bytes(folder: Path, data: bytes, suffix: str) -> None:
    path = folder / f"bytes{suffix}"
    path.write_bytes(data)
    load_and_apply(path, 0)


@pytest.mark.parametrize("text,message", [
    ("- Affine: {rotate: .nan}", "Affine.rotate must be finite"),
    ("- Affine: {rotate: .inf}", "Affine.rotate must be finite"),
    ("- Affine: {rotate: [0, .nan], scale: [0.9, 1.1]}", "Affine.rotate must be finite"),
    ("- Affine: {fill_value: .nan, fill: constant}", "fill_value must be a finite number"),
    ("- Brightness: {delta: .nan}", "Brightness.delta must be finite"),
    ("- Contrast: {factor: [.nan, 1]}", "Contrast.factor must be finite"),
    ("- BandGain: {gain: .nan}", "BandGain.gain must be finite"),
    ("- PCAJitter: {std: .nan}", "PCAJitter: std must be a finite number"),
    ("- Normalize: {mean: [1, .nan], std: 2}", r"Normalize.mean\[1\] must be finite"),
    ("- Rot90: {k: 9223372036854775808}", r"Rot90: k must lie within \[-1000, 1000\]"),
    ("- SomeOf: {n: 9223372036854775807, transforms: [HorizontalFlip]}", "high <= 1000"),
    ("- PercentileStretch: {low: -5}", r"PercentileStretch.low must lie within \[0, 100\]"),
    ("- PercentileStretch: {high: 101}", r"PercentileStretch.high must lie within \[0, 100\]"),
    ("- Resize: {height: 1000000, width: 1000000}", "above the 8 GiB limit"),
    ("- Affine: {fil: reflect}", r"unexpected keyword argument 'fil' \(did you mean 'fill'\?\); Affine takes: "
                                 r"rotate, translate_x"),
    ("- Afine: {}", r"unknown transform 'Afine' \(did you mean 'Affine'\?\)"),
    ("transfroms: []", r"unknown key 'transfroms' \(did you mean 'transforms'\?\)"),
])
def test_named_errors_at_load(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=message):
        load_pipeline(path)


def nested(depth: int) -> str:
    return "transforms: [" + "{OneOf: {transforms: [" * depth + "HorizontalFlip" + "]}}" * depth + "]"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 5000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(nested(depth))
    with pytest.raises(ParameterError, match="nested"):
        load_pipeline(path)
    path = tmp_path / "deep.json"
    path.write_text('{"transforms": [' + '{"OneOf": {"transforms": [' * depth + '"HorizontalFlip"'
                    + "]}}" * depth + "]}")
    with pytest.raises(ParameterError, match="nested"):
        load_pipeline(path)


def test_nesting_at_the_bound_loads_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(nested(MAX_DEPTH - 1))
    out = load_pipeline(path)(TILE, rng=0)
    assert out.shape == TILE.shape


def test_binary_and_aliases(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ParameterError, match="not a YAML text file"):
        load_pipeline(path)
    path.write_bytes(b"transforms: []\x00")
    with pytest.raises(ParameterError, match="NUL"):
        load_pipeline(path)
    # a "billion laughs" of aliases is refused by its size, not expanded
    lines = ["a0: &a0 [1, 1]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    path.write_text("\n".join(lines) + "\ntransforms: [{Affine: {rotate: *a39}}]\n")
    with pytest.raises(ParameterError, match="values: not a pipeline"):
        load_pipeline(path)


def test_output_size_checked_before_allocating() -> None:
    pipe = geoaug.Compose([geoaug.Resize(60000, 60000)])
    with pytest.raises(ParameterError, match=r"60000 x 60000 x 12 bands of int16 is 80.5 GiB"):
        pipe(TILE, rng=0)
    rrc = geoaug.RandomResizedCrop(60000, 60000)
    with pytest.raises(ParameterError, match="RandomResizedCrop: output 60000 x 60000 x 12"):
        rrc.apply(TILE, {"applied": True, "row": 0, "col": 0, "crop_height": 4, "crop_width": 4})
    # the bound is the reader's
    from geoaug.io import MAX_READ_BYTES
    from geoaug.transforms.geometric import MAX_OUTPUT_BYTES
    assert MAX_OUTPUT_BYTES == MAX_READ_BYTES


def test_statistics_that_are_not_finite_are_refused(tmp_path: Path) -> None:
    d = geoaug.stats([TILES / "sentinel2_l2a_12band_int16.tif"]).to_dict()
    d["covariance"][0][0] = float("nan")
    (tmp_path / "s.json").write_text(json.dumps(d))
    path = tmp_path / "policy.yaml"
    path.write_text(f"transforms: [PCAJitter: {{stats: {tmp_path / 's.json'}}}]\n")
    with pytest.raises(ParameterError, match="PCAJitter: statistics .* covariance that is not finite"):
        load_pipeline(path)
