"""The ``.geoaug`` accessors of DataArray and Dataset (the code: :mod:`geoaug.loaders.xarray`).

This public path is the module itself: ``geoaug.xarray`` is ``geoaug.loaders.xarray``.
"""

import sys

from .loaders import xarray as _impl

sys.modules[__name__] = _impl
