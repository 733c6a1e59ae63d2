"""The one EXIF fact the sanitizer needs: the Orientation tag.

Everything else in EXIF is dropped unread. Reading is deliberately forgiving: a broken
EXIF block is metadata we remove anyway, so it must never cause a rejection; it only
means "orientation unknown", which we treat as upright.

References: CIPA DC-008 (Exif 2.32) 4.5.4 (APP1 layout) and 4.6.2 (IFD structure);
TIFF 6.0 section 2 (header, IFD entries).
"""

from __future__ import annotations

import struct
from typing import Final

EXIF_HEADER: Final = b"Exif\x00\x00"
ORIENTATION_TAG: Final = 0x0112
_SHORT: Final = 3
UPRIGHT: Final = 1


def is_exif(payload: bytes) -> bool:
    """True for an APP1 payload that holds EXIF (as opposed to XMP or anything else)."""
    # Some writers put 0xFF instead of the second NUL (seen in old Kodak firmware).
    return payload[:5] == b"Exif\x00" and len(payload) >= 6


def read_orientation(payload: bytes) -> int | None:
    """Orientation 1-8 from an EXIF APP1 payload, or None when absent or unreadable."""
    if not is_exif(payload):
        return None
    tiff = payload[6:]
    if len(tiff) < 8:
        return None
    order = tiff[:2]
    if order == b"II":
        endian = "<"
    elif order == b"MM":
        endian = ">"
    else:
        return None
    magic, ifd0 = struct.unpack_from(endian + "HI", tiff, 2)
    if magic != 42 or ifd0 + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(endian + "H", tiff, ifd0)
    # Each IFD entry is 12 bytes; never trust the count beyond what the block holds.
    count = min(count, (len(tiff) - ifd0 - 2) // 12)
    for i in range(count):
        tag, kind, n = struct.unpack_from(endian + "HHI", tiff, ifd0 + 2 + 12 * i)
        if tag == ORIENTATION_TAG:
            if kind != _SHORT or n != 1:
                return None
            (value,) = struct.unpack_from(endian + "H", tiff, ifd0 + 2 + 12 * i + 8)
            return value if 1 <= value <= 8 else None
    return None


def orientation_only_exif(orientation: int) -> bytes:
    """A minimal EXIF APP1 payload holding only the Orientation tag (policy `keep-tag`).

    Big-endian TIFF header, one IFD0 with one SHORT entry (value left-justified in the
    4-byte value field, TIFF 6.0 section 2), no next IFD: 32 bytes that say nothing else.
    """
    if not 1 <= orientation <= 8:
        raise ValueError(f"orientation must be 1-8, got {orientation}")
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHIHH", ORIENTATION_TAG, _SHORT, 1, orientation, 0)
    return EXIF_HEADER + tiff + ifd0 + struct.pack(">I", 0)


def read_tiff_orientation(tiff: bytes) -> int | None:
    """Orientation 1-8 from EXIF stored as a bare TIFF structure, as PNG's eXIf and WebP's
    EXIF chunk hold it (some writers keep the JPEG `Exif\\0\\0` prefix there too)."""
    if is_exif(tiff):
        tiff = tiff[6:]
    return read_orientation(EXIF_HEADER + tiff)


def orientation_only_tiff(orientation: int) -> bytes:
    """`orientation_only_exif` without the APP1 prefix: a PNG eXIf or WebP EXIF payload."""
    return orientation_only_exif(orientation)[len(EXIF_HEADER) :]
