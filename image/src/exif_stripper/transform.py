"""Turning the pixels upright, so the picture no longer needs its EXIF Orientation tag.

Two ways, best first:

1. Lossless: libjpeg-turbo's transform (the engine behind `jpegtran`) rearranges the DCT
   coefficients without decoding them. We call the TurboJPEG library in-process through
   ctypes, which saves a process per file. It is exact only when the image is a whole
   number of MCUs in the direction the transform mirrors (transupp.c,
   `jtransform_perfect_transform`); we ask for `TJXOPT_PERFECT` so it refuses otherwise.
2. Re-encode: decode, transpose, encode again with the source's own quantization tables
   and chroma subsampling, so the quality is as close to the source's as an encoder gets.

The input here is already sanitized; the caller re-sanitizes and verifies the output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Final

from .jpeg import Frame

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


class Method(StrEnum):
    """How the pixels were made upright."""

    LOSSLESS = "lossless"
    REENCODE = "reencode"


@dataclass(frozen=True, slots=True)
class Upright:
    jpeg: bytes
    method: Method


def make_upright(jpeg: bytes, orientation: int, frame: Frame) -> Upright:
    """Return `jpeg` with its pixels turned as EXIF `orientation` (2-8) says."""
    library = turbojpeg()
    if library is not None and is_perfect(orientation, frame):
        return Upright(library.transform(jpeg, orientation, frame.progressive), Method.LOSSLESS)
    log.info("re-encoding to turn orientation %d (no lossless transform here)", orientation)
    return Upright(reencode_upright(jpeg, orientation, frame.progressive), Method.REENCODE)


def is_perfect(orientation: int, frame: Frame) -> bool:
    """True when the lossless transform for `orientation` leaves no partial MCU behind.

    Mirrors transupp.c: a horizontal flip needs whole MCUs across, a vertical flip whole
    MCUs down; the rotations combine a transpose (always exact) with one flip.
    """
    mcu_width, mcu_height = frame.mcu_size
    whole_across = frame.width % mcu_width == 0
    whole_down = frame.height % mcu_height == 0
    needs = {
        2: whole_across,  # mirror horizontal
        3: whole_across and whole_down,  # rotate 180
        4: whole_down,  # mirror vertical
        5: True,  # transpose
        6: whole_down,  # rotate 90 clockwise
        7: whole_across and whole_down,  # transverse
        8: whole_across,  # rotate 270 clockwise
    }
    return needs[orientation]


# --- re-encode with Pillow ----------------------------------------------------------------

_pillow_limit = threading.Lock()


@contextmanager
def _pixel_limit_enforced_by_caller() -> Iterator[None]:
    # The tokenizer has already enforced our own pixel limit at the frame header; Pillow's
    # global decompression-bomb limit (~179 MP) would otherwise refuse large phone photos
    # that our configuration allows.
    from PIL import Image

    with _pillow_limit:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def reencode_upright(jpeg: bytes, orientation: int, progressive: bool) -> bytes:
    """Decode, transpose and encode with the source's quantization tables and subsampling."""
    # Pillow is imported here, not at the top: the lossless path and the CLI's start-up
    # (measured by `make bench` against `cp -r`) do without its ~50 ms import.
    from PIL import Image, JpegImagePlugin

    with _pixel_limit_enforced_by_caller(), Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as src:
        assert isinstance(src, JpegImagePlugin.JpegImageFile)
        options: dict[str, object] = {"qtables": src.quantization, "progressive": progressive}
        subsampling = JpegImagePlugin.get_sampling(src)
        if subsampling != -1:
            options["subsampling"] = subsampling
        icc = src.info.get("icc_profile")
        if icc:
            options["icc_profile"] = icc
        upright = src.transpose(_transposition(orientation))
        out = io.BytesIO()
        upright.save(out, "JPEG", **options)
        return out.getvalue()


def _transposition(orientation: int) -> Image.Transpose:
    """The transposition that undoes an EXIF orientation (as Pillow's exif_transpose)."""
    from PIL import Image

    return {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]


# --- lossless with libjpeg-turbo ----------------------------------------------------------

# turbojpeg.h (libjpeg-turbo 2.x; the 2.x API is kept in 3.x)
_TJXOP: Final = {2: 1, 4: 2, 5: 3, 7: 4, 6: 5, 3: 6, 8: 7}  # EXIF orientation -> TJXOP_*
_TJXOPT_PERFECT: Final = 1
_TJXOPT_PROGRESSIVE: Final = 32


class _Region(ctypes.Structure):
    _fields_ = (("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int))


class _Transform(ctypes.Structure):
    _fields_ = (
        ("r", _Region),
        ("op", ctypes.c_int),
        ("options", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("customFilter", ctypes.c_void_p),
    )


class TransformFailed(RuntimeError):
    """libjpeg-turbo refused the transform (its message says why)."""


class TurboJpeg:
    """The few TurboJPEG calls a lossless transform needs, bound with ctypes."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.tjInitTransform.restype = ctypes.c_void_p
        lib.tjInitTransform.argtypes = ()
        lib.tjDestroy.argtypes = (ctypes.c_void_p,)
        lib.tjFree.argtypes = (ctypes.c_void_p,)
        lib.tjGetErrorStr2.restype = ctypes.c_char_p
        lib.tjGetErrorStr2.argtypes = (ctypes.c_void_p,)
        lib.tjTransform.argtypes = (
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(_Transform),
            ctypes.c_int,
        )
        self._lib = lib
        self.path = path

    def transform(self, jpeg: bytes, orientation: int, progressive: bool) -> bytes:
        """Losslessly apply the transform for EXIF `orientation`; markers are copied."""
        options = _TJXOPT_PERFECT | (_TJXOPT_PROGRESSIVE if progressive else 0)
        spec = _Transform(op=_TJXOP[orientation], options=options)
        handle = self._lib.tjInitTransform()
        if not handle:
            raise TransformFailed("tjInitTransform failed")
        out = ctypes.c_void_p()
        size = ctypes.c_ulong(0)
        try:
            status = self._lib.tjTransform(
                handle, jpeg, len(jpeg), 1, ctypes.byref(out), ctypes.byref(size), spec, 0
            )
            if status != 0:
                message = self._lib.tjGetErrorStr2(handle) or b"unknown error"
                raise TransformFailed(message.decode(errors="replace"))
            return ctypes.string_at(out.value, size.value) if out.value else b""
        finally:
            if out.value:
                self._lib.tjFree(out)
            self._lib.tjDestroy(handle)


# find_library misses libraries without a development symlink on some systems (and in
# the Lambda image), so the runtime soname is tried too.
_LIBRARY_FALLBACK = "libturbojpeg.so.0"


@cache
def turbojpeg() -> TurboJpeg | None:
    """The TurboJPEG library if installed; said once, then re-encoding is the way."""
    path = ctypes.util.find_library("turbojpeg") or _LIBRARY_FALLBACK
    try:
        return TurboJpeg(path)
    except OSError:
        log.warning(
            "libjpeg-turbo's TurboJPEG library was not found: pictures that need turning "
            "will be re-encoded instead of transformed losslessly"
        )
        return None
