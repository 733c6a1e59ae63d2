"""A streaming JPEG tokenizer: bytes in, segments and entropy-coded data out.

It knows the grammar of ITU T.81 Annex B (interchange format) and nothing about what is
metadata: the sanitizer and the verifier both read its tokens and decide for themselves.
It is push-driven (`feed` a chunk, get the tokens it completes) so that the sanitizer can
run it over an input stream and the verifier over the sanitizer's output as it is written,
each with bounded memory: a marker segment is at most 65,537 bytes, and entropy-coded
data and trailers are handed on in pieces as they arrive, never collected.

Every structural fault raises a typed `SanitizeError` carrying the input offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .errors import BadSegment, NotAJpeg, TooLarge, Truncated, Unsupported

# --- markers (T.81 Table B.1) -------------------------------------------------------------

SOI: Final = 0xD8
EOI: Final = 0xD9
SOS: Final = 0xDA
DQT: Final = 0xDB
DNL: Final = 0xDC
DRI: Final = 0xDD
DHP: Final = 0xDE
EXP: Final = 0xDF
DHT: Final = 0xC4
DAC: Final = 0xCC
APP0: Final = 0xE0
APP1: Final = 0xE1
APP2: Final = 0xE2
APP13: Final = 0xED
APP14: Final = 0xEE
APP15: Final = 0xEF
COM: Final = 0xFE
TEM: Final = 0x01
RST0: Final = 0xD0
RST7: Final = 0xD7

# Sequential, progressive and lossless frames, Huffman or arithmetic coded.
FRAME_MARKERS: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB})
PROGRESSIVE_FRAME_MARKERS: Final = frozenset({0xC2, 0xCA})
# Differential frames only exist inside hierarchical JPEG (with DHP and EXP), which no
# browser decodes; we refuse the whole family rather than pass on what we cannot check.
HIERARCHICAL_MARKERS: Final = frozenset({0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF, DHP, EXP})
APP_MARKERS: Final = frozenset(range(APP0, APP15 + 1))
TABLE_MARKERS: Final = frozenset({DQT, DHT, DAC, DRI})

MAX_COMPONENTS: Final = 4  # Y, Cb, Cr (+ K for CMYK/YCCK): every format a browser shows


def marker_name(marker: int) -> str:
    """The T.81 mnemonic of a marker, e.g. `APP1`, `SOF2`, `DQT`."""
    if marker in APP_MARKERS:
        return f"APP{marker - APP0}"
    if RST0 <= marker <= RST7:
        return f"RST{marker - RST0}"
    if 0xC0 <= marker <= 0xCF and marker not in (DHT, 0xC8, DAC):
        return f"SOF{marker - 0xC0}"
    names = {
        SOI: "SOI",
        EOI: "EOI",
        SOS: "SOS",
        DQT: "DQT",
        DNL: "DNL",
        DRI: "DRI",
        DHP: "DHP",
        EXP: "EXP",
        DHT: "DHT",
        DAC: "DAC",
        COM: "COM",
        TEM: "TEM",
        0xC8: "JPG",
    }
    return names.get(marker, f"0x{marker:02X}")


# --- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """What the frame header (SOFn) says about the picture."""

    marker: int
    width: int
    height: int
    # (component id, horizontal sampling, vertical sampling) per component, in order
    components: tuple[tuple[int, int, int], ...]

    @property
    def progressive(self) -> bool:
        return self.marker in PROGRESSIVE_FRAME_MARKERS

    @property
    def mcu_size(self) -> tuple[int, int]:
        """Width and height of one MCU in pixels (T.81 A.2): 8 x the largest sampling factor."""
        if len(self.components) == 1:
            return 8, 8  # a single-component scan is not interleaved: 8x8 blocks
        return (
            8 * max(h for _, h, _ in self.components),
            8 * max(v for _, _, v in self.components),
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """A marker and, for marker segments, the payload after its two length bytes."""

    marker: int
    offset: int  # of the 0xFF that starts the marker, in the tokenizer's input
    payload: bytes

    def encode(self) -> bytes:
        """The segment's bytes as they appear in a file (marker, length, payload)."""
        if self.marker in (SOI, EOI):
            return bytes((0xFF, self.marker))
        length = (len(self.payload) + 2).to_bytes(2, "big")
        return bytes((0xFF, self.marker)) + length + self.payload

    @property
    def name(self) -> str:
        return marker_name(self.marker)


