"""Damage, as cameras, editors and broken uploads leave it.

Each builder takes a valid JPEG and damages it in one way that libjpeg (and so every browser)
still displays. The sanitizer must keep the picture and drop the damage.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from PIL import Image

from tools.samples.corpora import restart_intervals
from tools.samples.exif import (
    CameraExif,
    Ifd,
    Link,
    ascii_field,
    build_tiff,
    exif_segment,
    undefined_field,
)
from tools.samples.jpeg import (
    APP1,
    EOI,
    EXIF_HEADER,
    RST0,
    SOF0,
    SOS,
    Encoding,
    encode_jpeg,
    segment,
    walk_markers,
)

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
    interval = restart_intervals(strip[header_end : scan.end])[0]
    rows = -(-height // 8)
    out = bytearray(strip[:header_end])
    struct.pack_into(">H", out, sof.start + 5, height)
    for i in range(rows):
        out += interval
        if i < rows - 1:
            out += bytes((0xFF, RST0 + i % 8))
    return bytes(out + EOI)
