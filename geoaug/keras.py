"""Keras' ImageDataGenerator for any band count (the code: :mod:`geoaug.loaders.keras`).

This public path is the module itself: ``geoaug.keras`` is ``geoaug.loaders.keras``.
"""

import sys

from .loaders import keras as _impl

sys.modules[__name__] = _impl
