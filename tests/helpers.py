"""Small helpers shared by tests."""

from __future__ import annotations

import numpy as np

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
