"""Sample JPEGs built in code, carrying real metadata, for the sanitizer's tests, demo and bench.

Every function here returns bytes (or writes a file) that a real reader recognises: Pillow
decodes the pixels, exiftool finds the metadata. Nothing is read from a binary blob; the
pixels are drawn with Pillow and every metadata structure is written byte by byte with
`struct`, following the standard it comes from:

- ITU T.81 (JPEG): markers, segment lengths, scans, restart intervals (Annex B);
- JFIF 1.02 (APP0 `JFIF`, `JFXX` thumbnails);
- CIPA DC-008 / Exif 2.32 (APP1 `Exif`: TIFF structure, IFD0, Exif IFD, GPS IFD, IFD1);
- CIPA DC-007 (MPF: APP2 `MPF` index and the images after the primary EOI);
- XMP specification part 3 (APP1 XMP, extended XMP in `xmp/extension` chunks);
- IPTC IIM 4.2 inside Adobe's Photoshop image resources (APP13 `Photoshop 3.0`);
- ICC.1:2022 section 7 (profile header and tag table) and its JPEG embedding (APP2 chunks).

The module is organised top-down: markers and a small marker walker; pixels and encoding;
metadata builders (EXIF, XMP, IPTC, ICC, JFIF, FlashPix, junk); trailers; composition
(segments after SOI, between scans, MPO); then the ready-made samples: orientation variants,
the kitchen sink, the benchmark corpus and the streamed large JPEG.

The marker walker is deliberately separate from the product's parser: the tests must not
share a bug with the code they check.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import random
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO, Literal
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageOps, ImageStat

# =========================================================================================
# Markers and segments (ITU T.81 Annex B)
# =========================================================================================

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
#: The length field is two bytes and counts itself (T.81 B.1.1.4), so a payload holds at
#: most 65535 - 2 bytes.
MAX_SEGMENT_PAYLOAD = 65533

APP0 = 0xE0
APP1 = 0xE1
APP2 = 0xE2
APP13 = 0xED
APP14 = 0xEE
APP15 = 0xEF
COM = 0xFE
DQT = 0xDB
DHT = 0xC4
DRI = 0xDD
SOS = 0xDA
SOF0 = 0xC0
SOF2 = 0xC2
RST0 = 0xD0

#: Markers without a length field (T.81 Table B.1): TEM, RST0..RST7, SOI, EOI.
STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8), 0xD8, 0xD9})
#: Start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
MPF_HEADER = b"MPF\x00"


def segment(marker: int, payload: bytes) -> bytes:
    """One marker segment: FF, the marker, a big-endian length that counts itself, payload."""
    if marker in STANDALONE_MARKERS or not 0x02 <= marker <= 0xFE:
        raise ValueError(f"0x{marker:02X} is not a marker that carries a segment")
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit one segment")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def marker_name(marker: int) -> str:
    """A short readable name for a marker byte (APP1, SOS, RST3, ...)."""
    names = {0xD8: "SOI", 0xD9: "EOI", DQT: "DQT", DHT: "DHT", DRI: "DRI", SOS: "SOS"}
    names |= {COM: "COM", 0xCC: "DAC", 0x01: "TEM"}
    if marker in names:
        return names[marker]
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    if 0xD0 <= marker <= 0xD7:
        return f"RST{marker - 0xD0}"
    if marker in SOF_MARKERS:
        return f"SOF{marker - 0xC0}"
    return f"0x{marker:02X}"


@dataclass(frozen=True)
class Segment:
    """Where one marker (and what it carries) sits in a JPEG.

    For SOS, `end` lies past the scan's entropy-coded data, so a scan is one `Segment` and
    the next segment starts at `end`. `start` is the offset of the marker's 0xFF.
    """

    marker: int
    start: int
    end: int

    @property
    def name(self) -> str:
        return marker_name(self.marker)

    def payload(self, jpeg: bytes) -> bytes:
        """The bytes after the length field (for SOS: the scan header only)."""
        if self.marker in STANDALONE_MARKERS:
            return b""
        (length,) = struct.unpack_from(">H", jpeg, self.start + 2)
        return jpeg[self.start + 4 : self.start + 2 + length]


@dataclass(frozen=True)
class JpegLayout:
    """The markers of one JPEG image, from its SOI to its EOI."""

    segments: tuple[Segment, ...]

    @property
    def end(self) -> int:
        """Offset one past the EOI: where a trailer or the next MPO image begins."""
        return self.segments[-1].end

    @property
    def scans(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.marker == SOS)

    def first(self, marker: int) -> Segment:
        return next(s for s in self.segments if s.marker == marker)

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


def walk_markers(jpeg: bytes, start: int = 0) -> JpegLayout:
    """List the segments of the JPEG image that begins at `start`, up to its EOI.

    A deliberately small walker for the test fixtures: it trusts lengths and raises
    ValueError on anything it does not understand.
    """
    if jpeg[start : start + 2] != SOI:
        raise ValueError(f"no SOI at offset {start}")
    segments = [Segment(0xD8, start, start + 2)]
    pos = start + 2
    while True:
        if pos >= len(jpeg) or jpeg[pos] != 0xFF:
            raise ValueError(f"expected a marker at offset {pos}")
        marker_start = pos
        while pos < len(jpeg) and jpeg[pos] == 0xFF:  # fill bytes (T.81 B.1.1.2)
            pos += 1
        if pos >= len(jpeg):
            raise ValueError("file ends inside a marker")
        marker = jpeg[pos]
        pos += 1
        if marker in STANDALONE_MARKERS:
            segments.append(Segment(marker, marker_start, pos))
            if marker == 0xD9:
                return JpegLayout(tuple(segments))
            continue
        (length,) = struct.unpack_from(">H", jpeg, pos)
        end = pos + length
        if marker == SOS:
            end = _entropy_coded_end(jpeg, end)
        segments.append(Segment(marker, marker_start, end))
        pos = end


def _entropy_coded_end(jpeg: bytes, pos: int) -> int:
    """Offset of the marker that ends the entropy-coded data starting at `pos`.

    Inside a scan a 0xFF data byte is followed by a stuffed 0x00 (T.81 B.1.1.5) and RSTn
    markers belong to the scan (T.81 F.1.2.3); any other marker ends it.
    """
    while True:
        ff = jpeg.find(b"\xff", pos)
        if ff < 0 or ff + 1 >= len(jpeg):
            raise ValueError("scan data runs to the end of the file without a marker")
        following = jpeg[ff + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = ff + 2
            continue
        return ff


def jpeg_end(jpeg: bytes, start: int = 0) -> int:
    """Offset one past the EOI of the image that begins at `start`."""
    return walk_markers(jpeg, start).end


# =========================================================================================
# Pixels and encoding
# =========================================================================================

Subsampling = Literal["4:4:4", "4:2:2", "4:2:0"]
ColourMode = Literal["RGB", "L", "CMYK"]

#: MCU size in pixels (width, height) for each chroma subsampling (T.81 A.2.4).
MCU_SIZE: Mapping[Subsampling, tuple[int, int]] = {
    "4:4:4": (8, 8),
    "4:2:2": (16, 8),
    "4:2:0": (16, 16),
}


@dataclass(frozen=True)
class Encoding:
    """How Pillow (libjpeg-turbo) encodes the pixels."""

    quality: int = 90
    subsampling: Subsampling = "4:2:0"
    progressive: bool = False
    #: DRI: a restart marker after every this many MCU rows (0 for none, T.81 B.2.4.4).
    restart_rows: int = 0
    #: DRI in MCUs instead of rows (libjpeg prefers `restart_rows` when both are set).
    restart_blocks: int = 0
    optimize: bool = False


def photo_image(
    width: int, height: int, *, seed: int = 0, mode: ColourMode = "RGB", noise: int = 10
) -> Image.Image:
    """A photo-like picture: soft gradients, shapes, an asymmetric "F" sign and sensor noise.

    The content compresses like a photograph (smooth areas, edges, grain), and no flip or
    rotation maps it onto itself, so a wrong orientation is visible in the pixels.
    Deterministic for a given seed (Python's `random`, not Pillow's unseeded noise).
    """
    rng = random.Random(seed)
    scene = _scene(max(1, (width + 3) // 4), max(1, (height + 3) // 4), rng)
    image = scene.resize((width, height), Image.Resampling.BICUBIC)
    if noise:
        image = _add_grain(image, rng, noise)
    return image if mode == "RGB" else image.convert(mode)


def _scene(width: int, height: int, rng: random.Random) -> Image.Image:
    """The low-resolution scene: gradient sky, random shapes, and an "F" in the top left."""
    ramp = Image.linear_gradient("L")  # 256x256, black at the top, white at the bottom
    red = ramp.rotate(90).resize((width, height)).point(_span(rng.randint(20, 90), 230))
    green = ramp.resize((width, height)).point(_span(rng.randint(30, 80), 200))
    blue = Image.radial_gradient("L").resize((width, height)).point(_span(240, 60))
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        box = (
            sorted(rng.uniform(0, width) for _ in range(2)),
            sorted(rng.uniform(0, height) for _ in range(2)),
        )
        xy = (box[0][0], box[1][0], box[0][1] + 1, box[1][1] + 1)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "ellipse":
            draw.ellipse(xy, fill=colour)
        elif shape == "rectangle":
            draw.rectangle(xy, fill=colour, outline=(20, 20, 20))
        else:
            draw.line(xy, fill=colour, width=max(1, width // 60))
    _draw_f(draw, width, height)
    return image


def _draw_f(draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    """A white "F" with a black outline in the top-left quadrant: asymmetric on both axes."""
    x0, y0 = width * 0.06, height * 0.06
    stroke_w, stroke_h = max(1.0, width * 0.06), max(1.0, height * 0.06)
    parts = (
        (x0, y0, x0 + stroke_w, y0 + height * 0.42),  # stem
        (x0, y0, x0 + width * 0.30, y0 + stroke_h),  # top bar
        (x0, y0 + height * 0.17, x0 + width * 0.20, y0 + height * 0.17 + stroke_h),
    )
    for part in parts:
        draw.rectangle(part, fill=(250, 250, 250), outline=(0, 0, 0))


def _span(low: int, high: int) -> list[int]:
    """A lookup table mapping 0..255 linearly onto low..high (either direction)."""
    return [low + (high - low) * v // 255 for v in range(256)]


def _add_grain(image: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    """Add luminance grain of +-amplitude, like a camera sensor (chroma stays smooth)."""
    width, height = image.size
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = grain.point([128 + (v - 128) * amplitude // 128 for v in range(256)])
    return ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), offset=-128)


def encode_jpeg(image: Image.Image, encoding: Encoding = Encoding()) -> bytes:
    """Encode with Pillow; the result carries only what libjpeg writes itself.

    That is APP0 JFIF for RGB and grayscale, APP14 Adobe for CMYK, tables, frame and scans.
    """
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=encoding.quality,
        subsampling=encoding.subsampling,
        progressive=encoding.progressive,
        optimize=encoding.optimize,
        restart_marker_rows=encoding.restart_rows,
        restart_marker_blocks=encoding.restart_blocks,
    )
    return out.getvalue()


def base_jpeg(
    width: int = 64,
    height: int = 48,
    *,
    seed: int = 0,
    mode: ColourMode = "RGB",
    encoding: Encoding = Encoding(),
    noise: int = 10,
) -> bytes:
    """A photo-like JPEG without metadata (see `photo_image`, `encode_jpeg`)."""
    return encode_jpeg(photo_image(width, height, seed=seed, mode=mode, noise=noise), encoding)


def decode(jpeg: bytes) -> Image.Image:
    """Decode every pixel; raises if the data ends early.

    libjpeg's recoverable complaints (corrupt entropy data, a wrong RSTn) are warnings, not
    errors, so tests that must catch those compare pixels with a reference.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        image.load()
        return image.copy()


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two same-size pictures (inf if identical)."""
    if a.size != b.size:
        raise ValueError(f"sizes differ: {a.size} and {b.size}")
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    squares = sum(ImageStat.Stat(diff).sum2)
    mse = squares / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


# =========================================================================================
# TIFF structure for EXIF and MPF (TIFF 6.0 section 2, CIPA DC-008 section 4.6)
# =========================================================================================

ByteOrder = Literal["II", "MM"]


class FieldType(IntEnum):
    """TIFF field types (Exif 2.32 section 4.6.2)."""

    BYTE = 1
    ASCII = 2
    SHORT = 3
    LONG = 4
    RATIONAL = 5
    UNDEFINED = 7
    SRATIONAL = 10


_NUMERIC_FORMAT = {
    FieldType.SHORT: "H",
    FieldType.LONG: "I",
    FieldType.RATIONAL: "I",
    FieldType.SRATIONAL: "i",
}


@dataclass(frozen=True)
class Field:
    """One IFD entry. `data` is raw bytes for BYTE/ASCII/UNDEFINED, else numbers.

    RATIONAL values are given as flat numerator, denominator pairs.
    """

    tag: int
    type: FieldType
    data: bytes | tuple[int, ...]

    def encode(self, order: ByteOrder) -> tuple[int, bytes]:
        """(count, value bytes) in the given byte order."""
        if isinstance(self.data, bytes):
            return len(self.data), self.data
        fmt = _NUMERIC_FORMAT[self.type]
        packed = struct.pack(_prefix(order) + fmt * len(self.data), *self.data)
        rational = self.type in (FieldType.RATIONAL, FieldType.SRATIONAL)
        return (len(self.data) // 2 if rational else len(self.data)), packed


@dataclass(frozen=True)
class Link:
    """A LONG entry holding the offset of another block (an IFD or a blob) of the same TIFF.

    Offsets are only known once everything is laid out, so they are resolved by
    `build_tiff` (e.g. ExifIFDPointer, GPSInfo, JPEGInterchangeFormat).
    """

    tag: int
    target: str


@dataclass(frozen=True)
class Ifd:
    name: str
    entries: tuple[Field | Link, ...]
    #: The IFD chained after this one (IFD0 -> IFD1, Exif 2.32 section 4.5.2).
    next_ifd: str | None = None


@dataclass(frozen=True)
class Blob:
    name: str
    data: bytes


def _prefix(order: ByteOrder) -> str:
    return "<" if order == "II" else ">"


def ascii_field(tag: int, text: str) -> Field:
    return Field(tag, FieldType.ASCII, text.encode() + b"\x00")


def short_field(tag: int, *values: int) -> Field:
    return Field(tag, FieldType.SHORT, values)


def long_field(tag: int, *values: int) -> Field:
    return Field(tag, FieldType.LONG, values)


def rational_field(tag: int, *pairs: tuple[int, int]) -> Field:
    return Field(tag, FieldType.RATIONAL, tuple(v for pair in pairs for v in pair))


def undefined_field(tag: int, data: bytes) -> Field:
    return Field(tag, FieldType.UNDEFINED, data)


def byte_field(tag: int, *values: int) -> Field:
    return Field(tag, FieldType.BYTE, bytes(values))


def build_tiff(blocks: Sequence[Ifd | Blob], order: ByteOrder = "II") -> bytes:
    """A TIFF structure: header, then the blocks in order, the first being IFD0.

    Each IFD is followed by the values that do not fit its 4-byte value fields; every
    block starts on an even offset (TIFF 6.0 requires word alignment of values).
    """
    if not blocks or not isinstance(blocks[0], Ifd):
        raise ValueError("the first block must be IFD0")
    offsets: dict[str, int] = {}
    position = 8  # header: byte order, 42, offset of IFD0
    for block in blocks:
        offsets[block.name] = position
        position += _even(_block_size(block, order))
    out = bytearray(b"II*\x00" if order == "II" else b"MM\x00*")
    out += struct.pack(_prefix(order) + "I", offsets[blocks[0].name])
    for block in blocks:
        assert len(out) == offsets[block.name]
        if isinstance(block, Blob):
            out += block.data
        else:
            out += _ifd_bytes(block, offsets, order)
        if len(out) % 2:
            out += b"\x00"
    return bytes(out)


def _block_size(block: Ifd | Blob, order: ByteOrder) -> int:
    if isinstance(block, Blob):
        return len(block.data)
    size = 2 + 12 * len(block.entries) + 4
    for entry in block.entries:
        if isinstance(entry, Field):
            _, data = entry.encode(order)
            if len(data) > 4:
                size += _even(len(data))
    return size


def _ifd_bytes(ifd: Ifd, offsets: Mapping[str, int], order: ByteOrder) -> bytes:
    """Entry count, entries sorted by tag (TIFF 6.0), next-IFD offset, overflow values."""
    p = _prefix(order)
    entries = sorted(ifd.entries, key=lambda e: e.tag)
    overflow_at = offsets[ifd.name] + 2 + 12 * len(entries) + 4
    table = bytearray(struct.pack(p + "H", len(entries)))
    overflow = bytearray()
    for entry in entries:
        if isinstance(entry, Link):
            table += struct.pack(p + "HHII", entry.tag, FieldType.LONG, 1, offsets[entry.target])
            continue
        count, data = entry.encode(order)
        table += struct.pack(p + "HHI", entry.tag, entry.type, count)
        if len(data) <= 4:
            table += data.ljust(4, b"\x00")
        else:
            table += struct.pack(p + "I", overflow_at + len(overflow))
            overflow += data + b"\x00" * (len(data) % 2)
    table += struct.pack(p + "I", offsets[ifd.next_ifd] if ifd.next_ifd else 0)
    return bytes(table + overflow)


def _even(n: int) -> int:
    return n + (n % 2)


# =========================================================================================
# EXIF (APP1 "Exif\0\0" + TIFF, CIPA DC-008 / Exif 2.32)
# =========================================================================================


@dataclass(frozen=True)
class GpsFix:
    """A position as a phone records it (WGS-84 degrees, metres above sea level)."""

    latitude: float
    longitude: float
    altitude_m: float
    date: str = "2024:06:01"  # UTC
    time: tuple[int, int, int] = (10, 15, 30)


#: The Eiffel Tower: a position any reviewer recognises in a finding.
EIFFEL_TOWER = GpsFix(48.858222, 2.294500, 35.0)
#: Golden Gate Bridge (west, so the references are N/W): the MPO second image's position.
GOLDEN_GATE = GpsFix(37.819929, -122.478255, 67.0)


@dataclass(frozen=True)
class CameraExif:
    """What a camera writes into EXIF; every field that identifies someone is set.

    A None field is left out. `maker_serial` becomes a Nikon-style maker note (0x927C) with
    the camera's serial number inside; `thumbnail` (a JPEG) becomes IFD1.
    """

    make: str | None = "NIKON CORPORATION"
    model: str | None = "NIKON Z 6_2"
    orientation: int | None = 1
    software: str | None = "Ver.01.40"
    datetime: str | None = "2024:06:01 12:15:30"
    artist: str | None = "Jane Photographer"
    copyright: str | None = "Jane Photographer 2024"
    owner: str | None = "Jane Photographer"
    body_serial: str | None = "6012345"
    lens_serial: str | None = "20087654"
    lens_model: str | None = "NIKKOR Z 24-70mm f/4 S"
    image_unique_id: str | None = "9F3C2A1B7D6E4F508A1B2C3D4E5F6071"
    maker_serial: str | None = "6012345"
    gps: GpsFix | None = EIFFEL_TOWER
    thumbnail: bytes | None = None
    byte_order: ByteOrder = "II"


#: Only the Orientation tag: what the sanitizer's `keep-tag` policy writes.
ORIENTATION_ONLY = CameraExif(
    make=None,
    model=None,
    software=None,
    datetime=None,
    artist=None,
    copyright=None,
    owner=None,
    body_serial=None,
    lens_serial=None,
    lens_model=None,
    image_unique_id=None,
    maker_serial=None,
    gps=None,
)


def exif_tiff(camera: CameraExif) -> bytes:
    """The TIFF structure of an EXIF APP1: IFD0 -> Exif IFD, GPS IFD; IFD0 -> IFD1 -> JPEG."""
    blocks: list[Ifd | Blob] = []
    exif = _exif_ifd(camera)
    ifd0 = _ifd0(camera, has_exif=bool(exif.entries), next_ifd="ifd1" if camera.thumbnail else None)
    blocks.append(ifd0)
    if exif.entries:
        blocks.append(exif)
    if camera.gps:
        blocks.append(_gps_ifd(camera.gps))
    if camera.thumbnail:
        blocks += [_ifd1(len(camera.thumbnail)), Blob("thumbnail", camera.thumbnail)]
    return build_tiff(blocks, camera.byte_order)


def exif_segment(camera: CameraExif = CameraExif()) -> bytes:
    """APP1 `Exif\\0\\0` + TIFF (Exif 2.32 section 4.5.4)."""
    return segment(APP1, EXIF_HEADER + exif_tiff(camera))


def _optional_ascii(entries: list[Field | Link], tag: int, text: str | None) -> None:
    if text is not None:
        entries.append(ascii_field(tag, text))


def _ifd0(camera: CameraExif, *, has_exif: bool, next_ifd: str | None) -> Ifd:
    entries: list[Field | Link] = []
    _optional_ascii(entries, 0x010F, camera.make)
    _optional_ascii(entries, 0x0110, camera.model)
    if camera.orientation is not None:
        entries.append(short_field(0x0112, camera.orientation))
    if camera.make is not None:  # a camera file, not an orientation-only stub
        entries += [
            rational_field(0x011A, (300, 1)),  # XResolution
            rational_field(0x011B, (300, 1)),  # YResolution
            short_field(0x0128, 2),  # ResolutionUnit: inches
            short_field(0x0213, 1),  # YCbCrPositioning: centred
        ]
    _optional_ascii(entries, 0x0131, camera.software)
    _optional_ascii(entries, 0x0132, camera.datetime)
    _optional_ascii(entries, 0x013B, camera.artist)
    _optional_ascii(entries, 0x8298, camera.copyright)
    if has_exif:
        entries.append(Link(0x8769, "exif"))  # ExifIFDPointer
    if camera.gps:
        entries.append(Link(0x8825, "gps"))  # GPSInfoIFDPointer
    return Ifd("ifd0", tuple(entries), next_ifd)


def _exif_ifd(camera: CameraExif) -> Ifd:
    entries: list[Field | Link] = []
    if camera.make is not None:
        entries += [
            undefined_field(0x9000, b"0232"),  # ExifVersion 2.32
            short_field(0xA001, 1),  # ColorSpace: sRGB
        ]
    _optional_ascii(entries, 0x9003, camera.datetime)  # DateTimeOriginal
    _optional_ascii(entries, 0x9004, camera.datetime)  # DateTimeDigitized
    if camera.datetime is not None:
        entries.append(ascii_field(0x9011, "+02:00"))  # OffsetTimeOriginal
    if camera.maker_serial is not None:
        entries.append(undefined_field(0x927C, nikon_maker_note(camera.maker_serial)))
    _optional_ascii(entries, 0xA420, camera.image_unique_id)
    _optional_ascii(entries, 0xA430, camera.owner)  # CameraOwnerName
    _optional_ascii(entries, 0xA431, camera.body_serial)  # BodySerialNumber
    _optional_ascii(entries, 0xA434, camera.lens_model)
    _optional_ascii(entries, 0xA435, camera.lens_serial)  # LensSerialNumber
    return Ifd("exif", tuple(entries))


def nikon_maker_note(serial: str, shutter_count: int = 48213) -> bytes:
    """A Nikon type-2 maker note: `Nikon\\0` + version + its own TIFF header and IFD.

    Nikon's format is self-contained (offsets count from the maker note's own TIFF header),
    so it stays valid wherever the Exif IFD places it. Tags: MakerNoteVersion (0x0001),
    SerialNumber (0x001D), ShutterCount (0x00A7).
    """
    ifd = Ifd(
        "nikon",
        (
            undefined_field(0x0001, b"0211"),
            ascii_field(0x001D, serial),
            long_field(0x00A7, shutter_count),
        ),
    )
    return b"Nikon\x00\x02\x11\x00\x00" + build_tiff([ifd], "MM")


def _gps_ifd(gps: GpsFix) -> Ifd:
    """GPS IFD (Exif 2.32 section 4.6.6): degrees/minutes/seconds as rationals with refs."""
    entries: list[Field | Link] = [
        byte_field(0x0000, 2, 3, 0, 0),  # GPSVersionID 2.3.0.0
        ascii_field(0x0001, "N" if gps.latitude >= 0 else "S"),
        rational_field(0x0002, *_dms(gps.latitude)),
        ascii_field(0x0003, "E" if gps.longitude >= 0 else "W"),
        rational_field(0x0004, *_dms(gps.longitude)),
        byte_field(0x0005, 0 if gps.altitude_m >= 0 else 1),  # above / below sea level
        rational_field(0x0006, (round(abs(gps.altitude_m) * 100), 100)),
        rational_field(0x0007, *((v, 1) for v in gps.time)),  # GPSTimeStamp (UTC)
        ascii_field(0x0012, "WGS-84"),  # GPSMapDatum
        ascii_field(0x001D, gps.date),  # GPSDateStamp
    ]
    return Ifd("gps", tuple(entries))


def _dms(degrees: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Degrees, minutes, seconds (to 1/10000 s) as rationals, the way phones write them."""
    ten_thousandths = round(abs(degrees) * 3600 * 10000)
    whole_seconds, fraction = divmod(ten_thousandths, 10000)
    deg, rest = divmod(whole_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return (deg, 1), (minutes, 1), (seconds * 10000 + fraction, 10000)


def _ifd1(thumbnail_length: int) -> Ifd:
    """IFD1: the JPEG thumbnail (Exif 2.32 section 4.5.5: Compression 6, offset, length)."""
    entries: tuple[Field | Link, ...] = (
        short_field(0x0103, 6),  # Compression: JPEG
        rational_field(0x011A, (72, 1)),
        rational_field(0x011B, (72, 1)),
        short_field(0x0128, 2),
        Link(0x0201, "thumbnail"),  # JPEGInterchangeFormat
        long_field(0x0202, thumbnail_length),  # JPEGInterchangeFormatLength
    )
    return Ifd("ifd1", entries)


def thumbnail_jpeg(width: int = 160, height: int = 120, *, seed: int = 0) -> bytes:
    """A small JPEG for IFD1, JFXX or a preview (Exif thumbnails are 160x120 by custom)."""
    return base_jpeg(width, height, seed=seed, encoding=Encoding(quality=75))


# =========================================================================================
# XMP (APP1 "http://ns.adobe.com/xap/1.0/\0", XMP specification part 3 section 1.1.3)
# =========================================================================================

_NAMESPACES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpNote": "http://ns.adobe.com/xmp/note/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "GCamera": "http://ns.google.com/photos/1.0/camera/",
    "Container": "http://ns.google.com/photos/1.0/container/",
    "Item": "http://ns.google.com/photos/1.0/container/item/",
    "GImage": "http://ns.google.com/photos/1.0/image/",
}


