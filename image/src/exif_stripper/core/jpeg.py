"""A streaming JPEG tokenizer: bytes in, segments and entropy-coded data out.

It knows the grammar of ITU T.81 Annex B (interchange format) and nothing about what is
metadata: the sanitizer and the verifier both read its tokens and decide for themselves
(headers.py reads the fields of the segments they keep). It is push-driven (`feed` a
chunk, get the tokens it completes) so that the sanitizer can run it over an input stream
and the verifier over the sanitizer's output as it is written, each with bounded memory:
a marker segment is at most 65,537 bytes, and entropy-coded data and trailers are handed
on in pieces as they arrive, never collected.

Two modes:

- strict (the verifier): every departure from the grammar raises a typed
  `SanitizeError` carrying the offset.
- tolerant (the sanitizer's input): what libjpeg's marker reader (jdmarker.c
  next_marker, read_markers) passes over is passed over here too, and handed on as
  `Junk` so that it is reported and never copied: bytes that are not a marker, 0xFF00
  and RSTn outside a scan, reserved markers, a dropped segment's lying length. A file
  that stops early ends its image where it stops. Resynchronising never picks up an
  embedded image: a JPEG found inside skipped bytes (an EXIF thumbnail whose segment
  length lies, a preview in maker notes) is walked to its own end and skipped whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .errors import BadSegment, NotAJpeg, SanitizeError, TooLarge, Truncated, Unsupported

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
# Segments a decoder never reads the content of: skipped by their length.
SKIPPED_MARKERS: Final = APP_MARKERS | {COM, DNL}
SEGMENT_MARKERS: Final = FRAME_MARKERS | TABLE_MARKERS | SKIPPED_MARKERS | {SOS}

# Caps on what one image may hold, each above anything a decoder can use, so that the
# work per input stays linear and small however its segments are arranged.
#
# A progressive scan sends one band of coefficients of one component (or the DC of
# several) at one bit position; 64 coefficients x 14 successive-approximation steps
# (Al <= 13) x 4 components is 3,584 scans, and any scan beyond re-sends what a decoder
# already has (T.81 G.1.1).
MAX_SCANS: Final = 64 * 14 * 4
# Before a scan a decoder needs at most 4 quantization, 8 Huffman and 32 conditioning
# tables and one restart interval: 45 definitions, so 64 segments of them.
MAX_TABLE_SEGMENTS_PER_SCAN: Final = 64
# Decoders read no APPn or COM segment but JFIF, Adobe, 255 ICC chunks (ICC.1 B.4) and
# one EXIF; the largest extended XMP (depth maps) runs to a few hundred. A file with more
# metadata segments or skipped regions than this is not a photo anybody took.
MAX_SKIPPED: Final = 4096


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


def _is_reserved(marker: int) -> bool:
    """TEM, RESn and JPGn: markers no decoder acts on (libjpeg refuses all but TEM)."""
    return marker in (TEM, 0xC8) or 0x02 <= marker <= 0xBF or 0xF0 <= marker <= 0xFD


# --- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """What the frame header (SOFn) says about the picture's geometry."""

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


@dataclass(frozen=True, slots=True)
class Junk:
    """Bytes passed over (tolerant mode only): never part of the output."""

    offset: int
    size: int
    kind: str  # JUNK, JUNK_IN_SCAN, EMBEDDED_JPEG or CUT_SHORT


JUNK: Final = "junk"
JUNK_IN_SCAN: Final = "junk in image data"
EMBEDDED_JPEG: Final = "embedded JPEG in skipped bytes"
CUT_SHORT: Final = "segment cut short"

Token = Segment | EntropyData | Trailer | Junk

# Repairs a tolerant tokenizer makes, for the report.
EOI_ADDED: Final = "end-of-image marker added"
IMAGE_ENDED: Final = "image ended at a second image"


# --- scanning helpers ---------------------------------------------------------------------

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
# The last 0xFF of a run followed by a marker code (what libjpeg's next_marker finds).
_MARKER = re.compile(rb"\xff[^\x00\xff]")
_EMBEDDED_SOI = b"\xff\xd8\xff"


def _first_not_ff(buf: memoryview, pos: int) -> int:
    found = _NOT_FF.search(buf, pos)
    return len(buf) if found is None else found.start()