@dataclass(frozen=True, slots=True)
class EntropyData:
    """A piece of a scan's entropy-coded data, restart markers included, as found."""

    offset: int
    data: memoryview


@dataclass(frozen=True, slots=True)
class Trailer:
    """A piece of whatever follows the EOI that ends the primary image."""

    offset: int
    data: memoryview


Token = Segment | EntropyData | Trailer


# --- the tokenizer -------------------------------------------------------------------------

# In entropy-coded data a 0xFF byte is followed by 0x00 (stuffing) or by RST0-7; anything
# else ends the scan (T.81 B.1.1.5 and F.1.2.3). Finding that byte is the sanitizer's hot
# loop: the C scanner does it with memchr(); this regex is the portable fallback with the
# same answers (the tests hold the two to that), at about a third of the speed.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def python_find_scan_end(buf: bytes | memoryview, start: int) -> int:
    """Offset of the first 0xFF not followed by 0x00 or RSTn at or after `start`, or -1."""
    found = _SCAN_END.search(buf, start)
    return -1 if found is None else found.start()


try:
    from ._scan import find_scan_end
except ImportError:  # built without a C compiler
    find_scan_end = python_find_scan_end

_NOT_FF = re.compile(rb"[^\xff]")

_EXPECT_SOI, _EXPECT_MARKER, _IN_SCAN, _AFTER_EOI = range(4)


def _first_not_ff(buf: memoryview, pos: int) -> int:
    found = _NOT_FF.search(buf, pos)
    return len(buf) if found is None else found.start()