@dataclass(frozen=True)
class XmpFields:
    """The main XMP packet's properties. None leaves a property out.

    `motion_video_length` marks a Google motion photo whose MP4 is the last that many bytes
    of the file (GCamera:MicroVideoOffset counts from the end of the file).
    """

    gps: GpsFix | None = EIFFEL_TOWER
    creator: str | None = "Jane Photographer"
    make: str | None = "NIKON CORPORATION"
    model: str | None = "NIKON Z 6_2"
    serial: str | None = "6012345"
    city: str | None = "Paris"
    create_date: str | None = "2024-06-01T12:15:30+02:00"
    motion_video_length: int | None = None
    #: xmpNote:HasExtendedXMP, the GUID (MD5) of the extended part; set by `xmp_segments`.
    extended_guid: str | None = None


def xmp_packet(fields: XmpFields = XmpFields()) -> bytes:
    """A complete XMP packet (xpacket wrapper, x:xmpmeta, one rdf:Description)."""
    attributes: list[tuple[str, str]] = []
    elements: list[str] = []
    if fields.make:
        attributes.append(("tiff:Make", fields.make))
    if fields.model:
        attributes.append(("tiff:Model", fields.model))
    if fields.serial:
        attributes.append(("aux:SerialNumber", fields.serial))
    if fields.create_date:
        attributes.append(("xmp:CreateDate", fields.create_date))
    if fields.city:
        attributes.append(("photoshop:City", fields.city))
    if fields.gps:
        attributes += [
            ("exif:GPSLatitude", _xmp_coordinate(fields.gps.latitude, "NS")),
            ("exif:GPSLongitude", _xmp_coordinate(fields.gps.longitude, "EW")),
        ]
    if fields.motion_video_length is not None:
        attributes += _motion_photo_attributes(fields.motion_video_length)
        elements.append(_container_directory(fields.motion_video_length))
    if fields.extended_guid:
        attributes.append(("xmpNote:HasExtendedXMP", fields.extended_guid))
    if fields.creator:
        elements.append(
            f"<dc:creator><rdf:Seq><rdf:li>{escape(fields.creator)}</rdf:li></rdf:Seq></dc:creator>"
        )
    meta = _xmpmeta(attributes, elements)
    # The packet wrapper with 1 KiB of padding lets editors update in place (part 1, 7.3).
    padding = (" " * 99 + "\n") * 10
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + meta
        + padding
        + '<?xpacket end="w"?>'
    ).encode()


