"""The call path of a transform: what is cached or skipped per call changes no result.

Pins the work taken off a call (docs/benchmarks.md, "The cost of one call"): the
generator of calls without ``rng``, the matrices cached per shape (flips, quarter
turns), the affine matrix in closed form, the geotransform of plain arrays
computed once per matrix, the raster wrapped once, proxies and spectral outputs
built without re-validation. Every cached answer must equal what is computed
afresh, bit for bit, and must never be served for another shape, dtype, draw or
transform.
"""

from __future__ import annotations

import math
import multiprocessing
import struct

import numpy as np
import pytest
from affine import Affine
from conftest import BY_DTYPE, ROTATED, TILES
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import geoaug
from geoaug import geometry, seeding
from geoaug.errors import UnsupportedDtypeError
from geoaug.raster import GeoRaster
from geoaug.transforms import functional
from geoaug.transforms import geometric as geo_mod
from geoaug.transforms.base import draw, draws

S2 = TILES / "sentinel2_l2a_12band_int16.tif"


def _bits(t: Affine) -> bytes:
    """A geotransform's six coefficients as bytes: -0.0 and 0.0 differ."""
    return struct.pack("6d", t.a, t.b, t.c, t.d, t.e, t.f)


def _same(a: GeoRaster, b: GeoRaster) -> None:
    assert a.data.dtype == b.data.dtype and a.data.shape == b.data.shape
    assert a.data.tobytes() == b.data.tobytes()
    assert a.mask.shape == b.mask.shape and np.array_equal(a.mask, b.mask)
    assert _bits(a.transform) == _bits(b.transform)
    assert (a.crs, a.nodata, a.band_names, a.tags, a.band_tags) == (b.crs, b.nodata, b.band_names, b.tags,
                                                                    b.band_tags)


def _clear_caches() -> None:
    geometry._FROM_IDENTITY.clear()
    geometry._PLANS.clear()
    geo_mod._SHAPE_MATRICES.clear()


# ------------------------------------------------------------------ calls without rng
def test_unseeded_calls_share_one_generator_and_still_vary(monkeypatch: pytest.MonkeyPatch) -> None:
    t = geoaug.Affine(rotate=(-180, 180))
    a = np.zeros((2, 8, 8), "uint8")
    t(a)  # the process's generator exists from here on
    made = []
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda *args: made.append(args) or real(*args))
    draws = [t(a, return_params=True).params["rotate"] for _ in range(5)]
    assert made == []  # no new generator (no OS entropy read) per call
    assert len(set(draws)) == 5
    assert seeding.unseeded_generator() is seeding.unseeded_generator()
    t(a, rng=3)
    assert made == [(3,)]  # an int rng still seeds its own generator


def test_unseeded_reproducible_only_with_rng() -> None:
    t = geoaug.Affine(rotate=(-180, 180))
    a = np.zeros((2, 8, 8), "uint8")
    assert t(a, rng=7, return_params=True).params == t(a, rng=7, return_params=True).params
    assert t(a, return_params=True).params != t(a, return_params=True).params


def _child_draw(_: int) -> float:
    return geoaug.Affine(rotate=(-180, 180))(np.zeros((1, 4, 4), "uint8"), return_params=True).params["rotate"]


def test_forked_children_draw_their_own_entropy() -> None:
    parent = seeding.unseeded_generator()
    ctx = multiprocessing.get_context("fork")
    state = parent.bit_generator.state
    with ctx.Pool(2) as pool:
        got = pool.map(_child_draw, range(2), chunksize=1)
    # a child that kept the parent's stream would draw what the parent draws next
    expected_if_copied = geoaug.Affine(rotate=(-180, 180))(np.zeros((1, 4, 4), "uint8"), rng=parent,
                                                           return_params=True).params["rotate"]
    parent.bit_generator.state = state
    assert expected_if_copied not in got
    assert len(set(got)) == 2


