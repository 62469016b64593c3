"""Fuzz: seeded corruptions of real GeoTIFFs either read or raise GeoAugError.

The corruptions run in a child interpreter so that a crash (segfault, abort)
of GDAL shows up as a failing test instead of killing the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import BY_DTYPE, ROTATED

CHILD = textwrap.dedent(
    """
    import json, struct, sys, random, traceback
    from pathlib import Path
    import geoaug

    files, workdir, n = json.loads(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    counts = {"read": 0, "GeoAugError": 0}
    bad = []
    rng = random.Random(20261125)
    for i in range(n):
        src = Path(files[i % len(files)])
        raw = bytearray(src.read_bytes())
        kind = ("truncate", "header", "ifd", "tiles")[i % 4]
        if kind == "truncate":
            raw = raw[: rng.randrange(1, len(raw))]
        elif kind == "header":
            for _ in range(rng.randint(1, 3)):
                raw[rng.randrange(0, 16)] ^= 1 << rng.randrange(8)
        elif kind == "ifd":
            off = struct.unpack("<I", bytes(raw[4:8]))[0]
            for _ in range(rng.randint(1, 4)):
                pos = min(len(raw) - 1, off + rng.randrange(0, 256))
                raw[pos] = rng.randrange(256)
        else:
            for _ in range(rng.randint(1, 16)):
                raw[rng.randrange(len(raw) // 4, len(raw))] = rng.randrange(256)
        p = workdir / f"fuzz_{i}_{kind}.tif"
        p.write_bytes(bytes(raw))
        try:
            geoaug.read(p)
            counts["read"] += 1
        except geoaug.GeoAugError as exc:
            if p.name not in str(exc):
                bad.append(f"{p.name}: message does not name the file: {exc}")
            counts["GeoAugError"] += 1
        except BaseException as exc:
            bad.append(f"{p.name}: {type(exc).__name__}: {exc}")
        p.unlink()
    print(json.dumps({"counts": counts, "bad": bad}))
    """
)


def test_corrupted_geotiffs_read_or_raise_geoaug_error(tmp_path: Path) -> None:
    files = [str(BY_DTYPE[k]) for k in ("uint8", "int16", "float32")] + [str(ROTATED)]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(files), str(tmp_path), "300"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"interpreter died ({proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bad"] == []
    assert sum(result["counts"].values()) == 300
    assert result["counts"]["GeoAugError"] > 50  # the corruptions really do break files
