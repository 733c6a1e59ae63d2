"""Turning a PNG's pixels upright, exactly: every sample keeps its value.

The input is a PNG the sanitizer has already stripped (png.py), and its eXIf said the
picture is stored turned (orientation 2-8). PNG is lossless, so the turn is too:

- each frame (the image, or every APNG frame) is inflated, its scanlines unfiltered
  (_pngfilter.c, PNG 3rd edition 9.2-9.4) and, when interlaced, its seven Adam7 passes
  put together (8.2);
- the pixels are turned as a grid of cells: one byte per pixel for bit depths below 8
  (palette indices or grey levels, unpacked with Pillow), else the pixel's 1-8 bytes,
  which are turned byte plane by byte plane with Pillow's transpose;
- they are packed at the same bit depth, filtered again (adaptive, or None for palette
  and low bit depths as 12.8 advises) and compressed into one zlib stream.

Bit depth, colour type, palette and transparency (tRNS) are kept as they are. The output
is written without interlacing: Adam7 only changes the order in which a picture appears
while it loads, never its pixels. An APNG is turned frame by frame: each frame's region
is moved with its pixels (dispose and blend work on regions, so composing the turned
frames gives the turned composition), and fcTL and fdAT are numbered again. pHYs swaps
its axes when the turn does.

Memory: one frame at a time, a few copies of its pixels (png.turn_cost, checked against
the pixel budget before the work starts).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from PIL import Image
from zlib_ng import zlib_ng

from .errors import Undecodable
from .png import SIGNATURE, Header, chunk, parse_header
from .transform import upright_transposition

try:
    from ._pngfilter import filter as filter_rows
    from ._pngfilter import unfilter
except ImportError:  # no compiler where the package was built: same results, slower

    def unfilter(data: bytes | memoryview, rows: int, row_bytes: int, bpp: int, /) -> bytes:
        return python_unfilter(data, rows, row_bytes, bpp)

    def filter_rows(
        raw: bytes | memoryview, rows: int, row_bytes: int, bpp: int, adaptive: bool, /
    ) -> bytes:
        return python_filter(raw, rows, row_bytes, bpp, adaptive)


#: Adam7's passes: first column and row, then the step across and down (8.2).
ADAM7: Final = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_DATA_CHUNK: Final = 1024 * 1024  # bytes of compressed data per IDAT or fdAT written


@dataclass(frozen=True, slots=True)
class Turned:
    png: bytes
    width: int
    height: int


def swaps_axes(orientation: int) -> bool:
    """Orientations 5-8 turn by a quarter: width and height trade places."""
    return orientation >= 5


def turn_png(png: bytes, orientation: int) -> Turned:
    """`png` (already stripped) with every frame turned as EXIF `orientation` says."""
    chunks = list(_chunks(png))
    header = parse_header(chunks[0][1], 8)
    turner = _Turner(header, orientation)
    out = [SIGNATURE]
    index = 0
    while index < len(chunks):
        kind, payload = chunks[index]
        if kind in (b"IDAT", b"fdAT"):
            end = index
            while end < len(chunks) and chunks[end][0] == kind:
                end += 1
            data = [p if kind == b"IDAT" else p[4:] for _, p in chunks[index:end]]
            out += turner.frame_data(kind, data)
            index = end
            continue
        out.append(turner.other(kind, payload))
        index += 1
    width, height = turner.size
    return Turned(b"".join(out), width, height)


class _Turner:
    """Writes the turned chunks; remembers the frame size and the sequence numbers."""

    def __init__(self, header: Header, orientation: int) -> None:
        self._header = header
        self._orientation = orientation
        width, height = header.width, header.height
        self.size = (height, width) if swaps_axes(orientation) else (width, height)
        self._frame = (width, height)  # the size of the frame whose data comes next
        self._sequence = 0

    def other(self, kind: bytes, payload: bytes) -> bytes:
        header = self._header
        if kind == b"IHDR":
            width, height = self.size
            turned = Header(width, height, header.depth, header.colour_type, interlaced=False)
            return chunk(b"IHDR", turned.encode())
        if kind == b"pHYs" and swaps_axes(self._orientation):
            across, down, unit = struct.unpack(">IIB", payload)
            return chunk(b"pHYs", struct.pack(">IIB", down, across, unit))
        if kind == b"fcTL":
            return chunk(b"fcTL", self._frame_control(payload))
        return chunk(kind, payload)

    def _frame_control(self, payload: bytes) -> bytes:
        _, width, height, x, y, rest = struct.unpack(">IIIII6s", payload)
        self._frame = (width, height)
        x, y, width, height = turn_region(
            (x, y, width, height), self._header.width, self._header.height, self._orientation
        )
        control = struct.pack(">IIIII6s", self._sequence, width, height, x, y, rest)
        self._sequence += 1
        return control

    def frame_data(self, kind: bytes, data: list[bytes]) -> list[bytes]:
        width, height = self._frame
        raw = turn_frame(b"".join(data), width, height, self._header, self._orientation)
        out = []
        for at in range(0, len(raw), _DATA_CHUNK):
            piece = raw[at : at + _DATA_CHUNK]
            if kind == b"fdAT":
                piece = struct.pack(">I", self._sequence) + piece
                self._sequence += 1
            out.append(chunk(kind, piece))
        return out


def turn_region(
    region: tuple[int, int, int, int], width: int, height: int, orientation: int
) -> tuple[int, int, int, int]:
    """Where a frame's region (x, y, width, height) of a `width` x `height` image lies
    once the image is turned: its corners moved as the pixels are."""
    x, y, w, h = region
    first = _turn_point(x, y, width, height, orientation)
    last = _turn_point(x + w - 1, y + h - 1, width, height, orientation)
    corners = (first, last)
    left, top = min(c[0] for c in corners), min(c[1] for c in corners)
    right, bottom = max(c[0] for c in corners), max(c[1] for c in corners)
    return left, top, right - left + 1, bottom - top + 1


def _turn_point(x: int, y: int, width: int, height: int, orientation: int) -> tuple[int, int]:
    """Where the stored pixel (x, y) is shown, as CIPA DC-008 4.6.4 Orientation defines."""
    right, bottom = width - 1 - x, height - 1 - y
    return {
        2: (right, y),
        3: (right, bottom),
        4: (x, bottom),
        5: (y, x),
        6: (height - 1 - y, x),
        7: (height - 1 - y, width - 1 - x),
        8: (y, width - 1 - x),
    }[orientation]


# --- one frame ------------------------------------------------------------------------------


def turn_frame(
    compressed: bytes, width: int, height: int, header: Header, orientation: int
) -> bytes:
    """A frame's zlib stream in, the turned frame's zlib stream (not interlaced) out."""
    cells = decode_cells(compressed, width, height, header)
    per_cell = _cell_bytes(header)
    turned = turn_cells(cells, width, height, per_cell, orientation)
    if swaps_axes(orientation):
        width, height = height, width
    raw = pack_cells(turned, width, height, header)
    adaptive = header.colour_type != 3 and header.depth >= 8
    filtered = filter_rows(raw, height, header.row_bytes(width), header.bytes_per_pixel, adaptive)
    return zlib_ng.compress(filtered, 6)


def decode_cells(compressed: bytes, width: int, height: int, header: Header) -> bytes:
    """The frame's pixels as cells, row by row: `_cell_bytes` bytes per pixel."""
    try:
        return _decode_cells(compressed, width, height, header)
    except ValueError as error:  # a filter type above 4: libpng refuses the row too
        raise Undecodable(f"the image data cannot be decoded to turn it: {error}", 0) from None


