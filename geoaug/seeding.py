"""Seeds that do not depend on order: one generator per (seed, input, copy)."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["rng_for", "stable_key"]


def stable_key(text: str) -> tuple[int, int]:
    """Two 32-bit words from the SHA-256 of ``text`` (the same in every process and Python version)."""
    h = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(h[:4], "little"), int.from_bytes(h[4:8], "little")


def rng_for(seed: int, name: str, copy: int) -> np.random.Generator:
    """The generator of copy ``copy`` of input ``name`` (a relative POSIX path) under ``seed``.

    ``numpy.random.SeedSequence(seed, spawn_key=(*stable_key(name), copy))``:
    independent streams per input and copy, whatever the order or the
    number of workers that compute them.

    Examples
    --------
    >>> a = rng_for(0, "a/b.tif", 1).random()
    >>> a == rng_for(0, "a/b.tif", 1).random() != rng_for(0, "a/b.tif", 2).random()
    True
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(*stable_key(name), int(copy))))