def _xmpmeta(attributes: Sequence[tuple[str, str]], elements: Sequence[str]) -> str:
    used = {name.split(":")[0] for name, _ in attributes} | {"rdf", "dc", "Container", "Item"}
    xmlns = " ".join(f"xmlns:{p}={quoteattr(u)}" for p, u in _NAMESPACES.items() if p in used)
    attrs = "".join(f"\n    {name}={quoteattr(value)}" for name, value in attributes)
    body = "".join(f"\n   {e}" for e in elements)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{_NAMESPACES["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" {xmlns}{attrs}>{body}\n'
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )


def _xmp_coordinate(degrees: float, refs: str) -> str:
    """XMP GPS coordinate "DDD,MM.mmmmmmR" (XMP specification part 2, Exif schema)."""
    ref = refs[0] if degrees >= 0 else refs[1]
    whole = int(abs(degrees))
    minutes = (abs(degrees) - whole) * 60
    return f"{whole},{minutes:.6f}{ref}"


def _motion_photo_attributes(video_length: int) -> list[tuple[str, str]]:
    """Google's camera schema: the old MicroVideo fields and the newer MotionPhoto ones."""
    return [
        ("GCamera:MicroVideo", "1"),
        ("GCamera:MicroVideoVersion", "1"),
        ("GCamera:MicroVideoOffset", str(video_length)),
        ("GCamera:MicroVideoPresentationTimestampUs", "1366866"),
        ("GCamera:MotionPhoto", "1"),
        ("GCamera:MotionPhotoVersion", "1"),
        ("GCamera:MotionPhotoPresentationTimestampUs", "1366866"),
    ]


def _container_directory(video_length: int) -> str:
    """Google's container directory: the primary image, then the MP4 at the end of the file."""
    items = (
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg"'
        ' Item:Semantic="Primary" Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4"'
        f' Item:Semantic="MotionPhoto" Item:Length="{video_length}" Item:Padding="0"/></rdf:li>'
    )
    return f"<Container:Directory><rdf:Seq>{items}</rdf:Seq></Container:Directory>"


def xmp_segment(fields: XmpFields = XmpFields()) -> bytes:
    """APP1 with the main XMP packet."""
    return segment(APP1, XMP_HEADER + xmp_packet(fields))


#: Signature, GUID, full length and offset precede each extended chunk (part 3, 1.1.3.1).
EXTENDED_XMP_CHUNK = MAX_SEGMENT_PAYLOAD - len(XMP_EXTENSION_HEADER) - 32 - 4 - 4


def extended_xmp_body(*, gps: GpsFix | None = EIFFEL_TOWER, image: bytes | None = None) -> bytes:
    """The extended part: an x:xmpmeta (no packet wrapper) too big for one APP1.

    Phones use it for depth maps and edit history; here it carries a GImage JPEG (base64)
    and the altitude, so GPS data lives in the extended part too.
    """
    image = image if image is not None else base_jpeg(480, 360, seed=11, encoding=Encoding(95))
    attributes = [("GImage:Mime", "image/jpeg"), ("GImage:Data", base64.b64encode(image).decode())]
    if gps:
        attributes += [
            ("exif:GPSAltitude", f"{round(gps.altitude_m * 100)}/100"),
            ("exif:GPSAltitudeRef", "0" if gps.altitude_m >= 0 else "1"),
        ]
    return _xmpmeta(attributes, []).encode()


def extended_xmp_guid(body: bytes) -> str:
    """The GUID of an extended XMP part: MD5 of its bytes, 32 uppercase hex digits."""
    return hashlib.md5(body).hexdigest().upper()  # noqa: S324 - XMP specifies MD5


def extended_xmp_segments(body: bytes) -> list[bytes]:
    """APP1 chunks: signature, GUID, full length, offset of this chunk, chunk data."""
    guid = extended_xmp_guid(body).encode()
    chunks = []
    for offset in range(0, len(body), EXTENDED_XMP_CHUNK):
        chunk = body[offset : offset + EXTENDED_XMP_CHUNK]
        header = XMP_EXTENSION_HEADER + guid + struct.pack(">II", len(body), offset)
        chunks.append(segment(APP1, header + chunk))
    return chunks


def xmp_segments(
    fields: XmpFields = XmpFields(), extended_body: bytes | None = None
) -> list[bytes]:
    """The main XMP APP1 and, when given an extended body, its chunks with the GUID linked."""
    if extended_body is None:
        return [xmp_segment(fields)]
    linked = replace(fields, extended_guid=extended_xmp_guid(extended_body))
    return [xmp_segment(linked), *extended_xmp_segments(extended_body)]


# =========================================================================================
# IPTC IIM in Photoshop image resources (APP13 "Photoshop 3.0\0")
# =========================================================================================


@dataclass(frozen=True)
class Iptc:
    """IIM application record (record 2) datasets a newsroom or a stock site writes."""

    by_line: str = "Jane Photographer"  # 2:80
    city: str = "Paris"  # 2:90
    country: str = "France"  # 2:101
    copyright: str = "(c) 2024 Jane Photographer"  # 2:116
    keywords: tuple[str, ...] = ("holiday", "family", "home")  # 2:25, repeatable


def iptc_iim(iptc: Iptc = Iptc()) -> bytes:
    """IIM datasets: 0x1C, record, dataset, 2-byte length, data (IPTC IIM 4.2 section 1.5)."""
    datasets = [
        (1, 90, b"\x1b%G"),  # CodedCharacterSet: UTF-8
        (2, 0, b"\x00\x04"),  # ApplicationRecordVersion 4
        *((2, 25, k.encode()) for k in iptc.keywords),
        (2, 80, iptc.by_line.encode()),
        (2, 90, iptc.city.encode()),
        (2, 101, iptc.country.encode()),
        (2, 116, iptc.copyright.encode()),
    ]
    return b"".join(struct.pack(">BBBH", 0x1C, r, d, len(v)) + v for r, d, v in datasets)


def photoshop_resource(resource_id: int, data: bytes, name: bytes = b"") -> bytes:
    """One image resource block: `8BIM`, id, even-padded Pascal name, size, even-padded data."""
    pascal = bytes((len(name),)) + name
    pascal += b"\x00" * (len(pascal) % 2)
    return (
        b"8BIM"
        + struct.pack(">H", resource_id)
        + pascal
        + struct.pack(">I", len(data))
        + (data + b"\x00" * (len(data) % 2))
    )


def iptc_segment(iptc: Iptc = Iptc()) -> bytes:
    """APP13 with resource 0x0404 (IPTC-NAA) and 0x0425 (its MD5 digest, as Photoshop does)."""
    iim = iptc_iim(iptc)
    digest = hashlib.md5(iim).digest()  # noqa: S324 - the format specifies MD5
    resources = photoshop_resource(0x0404, iim) + photoshop_resource(0x0425, digest)
    return segment(APP13, PHOTOSHOP_HEADER + resources)


# =========================================================================================
# Small segments: COM, JFIF/JFXX thumbnails, FlashPix, junk APPn
# =========================================================================================


def comment_segment(text: str = "Taken at 12 Rue Example, Paris by Jane") -> bytes:
    """COM (T.81 B.2.4.5): free text, often a location or a name."""
    return segment(COM, text.encode())


def jfif_segment(thumbnail: Image.Image | None = None, *, dpi: int = 72) -> bytes:
    """APP0 JFIF 1.02, optionally with an uncompressed RGB thumbnail (JFIF 1.02 page 5)."""
    width, height, pixels = 0, 0, b""
    if thumbnail is not None:
        rgb = thumbnail.convert("RGB")
        width, height = rgb.size
        pixels = rgb.tobytes()
    header = b"JFIF\x00" + bytes((1, 2, 1)) + struct.pack(">HHBB", dpi, dpi, width, height)
    return segment(APP0, header + pixels)


def jfxx_segment(thumbnail: bytes | None = None) -> bytes:
    """APP0 JFXX extension 0x10: a JPEG-compressed thumbnail (JFIF 1.02 page 6)."""
    data = thumbnail if thumbnail is not None else thumbnail_jpeg(80, 60, seed=5)
    return segment(APP0, b"JFXX\x00\x10" + data)


def flashpix_segments(audio: bytes = b"RIFF-voice-memo " * 64) -> list[bytes]:
    """APP2 `FPXR` (Kodak/Fuji FlashPix-ready): a contents list and one stream.

    The stream is an "Audio Stream" (cameras' voice memos): a 28-byte stream header, then
    the data. exiftool reports it as FlashPix:AudioStream.
    """
    stream = b"\x00" * 0x1C + audio
    name = "/Audio Stream 000000".encode("utf-16-le") + b"\x00\x00"
    contents = b"FPXR\x00" + bytes((0, 1)) + struct.pack(">H", 1)
    contents += struct.pack(">IB", len(stream), 0) + name
    data = b"FPXR\x00" + bytes((0, 2)) + struct.pack(">HI", 0, 0) + stream
    return [segment(APP2, contents), segment(APP2, data)]


#: APP3..APP12 and APP15 as vendors use them: private data that no standard describes, here
#: with identifying text inside. Each starts with an identifier exiftool does not know, so
#: `exiftool -u` warns "Unknown APPn 'VENDORn' segment" and the oracle sees it; APP12 is
#: Photoshop's "Ducky" (save-for-web quality), which exiftool decodes.
JUNK_APP_PAYLOADS: Mapping[int, bytes] = {
    3: b"VENDOR3\x00owner=Jane Photographer;serial=6012345",
    4: b"VENDOR4\x00\x00\x00\x00\x00",
    5: b"VENDOR5\x00camera-serial:6012345",
    6: b"VENDOR6\x00",
    7: b"VENDOR7\x00gps=48.858222,2.294500",
    8: b"VENDOR8\x00",
    9: b"VENDOR9\x00device-id:a1b2c3",
    10: b"VENDOR10\x00",
    11: b"VENDOR11\x00",
    12: b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50\x00\x00",
    15: b"VENDOR15\x00user=jane",
}


def junk_app_segments() -> list[bytes]:
    """APP3..APP12 and APP15 segments (see JUNK_APP_PAYLOADS)."""
    return [segment(0xE0 + n, payload) for n, payload in JUNK_APP_PAYLOADS.items()]


def app_segment(n: int, payload: bytes) -> bytes:
    """APPn with any payload."""
    if not 0 <= n <= 15:
        raise ValueError("APPn is APP0..APP15")
    return segment(0xE0 + n, payload)


# =========================================================================================
# ICC profiles (ICC.1:2022 section 7; embedding: ICC.1 Annex B.4, APP2 "ICC_PROFILE\0")
# =========================================================================================

#: An ICC chunk's payload: signature (12), sequence number and count (1 each), data.
MAX_ICC_CHUNK = MAX_SEGMENT_PAYLOAD - len(ICC_HEADER) - 2


def srgb_profile() -> bytes:
    """A real, small sRGB profile from LittleCMS (588 bytes), with a fixed creation date.

    LittleCMS stamps the current time into the header (ICC.1 7.2.8, bytes 24..35); a fixed
    date keeps every sample byte-for-byte reproducible. The profile ID is zero ("not
    computed"), so nothing else depends on those bytes.
    """
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    created = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
    return profile[:24] + created + profile[36:]


def padded_icc_profile(profile: bytes, total_size: int) -> bytes:
    """The same profile grown to `total_size` bytes by one extra private tag.

    Adds a tag-table entry (signature `zpad`, type `data`, ICC.1 10.4) whose data is
    padding, moves the other tags' offsets by the 12 bytes the entry takes, and fixes the
    header's size and profile ID. Readers skip private tags, so the colours stay the same.
    """
    (count,) = struct.unpack_from(">I", profile, 128)
    table_end = 132 + 12 * count
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    tag_data = profile[table_end:]
    body_start = table_end + 12
    pad_offset = body_start + len(tag_data)
    pad_offset += -pad_offset % 4  # tag data starts on a 4-byte boundary (ICC.1 7.3.1)
    pad_size = total_size - pad_offset
    if pad_size < 12:
        raise ValueError(f"total_size must be at least {pad_offset + 12}")
    table = b"".join(struct.pack(">4sII", sig, off + 12, size) for sig, off, size in entries)
    table += struct.pack(">4sII", b"zpad", pad_offset, pad_size)
    pad_tag = b"data" + b"\x00" * 4 + struct.pack(">I", 1) + b"\x00" * (pad_size - 12)
    body = tag_data + b"\x00" * (pad_offset - body_start - len(tag_data)) + pad_tag
    grown = bytearray(profile[:128] + struct.pack(">I", count + 1) + table + body)
    struct.pack_into(">I", grown, 0, len(grown))
    return _with_profile_id(bytes(grown))


def _with_profile_id(profile: bytes) -> bytes:
    """Set the profile ID: MD5 of the profile with flags, intent and ID zeroed (ICC.1 7.2.18)."""
    scratch = bytearray(profile)
    scratch[44:48] = bytes(4)
    scratch[64:68] = bytes(4)
    scratch[84:100] = bytes(16)
    digest = hashlib.md5(scratch).digest()  # noqa: S324 - ICC specifies MD5
    return profile[:84] + digest + profile[100:]


def large_icc_profile(total_size: int = 150_000) -> bytes:
    """A real sRGB profile padded past one segment's capacity (three APP2 chunks by default)."""
    return padded_icc_profile(srgb_profile(), total_size)


def icc_segments(profile: bytes, chunk_size: int = MAX_ICC_CHUNK) -> list[bytes]:
    """APP2 `ICC_PROFILE\\0` chunks with 1-based sequence numbers and the chunk count."""
    if not 0 < chunk_size <= MAX_ICC_CHUNK:
        raise ValueError(f"chunk_size must be 1..{MAX_ICC_CHUNK}")
    chunks = [profile[i : i + chunk_size] for i in range(0, len(profile), chunk_size)]
    if len(chunks) > 255:
        raise ValueError("an ICC profile is split into at most 255 chunks")
    return [
        segment(APP2, ICC_HEADER + bytes((seq, len(chunks))) + chunk)
        for seq, chunk in enumerate(chunks, start=1)
    ]


# =========================================================================================
# Trailers: what phones and cameras append after the primary image's EOI
# =========================================================================================


def mp4_video(payload_size: int = 16_384, *, seed: int = 3) -> bytes:
    """An MP4-like blob (ISO BMFF boxes `ftyp`, `mdat`), as a motion photo appends.

    Not a playable video: the `mdat` holds random bytes. exiftool recognises the `ftyp` box
    right after EOI as an EmbeddedVideo.
    """
    ftyp = b"ftyp" + b"mp42" + struct.pack(">I", 0) + b"isommp42"
    mdat = b"mdat" + random.Random(seed).randbytes(payload_size)
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(mdat) + 4) + mdat


