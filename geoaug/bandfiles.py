"""Scenes stored as one file per band: recognising band files by name and grouping them into scenes.

The one home of the naming rules that :func:`geoaug.sample`, ``geoaug chip``
and ``geoaug augment`` share. A band file's stem is ``<prefix>_<band>`` with
an optional ``_<res>m`` resolution suffix, matched case-insensitively:

- BigEarthNet / Sentinel-2 tiles: ``S2A_..._B02.tif``, ``..._B8A.tif``;
- Sentinel-2 SAFE: ``T32TQM_20240601T101031_B02_10m.jp2`` under
  ``GRANULE/*/IMG_DATA/R10m|R20m|R60m`` (the three folders are one scene;
  a band present at several resolutions is taken at its finest);
- Landsat Collection 2: ``LC09_..._SR_B4.TIF``, ``..._ST_B10.TIF``.

Files of one folder with the same prefix are one scene, in spectral order
(``B01 ... B08, B8A, B09 ...``; then ``SR_B*``, then ``ST_B*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from .errors import ParameterError

__all__ = ["BAND_RE", "BandName", "band_key", "band_label", "parse", "scene_folder", "stack_groups", "stack_name"]

#: a band name or file stem: ``PREFIX_B02``, ``PREFIX_B8A_20m``, ``PREFIX_SR_B4``, ``SR_B1``, ``B04``
#: (case-insensitive; the token follows ``_``, ``-``, ``.`` or the start)
BAND_RE = re.compile(r"^(?:(?P<prefix>.*?)[_.-])??(?P<band>(?:SR_|ST_)?B(?:\d{1,2}|8A))(?:_(?P<res>\d+)m)?$", re.I)


class BandName(NamedTuple):
    """A band name taken apart: ``T32TQM_B8A_20m`` is ``("T32TQM", "B8A", 20)``."""

    prefix: str
    band: str
    res: int


def parse(name: str) -> BandName | None:
    """The prefix, band token (upper case, ``SR_``/``ST_`` kept) and resolution (0 if none) of a band name.

    >>> parse("T32TQM_20240601_B8A_20m"), parse("band_1")
    (BandName(prefix='T32TQM_20240601', band='B8A', res=20), None)
    """
    m = BAND_RE.match(name.strip())
    if m is None:
        return None
    return BandName(m["prefix"] or "", m["band"].upper(), int(m["res"] or 0))

_SAFE_RES_DIRS = ("R10M", "R20M", "R60M")


def band_key(band: str) -> tuple[int, float]:
    """Spectral order of a band token: plain B.., then SR_B.., then ST_B..; B8A right after B08."""
    b = band.upper()
    kind = 1 if b.startswith("SR_") else 2 if b.startswith("ST_") else 0
    num = b.rsplit("B", 1)[1]
    return kind, 8.5 if num == "8A" else float(num)


def band_label(path: str | Path) -> str:
    """The band token of a band file (``B02``, ``SR_B4``), or its stem when it is not one."""
    b = parse(Path(path).stem)
    return b.band if b else Path(path).stem


def scene_folder(folder: Path) -> Path:
    """The folder that holds one scene's band files: a SAFE ``IMG_DATA`` for its ``R10m/R20m/R60m``."""
    if folder.name.upper() in _SAFE_RES_DIRS and folder.parent.name.upper() == "IMG_DATA":
        return folder.parent
    return folder


def stack_name(group: Sequence[Path]) -> str:
    """A scene's name from its band files: their common prefix, else their folder's name."""
    b = parse(group[0].stem)
    return (b.prefix if b else "") or scene_folder(group[0].parent).name


def stack_groups(files: Sequence[Path], stack: Sequence[str] | None = None
                 ) -> tuple[list[list[Path]], list[Path]]:
    """Band files grouped by scene prefix (each group in band order), and the files left over.

    Parameters
    ----------
    files : sequence of Path
        Files of one scene folder (see :func:`scene_folder`).
    stack : sequence of str, optional
        An explicit band order (``["B04", "B03", "B02"]``): every group must
        have these bands and is stacked in this order (other bands are left
        out). Default: groups of two or more band files, in spectral order.

    Returns
    -------
    groups : list of list of Path
    rest : list of Path
        Files that are not band files, and lone band files (without ``stack``).

    Raises
    ------
    ParameterError
        With ``stack``, a group misses one of its bands (the message names the
        folder, the missing bands and those found).
    """
    groups: dict[str, dict[str, tuple[int, Path]]] = {}
    rest = []
    for f in files:
        b = parse(f.stem)
        if b is None:
            rest.append(f)
            continue
        band, res = b.band, b.res
        g = groups.setdefault(b.prefix.lower(), {})
        if band not in g or res < g[band][0]:  # a SAFE band at several resolutions: its finest
            g[band] = (res, f)
    out = []
    for prefix, g in sorted(groups.items()):
        if stack is not None:
            want = [b.upper() for b in stack]
            missing = [b for b in want if b not in g]
            if missing:
                where = next(iter(g.values()))[1].parent
                raise ParameterError(f"{where}: stack {prefix!r} has no band file for {', '.join(missing)} "
                                     f"(found {', '.join(sorted(g, key=band_key))})")
            out.append([g[b][1] for b in want])
        elif len(g) >= 2:
            out.append([g[b][1] for b in sorted(g, key=band_key)])
        else:
            rest.extend(f for _, f in g.values())
    return out, rest