class _Draws:
    """A map-style dataset whose items are draws of a transform called without rng (in DataLoader workers)."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> float:
        return _child_draw(i)


def test_dataloader_workers_draw_their_own_entropy() -> None:
    torch = pytest.importorskip("torch")
    seeding.unseeded_generator().random()  # the parent has a stream its forked workers would copy
    loader = torch.utils.data.DataLoader(_Draws(), batch_size=None, num_workers=2, multiprocessing_context="fork")
    draws = [float(x) for x in loader]
    assert len(draws) == 4 and len(set(draws)) == 4  # items 0, 2 on worker 0 and 1, 3 on worker 1


# ------------------------------------------------------------------ matrices cached per shape; affine matrices
@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32", "uint8"])
def test_flip_and_rot90_follow_every_shape_and_dtype(dtype: str) -> None:
    rs = np.random.default_rng(0)
    for shape in [(3, 16, 16), (3, 16, 10), (5, 10, 16), (1, 1, 1), (2, 16, 16)]:
        a = (rs.random(shape) * 200).astype(dtype)
        assert np.array_equal(geoaug.HorizontalFlip(p=1)(a, rng=0), a[:, :, ::-1])
        assert np.array_equal(geoaug.VerticalFlip(p=1)(a, rng=0), a[:, ::-1])
        assert np.array_equal(geoaug.Transpose(p=1)(a, rng=0), a.transpose(0, 2, 1))
        for k in (1, 2, 3, 5, -1):
            assert np.array_equal(geoaug.Rot90(k=k, p=1)(a, rng=0), np.rot90(a, k, axes=(1, 2)))


def _exact_transforms() -> list[geoaug.Transform]:
    return [geoaug.HorizontalFlip(p=1), geoaug.VerticalFlip(p=0.5), geoaug.Transpose(p=1), geoaug.Rot90(p=0.7),
            geoaug.Rot90(k=2, p=1), geoaug.Rot90(k=(-3, 5), p=1), geoaug.CenterCrop(5, 4)]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
def test_plain_arrays_skip_the_wrapping_and_get_what_rasters_get(dtype: str) -> None:
    # a plain array through an exact transform takes _copy_array (no GeoRaster made): the same draws, the same
    # generator state after, the same bytes as the raster it would have been wrapped in; NaN moves with its value
    rs = np.random.default_rng(1)
    base = (rs.random((3, 9, 14)) * 200).astype(dtype)
    if base.dtype.kind == "f":
        base[:, 2, 3] = np.nan
    arrays = [base, base[0], base[:, ::2, 1:], base[:, ::-1, ::-1], np.asfortranarray(base)]
    for t in _exact_transforms():
        for a in arrays:
            for seed in range(6):
                g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
                res = t(a, rng=g1, return_params=True)
                got, params = res.image, res.params
                wrapped = GeoRaster.from_array(a if a.ndim == 3 else a[None])
                ref = t(wrapped, rng=g2, return_params=True)
                ref_params = ref.params
                want = ref.image.data if a.ndim == 3 else ref.image.data[0]
                assert params == ref_params and g1.random() == g2.random()
                assert got.dtype == a.dtype and got.shape == want.shape
                assert got.tobytes() == np.ascontiguousarray(want).tobytes()
                assert np.array_equal(got, t.apply(a, params), equal_nan=True)  # replay: apply_params


def test_plain_array_path_is_taken_only_where_it_gives_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoaug.transforms import base as base_mod

    taken: list[str] = []
    real = base_mod._copy_array

    def spy(t, gen, image, layout):
        out = real(t, gen, image, layout)
        taken.append(type(t).__name__ if out is not None else "-")
        return out

    monkeypatch.setattr(base_mod, "_copy_array", spy)
    a = np.arange(2 * 6 * 5, dtype="uint16").reshape(2, 6, 5)
    geoaug.HorizontalFlip(p=1)(a)
    assert taken == ["HorizontalFlip"]

    class _ShapeDraw(geoaug.HorizontalFlip):  # a draw that reads the raster: drawn on the raster the general
        # path makes, then copied without an output raster
        def sample_params(self, rng, raster):
            return {"seen": raster.shape}

    class _OwnApply(geoaug.HorizontalFlip):  # its own apply_params: called as before
        def apply_params(self, raster, params):
            return raster.replace(data=raster.data + 1)

    taken.clear()
    assert _ShapeDraw(p=1)(a, return_params=True).params["seen"] == (2, 6, 5)
    assert np.array_equal(_OwnApply(p=1)(a), a + 1)
    assert np.array_equal(geoaug.CenterCrop(4, 4)(a), a[:, 1:5, :4])  # exact, and its draw reads nothing
    assert taken == ["_ShapeDraw", "-", "CenterCrop"]

    class _SeesRaster(geoaug.Affine):  # an Affine of its own draw and apply: wrapped as before
        def sample_params(self, rng, raster):
            return {**super().sample_params(rng, raster), "rotate": float(raster.shape[1])}

        def apply_params(self, raster, params):
            return super().apply_params(raster, params)

    taken.clear()
    geoaug.Affine(rotate=10)(a)  # not exact: its draw reads nothing, its apply is the generic one (warp_array)
    geoaug.Resize(5, 4)(a)  # its own apply, a plain warp with antialias (WARP_APPLIES)
    _SeesRaster()(a)  # a draw that reads the raster is fine; its own apply_params is not a plain warp
    assert taken == ["Affine", "Resize", "-"]
    taken.clear()
    # not a plain (bands, H, W) array: the general path, with its checks and errors
    with pytest.raises(geoaug.errors.ParameterError, match="looks like"):
        geoaug.HorizontalFlip(p=1)(np.zeros((64, 64, 3), "uint8"))
    hwc = np.arange(64 * 64 * 3, dtype="uint8").reshape(64, 64, 3)
    assert np.array_equal(geoaug.HorizontalFlip(p=1)(hwc, layout="hwc"), hwc[:, ::-1])
    with pytest.raises(UnsupportedDtypeError):
        geoaug.HorizontalFlip(p=1)(np.zeros((1, 2, 2), "int8"))
    with pytest.raises(UnsupportedDtypeError):
        geoaug.Rot90(p=1)(np.zeros((1, 2, 2), ">u2"))
    assert taken == ["-", "-", "-"]  # the (H, W, C)-looking array raised inside, with the same error
    labels = np.arange(30, dtype="uint8").reshape(6, 5)
    res = geoaug.HorizontalFlip(p=1)(a, labels=labels)  # with a target: the general path
    assert np.array_equal(res.image, a[:, :, ::-1]) and np.array_equal(res.labels, labels[:, ::-1])
    assert taken == ["-", "-", "-"]


def test_copy_plan_is_the_strided_plan_of_the_matrix() -> None:
    for t in [*_exact_transforms(), geoaug.CenterCrop(3, 4), geoaug.Affine(rotate=90, interpolation="nearest")]:
        for shape in [(9, 14), (1, 1), (5, 5)]:
            if isinstance(t, geoaug.CenterCrop) and min(shape) < 4:
                continue
            params = t.sample(np.random.default_rng(3), np.zeros((1, *shape), "uint8"))
            params["applied"] = True
            m, out = t.record_matrix(params, shape)
            plan = geometry.strided_plan(m, shape, out)
            assert t.copy_plan(params, shape) == (None if plan is None else (plan, out))
    assert geoaug.Affine(rotate=17).copy_plan({"applied": True, **geoaug.Affine(rotate=17).sample_params(
        np.random.default_rng(0), None)}, (9, 14)) is None
    no = geoaug.HorizontalFlip(p=1).copy_plan({"applied": False}, (9, 14))
    assert no == ((0, 1, 0, 0, 0, 1), (9, 14))  # a draw not applied: the identity copy
    assert geoaug.HorizontalFlip(p=1).copy_plan({}, (np.int64(4), 6.0)) == ((0, 1, 0, 5, 0, -1), (4, 6.0))


def test_overridden_matrices_and_draws_not_applied_move_pixels_and_georeferencing_together() -> None:
    # the cached plans serve only the classes' own matrices; a subclass with its own matrix() gets the plan of
    # that matrix on both paths (array and GeoRaster), and a draw that did not apply copies nothing moved
    class _VFlipped(geoaug.HorizontalFlip):
        def matrix(self, params, shape):
            return geometry.vflip(shape)

    class _Half(geoaug.Rot90):
        def matrix(self, params, shape):
            return geometry.rot90(shape, 2)

    a = np.arange(2 * 3 * 4, dtype="uint16").reshape(2, 3, 4)
    r = GeoRaster.from_array(a, transform=Affine(10, 0, 500, 0, -10, 900))
    for t, want in [(_VFlipped(p=1), a[:, ::-1]), (_Half(k=1, p=1), np.rot90(a, 2, axes=(1, 2)))]:
        assert np.array_equal(t(a, rng=0), want)
        out = t(r, rng=0)
        assert np.array_equal(out.data, want)
        m, _ = t.matrix({"applied": True, "k": 1}, (3, 4))
        assert out.transform == r.transform @ geometry.to_affine(m)
    for t in [geoaug.HorizontalFlip(p=1), geoaug.Rot90(k=1, p=1)]:  # apply_params of a draw not applied
        params = {"applied": False, "k": 1}
        got = t.apply_params(r, params)
        m, shape = t.matrix(params, (3, 4))
        want = functional.warp(r, m, shape, "nearest")
        _same(got, want)


def test_copy_launch_follows_the_serial_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # a cached launch is never served under another SERIAL_BELOW (tests force the parallel kernel with it)
    from geoaug.kernels import flip, threads

    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    monkeypatch.setattr(flip, "_LAUNCHES", {})
    monkeypatch.setattr(flip, "SERIAL_BELOW", 1 << 19)  # the production threshold (the suite sets its own)
    a = np.arange(13 * 130 * 67, dtype="float64").reshape(13, 130, 67)  # 906 kB in, a 20 x 20 transposed crop out
    plan = (0, 0, 1, 0, 1, 0)
    used: list[tuple] = []
    real = flip._launch

    def spy(*args):
        used.append(real(*args))
        return used[-1]

    monkeypatch.setattr(flip, "_launch", spy)
    first, _ = flip.index_copy(a, None, plan, (20, 20))
    monkeypatch.setattr(flip, "SERIAL_BELOW", 0)
    second, _ = flip.index_copy(a, None, plan, (20, 20))
    assert [u[0] for u in used][-2:] == [flip._copy_ser, flip._copy_par]
    want = a[:, :20, :20].transpose(0, 2, 1)
    assert np.array_equal(first, want) and np.array_equal(second, want)


def test_row_maps_stay_on_one_thread_up_to_twice_the_serial_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # flips and crops (rj == 0) open a parallel region from ROW_SERIAL_FACTOR x SERIAL_BELOW bytes, quarter turns
    # from SERIAL_BELOW: a 1x512² uint16 hflip (512 kB) runs on one thread where its rot90 runs on two
    from geoaug.kernels import flip, threads

    monkeypatch.setattr(threads, "num_threads", lambda: 2)
    monkeypatch.setattr(flip, "_LAUNCHES", {})
    monkeypatch.setattr(flip, "SERIAL_BELOW", 1 << 19)  # the production threshold (the suite sets its own)
    monkeypatch.setattr(flip, "ROW_SERIAL_FACTOR", 2)
    used: list = []
    real = flip._launch
    monkeypatch.setattr(flip, "_launch", lambda *args: used.append(real(*args)) or used[-1])
    rng = np.random.default_rng(5)
    cases = [((1, 512, 512), (0, 1, 0, 511, 0, -1), flip._copy_ser, lambda a: a[:, :, ::-1]),  # hflip, 512 kB
             ((1, 512, 512), (511, -1, 0, 0, 0, 1), flip._copy_ser, lambda a: a[:, ::-1]),  # vflip, 512 kB
             ((1, 512, 512), (0, 0, 1, 511, -1, 0), flip._copy_par, lambda a: np.rot90(a, 1, (1, 2))),  # rot90
             ((1, 1024, 512), (0, 1, 0, 511, 0, -1), flip._copy_par, lambda a: a[:, :, ::-1])]  # hflip, 1 MB
    for shape, plan, kernel, ref in cases:
        a = rng.integers(0, 60000, shape, dtype=np.uint16)
        out_shape = (shape[2], shape[1]) if plan[2] else shape[1:]
        got, _ = flip.index_copy(a, None, plan, out_shape)
        assert used[-1][0] is kernel, (shape, plan)
        np.testing.assert_array_equal(got, ref(a))


def test_copy_launches_are_cached_per_mask_plane_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # a launch with a mask serves only copies with as many mask planes: none, one shared, one per band
    from geoaug.kernels import flip

    monkeypatch.setattr(flip, "_LAUNCHES", {})
    rng = np.random.default_rng(3)
    a = rng.integers(0, 1000, (3, 9, 70)).astype("int16")  # 70 pixels: the mirrored rows' vector loop and its tail
    masks = [None, rng.random((1, 9, 70)) > 0.3, rng.random((3, 9, 70)) > 0.3]
    plan = (8, -1, 0, 69, 0, -1)  # rot180
    for _ in range(2):  # the second pass runs from the cache
        for m in masks:
            got, gm = flip.index_copy(a, m, plan, (9, 70))
            assert np.array_equal(got, a[:, ::-1, ::-1])
            want_mask = np.ones((1, 9, 70), bool) if m is None else m[:, ::-1, ::-1]
            assert np.array_equal(np.broadcast_to(gm, want_mask.shape), want_mask)
    assert sorted(k[5] for k in flip._LAUNCHES) == [0, 1, 3]
    for _, _, params in flip._LAUNCHES.values():  # shared by every call of a launch: nobody may change them
        assert not params.flags.writeable


def test_empty_arrays_and_sequence_plans_behave_as_before() -> None:
    from geoaug.errors import ParameterError
    from geoaug.kernels import flip

    for t in [geoaug.HorizontalFlip(p=1), geoaug.Rot90(k=1, p=1), geoaug.CenterCrop(1, 1)]:
        g = np.random.default_rng(0)
        with pytest.raises(ParameterError, match="zero bands"):
            t(np.zeros((0, 4, 4), "uint8"), rng=g)
        assert g.random() == np.random.default_rng(0).random()  # refused before drawing, as wrapped
    a = np.arange(12, dtype="uint16").reshape(1, 3, 4)
    for plan in ([0, 1, 0, 3, 0, -1], np.array([0, 1, 0, 3, 0, -1]), (np.int64(0), 1, 0, 3, 0, -1)):
        assert np.array_equal(flip.index_copy(a, None, plan, (3, 4))[0], a[:, :, ::-1])


def test_num_threads_follows_numba_in_every_thread() -> None:
    import threading

    import numba

    from geoaug.kernels import threads

    before = numba.get_num_threads()  # numba's threads are up from here on
    seen: list[tuple[int, int]] = []
    try:
        assert threads.num_threads() == before
        numba.set_num_threads(1)
        assert threads.num_threads() == numba.get_num_threads() == 1

        def other() -> None:  # the count is per thread, as numba's
            seen.append((threads.num_threads(), numba.get_num_threads()))

        th = threading.Thread(target=other)
        th.start()
        th.join()
    finally:
        numba.set_num_threads(before)
    assert seen and seen[0][0] == seen[0][1]
    assert threads.num_threads() == before


def test_cached_matrices_are_copies() -> None:
    t = geoaug.Rot90(k=1, p=1)
    m, shape = t.matrix({"k": 1}, (20, 30))
    fresh = geometry.rot90((20, 30), 1)
    assert np.array_equal(m, fresh[0]) and shape == fresh[1] == (30, 20)
    m[0, 2] = 99.0  # a caller's change stays in its copy
    assert np.array_equal(t.matrix({"k": 1}, (20, 30))[0], fresh[0])
    assert np.array_equal(t.matrix({"k": 3}, (20, 30))[0], geometry.rot90((20, 30), 3)[0])
    h = geoaug.HorizontalFlip(p=1)
    assert np.array_equal(h.matrix({}, (20, 30))[0], geometry.hflip((20, 30))[0])
    assert not np.array_equal(h.matrix({}, (20, 31))[0], geometry.hflip((20, 30))[0])
    v = geoaug.VerticalFlip(p=1)  # another transform, same shape: its own matrix
    assert np.array_equal(v.matrix({}, (20, 30))[0], geometry.vflip((20, 30))[0])


def test_non_int_shapes_are_built_as_given() -> None:
    m, shape = geoaug.HorizontalFlip(p=1).matrix({}, (np.int64(4), 6.0))
    assert np.array_equal(m, geometry.hflip((4, 6))[0]) and type(shape[1]) is float


def test_resize_matrix_follows_its_size() -> None:
    a = np.arange(2 * 12 * 12, dtype="float32").reshape(2, 12, 12)
    t = geoaug.Resize(6, 6, interpolation="bilinear")
    first = t(a, rng=0)
    t.height, t.width = 4, 3  # a changed size is a new key, never the cached matrix of the old one
    changed = t(a, rng=0)
    assert changed.shape == (2, 4, 3)
    assert np.array_equal(changed, geoaug.Resize(4, 3)(a, rng=0))
    ref = functional.warp(GeoRaster.from_array(a), geometry.resize((12, 12), 6, 6)[0], (6, 6), "bilinear",
                          antialias=True)
    assert first.tobytes() == ref.data.tobytes()


@pytest.mark.parametrize("bitgen", [np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.MT19937,
                                    np.random.SFC64])
def test_draws_are_draw_in_turn(bitgen: type) -> None:
    bounds = [(-20.0, 20.0), (0.0, 0.0), (0.9, 1.1), (-0.0, -0.0), (3.0, 7.5), (-1e6, 1e6)]
    a, b = np.random.Generator(bitgen(11)), np.random.Generator(bitgen(11))
    got, want = draws(a, bounds), [draw(b, x) for x in bounds]
    assert [struct.pack("d", v) for v in got] == [struct.pack("d", v) for v in want]
    assert all(type(v) is float for v in got)
    assert a.random() == b.random()  # both generators end in the same state


def _affine_numpy(shape: tuple[int, int], *args: float) -> np.ndarray:
    """geometry.affine_matrix's definition: the inverse of the composed forward map, by numpy."""
    rotate, tx, ty, scale, shx, shy = args
    fwd = geometry.rotation(rotate) @ geometry.scaling(scale) @ geometry.shearing(shx, shy)
    fwd = geometry.translation(tx, ty) @ geometry.about_center(fwd, shape[1], shape[0])
    return np.linalg.inv(fwd)