@dataclass(frozen=True)
class SefBlock:
    """One Samsung "SEF" trailer block: a type code, a name and the data."""

    type: int
    name: str
    data: bytes


def samsung_trailer(blocks: Sequence[SefBlock]) -> bytes:
    """A Samsung SEF trailer: data blocks, the `SEFH` directory, its length and `SEFT`.

    Layout (as exiftool's Samsung.pm reads it, little-endian): each block is 2 zero bytes,
    a 2-byte type, a 4-byte name length, the name, the data. The SEFH directory lists for
    each block its type, its distance back from SEFH and its size; the file ends with the
    directory's length and `SEFT`.
    """
    out = bytearray()
    placed: list[tuple[int, int, int]] = []
    for block in blocks:
        name = block.name.encode()
        raw = struct.pack("<HHI", 0, block.type, len(name)) + name + block.data
        placed.append((block.type, len(out), len(raw)))
        out += raw
    directory_at = len(out)
    directory = b"SEFH" + struct.pack("<II", 107, len(blocks))
    for kind, start, size in placed:
        directory += struct.pack("<HHII", 0, kind, directory_at - start, size)
    return bytes(out + directory + struct.pack("<I", len(directory)) + b"SEFT")


def samsung_motion_trailer(video: bytes | None = None) -> bytes:
    """What a Galaxy phone appends: the motion-photo MP4, the capture time, the country code."""
    return samsung_trailer(
        [
            SefBlock(0x0A30, "MotionPhoto_Data", video if video is not None else mp4_video()),
            SefBlock(0x0A01, "Image_UTC_Data", b"1717236930123"),
            SefBlock(0x0AA1, "MCC_Data", b"208"),
        ]
    )


