"""Sideways photos of every layout, turned upright, measured against what a browser shows.

The quality goal of issue 8 point 5 is measured here: for each picture, PSNR of our upright
output against the source decoded and turned by Pillow's `ImageOps.exif_transpose` (the
reference), and the output's size over the input's. `make bench --only turns` runs the
full mix; tests/unit/test_orientation.py a small one.

Pillow writes 4:4:4, 4:2:2, 4:2:0, grayscale and CMYK; 4:1:1, 4:4:0 and YCCK come from
libjpeg-turbo's own encoder (TurboJPEG, through ctypes), as cameras and Photoshop write them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import statistics
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final, Literal

from PIL import Image, ImageChops, ImageStat, JpegImagePlugin

from exif_stripper.core.jpeg import Frame
from exif_stripper.core.transform import make_upright
from tools.samples.composition import compose
from tools.samples.corpora import restart_intervals, write_restarted_rows
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.jpeg import (
    EOI,
    SOF_MARKERS,
    SOS,
    Encoding,
    decode,
    encode_jpeg,
    photo_image,
    walk_markers,
)
from tools.samples.orientation import stored_pixels, upright_image, upright_size

Layout = Literal["4:4:4", "4:2:2", "4:2:0", "4:1:1", "4:4:0", "gray", "CMYK", "YCCK"]
LAYOUTS: Final[tuple[Layout, ...]] = (
    "4:4:4",
    "4:2:2",
    "4:2:0",
    "4:1:1",
    "4:4:0",
    "gray",
    "CMYK",
    "YCCK",
)
TURBOJPEG_LAYOUTS: Final = frozenset({"4:1:1", "4:4:0", "YCCK"})
#: Issue 8 point 5, for photos of at least 100 px on a side that are re-encoded.
GOAL_MEDIAN_DB: Final = 42.0
GOAL_MIN_DB: Final = 40.0
GOAL_GROWTH: Final = 1.6


@dataclass(frozen=True)
class Photo:
    """One photo of the mix: how it was made, and its bytes (EXIF Orientation included)."""

    layout: Layout
    quality: int
    size: tuple[int, int]  # as stored
    orientation: int
    jpeg: bytes


@dataclass(frozen=True)
class Turned:
    photo: Photo
    method: str
    psnr: float
    growth: float  # output bytes over input bytes


def photo(
    layout: Layout, quality: int, size: tuple[int, int], orientation: int, *, seed: int = 0
) -> Photo:
    """A camera-like photo stored sideways, with the EXIF Orientation that rights it.

    The content is `photo_image` with a camera's grain, stronger in larger
    pictures as in a phone photo at full size; the upright scene is the same for every
    orientation.
    """
    upright_dims = upright_size(size, orientation)
    grain = 4 + 4 * (seed % 3)
    upright = photo_image(*upright_dims, seed=seed, noise=grain)
    stored = stored_pixels(upright, orientation)
    base = encode(stored, layout, quality)
    exif = exif_segment(CameraExif(orientation=orientation))
    return Photo(layout, quality, size, orientation, compose(base, [exif]))


def encode(image: Image.Image, layout: Layout, quality: int) -> bytes:
    """`image` (RGB) as a JPEG of `layout`."""
    if layout in ("4:4:4", "4:2:2", "4:2:0"):
        return encode_jpeg(image, Encoding(quality=quality, subsampling=layout))
    if layout == "gray":
        return encode_jpeg(image.convert("L"), Encoding(quality=quality))
    if layout == "CMYK":  # Pillow writes C at 2x2 and M, Y, K at 1x1
        return encode_jpeg(image.convert("CMYK"), Encoding(quality=quality))
    return turbojpeg_encode(image, layout, quality)


def turn(item: Photo, *, budget: int = 1 << 40) -> Turned:
    """Turn `item` upright as the sanitizer does, and measure the result."""
    upright = make_upright(item.jpeg, item.orientation, frame_of(item.jpeg), budget=budget)
    reference = upright_image(item.jpeg)
    return Turned(
        item,
        upright.method.value,
        native_psnr(decode(upright.jpeg), reference),
        len(upright.jpeg) / len(item.jpeg),
    )


def can_make(layout: Layout) -> bool:
    """Whether this machine can encode `layout` (the TurboJPEG ones need libturbojpeg)."""
    return layout not in TURBOJPEG_LAYOUTS or _turbojpeg() is not None


def declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """`jpeg` with its frame header claiming `width` x `height`: a decompression bomb.

    The data stays what it was, so libjpeg would fill the rest of the picture with grey,
    after allocating all of it.
    """
    sof = next(s for s in walk_markers(jpeg).segments if s.marker in SOF_MARKERS)
    patched = bytearray(jpeg)
    struct.pack_into(">HH", patched, sof.start + 5, height, width)  # P, Y, X (T.81 B.2.2)
    return bytes(patched)


def frame_of(jpeg: bytes) -> Frame:
    """The frame header's geometry, as the tokenizer reports it (whatever the size)."""
    image = JpegImagePlugin.JpegImageFile(io.BytesIO(jpeg))  # no decompression-bomb check
    marker = 0xC2 if image.info.get("progressive") else 0xC0
    components = tuple((ident, h, v) for ident, h, v, _ in image.layer)
    return Frame(marker, image.width, image.height, components)


def native_psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR over the pictures' own channels (RGB for colour, C, M, Y, K for CMYK)."""
    if a.size != b.size or a.mode != b.mode:
        raise ValueError(f"{a.mode} {a.size} and {b.mode} {b.size} differ")
    squares = sum(ImageStat.Stat(ImageChops.difference(a, b)).sum2)
    mse = squares / (a.width * a.height * len(a.getbands()))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