@settings(max_examples=300, deadline=None)
@given(st.tuples(st.integers(1, 3000), st.integers(1, 3000)),
       st.tuples(st.floats(-360, 360), st.floats(-500, 500), st.floats(-500, 500), st.floats(0.05, 20),
                 st.floats(-60, 60), st.floats(-60, 60)))
def test_affine_matrix_closed_form_is_numpys_inverse(shape: tuple[int, int], args: tuple[float, ...]) -> None:
    shx, shy = args[4], args[5]
    # away from singular shears (tan x tan -> 1, shears summing to +-90°), where two inverses may differ widely
    assume(abs(1.0 - math.tan(math.radians(shx)) * math.tan(math.radians(shy))) > 1e-2)
    got = geometry.affine_matrix(shape, *args)
    want = _affine_numpy(shape, *args)
    assert got.dtype == np.float64 and got.shape == (3, 3)
    assert np.array_equal(got[2], [0.0, 0.0, 1.0])
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(want).max())))


def test_affine_matrix_exact_cases() -> None:
    # no motion: the identity, exactly (so the copy paths see it), with no negative zeros
    assert geometry.affine_matrix((64, 48)).tobytes() == np.eye(3).tobytes()
    assert geometry.affine_matrix((7, 9), -0.0, -0.0, 0.0, 1.0, -0.0, 0.0).tobytes() == np.eye(3).tobytes()
    # pure shifts, whole or not: the shift exactly
    m = geometry.affine_matrix((10, 10), translate_x=3.0, translate_y=-2.0)
    assert m.tobytes() == np.array([[1.0, 0.0, -3.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]]).tobytes()
    m = geometry.affine_matrix((7, 9), translate_x=0.1, translate_y=-2.3)
    assert m.tobytes() == np.array([[1.0, 0.0, -0.1], [0.0, 1.0, 2.3], [0.0, 0.0, 1.0]]).tobytes()
    # numpy float32 arguments are taken as the floats they hold (not computed in float32)
    args32 = (np.float32(12.5), np.float32(0.1), np.float32(-3.3), np.float32(1.1), np.float32(4.0), np.float32(0))
    got = geometry.affine_matrix((20, 30), *args32)
    want = geometry.affine_matrix((20, 30), *(float(v) for v in args32))
    assert got.dtype == np.float64 and got.tobytes() == want.tobytes()
    # other number types are taken as floats
    got = geometry.affine_matrix((10, 10), np.float32(30), 1, 0, 1, 0, 0)
    assert got.tobytes() == geometry.affine_matrix((10, 10), float(np.float32(30)), 1.0, 0.0, 1.0, 0.0, 0.0).tobytes()
    # callers own their matrix
    geometry.affine_matrix((5, 5), 10.0)[:] = 0.0
    assert geometry.affine_matrix((5, 5), 10.0)[2, 2] == 1.0


