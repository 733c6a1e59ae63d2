"""Fuzzing the whole sanitizer: seeds made in code, mutations, and the oracle.

Shared by `make fuzz` (atheris, coverage-guided, tests/fuzz/fuzz_sanitizer.py) and by
`make test` (a short, fixed-seed hypothesis pass, tests/unit/test_fuzz.py). For any
input the sanitizer either refuses it with a typed `SanitizeError`, or returns an output
that

- passes the verifier;
- decodes with libjpeg (Pillow), with no complaint about its structure;
- holds no run of 16 or more bytes taken from what it dropped (tests/harness/leaks.py;
  a re-encoded output holds the encoder's data, and its ICC profile is checked clean by
  the verifier);
- comes out the same when sanitized again: strip(strip(x)) == strip(x);
- is the same whether it was read from a stream or from bytes.

`python -m tests.harness.fuzzing DIR` writes the seeds into DIR, one file each.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final

from PIL import Image

from exif_stripper.errors import SanitizeError
from exif_stripper.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    Removed,
    Result,
    sanitize_bytes,
    sanitize_stream,
)
from exif_stripper.verify import verify_jpeg
from tests.harness import samples
from tests.harness.leaks import leaked_runs

# Pixel counts up to which an output is decoded in full, then at 1/8 scale (every block
# still read); beyond, a fuzz run cannot afford the decode and checks the rest only.
FULL_DECODE: Final = 4_000_000
SCALED_DECODE: Final = 256_000_000


# --- seeds ---------------------------------------------------------------------------------------


@cache
def seeds() -> Mapping[str, bytes]:
    """Small JPEGs of every shape the sanitizer meets, with metadata in every place."""
    exif = samples.exif_segment(samples.camera_exif_with_thumbnail(3))
    base = samples.compose(samples.base_jpeg(seed=30), [samples.exif_segment()])
    return {
        "baseline with EXIF": base,
        "progressive kitchen sink": samples.kitchen_sink(width=64, height=48),
        "restart markers": samples.base_jpeg(
            48, 32, seed=31, encoding=samples.Encoding(restart_rows=1)
        ),
        "orientation 6, odd size": samples.oriented_jpeg(6, (21, 13)),
        "orientation 3, whole MCUs": samples.oriented_jpeg(3, (32, 16)),
        "CMYK with Adobe": samples.base_jpeg(16, 16, seed=32, mode="CMYK"),
        "grey with IPTC": samples.compose(
            samples.base_jpeg(24, 16, seed=33, mode="L"), [samples.iptc_segment()]
        ),
        "EXIF thumbnail": samples.compose(samples.base_jpeg(32, 24, seed=34), [exif]),
        "MPO": samples.mpo_sample(width=32, height=24),
        "ICC in chunks": samples.compose(
            samples.base_jpeg(16, 16, seed=35),
            samples.icc_segments(samples.srgb_profile(), chunk_size=200),
        ),
        "junk and a lying length": _lying_exif_after_junk(base),
        "cut inside a scan": samples.cut_in_scan(samples.kitchen_sink(width=32, height=24)),
    }


def _lying_exif_after_junk(jpeg: bytes) -> bytes:
    frame = samples.walk_markers(jpeg).first(samples.SOF0).start
    lying = samples.with_length(jpeg, samples.APP1, -40)
    return samples.insert_at(lying, frame, b"\x00junk\xff\x00\xff\xd3")


def write_seeds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for data in seeds().values():
        path = directory / hashlib.sha256(data).hexdigest()[:16]
        path.write_bytes(data)
        paths.append(path)
    return paths


# --- mutations ---------------------------------------------------------------------------------

_MARKERS: Final = (
    bytes(
        (0x00, 0x01, 0x02, 0xC0, 0xC2, 0xC4, 0xC9, 0xCC, 0xD0, 0xD7, 0xD8, 0xD9, 0xDA, 0xDB, 0xDD)
    )
    + bytes(range(0xE0, 0xF0))
    + bytes((0xFE, 0xFF))
)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of the kinds that break JPEGs: bit flips, cuts, insertions
    (of random bytes or of markers), deletions, repeats and splices of other seeds."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        where = rng.randrange(len(out))
        kind = rng.choice(("flip", "truncate", "insert", "marker", "delete", "repeat", "splice"))
        if kind == "flip":
            out[where] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del out[where:]
        elif kind == "insert":
            out[where:where] = rng.randbytes(rng.randint(1, 8))
        elif kind == "marker":
            out[where:where] = bytes((0xFF, rng.choice(_MARKERS))) + rng.randbytes(
                rng.randint(0, 4)
            )
        elif kind == "delete":
            del out[where : where + rng.randint(1, 64)]
        elif kind == "repeat":
            out[where:where] = out[where : where + rng.randint(1, 256)]
        else:
            other = rng.choice(list(seeds().values()))
            start = rng.randrange(len(other))
            out[where:where] = other[start : start + rng.randint(1, 512)]
    return bytes(out)


# --- the oracle ---------------------------------------------------------------------------------


def policy_for(data: bytes) -> OrientationPolicy:
    """An orientation policy chosen by the input itself, so each input runs one of each."""
    return list(OrientationPolicy)[len(data) % len(OrientationPolicy)]


def damaged_for(data: bytes) -> DamagedPolicy:
    """A damage policy chosen by the input itself (independent of `policy_for`)."""
    return list(DamagedPolicy)[len(data) // len(OrientationPolicy) % len(DamagedPolicy)]


def check(data: bytes, options: Options) -> Result | None:
    """Sanitize `data` and hold the output to every property; None for a typed rejection.

    Any other exception, or an AssertionError, is a finding.
    """
    removed: list[Removed] = []
    try:
        result = sanitize_bytes(data, options, on_removed=removed.append)
    except SanitizeError:
        return None
    jpeg = result.jpeg
    keeps_tag = result.report.rotation == "tag-kept"
    verify_jpeg(jpeg, allow_orientation_tag=keeps_tag)
    _decode(jpeg, result.report.width * result.report.height)
    if result.report.method == "lossless":  # a re-encode copies nothing but pixels
        leaks = leaked_runs(data, jpeg, removed)
        assert not leaks, f"dropped bytes in the output: {leaks[:3]}"
    again = sanitize_bytes(jpeg, options)
    assert again.jpeg == jpeg, "sanitizing the output again changed it"
    assert _from_stream(data, options) == jpeg, "stream and bytes gave different outputs"
    return result


def _decode(jpeg: bytes, pixels: int) -> None:
    if pixels > SCALED_DECODE:
        return
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the sanitizer has no pixel limit; neither has this check
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
            if pixels > FULL_DECODE:
                image.draft(image.mode, (image.width // 8, image.height // 8))
            image.load()
    finally:
        Image.MAX_IMAGE_PIXELS = saved


class _Again:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.out = io.BytesIO()

    def reread(self) -> bytes:
        return self.data

    def restart(self) -> io.BytesIO:
        self.out = io.BytesIO()
        return self.out


def _from_stream(data: bytes, options: Options) -> bytes:
    again = _Again(data)
    sanitize_stream(io.BytesIO(data), again.out, options, fallback=again)
    return again.out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the fuzzer's seeds")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    paths = write_seeds(args.directory)
    print(f"{len(paths)} seeds in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
