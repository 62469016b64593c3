"""numba kernels: the only place in geoaug with ``@njit``.

Kernels take arrays and scalars only. Layout is ``(bands, rows, cols)``;
masks are ``(mask_planes, rows, cols)`` with ``mask_planes`` 1 (shared) or
``bands`` (per band). Coordinates follow the pixel-corner convention.
"""

from . import threads

threads.configure()  # before any kernel runs: the layer is fixed at the first parallel launch

from .flip import index_copy  # noqa: E402
from .noise import gaussian_noise  # noqa: E402
from .warp import CUBIC_A, FILL_MODES, INTERPOLATIONS, warp_affine  # noqa: E402

__all__ = ["CUBIC_A", "FILL_MODES", "INTERPOLATIONS", "gaussian_noise", "index_copy", "threads", "warp_affine"]