def _decode_cells(compressed: bytes, width: int, height: int, header: Header) -> bytes:
    passes = ADAM7 if header.interlaced else ((0, 0, 1, 1),)
    sizes = [_pass_size(width, height, p) for p in passes]
    expected = sum(h * (header.row_bytes(w) + 1) for w, h in sizes)
    filtered = _inflate(compressed, expected)
    if not header.interlaced:
        raw = unfilter(filtered, height, header.row_bytes(width), header.bytes_per_pixel)
        return unpack_cells(raw, width, height, header)
    per_cell = _cell_bytes(header)
    cells = bytearray(width * height * per_cell)
    at = 0
    for (x0, y0, dx, dy), (w, h) in zip(passes, sizes, strict=True):
        if not w or not h:
            continue
        size = h * (header.row_bytes(w) + 1)
        raw = unfilter(filtered[at : at + size], h, header.row_bytes(w), header.bytes_per_pixel)
        at += size
        _place_pass(cells, unpack_cells(raw, w, h, header), width, (x0, y0, dx, dy), w, per_cell)
    return bytes(cells)


def _pass_size(width: int, height: int, step: tuple[int, int, int, int]) -> tuple[int, int]:
    x0, y0, dx, dy = step
    return max(0, -(-(width - x0) // dx)), max(0, -(-(height - y0) // dy))


def _place_pass(
    cells: bytearray,
    pass_cells: bytes,
    width: int,
    step: tuple[int, int, int, int],
    pass_width: int,
    per_cell: int,
) -> None:
    """Put one Adam7 pass's pixels where they belong in the whole picture."""
    x0, y0, dx, dy = step
    row_size = pass_width * per_cell
    for row in range(len(pass_cells) // row_size):
        line = pass_cells[row * row_size : (row + 1) * row_size]
        y = y0 + row * dy
        start, stop = (y * width + x0) * per_cell, (y + 1) * width * per_cell
        for byte in range(per_cell):
            cells[start + byte : stop : dx * per_cell] = line[byte::per_cell]


def _inflate(compressed: bytes, expected: int) -> bytes:
    """The filtered scanlines; data past what the frame needs is ignored, as decoders do."""
    inflater = zlib.decompressobj()
    try:
        filtered = inflater.decompress(compressed, expected)
    except zlib.error as error:
        raise Undecodable(f"the image data cannot be decompressed to turn it: {error}", 0) from None
    if len(filtered) < expected:
        raise Undecodable("the image data ends before the picture does: cannot turn it", 0)
    return filtered


def _cell_bytes(header: Header) -> int:
    return max(1, header.bits_per_pixel // 8)


def unpack_cells(raw: bytes, width: int, height: int, header: Header) -> bytes:
    """Scanlines (without filter bytes) as cells: below 8 bits, one byte per pixel."""
    if header.depth >= 8:
        return raw
    # Pillow's "P;n" raw mode reads packed indices without scaling them (as "L;n" would).
    return Image.frombytes("P", (width, height), raw, "raw", f"P;{header.depth}").tobytes()


def pack_cells(cells: bytes, width: int, height: int, header: Header) -> bytes:
    """The inverse of `unpack_cells`: rows packed at the bit depth, padded to whole bytes."""
    if header.depth >= 8:
        return cells
    return Image.frombytes("P", (width, height), cells).tobytes("raw", f"P;{header.depth}")


def turn_cells(cells: bytes, width: int, height: int, per_cell: int, orientation: int) -> bytes:
    """Turn a grid of cells; a cell of several bytes is turned byte plane by byte plane."""
    operation = upright_transposition(orientation)
    if per_cell == 1:
        return Image.frombytes("L", (width, height), cells).transpose(operation).tobytes()
    turned = bytearray(len(cells))
    for byte in range(per_cell):
        plane = Image.frombytes("L", (width, height), cells[byte::per_cell])
        turned[byte::per_cell] = plane.transpose(operation).tobytes()
    return bytes(turned)


def _chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG the sanitizer wrote (so: well-formed)."""
    pos = len(SIGNATURE)
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        yield kind, png[pos + 8 : pos + 8 + length]
        pos += 12 + length


# --- the filters in Python (the C helper's fallback and its reference) -----------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def python_unfilter(data: bytes | memoryview, rows: int, row_bytes: int, bpp: int) -> bytes:
    """Undo filter method 0 (9.2-9.4): `rows` lines of a filter byte and `row_bytes`."""
    if len(data) != rows * (row_bytes + 1):
        raise ValueError("data does not hold rows * (row_bytes + 1) bytes")
    out = bytearray(rows * row_bytes)
    prior = bytearray(row_bytes)
    for r in range(rows):
        line = data[r * (row_bytes + 1) : (r + 1) * (row_bytes + 1)]
        kind, row = line[0], bytearray(line[1:])
        if kind > 4:
            raise ValueError(f"row {r} has an unknown filter type")
        for i in range(row_bytes):
            left = row[i - bpp] if i >= bpp else 0
            upleft = prior[i - bpp] if i >= bpp else 0
            predicted = (0, left, prior[i], (left + prior[i]) >> 1, _paeth(left, prior[i], upleft))
            row[i] = (row[i] + predicted[kind]) & 0xFF
        out[r * row_bytes : (r + 1) * row_bytes] = row
        prior = row
    return bytes(out)


def python_filter(
    raw: bytes | memoryview, rows: int, row_bytes: int, bpp: int, adaptive: bool
) -> bytes:
    """Filter method 0, choosing per row the type with the least sum of absolute values."""
    if len(raw) != rows * row_bytes:
        raise ValueError("raw does not hold rows * row_bytes bytes")
    out = bytearray()
    prior = bytes(row_bytes)
    for r in range(rows):
        row = bytes(raw[r * row_bytes : (r + 1) * row_bytes])
        best, best_cost = row, _cost(row)
        kind = 0
        for candidate in range(1, 5) if adaptive else ():
            filtered = _filtered(candidate, row, prior, bpp)
            cost = _cost(filtered)
            if cost < best_cost:
                best, best_cost, kind = filtered, cost, candidate
        out.append(kind)
        out += best
        prior = row
    return bytes(out)


def _filtered(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, value in enumerate(row):
        left = row[i - bpp] if i >= bpp else 0
        upleft = prior[i - bpp] if i >= bpp else 0
        predicted = (0, left, prior[i], (left + prior[i]) >> 1, _paeth(left, prior[i], upleft))
        out[i] = (value - predicted[kind]) & 0xFF
    return bytes(out)


def _cost(filtered: bytes) -> int:
    return sum(b if b < 128 else 256 - b for b in filtered)