def padding_trailer(size: int = 4096) -> bytes:
    """Zero bytes after EOI, as some encoders pad to a block size."""
    return b"\x00" * size


# =========================================================================================
# Composition: segments after SOI, segments between scans, MPO
# =========================================================================================


def _is_jfif(seg: bytes) -> bool:
    return seg[1] == APP0 and seg[4:9] == b"JFIF\x00"


def compose(base: bytes, segments: Sequence[bytes] = (), trailer: bytes = b"") -> bytes:
    """Insert marker segments after SOI and append a trailer at the end.

    JFIF must be the first segment (JFIF 1.02), so the segments go after the base's APP0
    JFIF if it has one; if `segments` brings its own JFIF APP0, it replaces the base's.
    """
    layout = walk_markers(base)
    after = layout.segments[1]
    brings_jfif = any(_is_jfif(s) for s in segments)
    head_end = 2
    if after.marker == APP0 and base[after.start + 4 : after.start + 9] == b"JFIF\x00":
        head_end = after.end
    head = SOI if brings_jfif else base[:head_end]
    return head + b"".join(segments) + base[head_end:] + trailer


def insert_between_scans(
    jpeg: bytes, segments: Sequence[bytes], after_scans: Iterable[int] | None = None
) -> bytes:
    """Insert the segments right after the entropy-coded data of the given scans (0-based).

    By default after every scan but the last, i.e. between each pair of scans of a
    progressive JPEG. T.81 B.2.1 and B.2.4 allow APPn and COM among the tables before any
    scan, so the result is valid and decodes to the same pixels.
    """
    scans = walk_markers(jpeg).scans
    chosen = set(range(len(scans) - 1) if after_scans is None else after_scans)
    if not chosen <= set(range(len(scans))):
        raise ValueError(f"the JPEG has {len(scans)} scans")
    cuts = sorted(scans[i].end for i in chosen)
    out = bytearray()
    previous = 0
    for cut in cuts:
        out += jpeg[previous:cut] + b"".join(segments)
        previous = cut
    return bytes(out + jpeg[previous:])


