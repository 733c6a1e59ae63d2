"""The properties a fuzzer checks of the whole sanitizer (JPEG, PNG, WebP): mutations, the oracle.

Shared by `make fuzz` (atheris, coverage-guided, tools/fuzz/atheris_target.py) and by
`make test` (a short, fixed-seed hypothesis pass, tests/unit/test_fuzz.py). For any
input the sanitizer either refuses it with a typed `SanitizeError`, or returns an output
that

- passes its format's verifier;
- decodes with libjpeg, libpng or libwebp (Pillow), every frame, with no complaint about
  its structure;
- holds no run of 16 or more bytes taken from what it dropped (tools/fuzz/leaks.py;
  a re-encoded output holds the encoder's data, and its ICC profile is checked clean by
  the verifier);
- comes out the same when sanitized again: strip(strip(x)) == strip(x);
- is the same whether it was read from a stream or from bytes.

The seeds the mutations start from are in seeds.py.
"""

from __future__ import annotations

import io
import random
import struct
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
from tools.fuzz.leaks import copied_pieces, leaked_runs
from tools.fuzz.seeds import seeds
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp

# Pixel counts up to which an output is decoded in full, then at 1/8 scale (every block
# still read); beyond, a fuzz run cannot afford the decode and checks the rest only.
FULL_DECODE: Final = 4_000_000
SCALED_DECODE: Final = 256_000_000


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
    tail = b""  # a PNG's bytes after its last chunk; a WebP's end with its RIFF
    if png:
        chunks = samples_png.walk(data)
        raw = [data[c.offset : c.offset + 12 + len(c.payload)] for c in chunks]
        if chunks:
            tail = data[chunks[-1].offset + 12 + len(chunks[-1].payload) :]
    else:
        raw = [c.raw for c in samples_webp.walk(data)]
    if not raw:
        return data
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
    return data[:head] + b"".join(raw) + tail


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