class Tokenizer:
    """Push tokenizer: `feed()` chunks in order, then `close()`.

    `max_bytes` and `max_pixels` bound what one input may cost; exceeding them raises
    `TooLarge` as soon as it is known (at the byte, or at the frame header).
    """

    def __init__(self, *, max_bytes: int, max_pixels: int) -> None:
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.frame: Frame | None = None
        self.scans = 0
        self._state = _EXPECT_SOI
        # The start of an incomplete marker segment (< 64 KiB) or a lone 0xFF, carried to
        # the next feed, and how many bytes it must reach before parsing is worth trying:
        # a segment trickling in byte by byte is appended to, never re-parsed each time.
        self._pending = bytearray()
        self._need = 0
        self._consumed = 0  # input bytes fed so far
        self.copied = 0  # bytes copied into `_pending`: stays linear in the input size

    # -- public ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the EOI of the primary image has been read."""
        return self._state == _AFTER_EOI

    def feed(self, chunk: bytes | memoryview) -> list[Token]:
        """Tokenize the next chunk of input; returns the tokens it completes, in order."""
        base = self._consumed - len(self._pending)
        if self._consumed + len(chunk) > self.max_bytes:
            raise TooLarge(f"file exceeds the limit of {self.max_bytes} bytes", self.max_bytes)
        self._consumed += len(chunk)
        if self._pending:
            self._pending += chunk
            self.copied += len(chunk)
            if len(self._pending) < self._need:
                return []
            buf = memoryview(self._pending)
        else:
            buf = memoryview(chunk)
        tokens: list[Token] = []
        rest = self._run(buf, base, tokens)
        # A fresh bytearray: the old one may be shared with tokens still being read.
        self._pending = bytearray(buf[rest:])
        self.copied += len(self._pending)
        return tokens

    def close(self) -> None:
        """Declare the end of input; raises unless a complete image was read."""
        if self._state == _AFTER_EOI:
            return
        end = self._consumed
        if self._state == _EXPECT_SOI and end == 0:
            raise NotAJpeg("the file is empty", 0)
        if self._state == _EXPECT_SOI:
            raise NotAJpeg("too short to be a JPEG", 0)
        where = "inside a scan" if self._state == _IN_SCAN else "before the end-of-image marker"
        raise Truncated(f"the file ends {where}", end)

    # -- the state machine -----------------------------------------------------------------

    def _run(self, buf: memoryview, base: int, tokens: list[Token]) -> int:
        """Consume as much of `buf` as forms whole tokens; return the position reached."""
        pos = 0
        end = len(buf)
        while pos < end:
            if self._state == _IN_SCAN:
                pos = self._scan(buf, pos, base, tokens)
                if self._state == _IN_SCAN:
                    self._need = 2  # at most a final 0xFF is held back
                    return pos
            elif self._state == _EXPECT_MARKER:
                if buf[pos] != 0xFF:
                    raise BadSegment(
                        f"expected a marker, found byte 0x{buf[pos]:02X}"
                        " (a segment length that lies?)",
                        base + pos,
                    )
                # Any marker may be preceded by fill bytes 0xFF (T.81 B.1.1.2): they carry
                # nothing, so all but the last are passed over, however many there are.
                last_ff = _first_not_ff(buf, pos) - 1
                if last_ff + 1 == end:
                    self._need = 2  # the marker's second byte is in the next chunk
                    return last_ff
                step = self._marker(buf, last_ff, base, tokens)
                if step is None:
                    return last_ff
                pos = step
            elif self._state == _EXPECT_SOI:
                if end - pos < 2:
                    self._need = 2
                    return pos
                if buf[pos] != 0xFF or buf[pos + 1] != SOI:
                    raise NotAJpeg("does not start with the JPEG start-of-image marker", base + pos)
                tokens.append(Segment(SOI, base + pos, b""))
                self._state = _EXPECT_MARKER
                pos += 2
            else:  # after EOI: the rest is a trailer, handed on as it comes
                tokens.append(Trailer(base + pos, buf[pos:]))
                return end
        return pos

    def _scan(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int:
        stop = find_scan_end(buf, pos)
        if stop < 0:
            # Hold back a final 0xFF: whether it ends the scan depends on the next byte.
            stop = len(buf) - 1 if buf[len(buf) - 1] == 0xFF else len(buf)
            if stop > pos:
                tokens.append(EntropyData(base + pos, buf[pos:stop]))
            return stop
        if stop > pos:
            tokens.append(EntropyData(base + pos, buf[pos:stop]))
        self._state = _EXPECT_MARKER
        return stop

    def _marker(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int | None:
        """Read the marker at `pos` (0xFF, then not 0xFF) and its segment.

        Returns the position after it, or None when `buf` holds too little of it (and
        then `_need` says how much, counted from `pos`).
        """
        end = len(buf)
        marker = buf[pos + 1]
        at = base + pos
        pos += 2
        if marker == EOI:
            self._check_image_complete(at)
            tokens.append(Segment(EOI, at, b""))
            self._state = _AFTER_EOI
            return pos
        self._check_marker_allowed(marker, at)
        if end - pos < 2:
            self._need = 4
            return None
        length = (buf[pos] << 8) | buf[pos + 1]
        if length < 2:
            raise BadSegment(f"{marker_name(marker)} segment has length {length}", at)
        if end - pos < length:
            self._need = 2 + length
            return None
        payload = bytes(buf[pos + 2 : pos + length])
        segment = Segment(marker, at, payload)
        self._check_segment(segment)
        tokens.append(segment)
        if marker == SOS:
            self.scans += 1
            self._state = _IN_SCAN
        return pos + length

    # -- grammar checks (T.81 B.2-B.6) ---------------------------------------------------

    def _check_marker_allowed(self, marker: int, at: int) -> None:
        name = marker_name(marker)
        if marker == 0x00:
            raise BadSegment("0xFF00 outside entropy-coded data", at)
        if marker == SOI:
            raise BadSegment("a second start-of-image marker inside the image", at)
        if RST0 <= marker <= RST7:
            raise BadSegment(f"{name} outside a scan", at)
        if marker in HIERARCHICAL_MARKERS:
            raise Unsupported(f"hierarchical JPEG ({name}) is not supported", at)
        if marker == DNL:
            raise Unsupported("a height defined by DNL is not supported", at)
        if marker in (TEM, 0xC8) or 0xF0 <= marker <= 0xFD or 0x02 <= marker <= 0xBF:
            raise Unsupported(f"marker {name} is reserved or not part of baseline JPEG", at)

    def _check_image_complete(self, at: int) -> None:
        if self.frame is None or self.scans == 0:
            raise Truncated("end-of-image marker before any image data", at)

    def _check_segment(self, segment: Segment) -> None:
        marker, payload, at = segment.marker, segment.payload, segment.offset
        if marker in FRAME_MARKERS:
            self._read_frame(segment)
        elif marker == SOS:
            _check_scan_header(payload, self.frame, at)
        elif marker == DQT:
            _check_quantization_tables(payload, at)
        elif marker == DHT:
            _check_huffman_tables(payload, at)
        elif marker == DRI and len(payload) != 2:
            raise BadSegment(f"DRI segment has length {len(payload) + 2}, expected 4", at)
        elif marker == DAC and len(payload) % 2:
            raise BadSegment("DAC segment has an odd payload length", at)

    def _read_frame(self, segment: Segment) -> None:
        payload, at = segment.payload, segment.offset
        if self.frame is not None:
            raise BadSegment("a second frame header (SOFn) in one image", at)
        if len(payload) < 6:
            raise BadSegment("frame header too short", at)
        height = int.from_bytes(payload[1:3], "big")
        width = int.from_bytes(payload[3:5], "big")
        count = payload[5]
        if len(payload) != 6 + 3 * count:
            raise BadSegment(f"frame header length does not match its {count} components", at)
        if not 1 <= count <= MAX_COMPONENTS:
            raise Unsupported(f"{count} colour components (at most {MAX_COMPONENTS})", at)
        if height == 0:
            raise Unsupported("a height defined by DNL is not supported", at)
        if width == 0:
            raise BadSegment("frame width is 0", at)
        if width * height > self.max_pixels:
            raise TooLarge(
                f"{width}x{height} pixels exceed the limit of {self.max_pixels} pixels", at
            )
        components = []
        for i in range(count):
            ident, sampling = payload[6 + 3 * i], payload[7 + 3 * i]
            h, v = sampling >> 4, sampling & 0x0F
            if not (1 <= h <= 4 and 1 <= v <= 4):
                raise BadSegment(f"component {ident} has sampling factors {h}x{v}", at)
            components.append((ident, h, v))
        self.frame = Frame(segment.marker, width, height, tuple(components))


def _check_scan_header(payload: bytes, frame: Frame | None, at: int) -> None:
    if frame is None:
        raise BadSegment("scan (SOS) before the frame header (SOFn)", at)
    count = payload[0] if payload else 0
    if len(payload) != 4 + 2 * count or not 1 <= count <= MAX_COMPONENTS:
        raise BadSegment("scan header length does not match its component count", at)
    known = {ident for ident, _, _ in frame.components}
    for i in range(count):
        if payload[1 + 2 * i] not in known:
            raise BadSegment(f"scan names component {payload[1 + 2 * i]} not in the frame", at)


def _check_quantization_tables(payload: bytes, at: int) -> None:
    pos = 0
    while pos < len(payload):
        precision, table = payload[pos] >> 4, payload[pos] & 0x0F
        if precision > 1 or table > 3:
            raise BadSegment(f"quantization table {table} with precision {precision}", at)
        pos += 1 + 64 * (precision + 1)
    if pos != len(payload):
        raise BadSegment("DQT length does not match its tables", at)


def _check_huffman_tables(payload: bytes, at: int) -> None:
    pos = 0
    while pos < len(payload):
        if pos + 17 > len(payload):
            raise BadSegment("DHT length does not match its tables", at)
        kind, table = payload[pos] >> 4, payload[pos] & 0x0F
        if kind > 1 or table > 3:
            raise BadSegment(f"Huffman table class {kind} id {table}", at)
        pos += 17 + sum(payload[pos + 1 : pos + 17])
    if pos != len(payload):
        raise BadSegment("DHT length does not match its tables", at)