def remove_segments(jpeg: bytes, markers: Iterable[int]) -> bytes:
    """The JPEG without the segments of the given markers (a reference for tests)."""
    drop = set(markers)
    layout = walk_markers(jpeg)
    kept = [jpeg[s.start : s.end] for s in layout.segments if s.marker not in drop]
    return b"".join(kept) + jpeg[layout.end :]


def reference_strip(jpeg: bytes) -> bytes:
    """What docs/design.md "Sanitizer: what is kept" says a sanitized JPEG is (no rotation),
    computed independently.

    For the well-formed files built here: SOI; APP0 JFIF cut to its 14 header bytes with
    a 0x0 thumbnail; the ICC profile cleaned, in chunks again; APP14 Adobe as its 12
    defined bytes (version 100, no flags); the frame header; then before each scan the
    tables it reads that a decoder of the output does not hold yet (one DQT, then one DHT,
    then DRI if the restart interval changes), the scan header (a sequential scan says
    Ss=0, Se=63, Ah=Al=0; a table selector the scan does not read is 0) and the scan's
    data; EOI.
    Everything else is dropped, and so is everything after the primary EOI. A
    differential reference for the sanitizer's tests and a known-clean input for the
    oracle's.
    """
    layout = walk_markers(jpeg)
    header = bytearray(SOI)
    icc: list[bytes] = []
    adobe = b""
    frame = b""
    body = bytearray()
    tables = _ReferenceTables()
    for seg in layout.segments:
        payload = seg.payload(jpeg)
        if seg.marker == APP0 and payload.startswith(b"JFIF\x00") and len(header) == 2:
            header += segment(APP0, payload[:12] + b"\x00\x00")
        elif seg.marker == APP2 and payload.startswith(ICC_HEADER) and not body:
            icc.append(payload)
        elif seg.marker == APP14 and payload.startswith(b"Adobe") and not adobe:
            adobe = segment(APP14, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, payload[11]))
        elif seg.marker in SOF_MARKERS:
            frame = jpeg[seg.start : seg.end]
            tables.frame(payload, progressive=seg.marker == SOF2)
        elif seg.marker in (DQT, DHT, DRI):
            tables.define(seg.marker, payload)
        elif seg.marker == SOS:
            length = struct.unpack_from(">H", jpeg, seg.start + 2)[0]
            body += tables.before_scan(payload)
            body += jpeg[seg.start + 2 + length : seg.end]
    return bytes(header + _reference_icc(icc) + adobe + frame + body + EOI)


def _reference_icc(chunks: list[bytes]) -> bytes:
    """The ICC chunks as the output carries them: the profile cleaned by icc.py (whose own
    tests show it keeps the colours), or nothing when the chunks form no valid profile."""
    from exif_stripper.core.icc import (
        IccError,
        jpeg_chunks,
        reassemble_jpeg_chunks,
        sanitize_profile,
    )

    if not chunks:
        return b""
    try:
        profile = sanitize_profile(reassemble_jpeg_chunks(chunks)).data
        return b"".join(segment(APP2, chunk) for chunk in jpeg_chunks(profile))
    except IccError:
        return b""


def reference_removed_bytes(jpeg: bytes) -> int:
    """How many bytes of metadata `reference_strip` leaves out: every APPn and COM segment
    but the ICC chunks and the first JFIF's 18-byte header, what cleaning the ICC profile
    takes out of it, and all after the primary EOI. (Merging tables or ICC chunks into
    fewer segments saves a few bytes more; those are not metadata.)"""
    from exif_stripper.core.icc import reassemble_jpeg_chunks, sanitize_profile

    layout = walk_markers(jpeg)
    removed = len(jpeg) - layout.end
    jfif_seen = False
    icc = []
    for seg in layout.segments:
        payload = seg.payload(jpeg)
        if seg.marker == APP2 and payload.startswith(ICC_HEADER):
            icc.append(payload)
            continue
        if 0xE0 <= seg.marker <= 0xEF or seg.marker == COM:
            removed += seg.end - seg.start
            if seg.marker == APP0 and payload.startswith(b"JFIF\x00") and not jfif_seen:
                jfif_seen = True
                removed -= 18
    if icc:
        profile = reassemble_jpeg_chunks(icc)
        removed += max(0, len(profile) - len(sanitize_profile(profile).data))
    return removed


class _ReferenceTables:
    """The tables of `reference_strip`: which ones each scan reads, and which are new."""

    def __init__(self) -> None:
        self.current: dict[tuple[int, int], bytes] = {}  # (DQT or DHT class, id) -> entry
        self.written: dict[tuple[int, int], bytes] = {}
        self.restart = (0, 0)  # (current, written)
        self.quant_of: dict[int, int] = {}
        self.latched: set[int] = set()
        self.progressive = False

    def frame(self, payload: bytes, *, progressive: bool) -> None:
        self.progressive = progressive
        for i in range(payload[5]):
            self.quant_of[payload[6 + 3 * i]] = payload[8 + 3 * i]

    def define(self, marker: int, payload: bytes) -> None:
        pos = 0
        while pos < len(payload):
            if marker == DRI:
                self.restart = (struct.unpack(">H", payload)[0], self.restart[1])
                return
            if marker == DQT:
                size = 1 + (128 if payload[pos] >> 4 else 64)
                self.current[(DQT, payload[pos] & 15)] = payload[pos : pos + size]
            else:
                size = 17 + sum(payload[pos + 1 : pos + 17])
                self.current[(payload[pos] >> 4, payload[pos] & 15)] = payload[pos : pos + size]
            pos += size

    def before_scan(self, payload: bytes) -> bytes:
        count = payload[0]
        ss, se, approximation = payload[1 + 2 * count : 4 + 2 * count]
        uses_dc = not self.progressive or (ss == 0 and approximation >> 4 == 0)
        uses_ac = not self.progressive or ss > 0
        needed = set()
        scan = bytearray((count,))
        for i in range(count):
            component, selectors = payload[1 + 2 * i], payload[2 + 2 * i]
            dc, ac = (selectors >> 4) * uses_dc, (selectors & 15) * uses_ac
            scan += bytes((component, dc << 4 | ac))
            if component not in self.latched:
                needed.add((DQT, self.quant_of[component]))
            needed |= {(0, dc)} if uses_dc else set()
            needed |= {(1, ac)} if uses_ac else set()
            self.latched.add(component)
        scan += bytes((ss, se, approximation)) if self.progressive else bytes((0, 63, 0))
        new = [key for key in sorted(needed) if self.written.get(key) != self.current[key]]
        self.written.update((key, self.current[key]) for key in new)
        out = bytearray()
        quant = [self.current[key] for key in new if key[0] == DQT]
        huffman = [self.current[key] for key in new if key[0] != DQT]
        out += segment(DQT, b"".join(quant)) if quant else b""
        out += segment(DHT, b"".join(huffman)) if huffman else b""
        if self.restart[0] != self.restart[1]:
            out += segment(DRI, struct.pack(">H", self.restart[0]))
            self.restart = (self.restart[0], self.restart[0])
        return bytes(out + segment(SOS, bytes(scan)))


class MpType(IntEnum):
    """MP image type codes (CIPA DC-007 section 5.2.3.3.1, Table 4)."""

    BASELINE_PRIMARY = 0x030000
    LARGE_THUMBNAIL_VGA = 0x010001
    LARGE_THUMBNAIL_FULL_HD = 0x010002
    PANORAMA = 0x020001
    DISPARITY = 0x020002
    MULTI_ANGLE = 0x020003


#: Individual image attribute flag: the representative image (CIPA DC-007 Table 4).
MP_REPRESENTATIVE = 0x20000000


def mpf_segment(
    image_sizes: Sequence[int],
    image_offsets: Sequence[int],
    types: Sequence[MpType],
    order: ByteOrder = "MM",
) -> bytes:
    """APP2 `MPF\\0` with an MP Index IFD (CIPA DC-007 section 5.2.2).

    After the `MPF\\0` identifier comes an MP header laid out like a TIFF header; every
    image offset counts from that header's first byte (0 for the first image).
    """
    p = _prefix(order)
    entries = b"".join(
        struct.pack(
            p + "IIIHH",
            kind | (MP_REPRESENTATIVE if i == 0 else 0),  # attribute: flags, JPEG, type
            size,
            offset,
            0,  # dependent image 1 entry number
            0,  # dependent image 2 entry number
        )
        for i, (size, offset, kind) in enumerate(
            zip(image_sizes, image_offsets, types, strict=True)
        )
    )
    index = Ifd(
        "mp-index",
        (
            undefined_field(0xB000, b"0100"),  # MPFVersion
            long_field(0xB001, len(image_sizes)),  # NumberOfImages
            undefined_field(0xB002, entries),  # MPEntry, 16 bytes per image
        ),
    )
    return segment(APP2, MPF_HEADER + build_tiff([index], order))


def mpo(
    primary: bytes,
    others: Sequence[bytes],
    *,
    types: Sequence[MpType] | None = None,
    trailer: bytes = b"",
) -> bytes:
    """A multi-picture file: the primary JPEG with an MPF index, then the other images.

    The MPF APP2 goes after the primary's APP0/APP1 segments (CIPA DC-007 5.2: after the
    Exif APP1). Its offsets are computed in two passes: insert a placeholder of the right
    size, find where its MP header landed, then write the real offsets.
    """
    kinds = list(types) if types is not None else [MpType.DISPARITY] * (1 + len(others))
    layout = walk_markers(primary)
    if layout.end != len(primary):
        raise ValueError("the primary image must end at its EOI (add trailers via `trailer`)")
    insert_at = 2
    for seg in layout.segments[1:]:
        if seg.marker not in (APP0, APP1):
            break
        insert_at = seg.end
    sizes = [0, *(len(o) for o in others)]
    placeholder = mpf_segment(sizes, [0] * len(sizes), kinds)
    primary_size = len(primary) + len(placeholder)
    header_at = insert_at + 4 + len(MPF_HEADER)  # marker, length, identifier
    offsets = [0]
    position = primary_size
    for other in others:
        offsets.append(position - header_at)
        position += len(other)
    mpf = mpf_segment([primary_size, *sizes[1:]], offsets, kinds)
    assert len(mpf) == len(placeholder)
    return primary[:insert_at] + mpf + primary[insert_at:] + b"".join(others) + trailer


