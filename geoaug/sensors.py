"""Band names and centre wavelengths of the sensors geoaug knows: the one home of these facts.

Used by the sensor-aware transforms (:class:`geoaug.transforms.Haze` reads
wavelengths, :class:`geoaug.transforms.SpectralIndex` finds its bands by role).

Band names are matched case-insensitively, with a prefix or a resolution
suffix allowed (``B04``, ``B04_10m``, ``T32TQM_20200101_B8A_20m``,
``LC09_..._SR_B5``), as in the band files of Sentinel-2 products, BigEarthNet
and Landsat Collection 2. STAC common names (``red``, ``nir``, ``swir16``...)
are understood too.

Centre wavelengths are in nanometres: the nominal ones of Sentinel-2 MSI
(ESA's band table: 443, 490, 560... nm; the 2A and 2B instruments differ by a
few nm) and Landsat 8/9 OLI/TIRS (USGS band designations, rounded).

Examples
--------
>>> band_wavelengths(["B02_10m", "B03_10m", "B04_10m", "B8A_20m"])
(490.0, 560.0, 665.0, 865.0)
>>> band_wavelengths(["SR_B2", "SR_B3", "SR_B4", "SR_B5"])
(482.0, 561.0, 655.0, 865.0)
>>> band_roles(["B02", "B03", "B04", "B08", "B11", "B12"])["nir"]
3
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .bandfiles import parse
from .errors import ParameterError

__all__ = ["COMMON_WAVELENGTHS", "ROLES", "SENSORS", "band_roles", "band_token", "band_wavelengths", "detect_sensor"]

#: sensor -> band token -> centre wavelength (nm)
SENSORS: dict[str, dict[str, float]] = {
    "sentinel2": {
        "B01": 443.0, "B02": 490.0, "B03": 560.0, "B04": 665.0, "B05": 705.0, "B06": 740.0, "B07": 783.0,
        "B08": 842.0, "B8A": 865.0, "B09": 945.0, "B10": 1375.0, "B11": 1610.0, "B12": 2190.0,
    },
    "landsat": {  # Landsat 8/9 OLI/TIRS; Collection 2 surface reflectance SR_B1..SR_B7, temperature ST_B10
        "B1": 443.0, "B2": 482.0, "B3": 561.0, "B4": 655.0, "B5": 865.0, "B6": 1609.0, "B7": 2201.0,
        "B8": 590.0, "B9": 1373.0, "B10": 10895.0, "B11": 12005.0,
    },
}

#: STAC ``eo:common_name`` -> centre wavelength (nm), Sentinel-2's where the two sensors differ
COMMON_WAVELENGTHS: dict[str, float] = {
    "coastal": 443.0, "blue": 490.0, "green": 560.0, "red": 665.0, "rededge": 705.0, "rededge071": 705.0,
    "rededge075": 740.0, "rededge078": 783.0, "nir": 842.0, "nir08": 865.0, "nir09": 945.0,
    "cirrus": 1375.0, "swir16": 1610.0, "swir22": 2190.0, "pan": 590.0, "lwir11": 10895.0, "lwir12": 12005.0,
}

#: spectral role (a STAC common name) -> band token of each sensor (what the indices are made of)
ROLES: dict[str, dict[str, str]] = {
    "coastal": {"sentinel2": "B01", "landsat": "B1"},
    "blue": {"sentinel2": "B02", "landsat": "B2"},
    "green": {"sentinel2": "B03", "landsat": "B3"},
    "red": {"sentinel2": "B04", "landsat": "B4"},
    "rededge": {"sentinel2": "B05"},
    "nir": {"sentinel2": "B08", "landsat": "B5"},
    "nir08": {"sentinel2": "B8A", "landsat": "B5"},
    "swir16": {"sentinel2": "B11", "landsat": "B6"},
    "swir22": {"sentinel2": "B12", "landsat": "B7"},
}

def band_token(name: str) -> tuple[str, bool] | None:
    """The band token of a band name and whether it is a Landsat Collection 2 ``SR_``/``ST_`` name.

    Parameters
    ----------
    name : str
        A band name (``B04``, ``B8A_20m``, ``SR_B5``, ``LC09_..._SR_B5``).

    Returns
    -------
    (str, bool) or None
        ``("B04", False)``, ``("B5", True)``...; None when the name holds no band token.

    Examples
    --------
    >>> band_token("B8A_20m"), band_token("SR_B5"), band_token("band_1")
    (('B8A', False), ('B5', True), None)
    """
    b = parse(name)  # the band-name rules of geoaug.bandfiles
    if b is None:
        return None
    landsat_c2 = b.band.startswith(("SR_", "ST_"))
    return (b.band[3:] if landsat_c2 else b.band), landsat_c2


def detect_sensor(names: Sequence[str]) -> str | None:
    """The sensor a list of band names belongs to: ``"sentinel2"``, ``"landsat"``, or None if unsure.

    Two-digit tokens (``B01``...``B09``) and ``B8A`` are Sentinel-2's;
    one-digit tokens and ``SR_``/``ST_`` names are Landsat's; names with only
    ``B10``-``B12`` (both sensors have them) or none say nothing.

    Parameters
    ----------
    names : sequence of str
        Band names.

    Returns
    -------
    str or None
    """
    votes = set()
    for n in names:
        tok = band_token(n)
        if tok is None:
            continue
        band, landsat = tok
        if landsat or re.fullmatch(r"B\d", band):
            votes.add("landsat")
        elif band == "B8A" or re.fullmatch(r"B0\d", band):
            votes.add("sentinel2")
    return votes.pop() if len(votes) == 1 else None


def _check_sensor(sensor: str | None) -> str | None:
    if sensor is not None and (not isinstance(sensor, str) or sensor not in SENSORS):
        raise ParameterError(f"sensor must be one of {sorted(SENSORS)} or None, got {sensor!r}")
    return sensor


def band_wavelengths(names: Sequence[str], sensor: str | None = None,
                     given: Mapping[str, float] | None = None) -> tuple[float, ...]:
    """Centre wavelength (nm) of each band, from its name.

    Parameters
    ----------
    names : sequence of str
        Band names: Sentinel-2 ``B01``...``B12``/``B8A``, Landsat 8/9
        ``B1``...``B11``/``SR_B1``...``SR_B7``, STAC common names; prefixes and
        ``_20m``-style suffixes allowed.
    sensor : {"sentinel2", "landsat"}, optional
        Which table names like ``B10`` belong to; detected from the names by default.
    given : mapping of str to float, optional
        Wavelengths by band name that take precedence over the tables.

    Returns
    -------
    tuple of float

    Raises
    ------
    ParameterError
        A band whose wavelength is unknown (the message names it).
    """
    sensor = _check_sensor(sensor) or detect_sensor(names)
    given = {str(k).lower(): float(v) for k, v in (given or {}).items()}
    out = []
    for n in names:
        wl = given.get(n.lower(), COMMON_WAVELENGTHS.get(n.strip().lower()))
        tok = band_token(n) if wl is None else None
        if tok is not None:
            sensors = [sensor] if sensor else ["landsat"] if tok[1] else list(SENSORS)
            found = {SENSORS[s][tok[0]] for s in sensors if tok[0] in SENSORS[s]}
            if len(found) == 1:
                wl = found.pop()
            elif len(found) > 1:
                raise ParameterError(f"band {n!r} is a band of both Sentinel-2 and Landsat with different "
                                     "wavelengths: pass sensor=\"sentinel2\" or sensor=\"landsat\", or wavelengths=")
        if wl is None:
            raise ParameterError(f"no wavelength known for band {n!r} (known: Sentinel-2 B01..B12/B8A, Landsat "
                                 "B1..B11/SR_B1..SR_B7, STAC common names): pass wavelengths=")
        out.append(float(wl))
    return tuple(out)


def band_roles(names: Sequence[str], sensor: str | None = None) -> dict[str, int]:
    """Spectral roles (``"red"``, ``"nir"``, ``"swir16"``...) found among band names, as 0-based indexes.

    A band named by its STAC common name fills that role; otherwise the
    sensor's band for the role (:data:`ROLES`) does.

    Parameters
    ----------
    names : sequence of str
        Band names.
    sensor : {"sentinel2", "landsat"}, optional
        Detected from the names by default.

    Returns
    -------
    dict of str to int
        Only the roles present.
    """
    sensor = _check_sensor(sensor) or detect_sensor(names)
    out: dict[str, int] = {}
    tokens = [band_token(n) for n in names]
    for role, per_sensor in ROLES.items():
        for i, n in enumerate(names):
            if n.strip().lower() == role:
                out[role] = i
                break
        else:
            if sensor in per_sensor:
                want = per_sensor[sensor]
                for i, tok in enumerate(tokens):
                    if tok is not None and tok[0] == want:
                        out[role] = i
                        break
    return out
