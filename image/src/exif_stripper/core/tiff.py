"""The TIFF structure inside an EXIF block, read the way `inspect` needs it: never raising.

A camera, an editor or an attacker may store any tag with any field type and any count,
point offsets outside the block, chain IFDs into loops or cut the block short. This reader
keeps every entry it finds with its type, count and the value bytes the block really holds,
so `inspect` can report a MakerNote stored as SHORT, or a Make stored as RATIONAL, instead
of failing or silently dropping it. It follows only the fixed EXIF layout (IFD0, its Exif
and GPS IFDs, IFD1), so no pointer can make it loop, and each IFD is bounded by the block.

References: TIFF 6.0 section 2 (header, IFD entries, field types 1-12); TIFF Technical
Note 1 (type 13, IFD); CIPA DC-008 (Exif 2.32) 4.6.2-4.6.3 (Exif, GPS and IFD1 layout).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Final

EXIF_IFD_POINTER: Final = 0x8769
GPS_IFD_POINTER: Final = 0x8825

# Bytes per value, by field type. Types 16-18 (LONG8, SLONG8, IFD8) are BigTIFF's, seen in
# the wild only from broken writers, but their size is known.
_TYPE_SIZES: Final = {
    1: 1,  # BYTE
    2: 1,  # ASCII
    3: 2,  # SHORT
    4: 4,  # LONG
    5: 8,  # RATIONAL
    6: 1,  # SBYTE
    7: 1,  # UNDEFINED
    8: 2,  # SSHORT
    9: 4,  # SLONG
    10: 8,  # SRATIONAL
    11: 4,  # FLOAT
    12: 8,  # DOUBLE
    13: 4,  # IFD
    16: 8,  # LONG8
    17: 8,  # SLONG8
    18: 8,  # IFD8
}
_NUMBER_FORMATS: Final = {
    1: "B",
    3: "H",
    4: "I",
    6: "b",
    8: "h",
    9: "i",
    11: "f",
    12: "d",
    13: "I",
    16: "Q",
    17: "q",
    18: "Q",
}
_TEXT_TYPES: Final = frozenset({1, 2, 6, 7})  # bytes that may hold text
_RATIONALS: Final = {5: "II", 10: "ii"}
# How many values of one field are decoded at most: enough to show it, bounded whatever
# the count says (an APP1 holds at most 65,533 bytes, but nothing is read needlessly).
_MAX_VALUES: Final = 16


@dataclass(frozen=True, slots=True)
class Field:
    """One IFD entry: its declared type and count, and the value bytes actually present."""

    tag: int
    type: int
    count: int
    data: bytes  # cut short when the value lies (partly) outside the block
    big_endian: bool

    @property
    def size(self) -> int:
        """The value's size in bytes as the entry declares it (unknown types: 1 a value)."""
        return self.count * _TYPE_SIZES.get(self.type, 1)

    def numbers(self) -> list[float]:
        """Up to 16 numeric values; a rational with a zero denominator is NaN. [] if none."""
        order = ">" if self.big_endian else "<"
        if self.type in _RATIONALS:
            pairs = min(self.count, len(self.data) // 8, _MAX_VALUES)
            raw = struct.unpack_from(order + _RATIONALS[self.type] * pairs, self.data)
            return [n / d if d else math.nan for n, d in zip(raw[::2], raw[1::2], strict=True)]
        kind = _NUMBER_FORMATS.get(self.type)
        if kind is None:
            return []
        values = min(self.count, len(self.data) // _TYPE_SIZES[self.type], _MAX_VALUES)
        return [float(v) for v in struct.unpack_from(order + kind * values, self.data)]

    def first_number(self) -> int | None:
        """The first value as a whole number (an offset, a length), if it is one."""
        values = self.numbers()
        if not values or not math.isfinite(values[0]) or values[0] < 0:
            return None
        return int(values[0])

    def text(self) -> str:
        """The value as a person would read it, whatever its type: text, or numbers."""
        if not self.data and self.size:
            return f"{self.size} bytes outside the EXIF block"
        if self.type in _TEXT_TYPES:
            return self.data.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()
        numbers = self.numbers()
        if numbers:
            shown = " ".join(f"{v:g}" for v in numbers)
            return shown + (" ..." if self.count > len(numbers) else "")
        return f"{self.size} bytes of type {self.type}"


Ifd = dict[int, Field]


@dataclass(slots=True)
class ExifTree:
    """The IFDs of one EXIF block (empty when absent or unreadable)."""

    ifd0: Ifd = field(default_factory=dict)
    exif: Ifd = field(default_factory=dict)
    gps: Ifd = field(default_factory=dict)
    ifd1: Ifd = field(default_factory=dict)


class Unreadable(ValueError):
    """The block is not a TIFF structure at all (bad byte order mark, magic, or IFD0)."""


def read_exif_tree(tiff: bytes) -> ExifTree:
    """IFD0, Exif, GPS and IFD1 of a TIFF structure; raises only `Unreadable`."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        raise Unreadable("no TIFF byte-order mark")
    big_endian = tiff[:2] == b"MM"
    magic, first = struct.unpack_from(">HI" if big_endian else "<HI", tiff, 2)
    if magic != 42:
        raise Unreadable(f"TIFF magic number is {magic}, not 42")
    if first + 2 > len(tiff):
        raise Unreadable(f"IFD0 at offset {first} lies outside the {len(tiff)}-byte block")
    ifd0, next_ifd = _read_ifd(tiff, first, big_endian)
    tree = ExifTree(ifd0=ifd0)
    tree.exif = _linked_ifd(tiff, ifd0.get(EXIF_IFD_POINTER), big_endian)
    tree.gps = _linked_ifd(tiff, ifd0.get(GPS_IFD_POINTER), big_endian)
    if next_ifd and next_ifd != first:
        tree.ifd1, _ = _read_ifd(tiff, next_ifd, big_endian)
    return tree


def _linked_ifd(tiff: bytes, pointer: Field | None, big_endian: bool) -> Ifd:
    offset = pointer.first_number() if pointer is not None else None
    return _read_ifd(tiff, offset, big_endian)[0] if offset else {}


def _read_ifd(tiff: bytes, offset: int | None, big_endian: bool) -> tuple[Ifd, int]:
    """The entries of the IFD at `offset` (first of a repeated tag wins) and the next IFD."""
    if offset is None or offset + 2 > len(tiff):
        return {}, 0
    order = ">" if big_endian else "<"
    (declared,) = struct.unpack_from(order + "H", tiff, offset)
    # Never trust the count beyond what the block holds: 12 bytes an entry.
    count = min(declared, (len(tiff) - offset - 2) // 12)
    entries: Ifd = {}
    for index in range(count):
        at = offset + 2 + 12 * index
        tag, kind, values = struct.unpack_from(order + "HHI", tiff, at)
        size = values * _TYPE_SIZES.get(kind, 1)
        if size <= 4:
            data = tiff[at + 8 : at + 8 + size]
        else:
            (start,) = struct.unpack_from(order + "I", tiff, at + 8)
            data = tiff[start : start + size]
        entries.setdefault(tag, Field(tag, kind, values, data, big_endian))
    next_at = offset + 2 + 12 * count
    complete = count == declared and next_at + 4 <= len(tiff)
    next_ifd = struct.unpack_from(order + "I", tiff, next_at)[0] if complete else 0
    return entries, next_ifd