# =========================================================================================
# Orientation (Exif 2.32 section 4.6.4, tag 0x0112)
# =========================================================================================

#: What a viewer does to the stored pixels for each Orientation value: the same table as
#: Pillow's ImageOps.exif_transpose.
DISPLAY_TRANSFORM: Mapping[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: The inverse: how a camera stores an upright scene for each Orientation value.
_STORE_TRANSFORM: Mapping[int, Image.Transpose | None] = {
    **DISPLAY_TRANSFORM,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """The picture as a viewer shows it: the stored pixels turned per the Orientation tag."""
    transform = DISPLAY_TRANSFORM[orientation]
    return image.copy() if transform is None else image.transpose(transform)


def stored_pixels(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that `apply_orientation(result, orientation) == upright`."""
    transform = _STORE_TRANSFORM[orientation]
    return upright.copy() if transform is None else upright.transpose(transform)


def upright_image(jpeg: bytes) -> Image.Image:
    """Decode and turn upright with the file's own Orientation tag (ImageOps.exif_transpose)."""
    return ImageOps.exif_transpose(decode(jpeg))


def upright_size(stored_size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Orientations 5..8 swap width and height on display."""
    width, height = stored_size
    return (height, width) if orientation >= 5 else (width, height)


def oriented_jpeg(
    orientation: int,
    stored_size: tuple[int, int] = (64, 48),
    *,
    subsampling: Subsampling = "4:2:0",
    quality: int = 92,
    camera: CameraExif = CameraExif(),
    seed: int = 1,
) -> bytes:
    """A camera JPEG whose pixels are stored turned, with the Orientation that rights them.

    The upright scene (`upright_scene`) is the same for all eight values, so a test can
    compare any sanitized variant with the one reference. `stored_size` is the encoded
    size: (64, 48) is MCU-aligned for every subsampling, (61, 47) is not.
    """
    upright = upright_scene(orientation, stored_size, seed=seed)
    pixels = stored_pixels(upright, orientation)
    base = encode_jpeg(pixels, Encoding(quality=quality, subsampling=subsampling))
    return compose(base, [exif_segment(replace(camera, orientation=orientation))])


def upright_scene(orientation: int, stored_size: tuple[int, int], *, seed: int = 1) -> Image.Image:
    """The picture `oriented_jpeg` shows upright (before JPEG loss)."""
    width, height = upright_size(stored_size, orientation)
    return photo_image(width, height, seed=seed, noise=0)


# =========================================================================================
# Ready-made samples
# =========================================================================================


def camera_exif_with_thumbnail(seed: int = 0) -> CameraExif:
    """CameraExif defaults plus a real IFD1 thumbnail."""
    return CameraExif(thumbnail=thumbnail_jpeg(seed=seed))


def mpo_sample(*, width: int = 320, height: int = 240, seed: int = 21) -> bytes:
    """A stereo MPO: left image with EXIF (Eiffel Tower GPS) and the MPF index; right image
    after the primary's EOI with its OWN EXIF and a different GPS fix (Golden Gate)."""
    left = compose(base_jpeg(width, height, seed=seed), [exif_segment()])
    right_exif = CameraExif(gps=GOLDEN_GATE, body_serial="7099999", maker_serial="7099999")
    right = compose(base_jpeg(width, height, seed=seed + 1), [exif_segment(right_exif)])
    return mpo(left, [right])


def motion_photo_sample(*, width: int = 320, height: int = 240, seed: int = 31) -> bytes:
    """A Pixel-style motion photo: XMP with GCamera fields, the MP4 appended after EOI."""
    video = mp4_video()
    fields = XmpFields(motion_video_length=len(video))
    base = base_jpeg(width, height, seed=seed)
    return compose(base, [exif_segment(), *xmp_segments(fields)], trailer=video)


@dataclass(frozen=True)
class KitchenSinkParts:
    """What `kitchen_sink` puts where, for tests that check each part is found."""

    video_length: int
    extended_xmp_chunks: int
    icc_chunks: int
    scans: int


def kitchen_sink(*, width: int = 640, height: int = 480, seed: int = 7) -> bytes:
    """A progressive phone photo that carries every kind of metadata at once.

    APP0 JFIF with an RGB thumbnail, APP0 JFXX thumbnail, APP1 EXIF (camera, serials,
    Nikon maker note, GPS, IFD1 thumbnail), APP1 XMP (GPS, creator, serial, motion photo)
    with extended XMP, APP2 ICC (two chunks), APP2 FlashPix, APP2 MPF, APP3..APP12, APP13
    IPTC, APP15, two COM; a COM and an APP1 XMP between the progressive scans; after EOI
    an MPO second image with its own EXIF+GPS, then a Samsung SEF trailer holding the
    motion-photo MP4.
    """
    return _kitchen_sink(width, height, seed)[0]


def kitchen_sink_parts(*, width: int = 640, height: int = 480, seed: int = 7) -> KitchenSinkParts:
    return _kitchen_sink(width, height, seed)[1]


def _kitchen_sink(width: int, height: int, seed: int) -> tuple[bytes, KitchenSinkParts]:
    base = base_jpeg(width, height, seed=seed, encoding=Encoding(quality=88, progressive=True))
    video = mp4_video()
    trailer = samsung_motion_trailer(video)
    # MicroVideoOffset counts from the end of the file to the MP4, which sits inside the SEF
    # trailer: the MP4 block's data, the blocks after it, the directory and its footer.
    video_from_end = len(trailer) - trailer.index(video)
    extended = extended_xmp_body()
    xmp = xmp_segments(XmpFields(motion_video_length=video_from_end), extended)
    icc = icc_segments(srgb_profile(), chunk_size=400)
    thumb_rgb = photo_image(48, 36, seed=seed, noise=0)
    leading = [
        jfif_segment(thumb_rgb),
        jfxx_segment(),
        exif_segment(camera_exif_with_thumbnail(seed)),
        *xmp,
        *icc,
        *flashpix_segments(),
        *junk_app_segments()[:10],  # APP3..APP12
        iptc_segment(),
        *junk_app_segments()[10:],  # APP15
        comment_segment(),
        comment_segment("Second comment: phone number +33 1 23 45 67 89"),
    ]
    primary = compose(base, leading)
    between = [
        comment_segment("Comment between scans"),
        xmp_segment(XmpFields(creator="Between Scans", gps=GOLDEN_GATE, make=None, model=None)),
    ]
    primary = insert_between_scans(primary, between, after_scans=[0])
    second_exif = CameraExif(gps=GOLDEN_GATE, thumbnail=None)
    second = compose(base_jpeg(width // 2, height // 2, seed=seed + 1), [exif_segment(second_exif)])
    data = mpo(primary, [second], types=[MpType.BASELINE_PRIMARY, MpType.LARGE_THUMBNAIL_VGA])
    data += trailer
    parts = KitchenSinkParts(
        video_length=video_from_end,
        extended_xmp_chunks=len(xmp) - 1,
        icc_chunks=len(icc),
        scans=len(walk_markers(base).scans),
    )
    return data, parts


def demo_samples() -> dict[str, bytes]:
    """A handful of named photos for `make demo`: each shows one way metadata leaks."""
    return {
        "kitchen-sink.jpg": kitchen_sink(),
        "camera-exif-gps-thumbnail.jpg": compose(
            base_jpeg(480, 320, seed=41), [exif_segment(camera_exif_with_thumbnail(41))]
        ),
        "xmp-gps-extended.jpg": compose(
            base_jpeg(480, 320, seed=42), xmp_segments(XmpFields(), extended_xmp_body())
        ),
        "iptc-newsroom.jpg": compose(base_jpeg(480, 320, seed=43), [iptc_segment()]),
        "stereo-mpo.jpg": mpo_sample(),
        "motion-photo.jpg": motion_photo_sample(),
        "sideways-orientation-6.jpg": oriented_jpeg(6, (480, 320), camera=CameraExif()),
        "cmyk-adobe.jpg": compose(
            base_jpeg(320, 240, seed=44, mode="CMYK"), [exif_segment(), comment_segment()]
        ),
    }


def write_samples(directory: Path, samples: Mapping[str, bytes] | None = None) -> list[Path]:
    """Write `demo_samples()` (or the given samples) into a directory; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in (samples if samples is not None else demo_samples()).items():
        path = directory / name
        path.write_bytes(data)
        paths.append(path)
    return paths


# =========================================================================================
# Benchmark corpus: camera-sized photos, deterministic, cached on disk
# =========================================================================================

#: Bump when the generator's output changes, so cached corpus files are not reused.
CORPUS_VERSION = 1


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus of camera photos (12 MP, quality 90 by default: 3-6 MB each)."""

    count: int = 12
    width: int = 4000
    height: int = 3000
    quality: int = 90
    seed: int = 0

    def digest(self, index: int) -> str:
        key = f"{CORPUS_VERSION}|{self.width}x{self.height}|q{self.quality}|{self.seed}|{index}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def camera_photo(
    width: int = 4000, height: int = 3000, *, quality: int = 90, seed: int = 0
) -> bytes:
    """One realistic camera file: EXIF (GPS, serials, maker note, thumbnail), XMP, ICC.

    The grain varies with the seed (like ISO between shots), so 12 MP files at quality 90
    weigh 3 to 5 MB, as a phone's or a camera's do.
    """
    noise = 10 + 2 * (seed % 4)
    base = base_jpeg(width, height, seed=seed, encoding=Encoding(quality=quality), noise=noise)
    segments = [
        exif_segment(camera_exif_with_thumbnail(seed)),
        xmp_segment(),
        *icc_segments(srgb_profile()),
    ]
    return compose(base, segments)


def corpus_paths(directory: Path, spec: CorpusSpec = CorpusSpec()) -> list[Path]:
    """Where `write_corpus` puts each photo (the name carries the parameters' digest)."""
    return [directory / f"camera-{i:03d}-{spec.digest(i)}.jpg" for i in range(spec.count)]


def write_corpus(directory: Path, spec: CorpusSpec = CorpusSpec()) -> list[Path]:
    """Write the corpus, reusing files generated earlier with the same parameters."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = corpus_paths(directory, spec)
    for index, path in enumerate(paths):
        if path.exists():
            continue
        data = camera_photo(spec.width, spec.height, quality=spec.quality, seed=spec.seed + index)
        _write_atomically(path, data)
    return paths


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


# =========================================================================================
# A large JPEG, streamed: repeated restart intervals (T.81 B.2.4.4, F.1.2.3)
# =========================================================================================


@dataclass(frozen=True)
class LargeJpeg:
    path: Path
    width: int
    height: int
    size: int
    #: The strip whose MCU rows repeat down the image (decode it to know every pixel).
    strip: bytes


#: Rows of 8x8 MCUs in the strip that repeats (4:4:4 keeps an MCU row 8 pixels tall).
_STRIP_MCU_ROWS = 16


def large_jpeg_strip(width: int = 4096, *, quality: int = 100, seed: int = 0) -> bytes:
    """The building block: a baseline 4:4:4 JPEG, 128 px tall, a restart marker every MCU row.

    Half photo, half colour noise at quality 100 costs about 3.4 bytes per pixel, so a
    200 MB file is about 60 MP: below Pillow's decompression-bomb warning (89 MP) and
    below the pixel limits a sanitizer sensibly sets, yet as large as files get.
    """
    height = 8 * _STRIP_MCU_ROWS
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    image = Image.blend(photo_image(width, height, seed=seed, noise=0), noise, 0.5)
    return encode_jpeg(image, Encoding(quality=quality, subsampling="4:4:4", restart_rows=1))


def write_large_jpeg(
    path: Path,
    target_bytes: int = 200 * 1024 * 1024,
    *,
    width: int = 4096,
    quality: int = 100,
    seed: int = 0,
) -> LargeJpeg:
    """Stream a valid baseline JPEG of about `target_bytes` to `path` in bounded memory.

    A JPEG cannot be concatenated, but a restart interval can be repeated: at each RSTn
    the decoder resets its DC predictions and byte-aligns (T.81 F.1.2.3), so the
    entropy-coded data of one MCU row, restart-aligned, decodes the same wherever it sits.
    The strip (see `large_jpeg_strip`) is encoded once with DRI = one MCU row; its rows are
    then written again and again, each followed by the next RSTn (numbers cycle 0..7), and
    SOF's height is patched to the total. 4:4:4 means no chroma upsampling across rows, so
    every pixel equals the strip's pixel at the same row modulo the strip height. Memory:
    one strip (a few MB), whatever the file size. JPEG heights stop at 65535 pixels, so a
    target too large for the width raises ValueError.
    """
    strip = large_jpeg_strip(width, quality=quality, seed=seed)
    layout = walk_markers(strip)
    scan = layout.first(SOS)
    sof = layout.first(SOF0)
    header_end = scan.start + 2 + struct.unpack_from(">H", strip, scan.start + 2)[0]
    intervals = _restart_intervals(strip[header_end : scan.end])
    per_row = sum(len(i) + 2 for i in intervals) / len(intervals)
    rows = max(1, round((target_bytes - header_end - 2) / per_row))
    if rows * 8 > 65535:
        raise ValueError(f"{target_bytes} bytes need a wider image than {width} px")
    height = rows * 8
    header = bytearray(strip[:header_end])
    struct.pack_into(">H", header, sof.start + 5, height)  # SOF: P, then Y (T.81 B.2.2)
    with path.open("wb") as out:
        out.write(header)
        _write_restarted_rows(out, intervals, rows)
        out.write(EOI)
    return LargeJpeg(path, width, height, path.stat().st_size, strip)


def _restart_intervals(entropy: bytes) -> list[bytes]:
    """Split entropy-coded data at its RSTn markers (stuffed 0xFF00 bytes never match)."""
    intervals = []
    start = 0
    pos = 0
    while True:
        ff = entropy.find(b"\xff", pos)
        if ff < 0:
            intervals.append(entropy[start:])
            return intervals
        if 0xD0 <= entropy[ff + 1] <= 0xD7:
            intervals.append(entropy[start:ff])
            start = ff + 2
        pos = ff + 2


def _write_restarted_rows(out: BinaryIO, intervals: Sequence[bytes], rows: int) -> None:
    """Write the rows' data with RSTn between rows (not after the last), 1 MiB at a time."""
    batch = bytearray()
    for row in range(rows):
        batch += intervals[row % len(intervals)]
        if row < rows - 1:
            batch += bytes((0xFF, RST0 + row % 8))
        if len(batch) >= 1 << 20:
            out.write(batch)
            batch.clear()
    out.write(batch)


def expected_large_rows(strip: bytes, height: int) -> Iterator[tuple[int, Image.Image]]:
    """(y, pixels) of each strip-high band of a large JPEG, from the decoded strip."""
    tile = decode(strip)
    for y in range(0, height, tile.height):
        yield y, tile.crop((0, 0, tile.width, min(tile.height, height - y)))


# =========================================================================================
# Damage, as cameras, editors and broken uploads leave it
# =========================================================================================
#
# Each builder takes a valid JPEG and damages it in one way that libjpeg (and so every
# browser) still displays. The sanitizer must keep the picture and drop the damage.


def insert_before(jpeg: bytes, marker: int, data: bytes) -> bytes:
    """`data` inserted right before the first segment with this marker."""
    return insert_at(jpeg, walk_markers(jpeg).first(marker).start, data)


def insert_at(jpeg: bytes, at: int, data: bytes) -> bytes:
    return jpeg[:at] + data + jpeg[at:]


def with_length(jpeg: bytes, marker: int, delta: int) -> bytes:
    """The first segment with this marker, its length field changed by `delta` (it lies)."""
    seg = walk_markers(jpeg).first(marker)
    out = bytearray(jpeg)
    (length,) = struct.unpack_from(">H", jpeg, seg.start + 2)
    struct.pack_into(">H", out, seg.start + 2, length + delta)
    return bytes(out)


def in_scan(jpeg: bytes, data: bytes, fraction: float = 0.4, scan: int = 0) -> bytes:
    """`data` inserted into a scan's entropy-coded data, between two whole data bytes."""
    chosen = walk_markers(jpeg).scans[scan]
    (length,) = struct.unpack_from(">H", jpeg, chosen.start + 2)
    start = chosen.start + 2 + length
    at = start + int((chosen.end - start) * fraction)
    while jpeg[at - 1] == 0xFF or jpeg[at] in (0x00, *range(0xD0, 0xD8)):
        at += 1  # never split a stuffed 0xFF00 or a restart marker
    return jpeg[:at] + data + jpeg[at:]


def cut_in_scan(jpeg: bytes, fraction: float = 0.6, scan: int = -1) -> bytes:
    """The file cut short inside a scan's entropy-coded data (an upload that stopped)."""
    chosen = walk_markers(jpeg).scans[scan]
    return jpeg[: chosen.start + int((chosen.end - chosen.start) * fraction)]


def exif_with_embedded_jpeg(embedded: bytes, *, maker_note: bool = False) -> bytes:
    """An EXIF APP1 carrying a JPEG: as the IFD1 thumbnail, or inside the maker note
    (as some cameras keep a preview there)."""
    if not maker_note:
        return exif_segment(replace(CameraExif(), thumbnail=embedded))
    note = b"PREVIEW\x00" + embedded + b"\x00" * 16
    ifd0 = Ifd("ifd0", (ascii_field(0x010F, "CANARYCAM"), Link(0x8769, "exif")))
    exif = Ifd("exif", (undefined_field(0x927C, note), ascii_field(0xA431, "SERIAL-CANARY")))
    return segment(APP1, EXIF_HEADER + build_tiff([ifd0, exif]))


def huge_grey_jpeg(width: int, height: int, *, level: int = 96) -> bytes:
    """A flat grey baseline JPEG of any size up to 65535 x 65535, built in a few MB.

    One MCU row is encoded (with a restart marker after it) and repeated down the
    picture, as `write_large_jpeg` does; a flat row costs a few bits per block, so even
    280 megapixels take about 3 MB.
    """
    row = Image.new("L", (width, 8), level)
    strip = encode_jpeg(row, Encoding(quality=50, restart_rows=1))
    layout = walk_markers(strip)
    scan, sof = layout.first(SOS), layout.first(SOF0)
    header_end = scan.start + 2 + struct.unpack_from(">H", strip, scan.start + 2)[0]
    interval = _restart_intervals(strip[header_end : scan.end])[0]
    rows = -(-height // 8)
    out = bytearray(strip[:header_end])
    struct.pack_into(">H", out, sof.start + 5, height)
    for i in range(rows):
        out += interval
        if i < rows - 1:
            out += bytes((0xFF, RST0 + i % 8))
    return bytes(out + EOI)
