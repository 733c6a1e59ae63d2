"""Fuzzing the whole sanitizer (JPEG, PNG, WebP): seeds made in code, mutations, the oracle.

Shared by `make fuzz` (atheris, coverage-guided, tests/fuzz/fuzz_sanitizer.py) and by
`make test` (a short, fixed-seed hypothesis pass, tests/unit/test_fuzz.py). For any
input the sanitizer either refuses it with a typed `SanitizeError`, or returns an output
that

- passes its format's verifier;
- decodes with libjpeg, libpng or libwebp (Pillow), every frame, with no complaint about
  its structure;
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
import struct
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final

from PIL import Image, ImageSequence

from exif_stripper.core.errors import SanitizeError
from exif_stripper.core.png_verify import verify_png
from exif_stripper.core.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    Removed,
    Result,
    sanitize_bytes,
    sanitize_stream,
)
from exif_stripper.core.verify import verify_jpeg
from exif_stripper.core.webp_verify import verify_webp
from tests.harness import samples, samples_png, samples_webp
from tests.harness.leaks import copied_pieces, leaked_runs

# Pixel counts up to which an output is decoded in full, then at 1/8 scale (every block
# still read); beyond, a fuzz run cannot afford the decode and checks the rest only.
FULL_DECODE: Final = 4_000_000
SCALED_DECODE: Final = 256_000_000


# --- seeds ---------------------------------------------------------------------------------------


@cache
def seeds() -> Mapping[str, bytes]:
    """Small images of every shape the sanitizer meets, with metadata in every place."""
    return {**jpeg_seeds(), **png_and_webp_seeds()}


@cache
def jpeg_seeds() -> Mapping[str, bytes]:
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


@cache
def png_and_webp_seeds() -> Mapping[str, bytes]:
    """Small PNGs, APNGs and WebPs: every chunk kind, turned and still, still and animated."""
    grey16 = samples_png.random_raster(9, 7, 16, 4, seed=40)
    palette = samples_png.random_raster(11, 5, 2, 3, seed=41)
    return {
        "PNG with every metadata chunk": samples_png.photo_png(24, 16),
        "PNG RGBA orientation 6": samples_png.photo_png(16, 12, orientation=6, mode="RGBA"),
        "APNG orientation 5": samples_png.apng(16, 12, frames=3, orientation=5),
        "APNG, still image apart": samples_png.apng(16, 12, frames=2, default_image_is_frame=False),
        "PNG 16-bit grey+alpha, interlaced, orientation 8": samples_png.encode_png(
            grey16, interlaced=True, extra=[samples_png.exif_chunk(8)]
        ),
        "PNG 2-bit palette orientation 7": samples_png.encode_png(
            palette, palette=bytes(range(12)), extra=[samples_png.exif_chunk(7)], idat_size=16
        ),
        "WebP lossy with alpha, orientation 3": samples_webp.photo_webp(
            16, 12, alpha=True, orientation=3
        ),
        "WebP lossless orientation 6": samples_webp.photo_webp(
            16, 12, lossless=True, orientation=6
        ),
        "WebP animation": samples_webp.photo_webp(16, 12, animated=True, lossless=True),
        "WebP without VP8X": samples_webp.pillow_webp(samples.photo_image(16, 12)),
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
    """A few random edits of the kinds that break images: bit flips, cuts, insertions
    (of random bytes or of markers), deletions, repeats and splices of other seeds. Half
    the time a PNG's CRCs and a WebP's RIFF size are then made right again, so that the
    edits reach the rules behind those checks."""
    if rng.random() < 0.5 and (data.startswith(samples_png.SIGNATURE) or data[:4] == b"RIFF"):
        return refit(_chunks_edited(data, rng))
    out = _edited(data, rng)
    return refit(out) if rng.random() < 0.5 else out


_CHUNK_TYPES: Final = (
    b"IHDR PLTE IDAT IEND tRNS gAMA iCCP eXIf tEXt acTL fcTL fdAT pHYs sBIT bKGD cICP"
    b" VP8X ICCP ANIM ANMF ALPH VP8  VP8L EXIF XMP  zzZz"
).split(b" ")


def _chunks_edited(data: bytes, rng: random.Random) -> bytes:
    """Edits of whole chunks (PNG) or top-level RIFF chunks (WebP): drop, repeat, move,
    retype one, or change bytes inside its payload; the rules about which chunk may come
    where, how often and with what payload are what this reaches."""
    png = data.startswith(samples_png.SIGNATURE)
    head = 8 if png else 12
    found = samples_png.walk(data) if png else samples_webp.walk(data)
    if not found:
        return data
    raw = [data[c.offset : c.offset + 12 + len(c.payload)] if png else c.raw for c in found]
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(raw))
        kind = rng.choice(("drop", "repeat", "move", "retype", "payload"))
        if kind == "drop" and len(raw) > 1:
            del raw[at]
        elif kind == "repeat":
            raw.insert(rng.randrange(len(raw) + 1), raw[at])
        elif kind == "move":
            raw.insert(rng.randrange(len(raw)), raw.pop(at))
        elif kind == "retype":
            name = rng.choice(_CHUNK_TYPES).ljust(4)
            raw[at] = raw[at][:4] + name + raw[at][8:] if png else name + raw[at][4:]
        else:
            edited = bytearray(raw[at])
            if len(edited) > 12:
                where = rng.randrange(8, len(edited) - (4 if png else 0))
                edited[where] = rng.randrange(256)
            raw[at] = bytes(edited)
    tail = data[found[-1].offset + (12 if png else 8) + len(found[-1].payload) :]
    return data[:head] + b"".join(raw) + (tail if png else b"")


def refit(data: bytes) -> bytes:
    """Every whole chunk of a PNG with its CRC made right; a WebP's RIFF size made the
    file's. Anything else as it is."""
    if data.startswith(samples_png.SIGNATURE):
        out = bytearray(data[:8])
        pos = 8
        while pos + 12 <= len(data):
            length, kind = struct.unpack_from(">I4s", data, pos)
            if pos + 12 + length > len(data):
                break
            out += samples_png.png_chunk(kind, data[pos + 8 : pos + 8 + length])
            pos += 12 + length
        return bytes(out + data[pos:])
    if data[:4] == b"RIFF" and len(data) >= 8:
        return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    return data


