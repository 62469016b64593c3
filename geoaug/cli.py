"""The ``geoaug`` command line (click).

Subcommands
-----------
``geoaug info PATH...``
    One line per raster: bands, dtype, size, CRS, share of nodata.
``geoaug stats FOLDER -o stats.json``
    Per-band dataset statistics over valid pixels (for Normalize and PCAJitter).
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


@main.command("stats")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="JSON file to write.")
@click.option("--pattern", multiple=True, default=("*.tif", "*.tiff"), show_default=True,
              help="File name pattern inside folders (repeatable).")
@click.option("--percentiles", default="1,2,50,98,99", show_default=True, help="Comma-separated percentiles.")
@click.option("--nodata", type=float, default=None, help="Nodata override for files without a tag.")
def stats_cmd(paths: tuple[Path, ...], output: Path, pattern: tuple[str, ...], percentiles: str,
              nodata: float | None) -> None:
    """Per-band statistics over the valid pixels of rasters (folders searched recursively).

    Writes count, mean, std, min, max, percentiles and the band covariance as
    JSON; Normalize(stats=...) and PCAJitter(stats=...) read that file.

    \b
    Example:
      geoaug stats fixtures/tiles/landsat8_sr_7band_uint16_collar.tif -o stats.json
    """
    from .stats import stats

    files = [f for p in paths for f in find_rasters(p, pattern)]
    if not files:
        raise click.UsageError(f"no files matching {', '.join(pattern)} under {', '.join(map(str, paths))}")
    try:
        qs = [float(q) for q in percentiles.split(",") if q.strip()]
        st = stats(files, percentiles=qs, nodata=nodata)
        if not output.parent.exists():
            raise click.UsageError(f"{output}: folder {output.parent} does not exist")
        st.save(output)
    except (GeoAugError, ValueError) as exc:
        click.echo(f"ERROR {exc}", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} files, {st.bands} bands -> {output}")
    for i, name in enumerate(st.band_names):
        click.echo(f"  {name}: mean {st.mean[i]:.6g} std {st.std[i]:.6g} min {st.min[i]:.6g} max {st.max[i]:.6g}")


if __name__ == "__main__":  # pragma: no cover
    main()