# --- the mix ----------------------------------------------------------------------------------

#: Sizes as stored: two that are whole MCUs for every layout (lossless turns), and sizes
#: that are not, in one direction or both, odd or even, small and photo-sized.
WHOLE_MCUS: Final = ((1024, 768), (512, 384))
NOT_WHOLE: Final = ((1001, 751), (1000, 750), (480, 322), (333, 500), (203, 151))


def mix(
    layouts: Sequence[Layout] = LAYOUTS,
    qualities: Sequence[int] = (60, 75, 90, 98),
    sizes: Sequence[tuple[int, int]] = WHOLE_MCUS + NOT_WHOLE,
    orientations: Sequence[int] = range(2, 9),
) -> Iterable[Photo]:
    """Every combination; the content's seed varies with the size, as photos differ."""
    for layout in layouts:
        if not can_make(layout):
            continue
        for quality in qualities:
            for seed, size in enumerate(sizes):
                for orientation in orientations:
                    yield photo(layout, quality, size, orientation, seed=seed)


@dataclass(frozen=True)
class Summary:
    count: int
    median_db: float
    min_db: float
    median_growth: float
    max_growth: float

    @classmethod
    def of(cls, rows: Sequence[Turned]) -> Summary:
        decibels = [row.psnr for row in rows]
        growth = [row.growth for row in rows]
        return cls(
            len(rows),
            statistics.median(decibels),
            min(decibels),
            statistics.median(growth),
            max(growth),
        )

    def meets_goal(self) -> bool:
        return (
            self.median_db >= GOAL_MEDIAN_DB
            and self.min_db >= GOAL_MIN_DB
            and self.max_growth <= GOAL_GROWTH
        )


def reencoded(rows: Iterable[Turned]) -> list[Turned]:
    """The rows the goal is about: re-encoded photos of at least 100 px on a side."""
    return [r for r in rows if r.method == "reencode" and min(r.photo.size) >= 100]


# --- photos too large to make in memory ---------------------------------------------------

#: A 4:2:0 MCU row is 16 pixels tall.
_MCU_ROW: Final = 16


def write_tall_jpeg(
    path: Path, width: int, height: int, *, quality: int = 90, data_bytes: int | None = None
) -> int:
    """Stream a 4:2:0 photo of `width` x `height` to `path`; returns its size in bytes.

    Like `write_large_jpeg`: a strip of photo is encoded once with a restart
    marker after every MCU row, and its rows are written again and again (a restart
    interval decodes the same wherever it sits, T.81 F.1.2.3) under a frame header that
    declares the full height. With `data_bytes`, the rows stop once the file holds that
    much and an EOI follows: a small file that declares a huge picture, ended the way a
    tolerant reader ends it.
    """
    strip_rows = 4
    picture = photo_image(width, _MCU_ROW * strip_rows, seed=7, noise=8)
    encoding = Encoding(quality=quality, subsampling="4:2:0", restart_rows=1)
    strip = encode_jpeg(picture, encoding)
    layout = walk_markers(strip)
    scan = layout.first(SOS)
    header_end = scan.start + 2 + struct.unpack_from(">H", strip, scan.start + 2)[0]
    intervals = restart_intervals(strip[header_end : scan.end])
    header = bytearray(strip[:header_end])
    sof = next(s for s in layout.segments if s.marker in SOF_MARKERS)
    struct.pack_into(">H", header, sof.start + 5, height)  # P, then Y (T.81 B.2.2)
    rows = -(-height // _MCU_ROW)
    if data_bytes is not None:
        per_row = sum(len(i) + 2 for i in intervals) / len(intervals)
        rows = min(rows, max(1, round((data_bytes - len(header)) / per_row)))
    with path.open("wb") as out:
        out.write(header)
        write_restarted_rows(out, intervals, rows)
        out.write(EOI)
    return path.stat().st_size


# --- libjpeg-turbo's encoder ------------------------------------------------------------------

# turbojpeg.h: pixel formats and subsampling codes (2.x API, kept in 3.x)
_TJPF: Final = {"RGB": 0, "CMYK": 11}
_TJSAMP: Final = {"4:1:1": 5, "4:4:0": 4, "YCCK": 2}  # YCCK: 4:2:0 chroma, Y and K full


@cache
def _turbojpeg() -> ctypes.CDLL | None:
    path = ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0"
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    lib.tjInitCompress.restype = ctypes.c_void_p
    lib.tjDestroy.argtypes = (ctypes.c_void_p,)
    lib.tjFree.argtypes = (ctypes.c_void_p,)
    lib.tjCompress2.argtypes = (
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
    )
    return lib


def turbojpeg_encode(image: Image.Image, layout: Layout, quality: int) -> bytes:
    """Encode with tjCompress2: 4:1:1 and 4:4:0 from RGB, YCCK (Adobe) from CMYK."""
    lib = _turbojpeg()
    if lib is None:
        raise RuntimeError("libturbojpeg is not installed (make system-deps)")
    pixels = image.convert("CMYK" if layout == "YCCK" else "RGB")
    handle = lib.tjInitCompress()
    out = ctypes.c_void_p()
    size = ctypes.c_ulong(0)
    try:
        status = lib.tjCompress2(
            handle,
            pixels.tobytes(),
            pixels.width,
            0,
            pixels.height,
            _TJPF[pixels.mode],
            ctypes.byref(out),
            ctypes.byref(size),
            _TJSAMP[layout],
            quality,
            0,
        )
        if status != 0 or not out.value:
            raise RuntimeError(f"tjCompress2 failed for {layout}")
        return ctypes.string_at(out.value, size.value)
    finally:
        if out.value:
            lib.tjFree(out)
        lib.tjDestroy(handle)
