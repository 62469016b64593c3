"""numba kernels: the only place in geoaug with ``@njit``.

Kernels take arrays and scalars only. Layout is ``(bands, rows, cols)``;
masks are ``(mask_planes, rows, cols)`` with ``mask_planes`` 1 (shared) or
``bands`` (per band). Coordinates follow the pixel-corner convention.
"""

from .flip import index_copy
from .noise import gaussian_noise
from .warp import CUBIC_A, FILL_MODES, INTERPOLATIONS, warp_affine

__all__ = ["CUBIC_A", "FILL_MODES", "INTERPOLATIONS", "gaussian_noise", "index_copy", "warp_affine"]