@pytest.mark.parametrize("args", [(0.0, 0.0, 0.0, 0.0, 0.0, 0.0), (10.0, 0.0, 0.0, 0.0, 5.0, -5.0),
                                  (float("nan"), 0.0, 0.0, 1.0, 0.0, 0.0), (10.0, math.inf, 0.0, 1.0, 0.0, 0.0),
                                  (0.0, 0.0, math.nan, 1.0, 0.0, 0.0), (5.0, 0.0, 0.0, math.nan, 0.0, 0.0)])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's inf * 0
def test_affine_matrix_singular_or_nan_as_numpy(args: tuple[float, ...]) -> None:
    try:
        want = _affine_numpy((8, 8), *args)
    except np.linalg.LinAlgError:
        with pytest.raises(np.linalg.LinAlgError):
            geometry.affine_matrix((8, 8), *args)
    else:
        assert np.array_equal(geometry.affine_matrix((8, 8), *args), want, equal_nan=True)


# ------------------------------------------------------------------ the geotransform rule
def test_identity_geotransform_product_is_the_rule_bit_for_bit() -> None:
    _clear_caches()
    mats = [geometry.hflip((5, 7))[0], geometry.rot90((5, 7), 3)[0], geometry.affine_matrix((5, 7), 17.0),
            np.array([[-0.0, 1.0, -0.0], [1.0, -0.0, 0.0], [0.0, 0.0, 1.0]]),
            np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
            # equal values, different zeros, different products: 1 * b + 0 * e is -0.0 only for b = e = -0.0
            np.array([[2.0, -0.0, 1.0], [0.0, -0.0, 1.0], [0.0, 0.0, 1.0]]),
            np.array([[2.0, 0.0, 1.0], [0.0, -0.0, 1.0], [0.0, 0.0, 1.0]]),
            geometry.resize((9, 9), 4, 3)[0]]
    for m in mats:
        for _ in range(2):
            got = geometry.output_transform(geometry.IDENTITY_TRANSFORM, m)
            assert _bits(got) == _bits(Affine.identity() @ geometry.to_affine(m))
            assert _bits(got) == _bits(geometry.output_transform(Affine.identity(), m))  # another identity object


