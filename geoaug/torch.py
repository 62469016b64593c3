"""PyTorch datasets and tensors (the code: :mod:`geoaug.loaders.torch`).

This public path is the module itself: ``geoaug.torch`` is ``geoaug.loaders.torch``.
"""

import sys

from .loaders import torch as _impl

sys.modules[__name__] = _impl