(
    _EXPECT_SOI,
    _EXPECT_MARKER,
    _AFTER_SCAN,
    _IN_SCAN,
    _SCAN_JUNK,
    _JUNK,
    _EMBEDDED,
    _AFTER_EOI,
) = range(8)
_NESTING: Final = 2  # how deep embedded JPEGs inside embedded JPEGs are walked
_PLAUSIBLE, _IMPLAUSIBLE = -1, -2


class Tokenizer:
    """Push tokenizer: `feed()` chunks in order, then `close()`.

    `max_bytes` bounds what one input may cost; exceeding it raises `TooLarge` at the
    byte. `tolerant` passes over what libjpeg passes over (see the module's docstring).
    When `feed` raises, `salvaged` holds the tokens that chunk completed before the fault.
    """

    def __init__(self, *, max_bytes: int, tolerant: bool = False, depth: int = 0) -> None:
        self.max_bytes = max_bytes
        self.tolerant = tolerant
        self._depth = depth
        self.saw_frame = False
        self.scans = 0
        self.repairs: list[str] = []
        self.end_offset: int | None = None  # one past the image's end, once it ended
        self.salvaged: list[Token] = []
        self._state = _EXPECT_SOI
        # The start of an incomplete marker segment (< 64 KiB) or a lone 0xFF, carried to
        # the next feed, and how many bytes it must reach before parsing is worth trying:
        # a segment trickling in byte by byte is appended to, never re-parsed each time.
        self._pending = bytearray()
        self._need = 0
        self._consumed = 0  # input bytes fed so far
        self.copied = 0  # bytes copied into `_pending`: stays linear in the input size
        self._junk_kind = JUNK
        self._nested: Tokenizer | None = None
        self._nested_at = 0  # input offset where the embedded JPEG starts
        self._skipped = 0  # skipped segments and regions, against MAX_SKIPPED
        self._tables_since_scan = 0

    # -- public ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the primary image has ended (its EOI, or where it was ended)."""
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
        try:
            rest = self._run(buf, base, tokens)
        except SanitizeError:
            self.salvaged = tokens
            raise
        # A fresh bytearray: the old one may be shared with tokens still being read.
        self._pending = bytearray(buf[rest:])
        self.copied += len(self._pending)
        return tokens

    def close(self) -> list[Token]:
        """Declare the end of input; returns the last tokens, or raises unless an image was read.

        Tolerant, an image whose scans began is ended where the input stops: what is
        left incomplete is junk, and the end-of-image marker is supplied.
        """
        if self._state == _AFTER_EOI:
            return []
        end = self._consumed
        if self._state == _EXPECT_SOI:
            raise NotAJpeg("the file is empty" if end == 0 else "too short to be a JPEG", 0)
        if not (self.tolerant and self.saw_frame and self.scans):
            where = "inside a scan" if self._state == _IN_SCAN else "before the end-of-image marker"
            raise Truncated(f"the file ends {where}", end)
        tokens: list[Token] = []
        held = len(self._pending)
        if held:
            kind = {_IN_SCAN: JUNK, _EXPECT_MARKER: CUT_SHORT, _AFTER_SCAN: CUT_SHORT}
            tokens.append(Junk(end - held, held, kind.get(self._state, self._junk_kind)))
        self.repairs.append(EOI_ADDED)
        tokens.append(Segment(EOI, end, b""))
        self._end(end)
        return tokens

    def end_image(self, at: int) -> None:
        """The caller ends the image at input offset `at`: what follows is a trailer."""
        self._end(at)
        self._pending = bytearray()
        self._need = 0

    def _end(self, at: int) -> None:
        self._state = _AFTER_EOI
        self.end_offset = at

    # -- the state machine -----------------------------------------------------------------

    def _run(self, buf: memoryview, base: int, tokens: list[Token]) -> int:
        """Consume as much of `buf` as forms whole tokens; return the position reached."""
        pos = 0
        end = len(buf)
        while pos < end:
            state = self._state
            if state == _IN_SCAN:
                pos = self._scan(buf, pos, base, tokens)
                if self._state == _IN_SCAN:
                    self._need = 2  # at most a final 0xFF is held back
                    return pos
            elif state in (_EXPECT_MARKER, _AFTER_SCAN):
                step = self._expect_marker(buf, pos, base, tokens)
                if step is None:
                    return pos
                pos = step
            elif state in (_JUNK, _SCAN_JUNK):
                pos = self._junk(buf, pos, base, tokens)
                if self._state in (_JUNK, _SCAN_JUNK):
                    return pos
            elif state == _EMBEDDED:
                pos = self._embedded(buf, pos, base, tokens)
            elif state == _EXPECT_SOI:
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
        self._state = _AFTER_SCAN
        return stop

    def _expect_marker(
        self, buf: memoryview, pos: int, base: int, tokens: list[Token]
    ) -> int | None:
        """Read the marker at `pos`; None when `buf` ends too soon (then `_need` says how much)."""
        end = len(buf)
        if buf[pos] != 0xFF:
            if not self.tolerant:
                raise BadSegment(
                    f"expected a marker, found byte 0x{buf[pos]:02X} (a segment length that lies?)",
                    base + pos,
                )
            return self._start_junk(pos, JUNK)
        code_at = _first_not_ff(buf, pos)
        if code_at == end:
            if end - pos > 1:
                return end - 1  # fill bytes; the last 0xFF may start a marker
            self._need = 2  # the marker's second byte is in the next chunk
            return None
        code = buf[code_at]
        if code_at - 1 > pos:
            # Any marker may be preceded by fill bytes 0xFF (T.81 B.1.1.2): they carry
            # nothing. In image data libjpeg also reads 0xFF 0xFF... 0x00 as one data byte
            # and 0xFF 0xFF... RSTn as a restart marker; the output has them without fill.
            if self.tolerant and self._state == _AFTER_SCAN and (code == 0 or RST0 <= code <= RST7):
                tokens.append(Junk(base + pos, code_at - 1 - pos, JUNK_IN_SCAN))
                self._state = _IN_SCAN
            return code_at - 1
        at = base + pos
        if code == EOI and self.saw_frame and self.scans:
            tokens.append(Segment(EOI, at, b""))
            self._end(at + 2)
            return pos + 2
        if code in SEGMENT_MARKERS:
            return self._segment(buf, pos, base, tokens)
        if code in HIERARCHICAL_MARKERS:
            raise Unsupported(f"hierarchical JPEG ({marker_name(code)}) is not supported", at)
        if not self.tolerant:
            self._refuse_marker(code, at)
        if code == SOI:
            return self._start_of_image(buf, pos, base, tokens)
        if self._state == _AFTER_SCAN and _is_reserved(code):
            # A reserved marker ends the entropy decoder's data, but libjpeg then looks
            # for the next restart marker and carries on after it (jdmarker.c
            # jpeg_resync_to_restart); the bytes between are lost to it as to us.
            return self._start_junk(pos, JUNK_IN_SCAN, _SCAN_JUNK)
        return self._start_junk(pos, JUNK)

    def _refuse_marker(self, code: int, at: int) -> None:
        name = marker_name(code)
        if code == 0x00:
            raise BadSegment("0xFF00 outside entropy-coded data", at)
        if code == SOI:
            raise BadSegment("a second start-of-image marker inside the image", at)
        if code == EOI:
            raise Truncated("end-of-image marker before any image data", at)
        if RST0 <= code <= RST7:
            raise BadSegment(f"{name} outside a scan", at)
        raise Unsupported(f"marker {name} is reserved or not part of baseline JPEG", at)

    def _start_of_image(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int:
        at = base + pos
        if self._state == _AFTER_SCAN:
            # A new image right after image data: the primary's EOI is missing (an MPO
            # written without it). The primary ends here; the rest is a trailer.
            self.repairs.append(IMAGE_ENDED)
            tokens.append(Segment(EOI, at, b""))
            self._end(at)
            return pos
        if at == 2 and not self._depth:
            # Nothing embeds an image right after the start of another.
            raise BadSegment("a second start-of-image marker inside the image", at)
        if self._depth >= _NESTING:
            return self._start_junk(pos, JUNK)
        self._nested = self._nested_tokenizer()
        self._nested_at = at
        self._state = _EMBEDDED
        self._count_skipped(at)
        return pos

    def _segment(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int | None:
        """The marker segment at `pos` (0xFF, marker, length, payload)."""
        end = len(buf)
        marker = buf[pos + 1]
        at = base + pos
        if end - pos < 4:
            self._need = 4
            return None
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 2:
            if self.tolerant:
                return self._start_junk(pos, JUNK)
            raise BadSegment(f"{marker_name(marker)} segment has length {length}", at)
        # A skipped segment's length is checked against what follows it: two more bytes.
        lookahead = 2 if self.tolerant and marker in SKIPPED_MARKERS else 0
        if end - pos < 2 + length + lookahead:
            self._need = 2 + length + lookahead
            return None
        segment = Segment(marker, at, bytes(buf[pos + 4 : pos + 2 + length]))
        self._count(segment)
        tokens.append(segment)
        after = pos + 2 + length
        if marker == SOS:
            self.scans += 1
            self._state = _IN_SCAN
            return after
        self._state = _EXPECT_MARKER
        if marker in FRAME_MARKERS:
            self.saw_frame = True
        if lookahead and not _marker_follows(buf, after):
            return self._after_lying_length(segment, after)
        return after

    def _count(self, segment: Segment) -> None:
        marker = segment.marker
        if marker == SOS:
            if self.scans >= MAX_SCANS:
                raise TooLarge(f"more than {MAX_SCANS} scans", segment.offset)
            self._tables_since_scan = 0
        elif marker in TABLE_MARKERS:
            self._tables_since_scan += 1
            if self._tables_since_scan > MAX_TABLE_SEGMENTS_PER_SCAN:
                raise TooLarge(
                    f"more than {MAX_TABLE_SEGMENTS_PER_SCAN} table segments before one scan",
                    segment.offset,
                )
        elif marker in SKIPPED_MARKERS:
            self._count_skipped(segment.offset)

    def _count_skipped(self, at: int) -> None:
        self._skipped += 1
        if self._skipped > MAX_SKIPPED:
            raise TooLarge(f"more than {MAX_SKIPPED} metadata segments or skipped regions", at)

    # -- tolerance: lying lengths, junk, embedded images ------------------------------------

    def _after_lying_length(self, segment: Segment, after: int) -> int:
        """A skipped segment's length lies: find where the damage ends.

        If the segment holds the start of a JPEG (a thumbnail, a preview) that does not
        end inside it, the length cut that JPEG in two: it is walked on past the cut and
        skipped whole. Otherwise the bytes after the declared end are junk up to the next
        plausible marker, as libjpeg's next_marker would find.
        """
        payload = segment.payload
        start = payload.find(_EMBEDDED_SOI)
        while start >= 0 and self._depth < _NESTING:
            nested = self._nested_tokenizer()
            try:
                nested.feed(payload[start:])
            except SanitizeError as error:
                start = payload.find(_EMBEDDED_SOI, start + max(2, error.offset))
                continue
            if nested.end_offset is not None:
                start = payload.find(_EMBEDDED_SOI, start + nested.end_offset)
                continue
            self._nested = nested
            self._nested_at = segment.offset + 4 + start
            self._state = _EMBEDDED
            self._count_skipped(self._nested_at)
            return after
        return self._start_junk(after, JUNK)

    def _nested_tokenizer(self) -> Tokenizer:
        return Tokenizer(max_bytes=self.max_bytes, tolerant=True, depth=self._depth + 1)

    def _start_junk(self, pos: int, kind: str, state: int = _JUNK) -> int:
        self._state = state
        self._junk_kind = kind
        return pos

    def _junk(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int:
        """Pass over junk up to the next plausible marker.

        Returns the marker's position (the state then says what comes next), or, when
        `buf` ends first, where the bytes to hold start (the state stays, `_need` is set).
        """
        start = pos
        end = len(buf)
        while True:
            found = _MARKER.search(buf, pos)
            if found is None:
                hold = end - 1 if buf[end - 1] == 0xFF else end
                self._emit_junk(tokens, base + start, hold - start)
                self._need = end - hold + 1
                return hold
            at = found.start()
            verdict = self._plausible(buf, at)
            if verdict == _IMPLAUSIBLE:
                pos = at + 1
                continue
            self._emit_junk(tokens, base + start, at - start)
            if verdict == _PLAUSIBLE:
                return self._resume(buf, at)
            self._need = verdict  # bytes needed from `at` to decide
            return at

    def _resume(self, buf: memoryview, at: int) -> int:
        """Junk ends at the marker at `at`: back to reading markers (or image data)."""
        code = buf[at + 1]
        if self._state == _SCAN_JUNK:
            # The scan carries on at a restart marker; any other marker ends it.
            self._state = _IN_SCAN if RST0 <= code <= RST7 else _AFTER_SCAN
        else:
            self._state = _EXPECT_MARKER
        self._count_skipped(at)
        return at

    def _plausible(self, buf: memoryview, at: int) -> int:
        """Whether the marker at `at` (0xFF, code) can end a run of junk.

        Returns _PLAUSIBLE, _IMPLAUSIBLE, or how many bytes from `at` it takes to tell.
        In image data that went wrong any marker but a reserved one does (libjpeg's
        resync). Elsewhere: a segment whose length leads to another marker, the EOI of
        an image that has scans, or an embedded JPEG (which is then skipped whole).
        """
        end = len(buf)
        code = buf[at + 1]
        if self._state == _SCAN_JUNK:
            return _IMPLAUSIBLE if _is_reserved(code) else _PLAUSIBLE
        if code == EOI:
            return _PLAUSIBLE if self.saw_frame and self.scans else _IMPLAUSIBLE
        if code == SOI:
            if end - at < 3:
                return 3
            return _PLAUSIBLE if buf[at + 2] == 0xFF else _IMPLAUSIBLE
        if code not in SEGMENT_MARKERS:
            return _IMPLAUSIBLE
        if (code in FRAME_MARKERS and self.saw_frame) or (code == SOS and not self.saw_frame):
            return _IMPLAUSIBLE  # a second frame here would be an embedded image's
        header = 10 if code in FRAME_MARKERS else 5
        if end - at < header:
            return header
        length = (buf[at + 2] << 8) | buf[at + 3]
        if length < 2 or not _length_fits(code, length, buf, at):
            return _IMPLAUSIBLE
        if code == SOS:
            return _PLAUSIBLE  # image data follows, not a marker
        if end - at < 3 + length:
            return 3 + length
        return _PLAUSIBLE if buf[at + 2 + length] == 0xFF else _IMPLAUSIBLE

    def _emit_junk(self, tokens: list[Token], at: int, size: int) -> None:
        if size > 0:
            tokens.append(Junk(at, size, self._junk_kind))

    def _embedded(self, buf: memoryview, pos: int, base: int, tokens: list[Token]) -> int:
        """Feed an embedded JPEG to its own tokenizer until it ends, then look for junk."""
        nested = self._nested
        assert nested is not None
        fed_from = base + pos
        try:
            nested.feed(buf[pos:])
            stop = nested.end_offset
        except SanitizeError as error:
            stop = error.offset  # not a JPEG after all: junk from where it broke
        if stop is None:
            tokens.append(Junk(fed_from, len(buf) - pos, EMBEDDED_JPEG))
            return len(buf)
        resume = max(self._nested_at + max(stop, 2), fed_from)
        tokens.append(Junk(fed_from, resume - fed_from, EMBEDDED_JPEG))
        self._nested = None
        return self._start_junk(resume - base, JUNK)


def _marker_follows(buf: memoryview, pos: int) -> bool:
    """Whether a marker plausibly starts at `pos` (where a skipped segment says it ends)."""
    if buf[pos] != 0xFF:
        return False
    code = buf[pos + 1]
    return code == 0xFF or not (code == 0x00 or RST0 <= code <= RST7 or _is_reserved(code))


def _length_fits(code: int, length: int, buf: memoryview, at: int) -> bool:
    """Segments whose length follows from their first fields (T.81 B.2.2, B.2.3, B.2.4.4)."""
    if code == SOS:
        count = buf[at + 4]
        return 1 <= count <= 4 and length == 6 + 2 * count
    if code in FRAME_MARKERS:
        return length == 8 + 3 * buf[at + 9]
    if code == DRI:
        return length == 4
    return True