def test_wrapped_arrays_share_the_identity_transform() -> None:
    r = GeoRaster.from_array(np.zeros((2, 3, 4), "uint8"))
    assert r.transform is geometry.IDENTITY_TRANSFORM and r.transform == Affine.identity()


# ------------------------------------------------------------------ results identical, arrays and rasters
CASES = {
    "hflip": lambda n: geoaug.HorizontalFlip(p=1),
    "vflip": lambda n: geoaug.VerticalFlip(p=1),
    "rot90": lambda n: geoaug.Rot90(k=1, p=1),
    "affine": lambda n: geoaug.Affine(rotate=17),
    "affine_random": lambda n: geoaug.Affine(rotate=(-30, 30), scale=(0.8, 1.2), interpolation="cubic"),
    "resize": lambda n: geoaug.Resize(48, 40),
    "normalize": lambda n: geoaug.Normalize([100.0 + i for i in range(n)], [50.0 + 2 * i for i in range(n)]),
    "normalize_scalar": lambda n: geoaug.Normalize(500.0, 250.0),
    "brightness": lambda n: geoaug.Brightness((-0.1, 0.1), per_band=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("path", [S2, ROTATED, BY_DTYPE["float32"], BY_DTYPE["uint16"]], ids=lambda p: p.stem)
def test_warm_calls_equal_cold_calls_and_arrays_equal_rasters(name: str, path: object) -> None:
    raster = geoaug.read(path)
    t = CASES[name](raster.count)
    _clear_caches()
    cold = t(raster, rng=5, return_params=True)
    warm = t(raster, rng=5, return_params=True)
    assert cold.params == warm.params
    _same(cold.image, warm.image)
    _same(cold.image, t.apply(raster, cold.params))  # replay
    # a plain array gives the pixels of its raster (GeoRaster.from_array: every pixel valid, but NaN)
    arr = raster.data
    plain = t(arr, rng=5)
    wrapped = t(GeoRaster.from_array(arr), rng=5)
    assert plain.dtype == wrapped.dtype and plain.tobytes() == wrapped.data.tobytes()
    # the geotransform follows the rule, computed here with affine's own operator
    m, _ = t.record_matrix(cold.params, (raster.height, raster.width))
    assert cold.image.transform == raster.transform @ geometry.to_affine(m)


def test_exact_transforms_on_georeferenced_raster() -> None:
    raster = geoaug.read(ROTATED)
    for t, ref in [(geoaug.HorizontalFlip(p=1), raster.data[:, :, ::-1]),
                   (geoaug.Rot90(k=1, p=1), np.rot90(raster.data, 1, axes=(1, 2)))]:
        out = t(raster, rng=0)
        assert np.array_equal(out.data, ref)
        m, _ = t.matrix({"k": 1}, (raster.height, raster.width))
        assert _bits(out.transform) == _bits(raster.transform @ geometry.to_affine(m))
        assert out.crs == raster.crs and out.nodata == raster.nodata and out.band_names == raster.band_names


def test_exact_apply_is_the_copy_warp_makes() -> None:
    # apply_params of an exact transform goes to functional.copy with its cached plan; warp with the same matrix
    # finds the plan itself: the same pixels, masks, geotransform, GCPs and metadata for every kind of raster
    from rasterio.control import GroundControlPoint

    rs = np.random.default_rng(4)
    data = rs.integers(0, 5000, (3, 7, 10)).astype("uint16")
    flt = rs.random((3, 7, 10)).astype("float32")
    flt[1, 2, 3] = np.nan
    per_band = rs.random((3, 7, 10)) > 0.3
    gcps = [GroundControlPoint(row=r, col=c, x=500 + 30 * c, y=900 - 30 * r, z=0, id=str(r * 10 + c))
            for r, c in [(0, 0), (0, 9), (6, 0), (6, 9)]]
    rasters = [GeoRaster.from_array(data), GeoRaster.from_array(data, mask=per_band[0]),
               GeoRaster.from_array(data, mask=per_band), GeoRaster.from_array(flt, lazy_mask=True),
               GeoRaster.from_array(flt), GeoRaster.from_array(flt, lazy_mask=True).replace(gcps=tuple(gcps)),
               geoaug.read(ROTATED)]
    for t in _exact_transforms():
        for r in rasters:
            params = t.sample(np.random.default_rng(2), r)
            params["applied"] = True
            got = t.apply_params(r, params)
            m, shape = t.matrix(params, (r.height, r.width))
            want = functional.warp(r, m, shape, "bilinear")
            assert got.data.tobytes() == want.data.tobytes() and got.lazy_mask == want.lazy_mask
            _same(got, want)
            assert [repr(g) for g in got.gcps] == [repr(g) for g in want.gcps] and len(got.gcps) == len(r.gcps)
            # and independently of both: the plan as numpy fancy indexing, the rule with affine's operator
            (r0, ri, rj, c0, ci, cj), _ = t.copy_plan(params, (r.height, r.width))
            i, j = np.indices(shape)
            rows, cols = r0 + ri * i + rj * j, c0 + ci * i + cj * j
            assert np.array_equal(got.data, r.data[:, rows, cols], equal_nan=True)
            mask = r.mask[..., rows, cols]
            assert np.array_equal(got.mask if got.mask.ndim == mask.ndim else got.mask[0], mask)
            assert got.transform == r.transform @ geometry.to_affine(m)


def test_spectral_output_keeps_metadata_in_copies() -> None:
    raster = geoaug.read(S2)
    out = geoaug.Normalize(1000.0, 500.0)(raster, rng=0)
    assert out.dtype == np.float32 and out.mask is raster.mask
    assert (out.transform, out.crs, out.nodata, out.band_names, out.tags) == (
        raster.transform, raster.crs, raster.nodata, raster.band_names, raster.tags)
    assert out.band_tags == raster.band_tags
    assert all(a is not b for a, b in zip(out.band_tags, raster.band_tags))
    assert out.tags is not raster.tags and out.profile is not raster.profile


def test_normalize_band_count_mismatch_fails_as_before() -> None:
    t = geoaug.Normalize([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="broadcast"):
        t(np.zeros((3, 4, 4), "uint16"), rng=0)


# ------------------------------------------------------------------ records and replay
README_RECORDS = {
    0: {"applied": True, "steps": [
        {"applied": True}, {"applied": True, "k": 1},
        {"applied": True, "rotate": 16.51022309110887, "translate_x": 0.0, "translate_y": 0.0,
         "scale": 1.0087249982930846, "shear_x": 0.0, "shear_y": 0.0},
        {"applied": True, "delta": 0.007148085531751386},
        {"applied": True, "alpha": [-0.12459109472530652, -0.07322673547034517, -0.054425898285730995,
                                    -0.031630015636915455, 0.04116305363741329, 0.10425133694426776,
                                    -0.012853466294403426, 0.1366463470549686, -0.06651946734866136,
                                    0.035151007009301974, 0.09034701816518087, 0.009401229776087457]}]},
    3: {"applied": True, "steps": [
        {"applied": True}, {"applied": False},
        {"applied": True, "rotate": -16.234854310384033, "translate_x": 0.0, "translate_y": 0.0,
         "scale": 0.9319477829274158, "shear_x": 0.0, "shear_y": 0.0},
        {"applied": True, "delta": 0.0003348036524272735},
        {"applied": True, "alpha": [-0.06680463461089502, -0.10551505512051214, -0.039080097723465476,
                                    0.04819453885067859, -0.02385536065733667, 0.09577587029597641,
                                    -0.019980212906658, 0.0024259565076664626, 0.15458208512128122,
                                    0.05451055226876446, -0.05052287356140181, -0.01828389745977349]}]},
}


def _readme_pipe() -> geoaug.Compose:
    return geoaug.Compose([
        geoaug.HorizontalFlip(), geoaug.Rot90(),
        geoaug.Affine(rotate=(-20, 20), scale=(0.9, 1.1)),
        geoaug.Brightness((-0.01, 0.01), value_range=(0, 10000)),
        geoaug.PCAJitter(std=0.1, value_range=(0, 10000)),
    ])


@pytest.mark.parametrize("seed", sorted(README_RECORDS))
def test_readme_pipeline_records_and_replay_unchanged(seed: int) -> None:
    image = geoaug.read(S2)
    labels = geoaug.read(S2.parents[1] / "labels" / S2.name)
    pipe = _readme_pipe()
    _clear_caches()
    res = pipe(image, rng=np.random.default_rng(seed), labels=labels, return_record=True)
    assert res.params == README_RECORDS[seed]  # the draws recorded before the call path was trimmed
    _same(res.image, pipe.replay(image, res.params))
    _same(res.labels, pipe.replay_label(labels, res.params))
    again = pipe(image, rng=np.random.default_rng(seed), labels=labels, return_record=True)  # warm caches
    _same(res.image, again.image)
    _same(res.labels, again.labels)
    plain = pipe(image.data, rng=np.random.default_rng(seed), return_record=True)
    assert plain.params == res.params


# ------------------------------------------------------------------ wrapping and proxies
def test_proxy_equals_the_constructors_raster() -> None:
    p = GeoRaster.proxy(13, 20, 30, "uint16")
    ref = GeoRaster(data=np.broadcast_to(np.zeros(1, "uint16"), (13, 20, 30)),
                    mask=geoaug.raster.all_valid_mask((20, 30)))
    assert np.array_equal(p.mask, ref.mask) and p.mask.strides == ref.mask.strides
    for f in ("transform", "crs", "nodata", "band_names", "tags", "band_tags", "profile", "gcps", "rpcs",
              "colorinterp", "mask_kind"):
        assert getattr(p, f) == getattr(ref, f), f
    assert p.data.shape == ref.data.shape and p.dtype == ref.dtype and not p.data.flags.writeable
    assert p.band_tags[0] is not GeoRaster.proxy(13, 20, 30, "uint16").band_tags[0]  # fresh dicts every time
    assert GeoRaster.proxy(2, 3, 4, np.float32).dtype == np.float32
    with pytest.raises(UnsupportedDtypeError, match="array: pixel dtype int8 is not supported"):
        GeoRaster.proxy(1, 2, 2, "int8")


def test_from_array_fast_path_checks_as_before() -> None:
    with pytest.raises(UnsupportedDtypeError, match="pixel dtype int8"):
        GeoRaster.from_array(np.zeros((1, 2, 2), "int8"))
    with pytest.raises(UnsupportedDtypeError):
        GeoRaster.from_array(np.zeros((1, 2, 2), ">u2"))  # big-endian: not a supported dtype
    r = GeoRaster.from_array([[[1.0, 2.0], [3.0, 4.0]]])  # not an ndarray: through np.asarray
    assert r.shape == (1, 2, 2) and r.dtype == np.float64

    class Sub(np.ndarray):
        pass

    r = GeoRaster.from_array(np.zeros((2, 3, 3), "uint16").view(Sub))  # a subclass: its plain ndarray view
    assert type(r.data) is np.ndarray


def test_band_tags_made_on_first_read_are_fresh_per_raster() -> None:
    import copy
    import pickle

    a = np.arange(3 * 4 * 5, dtype="uint16").reshape(3, 4, 5)
    r = GeoRaster.from_array(a)
    assert "band_tags" not in r.__dict__  # a wrapped array carries none until read
    out = geoaug.HorizontalFlip(p=1)(r, rng=0)
    assert r.band_tags == out.band_tags == ({}, {}, {})
    out.band_tags[0]["k"] = "v"  # each raster owns its dicts, read before or after the other's
    assert r.band_tags[0] == {} and geoaug.HorizontalFlip(p=1)(r, rng=0).band_tags[0] == {}
    again = geoaug.HorizontalFlip(p=1)(out, rng=0)  # tags that were read are copied, not dropped
    assert again.band_tags[0] == {"k": "v"} and again.band_tags[0] is not out.band_tags[0]
    fresh = GeoRaster.from_array(a)
    for back in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(fresh)):
        assert back.band_tags == ({}, {}, {}) and back.band_tags[0] is not fresh.band_tags[0]
    read = GeoRaster.from_array(a)
    read.band_tags[1]["k"] = "v"
    moved = read.replace(nodata=0)  # replace copies the tag dicts, as evolve does
    assert moved.band_tags == read.band_tags and all(x is not y for x, y in zip(moved.band_tags, read.band_tags))
    assert len(GeoRaster.from_array(a[:2]).band_tags) == 2
    assert GeoRaster(data=a, mask=np.ones((4, 5), bool)).band_tags == ({}, {}, {})


# ------------------------------------------------------------------ the benchmark harness
def test_bench_callpath_runs(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    from conftest import load_script

    bench = load_script("bench_callpath")
    out = tmp_path / "b.json"
    assert bench.main(["--only", "p0/raster,hflip_1x1/array", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best of 2001" in text and "p0/raster" in text and "hflip_1x1/array" in text
    import json

    seconds = json.loads(out.read_text())["seconds"]
    assert set(seconds) == {"np.copy", "p0/raster", "hflip_1x1/array"} and all(v > 0 for v in seconds.values())
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "2000"])
    with pytest.raises(SystemExit):
        bench.main(["--only", "nope"])


def test_bench_callpath_sweeps_before_every_timed_call(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    """``--cold``: the sweep runs once before each timed call (not during the warm-up), and the table says so."""
    from conftest import load_script

    bench = load_script("bench_callpath")
    calls: list[str] = []
    funcs = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    bench.measure(funcs, 3, warmup=2, sweep=lambda: calls.append("sweep"))
    timed = calls[4:]  # after the warm-up's four calls
    assert len(timed) == 12 and timed[0::2] == ["sweep"] * 6 and sorted(timed[1::2]) == ["a"] * 3 + ["b"] * 3
    out = tmp_path / "c.json"
    assert bench.main(["--only", "p0/array", "--cold", "0.25", "--json", str(out)]) == 0
    assert "each call after a 0.25 MB copy" in capsys.readouterr().out
    import json

    assert json.loads(out.read_text())["cold_mb"] == 0.25


def test_bench_touch_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import load_script

    from geoaug.kernels import flip, resize

    bench = load_script("bench_touch")
    kept = resize.TOUCH_BYTES, flip.TOUCH_BYTES
    assert bench.main(["--repeats", "2", "3x40:uint16", "2x24:float32"]) == 0
    assert bench.main(["--op", "rot90", "--repeats", "2", "4x40:uint16"]) == 0
    text = capsys.readouterr().out
    assert "3x40:uint16" in text and "2x24:float32" in text and "on / off" in text
    assert "rot90 1 thread(s) 4x40:uint16" in text
    assert (resize.TOUCH_BYTES, flip.TOUCH_BYTES) == kept  # the modules' bounds are back


def test_bench_row_threads_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import numba
    from conftest import load_script

    from geoaug.kernels import flip

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here")
    bench = load_script("bench_row_threads")
    before = numba.get_num_threads()
    try:
        rows = bench.child(["2x24:uint16", "1x16x40:float32"], 21)
    finally:
        numba.set_num_threads(before)
    assert [(r["case"], r["op"]) for r in rows] == [
        ("2x24:uint16", "HorizontalFlip"), ("2x24:uint16", "VerticalFlip"),
        ("1x16x40:float32", "HorizontalFlip"), ("1x16x40:float32", "VerticalFlip")]
    assert all(r["now"] > 0 and r["factor 1"] > 0 for r in rows)
    assert flip.ROW_SERIAL_FACTOR == 2  # the module's factor is back
    assert bench.main(["--processes", "1", "--repeats", "21", "1x24:uint16"]) == 0
    assert "1x24:uint16" in capsys.readouterr().out


def _affines() -> list[geoaug.Transform]:
    return [geoaug.Affine(rotate=(-30, 30), interpolation="nearest"), geoaug.Affine(rotate=(-30, 30)),
            geoaug.Affine(rotate=(-30, 30), scale=(0.8, 1.2), interpolation="cubic", fill="reflect"),
            geoaug.Affine(scale=(0.5, 2.0)),  # axis-aligned: the separable resize
            geoaug.Affine(translate_x=(-3, 3), p=0.6), geoaug.Affine(),  # the identity: an exact copy
            geoaug.Affine(rotate=20, fill="constant", fill_value=7), geoaug.Affine(shear_x=(-10, 10), fill="wrap"),
            # draws that read the raster (its shape), applies that warp with antialias
            geoaug.Resize(12, 15), geoaug.Resize(40, 31, antialias=False), geoaug.Resize(9, 30, interpolation="cubic"),
            geoaug.Resize(20, 20, interpolation="nearest"), geoaug.RandomResizedCrop(16, 16),
            geoaug.RandomResizedCrop(30, 21, scale=(0.3, 1.0), interpolation="cubic", antialias=False),
            geoaug.RandomCrop(8, 12)]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float32", "float64"])
def test_plain_arrays_through_affine_get_what_rasters_get(dtype: str) -> None:
    # a plain array through Affine, Resize, RandomResizedCrop, RandomCrop takes _copy_array and warp_array (no
    # output raster made; a draw that reads the raster gets the one the general path makes): the same draws, the same
    # generator state after, the same bytes as the raster it would have been wrapped in; with NaN pixels read the
    # general apply of the same draw
    rs = np.random.default_rng(2)
    base = (rs.random((3, 17, 23)) * 200).astype(dtype)
    arrays = [base, base[0], base[:, ::2, 1:], np.asfortranarray(base)]
    if base.dtype.kind == "f":
        holed = base.copy()
        holed[1, 5, 7] = holed[:, -1, -1] = np.nan  # read by most draws; a corner many rotations never read
        arrays.append(holed)
    for t in _affines():
        for a in arrays:
            for seed in range(5):
                g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
                res = t(a, rng=g1, return_params=True)
                ref = t(GeoRaster.from_array(a if a.ndim == 3 else a[None]), rng=g2, return_params=True)
                want = ref.image.data if a.ndim == 3 else ref.image.data[0]
                assert res.params == ref.params and g1.random() == g2.random()
                assert res.image.dtype == a.dtype and res.image.shape == want.shape
                assert res.image.tobytes() == np.ascontiguousarray(want).tobytes(), (t, seed)
                assert np.array_equal(res.image, t.apply(a, res.params), equal_nan=True)  # replay


def test_warp_array_is_warps_data_or_asks_for_the_mask() -> None:
    from geoaug.transforms.functional import warp, warp_array

    rs = np.random.default_rng(4)
    a = (rs.random((2, 30, 26)) * 1000).astype("float32")
    m = geometry.affine_matrix((30, 26), rotate=25)
    for interp in ("nearest", "bilinear", "cubic"):
        got = warp_array(a, m, (28, 31), interp, "constant", 3.0)
        want = warp(GeoRaster.from_array(a, lazy_mask=True), m, (28, 31), interp, "constant", 3.0).data
        assert got.tobytes() == want.tobytes()
    b = a.copy()
    b[0, 15, 13] = np.nan  # the centre: every rotation about it reads it
    assert warp_array(b, m, (30, 26)) is None
    assert warp_array(b.astype("float64"), geometry.affine_matrix((30, 26), scale=0.7), (30, 26)) is None
    far = a.copy()
    far[:, 0, 0] = np.nan  # a corner a 25° turn of the same grid never reads
    out = warp_array(far, m, (30, 26))
    assert out is not None and not np.isnan(out).any()
    ints = (a * 10).astype("uint16")
    assert warp_array(ints, m, (30, 26), "bilinear").tobytes() == warp(GeoRaster.from_array(ints), m,
                                                                       (30, 26)).data.tobytes()

