"""EXIF built in code: the TIFF structure (TIFF 6.0 section 2) and APP1 `Exif` (CIPA DC-008 /
Exif 2.32): IFD0, Exif IFD, GPS IFD, a Nikon maker note, IFD1 with its thumbnail.

`build_tiff` lays out IFDs and blobs with their offsets; composition.py uses it for MPF.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from tools.samples.jpeg import APP1, EXIF_HEADER, Encoding, base_jpeg, segment

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
        packed = struct.pack(struct_prefix(order) + fmt * len(self.data), *self.data)
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


def struct_prefix(order: ByteOrder) -> str:
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
    out += struct.pack(struct_prefix(order) + "I", offsets[blocks[0].name])
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
    p = struct_prefix(order)
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
