"""Ways in from training code, by library: PyTorch, Keras, xarray (and their scene-chip loaders).

Import them by their public paths, ``geoaug.torch``, ``geoaug.keras`` and
``geoaug.xarray`` (which are these modules); each needs its optional extra.
"""