def _edited(data: bytes, rng: random.Random) -> bytes:
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
    out, report = result.data, result.report
    keeps_tag = report.rotation == "tag-kept"
    _VERIFIERS[report.format](out, allow_orientation_tag=keeps_tag)
    pixels = report.width * report.height
    if report.format == "jpeg":
        _decode(out, report.format, pixels)
    else:
        _decodes_as_well_as(out, data, report.format, pixels)
    if report.method == "lossless":  # a re-encode copies nothing but pixels
        leaks = leaked_runs(data, out, removed)
        assert not leaks, f"dropped bytes in the output: {leaks[:3]}"
    again = sanitize_bytes(out, options)
    assert again.data == out, "sanitizing the output again changed it"
    assert _from_stream(data, options) == out, "stream and bytes gave different outputs"
    return result


_VERIFIERS: Final = {"jpeg": verify_jpeg, "png": verify_png, "webp": verify_webp}


def _decode(image_file: bytes, kind: str, pixels: int) -> None:
    if pixels > SCALED_DECODE or (kind != "jpeg" and pixels > FULL_DECODE):
        return
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the sanitizer has no pixel limit; neither has this check
    try:
        with Image.open(io.BytesIO(image_file), formats=[kind.upper()]) as image:
            if pixels > FULL_DECODE:
                image.draft(image.mode, (image.width // 8, image.height // 8))
            for frame in ImageSequence.Iterator(image):
                frame.load()
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _decodes_as_well_as(out: bytes, data: bytes, kind: str, pixels: int) -> None:
    """A PNG's or WebP's image data is copied without being decoded (docs/formats.md): the
    output decodes, or else what it copied is the input's own bytes, broken as they came.

    (Decoders disagree on broken files: Pillow reads an invalid APNG's first frame region
    where libpng reads the whole image, so "the input decodes" is no fair test.)"""
    try:
        _decode(out, kind, pixels)
    except (OSError, SyntaxError, ValueError, EOFError) as broken:
        altered = [piece for piece in copied_pieces(out) if piece not in data]
        if altered:
            raise AssertionError(
                f"the output does not decode ({broken}), and it altered {altered[:1]}"
            ) from None


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
