"""Small helpers shared by tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import geoaug
from geoaug import GeoRaster

DTYPES = ("uint8", "uint16", "int16", "int32", "float32", "float64")


def smooth_image(bands: int, h: int, w: int, dtype: str, seed: int = 0) -> np.ndarray:
    """Smooth multi-band test pattern (sum of sinusoids), scaled into the dtype's range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((bands, h, w))
    for b in range(bands):
        fx, fy, ph = rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.25), rng.uniform(0, 6.28)
        out[b] = np.sin(xx * fx + ph) + np.cos(yy * fy - ph) + 0.5 * np.sin((xx + yy) * 0.1)
    out = (out + 2.5) / 5.0  # 0..1
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return (out * 1000).astype(dt)
    info = np.iinfo(dt)
    top = min(info.max, 30000)
    bottom = max(info.min, -30000) if dt.kind == "i" else 0
    return np.rint(bottom + out * (top - bottom)).astype(dt)


def interior(valid: np.ndarray, margin: int) -> np.ndarray:
    """Pixels of ``valid`` at least ``margin`` pixels away from any invalid pixel or the edge."""
    from scipy.ndimage import binary_erosion

    v = valid.copy()
    v[:margin] = v[-margin:] = False
    v[:, :margin] = v[:, -margin:] = False
    return binary_erosion(v, iterations=margin)


@st.composite
def rasters(
    draw, min_side: int = 1, max_side: int = 24, nan_ok: bool = True, with_nodata: bool = False
) -> GeoRaster:
    """Random rasters: 1..40 bands, every dtype, shared or per-band masks, NaN under invalid floats."""
    bands = draw(st.integers(1, 40))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        data = rng.normal(100, 50, (bands, h, w)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, (bands, h, w), endpoint=True, dtype=dtype)
    per_band = draw(st.booleans())
    mask = rng.random((bands, h, w) if per_band else (h, w)) > draw(st.sampled_from([0.0, 0.1, 0.5]))
    if dtype.kind == "f" and nan_ok:
        data[~np.broadcast_to(mask, data.shape)] = np.nan
    a, b, c, d = rng.normal(0, 30, 4)
    transform = geoaug.geometry.to_affine(np.array([[30 + a, b, 5e5], [c, -30 + d, 4e6], [0, 0, 1]]))
    nodata = None
    if with_nodata and draw(st.booleans()):
        # a nodata value that also occurs among the valid pixels
        nodata = float(data.flat[0]) if not np.isnan(data.flat[0]) else 0.0
    return GeoRaster(data=data, mask=mask, transform=transform, nodata=nodata)


def run_markdown_python(doc: str, workdir, monkeypatch, min_blocks: int = 1) -> dict:
    """Execute the ```python blocks of a repository Markdown file, in order, from ``workdir``.

    ``workdir`` gets links to the repository's fixtures/ and docs/, so the code runs as a user
    would run it from the repository root. Returns the blocks' shared namespace.
    """
    import os
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"```python\n(.*?)```", (root / doc).read_text(), re.S)
    assert len(blocks) >= min_blocks, doc
    for name in ("fixtures", "docs"):
        os.symlink(root / name, Path(workdir) / name)
    monkeypatch.chdir(workdir)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, doc, "exec"), namespace)
    return namespace


def count_launches(monkeypatch, module, name: str, arg: int = 1) -> list:
    """Wrap ``module.name`` (a kernel's parallel entry) so that each call appends its argument ``arg`` (the
    units, say) to the returned list, then runs the kernel: which calls took the parallel entry, with how many."""
    launches: list = []
    real = getattr(module, name)

    def counted(*args):
        launches.append(args[arg])
        return real(*args)

    monkeypatch.setattr(module, name, counted)
    return launches
