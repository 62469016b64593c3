"""The ``geoaug`` command line (click).

Subcommands
-----------
``geoaug info PATH...``
    One line per raster: bands, dtype, size, CRS, share of nodata.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import GeoAugError


def find_rasters(root: Path, patterns: tuple[str, ...] = ("*.tif", "*.tiff")) -> list[Path]:
    """Files under ``root`` (recursive) matching any pattern, sorted; ``root`` itself if a file."""
    if root.is_file():
        return [root]
    found: set[Path] = set()
    for pat in patterns:
        found.update(p for p in root.rglob(pat) if p.is_file() and not p.name.startswith("."))
    return sorted(found)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="geoaug")
def main() -> None:
    """geoaug: augment multispectral satellite rasters, georeferencing kept.

    \b
    Example:
      geoaug info fixtures/tiles
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def info(paths: tuple[Path, ...]) -> None:
    """Print one summary line per raster (folders are searched recursively).

    \b
    Example:
      geoaug info fixtures/tiles/landsat8_sr_7band_uint16_collar.tif
    """
    from .io import read

    failed = 0
    files = [f for p in paths for f in (find_rasters(p) if p.exists() else [p])]
    for f in files:
        try:
            r = read(f)
        except GeoAugError as exc:
            click.echo(f"ERROR {exc}", err=True)
            failed += 1
            continue
        crs = r.crs.to_string() if r.crs is not None else "none"
        nd = "none" if r.nodata is None else f"{r.nodata:g}"
        click.echo(
            f"{f}: {r.count} bands {r.dtype.name} {r.height}x{r.width} crs={crs} "
            f"nodata={nd} invalid={1 - r.valid_fraction:.1%}"
        )
    if failed:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
