"""PNG and APNG: keep what draws the picture in its colours, drop the rest, chunk by chunk.

References are to the PNG specification, third edition (W3C, 2025): 5.2 signature, 5.3
chunk layout, 5.4 naming (the case of the first letter says critical or ancillary), 5.5
CRC, 5.6 ordering (Table 7), 11.2 critical chunks, 11.3 ancillary chunks, and the APNG
chunks acTL, fcTL and fdAT (11.3.6).

    IHDR PLTE IDAT IEND                                   critical: kept, checked
    tRNS gAMA cHRM sRGB cICP mDCV cLLI sBIT pHYs bKGD     kept byte for byte, checked
    acTL fcTL fdAT                                        kept (an animation), checked
    iCCP                                                  written again: its profile
                                                          cleaned (icc.py), a neutral name
    eXIf (its Orientation read first), tEXt zTXt iTXt,    dropped
    tIME, caBX (C2PA), every other ancillary chunk,
    everything after IEND

Every CRC is verified; a critical chunk we do not know, or one out of its place, rejects
the file (`BadChunk`), as libpng would. A kept ancillary chunk that libpng would ignore
(bad CRC, wrong length, out of place, a duplicate) is dropped and reported, so what a
browser shows is unchanged. The image data (IDAT, fdAT) is copied byte for byte and
never decompressed on this path: memory stays flat and the speed is that of a copy.

Orientation: the eXIf chunk (before IDAT, Table 7) is read for its Orientation tag only.
With policy `apply` and an orientation other than 1 the whole (stripped) file is held
and turned exactly by png_turn.py; `keep-tag` writes an eXIf with only that tag.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from zlib_ng.zlib_ng import crc32

from . import budget as budgets
from .chunked import MAX_HELD_BYTES, MAX_READ, ChunkInfo, Facts, Input, Output, Piece
from .errors import BadChunk, SanitizeError, TooLarge, Truncated
from .exif import orientation_only_tiff, read_tiff_orientation
from .icc import IccError, sanitize_profile
from .png_verify import PngVerifier
from .sanitize import OrientationPolicy, Removed

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
#: Lengths are PNG four-byte unsigned integers, at most 2^31 - 1 (7.1).
MAX_LENGTH: Final = 2**31 - 1
IEND_CHUNK: Final = b"\x00\x00\x00\x00IEND\xaeB`\x82"
#: The name written for every profile: the original may name a person or a device.
ICC_NAME: Final = b"ICC profile"
#: Bytes of a dropped chunk kept for its report (a text chunk's keyword fits).
_PREFIX: Final = 80
#: Kept bytes are released in pieces of about this size, so that neighbouring chunks in
#: one input block leave as one piece.
_RELEASE: Final = 1024 * 1024
#: An eXIf is read for IFD0 only, which writers put first; the rest is never needed.
_EXIF_READ: Final = 1024 * 1024

Removal = Callable[[Removed], None]
_CHUNK_HEADER: Final = struct.Struct(">I4s")
_U32: Final = struct.Struct(">I")


# --- the image header (11.2.2) ------------------------------------------------------------

#: Allowed bit depths per colour type (Table 11).
_DEPTHS: Final = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
#: Samples per pixel per colour type.
_SAMPLES: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


@dataclass(frozen=True, slots=True)
class Header:
    """IHDR's fields."""

    width: int
    height: int
    depth: int
    colour_type: int
    interlaced: bool

    @property
    def bits_per_pixel(self) -> int:
        return self.depth * _SAMPLES[self.colour_type]

    @property
    def bytes_per_pixel(self) -> int:
        """The filter's `bpp` (9.2): bytes per complete pixel, at least 1."""
        return max(1, self.bits_per_pixel // 8)

    def row_bytes(self, width: int) -> int:
        """Bytes of one scanline of `width` pixels, without its filter-type byte."""
        return (width * self.bits_per_pixel + 7) // 8

    def encode(self) -> bytes:
        """IHDR's payload: compression and filter method 0 (the only ones defined)."""
        fields = (self.width, self.height, self.depth, self.colour_type, 0, 0)
        return struct.pack(">IIBBBBB", *fields, int(self.interlaced))


def parse_header(payload: bytes | memoryview, offset: int) -> Header:
    """IHDR's payload, checked against 11.2.2; `BadChunk` otherwise."""
    if len(payload) != 13:
        raise BadChunk(f"IHDR holds {len(payload)} bytes, not 13", offset)
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", payload
    )
    if not (1 <= width <= MAX_LENGTH and 1 <= height <= MAX_LENGTH):
        raise BadChunk(f"IHDR declares a {width}x{height} image", offset)
    if depth not in _DEPTHS.get(colour, ()):
        raise BadChunk(f"IHDR declares colour type {colour} with bit depth {depth}", offset)
    if compression != 0 or filtering != 0 or interlace > 1:
        raise BadChunk(
            f"IHDR declares compression {compression}, filter {filtering}, "
            f"interlace {interlace}; only 0, 0 and 0 or 1 are defined",
            offset,
        )
    return Header(width, height, depth, colour, interlace == 1)


def chunk(kind: bytes, payload: bytes) -> bytes:
    """One chunk: length, type, payload, CRC over type and payload (5.3)."""
    return (
        struct.pack(">I4s", len(payload), kind)
        + payload
        + struct.pack(">I", crc32(payload, crc32(kind)))
    )


def is_chunk_type(kind: bytes) -> bool:
    """Four ASCII letters (5.4)."""
    return len(kind) == 4 and kind.isalpha() and kind.isascii()


def is_critical(kind: bytes) -> bool:
    """The first letter's case: upper is critical (5.4)."""
    return not kind[0] & 0x20


# --- what each kept ancillary chunk may hold, and where (Table 7, 11.3) ------------------------

_BEFORE_PLTE: Final = "before PLTE and IDAT"
_AFTER_PLTE: Final = "after PLTE, before IDAT"
_BEFORE_IDAT: Final = "before IDAT"


def _fixed(length: int) -> Callable[[bytes, Header, int], bool]:
    return lambda payload, header, palette: len(payload) == length


def _valid_trns(payload: bytes, header: Header, palette: int) -> bool:
    sizes = {0: 2, 2: 6}
    if header.colour_type == 3:
        return 1 <= len(payload) <= palette
    return len(payload) == sizes.get(header.colour_type, -1)


def _valid_gama(payload: bytes, header: Header, palette: int) -> bool:
    return len(payload) == 4 and payload != b"\x00\x00\x00\x00"


def _valid_srgb(payload: bytes, header: Header, palette: int) -> bool:
    return len(payload) == 1 and payload[0] <= 3


def _valid_sbit(payload: bytes, header: Header, palette: int) -> bool:
    sizes = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
    most = 8 if header.colour_type == 3 else header.depth
    return len(payload) == sizes[header.colour_type] and all(1 <= b <= most for b in payload)


def _valid_phys(payload: bytes, header: Header, palette: int) -> bool:
    return len(payload) == 9 and payload[8] <= 1


def _valid_bkgd(payload: bytes, header: Header, palette: int) -> bool:
    if header.colour_type == 3:
        return len(payload) == 1 and payload[0] < palette
    return len(payload) == (2 if header.colour_type in (0, 4) else 6)


@dataclass(frozen=True, slots=True)
class _Rule:
    place: str
    valid: Callable[[bytes, Header, int], bool]


#: Kept ancillary chunks, copied byte for byte once they pass their rule. mDCv and cLLi
#: are the names the HDR chunks had in the drafts of the third edition, still written by
#: some tools: the same 24 and 8 bytes of numbers.
KEPT_ANCILLARY: Final[dict[bytes, _Rule]] = {
    b"cHRM": _Rule(_BEFORE_PLTE, _fixed(32)),
    b"gAMA": _Rule(_BEFORE_PLTE, _valid_gama),
    b"sBIT": _Rule(_BEFORE_PLTE, _valid_sbit),
    b"sRGB": _Rule(_BEFORE_PLTE, _valid_srgb),
    b"cICP": _Rule(_BEFORE_PLTE, _fixed(4)),
    b"mDCV": _Rule(_BEFORE_PLTE, _fixed(24)),
    b"cLLI": _Rule(_BEFORE_PLTE, _fixed(8)),
    b"mDCv": _Rule(_BEFORE_PLTE, _fixed(24)),
    b"cLLi": _Rule(_BEFORE_PLTE, _fixed(8)),
    b"tRNS": _Rule(_AFTER_PLTE, _valid_trns),
    b"bKGD": _Rule(_AFTER_PLTE, _valid_bkgd),
    b"pHYs": _Rule(_BEFORE_IDAT, _valid_phys),
}
ANIMATION_CHUNKS: Final = frozenset({b"acTL", b"fcTL", b"fdAT"})

#: What the report calls a dropped chunk.
_DROPPED_KINDS: Final = {
    b"eXIf": "EXIF",
    b"tEXt": "text",
    b"zTXt": "text",
    b"iTXt": "text",
    b"tIME": "timestamp",
    b"caBX": "C2PA manifest",
    b"sPLT": "suggested palette",
    b"hIST": "palette histogram",
    b"oFFs": "image offset",
    b"pCAL": "pixel calibration",
    b"sCAL": "physical scale",
    b"sTER": "stereo layout",
    b"dSIG": "digital signature",
    b"gIFg": "GIF control",
    b"gIFx": "GIF application data",
    b"vpAg": "virtual page",
    b"iDOT": "Apple decoding hints",
    b"orNT": "orientation",
}
#: The iTXt keyword under which XMP travels (XMP Specification Part 3, 1.1.5).
XMP_KEYWORD: Final = b"XML:com.adobe.xmp"


def dropped_kind(kind: bytes, prefix: bytes) -> str:
    """What the report calls a dropped chunk, from its type and its first bytes."""
    if kind in (b"iTXt", b"tEXt", b"zTXt") and prefix.split(b"\x00", 1)[0] == XMP_KEYWORD:
        return "XMP"
    if kind in (b"tEXt", b"zTXt") and prefix.startswith(b"Raw profile type "):
        return "text (raw profile)"  # ImageMagick's hex-encoded EXIF, IPTC, XMP
    return _DROPPED_KINDS.get(kind, f"{kind.decode('latin-1')} chunk")


# --- the cutter ------------------------------------------------------------------------------

Spans = list[tuple[memoryview, int, int]]


class Cutter:
    """Reads a PNG chunk by chunk and yields what the output keeps (`pieces`).

    Before the first IDAT nothing is yielded: the orientation (eXIf, which comes before
    IDAT) decides what goes first. Then the plan: stream from here on, or (policy `apply`
    and an orientation of 2-8) hold the whole stripped file, which `held()` returns once
    `pieces` is exhausted, for png_turn.py. `facts` says what was found; `on_removed`
    hears of every piece that was dropped.
    """

    def __init__(
        self,
        blocks: Iterable[Piece],
        policy: OrientationPolicy,
        *,
        max_bytes: int,
        pixel_budget: int,
        on_removed: Removal,
    ) -> None:
        self.facts = Facts()
        self.turn: int | None = None  # the orientation to apply, once planned
        self._input = Input(blocks, max_bytes=max_bytes, what="PNG")
        self._policy = policy
        self._pixel_budget = pixel_budget
        self._on_removed = on_removed
        self._out = Output()
        self._planned = False
        self._header: Header | None = None
        self._palette = 0  # PLTE entries
        self._seen: set[bytes] = set()
        self._idat = _BEFORE  # where we are relative to the run of IDAT chunks
        self._animation: Animation | None = None

    # -- public -------------------------------------------------------------------------------

    def pieces(self) -> Iterator[Piece]:
        """The output, as it may be released; raises a `SanitizeError` on bad input."""
        self._signature()
        while True:
            at = self._input.offset
            if self._input.at_end():
                self._missing_end(at)
                break
            header = list(self._input.block_spans(8, "a chunk header"))
            length, kind = struct.unpack(">I4s", _joined(header))
            self._check_type(kind, length, at)
            if kind == b"IEND":
                self._end(length, at)
                break
            if kind == b"IDAT":
                self._image_data(header, length, at)
            elif kind == b"fdAT" and self._animation is not None:
                self._frame_data(header, length, at)
            else:
                self._chunk(kind, length, at)
            if self._planned and self.turn is None and self._out.pending >= _RELEASE:
                yield from self._out.take()
        self.facts.bytes_in = self._input.offset + self._input.skip_rest()
        if self.turn is None:
            yield from self._out.take()

    def held(self) -> bytes:
        """The whole stripped PNG, when it must be turned (`turn` is set)."""
        return b"".join(self._out.take())

    @property
    def keeps_orientation_tag(self) -> bool:
        """Whether the output carries an orientation-only eXIf (policy `keep-tag`)."""
        return self.facts.rotation == "tag-kept"

    # -- structure -----------------------------------------------------------------------------

    def _signature(self) -> None:
        if bytes(self._input.read(8, "the signature")) != SIGNATURE:
            raise BadChunk("the PNG signature is damaged", 0)
        self._keep(SIGNATURE)

    def _check_type(self, kind: bytes, length: int, at: int) -> None:
        if not is_chunk_type(kind):
            raise BadChunk(f"{kind!r} is not a chunk type", at + 4)
        if length > MAX_LENGTH:
            raise BadChunk(f"chunk {_name(kind)} declares {length} bytes", at)
        if is_critical(kind) and kind not in (b"IHDR", b"PLTE", b"IDAT", b"IEND"):
            raise BadChunk(f"unknown critical chunk {_name(kind)}", at)
        if self._header is None and kind != b"IHDR":
            raise BadChunk(f"the first chunk is {_name(kind)}, not IHDR", at)

    def _payload(self, kind: bytes, length: int, limit: int) -> tuple[bytes, bool]:
        """The first `limit` bytes of a payload, and whether the chunk's CRC holds."""
        crc = crc32(kind)
        kept = bytearray()
        for span in self._input.spans(length, f"chunk {_name(kind)}"):
            crc = crc32(span, crc)
            if len(kept) < limit:
                kept += span[: limit - len(kept)]
        return bytes(kept), self._crc_matches(kind, crc)

    def _crc_matches(self, kind: bytes, crc: int) -> bool:
        (stored,) = struct.unpack(">I", self._input.read(4, f"the CRC of {_name(kind)}"))
        return bool(stored == crc)

    def _held_payload(self, kind: bytes, length: int, at: int) -> tuple[bytes, bool]:
        """The whole payload of a chunk that is held (bounded: `TooLarge` beyond)."""
        if length > MAX_HELD_BYTES:
            raise TooLarge(f"chunk {_name(kind)} holds {length} bytes", at)
        return self._payload(kind, length, length)

    def _keep(self, data: bytes) -> None:
        self._out.new(data)
        if not self._planned and self._out.size > MAX_HELD_BYTES:
            raise TooLarge(
                f"more than {MAX_HELD_BYTES} bytes of chunks before the image data",
                self._input.offset,
            )

    def _drop(self, kind: str, where: bytes | str, at: int, size: int) -> None:
        name = where if isinstance(where, str) else _name(where)
        self._on_removed(Removed(kind, name, at, size))

    def _require_header(self) -> Header:
        assert self._header is not None  # _check_type refuses anything before IHDR
        return self._header

    @property
    def header(self) -> Header:
        """IHDR's fields (once a chunk after IHDR has been read)."""
        return self._require_header()

    # -- one chunk ------------------------------------------------------------------------------

    def _chunk(self, kind: bytes, length: int, at: int) -> None:
        """Every chunk but IDAT, fdAT of an animation and IEND."""
        if kind == b"IHDR":
            self._ihdr(length, at)
        elif kind == b"PLTE":
            self._plte(length, at)
        elif kind == b"acTL":
            self._actl(length, at)
        elif kind == b"fcTL" and self._animation is not None:
            payload, good = self._held_payload(kind, length, at)
            self._animation.frame_control(payload, good, at, self._idat)
            self._keep(chunk(kind, payload))
        elif kind == b"iCCP":
            self._iccp(length, at)
        elif kind == b"eXIf":
            self._exif(length, at)
        elif kind in KEPT_ANCILLARY:
            self._ancillary(kind, length, at)
        else:
            prefix, _ = self._payload(kind, length, _PREFIX)
            if kind in ANIMATION_CHUNKS:  # fcTL or fdAT without a valid acTL before IDAT
                kind_text = "animation frame (no acTL before the image)"
            else:
                kind_text = dropped_kind(kind, prefix)
            self._drop(kind_text, kind, at, length + 12)
        if self._idat is _IN:
            self._idat = _AFTER

    def _ihdr(self, length: int, at: int) -> None:
        payload, good = self._held_payload(b"IHDR", length, at)
        if self._header is not None:
            raise BadChunk("a second IHDR", at)
        if not good:
            raise BadChunk("the CRC of IHDR does not match", at)
        header = parse_header(payload, at)
        self._header = header
        self.facts.width, self.facts.height = header.width, header.height
        self._keep(chunk(b"IHDR", payload))

    def _plte(self, length: int, at: int) -> None:
        payload, good = self._held_payload(b"PLTE", length, at)
        header = self._require_header()
        if not good:
            raise BadChunk("the CRC of PLTE does not match", at)
        if self._idat is not _BEFORE or b"PLTE" in self._seen:
            raise BadChunk("PLTE after the image data, or a second PLTE", at)
        if header.colour_type in (0, 4):
            # libpng ignores a palette in a greyscale image, and so does the output.
            self._drop("PLTE (in a greyscale image)", b"PLTE", at, length + 12)
            return
        entries, rest = divmod(len(payload), 3)
        if rest or not 1 <= entries <= 256:
            if header.colour_type == 3:
                raise BadChunk(f"PLTE holds {len(payload)} bytes", at)
            self._drop("PLTE (invalid)", b"PLTE", at, length + 12)
            return
        self._seen.add(b"PLTE")
        self._palette = entries
        self._keep(chunk(b"PLTE", payload))

    def _ancillary(self, kind: bytes, length: int, at: int) -> None:
        rule = KEPT_ANCILLARY[kind]
        payload, good = self._held_payload(kind, length, at)
        problem = self._problem(kind, good, rule.place)
        if not problem and not rule.valid(payload, self._require_header(), self._palette):
            problem = "invalid"
        if problem:
            # libpng ignores such a chunk (a benign error), so no browser uses it either.
            self._drop(f"{_name(kind)} ({problem})", kind, at, length + 12)
            return
        self._seen.add(kind)
        self._keep(chunk(kind, payload))

    def _problem(self, kind: bytes, crc_good: bool, place: str) -> str:
        """Why a kept ancillary chunk is dropped instead: "" when it is not."""
        if not crc_good:
            return "bad CRC"
        if kind in self._seen:
            return "duplicate"
        if self._misplaced(place):
            return "out of place"
        return ""

    def _misplaced(self, place: str) -> bool:
        if self._idat is not _BEFORE:
            return True
        if place == _BEFORE_PLTE:
            return b"PLTE" in self._seen
        if place == _AFTER_PLTE:
            return self._require_header().colour_type == 3 and b"PLTE" not in self._seen
        return False

    def _iccp(self, length: int, at: int) -> None:
        """Written again: the profile cleaned by icc.py, under a neutral name (11.3.3.3)."""
        payload, good = self._held_payload(b"iCCP", length, at)
        problem = self._problem(b"iCCP", good, _BEFORE_PLTE)
        if problem:
            self._drop(f"ICC profile ({problem})", b"iCCP", at, length + 12)
            return
        self._seen.add(b"iCCP")
        try:
            profile = inflate_profile(payload)
            clean = sanitize_profile(profile)
        except IccError:
            # Decoders ignore a profile they cannot read; the output has none.
            self._drop("ICC profile (invalid)", b"iCCP", at, length + 12)
            return
        rewritten = chunk(b"iCCP", iccp_payload(clean.data))
        if clean.removed or not payload.startswith(ICC_NAME + b"\x00"):
            # Written again, not cut: what the file loses is counted, no region of it.
            removed = max(0, length + 12 - len(rewritten))
            self._drop("ICC profile text and identity", b"iCCP", at, removed)
        self._keep(rewritten)

    def _exif(self, length: int, at: int) -> None:
        """Dropped; before the image data its Orientation is read first (Table 7)."""
        payload, good = self._payload(b"eXIf", length, _EXIF_READ)
        self._drop("EXIF", b"eXIf", at, length + 12)
        if good and self._idat is _BEFORE and b"eXIf" not in self._seen:
            self._seen.add(b"eXIf")
            self.facts.orientation = read_tiff_orientation(payload)

    # -- the animation (APNG) -------------------------------------------------------------------

    def _actl(self, length: int, at: int) -> None:
        """An animation is kept only when a valid acTL comes before the image data.

        Otherwise decoders show the still image (libpng's APNG patch skips such an acTL,
        and without one every fcTL and fdAT), and so the output holds the still image.
        """
        payload, good = self._held_payload(b"acTL", length, at)
        if b"acTL" in self._seen:
            # libpng's APNG patch skips an invalid acTL and takes a later one, other
            # decoders take the first or none: a second acTL leaves what is shown open.
            raise BadChunk("a second acTL", at)
        self._seen.add(b"acTL")
        problem = "bad CRC" if not good else "out of place" if self._idat is not _BEFORE else ""
        frames, _plays = struct.unpack(">II", payload) if len(payload) == 8 else (0, 0)
        if not problem and not 1 <= frames <= MAX_LENGTH:
            problem = "invalid"
        if problem:
            self._drop(f"acTL ({problem})", b"acTL", at, length + 12)
            return
        self._animation = Animation(self._require_header(), frames)
        self.facts.frames = frames
        self._keep(chunk(b"acTL", payload))

    def _frame_data(self, header: Spans, length: int, at: int) -> None:
        assert self._animation is not None
        if length < 4:
            raise BadChunk("an fdAT without a sequence number", at)
        sequence = self._copy(b"fdAT", header, length, at)
        self._animation.frame_data(sequence, at, self._idat)
        if self._idat is _IN:
            self._idat = _AFTER

    # -- the image data -------------------------------------------------------------------------

    def _image_data(self, header: Spans, length: int, at: int) -> None:
        if self._idat is _AFTER:
            raise BadChunk("IDAT chunks are not consecutive", at)
        if self._idat is _BEFORE:
            if self._require_header().colour_type == 3 and b"PLTE" not in self._seen:
                raise BadChunk("a palette image without PLTE", at)
            if self._animation is not None:
                self._animation.image_data(at)
            self._idat = _IN
            self._plan()
        self._copy(b"IDAT", header, length, at)
        self._copy_image_data_run()

    def _copy_image_data_run(self) -> None:
        """The IDAT chunks that follow in the current block, copied in one tight loop.

        Encoders write image data in many small chunks (libpng: 8 KiB each), so this is
        where the time goes; the general path (`_copy`) handles what straddles blocks.
        """
        block, pos = self._input.window()
        start, size = pos, len(block)
        # Locals, not globals and attribute lookups: a 12 MP PNG is about 1,600 chunks.
        header, stored, crc = _CHUNK_HEADER.unpack_from, _U32.unpack_from, crc32
        while pos + 12 <= size:
            length, kind = header(block, pos)
            end = pos + 12 + length
            if kind != b"IDAT" or end > size:
                break
            if crc(block[pos + 4 : end - 4]) != stored(block, end - 4)[0]:
                raise BadChunk("the CRC of IDAT does not match", self._input.offset + pos - start)
            pos = end
        if pos > start:
            self._out.span(block, start, pos)
            self._input.advance_to(pos)
            if self.turn is not None:
                self._check_turn_budget(self._input.offset)

    def _copy(self, kind: bytes, header: Spans, length: int, at: int) -> int:
        """Copy a chunk as it is, once its CRC holds; returns its first 4 payload bytes."""
        payload = list(self._input.block_spans(length, f"chunk {_name(kind)}"))
        stored = list(self._input.block_spans(4, f"the CRC of {_name(kind)}"))
        crc = crc32(kind)
        for block, start, end in payload:
            crc = crc32(block[start:end], crc)
        if struct.unpack(">I", _joined(stored))[0] != crc:
            raise BadChunk(f"the CRC of {_name(kind)} does not match", at)
        self._out.spans(header)
        self._out.spans(payload)
        self._out.spans(stored)
        if self.turn is not None:
            self._check_turn_budget(at)
        return int.from_bytes(_first_bytes(payload, 4), "big")

    def _plan(self) -> None:
        """At the first IDAT: stream from here, with or without an orientation tag, or hold
        everything to turn it."""
        self._planned = True
        orientation = self.facts.orientation
        if orientation is None or orientation == 1:
            return
        if self._policy is OrientationPolicy.APPLY:
            self.turn = orientation
            self._check_turn_budget(self._input.offset)
        elif self._policy is OrientationPolicy.KEEP_TAG:
            held = self._out.take()  # the signature, IHDR, then the rest
            for piece in [*held[:2], orientation_only_chunk(orientation), *held[2:]]:
                self._out.new(bytes(piece))
            self.facts.rotation = "tag-kept"

    def _check_turn_budget(self, at: int) -> None:
        """Refuse as soon as the held file and the pixels could not fit the budget, rather
        than after holding all of it (the work itself reserves its share: budget.py)."""
        cost = turn_cost(self._require_header(), self._out.size)
        if cost > self._pixel_budget:
            raise TooLarge(
                f"turning this picture needs about {cost // budgets.MiB} MiB of memory, "
                f"more than the {self._pixel_budget // budgets.MiB} MiB budget for pixel work",
                at,
            )

    # -- the end ---------------------------------------------------------------------------------

    def _end(self, length: int, at: int) -> None:
        stored = self._input.read(4, "the CRC of IEND") if length == 0 else b""
        if bytes(stored) != IEND_CHUNK[8:]:
            # IEND carries nothing; whatever it claims to carry is left as a trailer.
            self.facts.repairs.append("IEND written again")
        self._finish(at)

    def _missing_end(self, at: int) -> None:
        if self._idat is _BEFORE:
            raise Truncated("the PNG file ends before its image data", at)
        self.facts.repairs.append("IEND added")
        self._finish(at)

    def _finish(self, at: int) -> None:
        if self._idat is _BEFORE:
            raise BadChunk("no IDAT before IEND", at)
        if self._animation is not None:
            self._animation.end(at)
        self._keep(IEND_CHUNK)
        trailer_at = self._input.offset
        trailer = self._input.skip_rest()
        if trailer:
            self._drop("trailer", "after IEND", trailer_at, trailer)


_BEFORE: Final = "before"
_IN: Final = "in"
_AFTER: Final = "after"


class Animation:
    """The APNG rules (11.3.6): sequence numbers 0, 1, 2, ... over fcTL and fdAT; as many
    frames as acTL says, each inside the image and with data; at most one fcTL before
    IDAT, and then it covers the whole image and IDAT is its data.

    Any fault is a `BadChunk`: libpng's APNG patch stops decoding there too.
    """

    def __init__(self, header: Header, frames: int) -> None:
        self._header = header
        self._frames = frames
        self._declared = 0  # fcTL chunks so far
        self._sequence = 0  # the next sequence number
        self._waiting = False  # the last fcTL still waits for its data
        self._data_is_idat = False  # the last fcTL came before IDAT

    def frame_control(self, payload: bytes, crc_good: bool, at: int, idat: str) -> None:
        if not crc_good or len(payload) != 26:
            raise BadChunk("an fcTL is damaged (its CRC or its length)", at)
        sequence, width, height, x, y, _, _, dispose, blend = struct.unpack(">IIIIIHHBB", payload)
        self._next(sequence, at)
        header = self._header
        if not (width and height and x + width <= header.width and y + height <= header.height):
            raise BadChunk(f"frame {self._declared} lies outside the image", at)
        if dispose > 2 or blend > 1:
            raise BadChunk(f"frame {self._declared} has dispose {dispose}, blend {blend}", at)
        if self._waiting:
            raise BadChunk(f"frame {self._declared - 1} has no data", at)
        if idat != _BEFORE:
            self._data_is_idat = False
        elif self._declared or (x, y, width, height) != (0, 0, header.width, header.height):
            raise BadChunk("the fcTL before IDAT must be the only one and cover the image", at)
        else:
            self._data_is_idat = True
        self._declared += 1
        self._waiting = True
        if self._declared > self._frames:
            raise BadChunk(f"more frames than the {self._frames} acTL declares", at)

    def image_data(self, at: int) -> None:
        if self._data_is_idat:
            self._waiting = False

    def frame_data(self, sequence: int, at: int, idat: str) -> None:
        self._next(sequence, at)
        if idat == _BEFORE or not self._declared or self._data_is_idat:
            raise BadChunk("an fdAT that belongs to no frame", at)
        self._waiting = False

    def end(self, at: int) -> None:
        if self._waiting:
            raise BadChunk(f"frame {self._declared - 1} has no data", at)
        if self._declared != self._frames:
            raise BadChunk(f"acTL declares {self._frames} frames, the file holds "
                           f"{self._declared}", at)  # fmt: skip

    def _next(self, sequence: int, at: int) -> None:
        if sequence != self._sequence:
            raise BadChunk(f"sequence number {sequence} where {self._sequence} was due", at)
        self._sequence += 1


def turn_cost(header: Header, compressed: int) -> int:
    """Memory that turning a PNG takes: the compressed file in and out, and per frame
    (the largest is the whole image) the inflated rows, the pixels, their turned copy
    and the filtered rows of the result (png_turn.py holds no more at once)."""
    raster = header.height * (header.row_bytes(header.width) + 1)
    return 2 * compressed + 5 * raster + (8 << 20)


# --- helpers ---------------------------------------------------------------------------------


def _name(kind: bytes) -> str:
    return kind.decode("latin-1")


def _joined(spans: Spans) -> bytes | memoryview:
    """The bytes of (block, start, end) spans: a view when there is one span."""
    if len(spans) == 1:
        block, start, end = spans[0]
        return block[start:end]
    return b"".join(block[start:end] for block, start, end in spans)


def _first_bytes(spans: Spans, count: int) -> bytes:
    out = b""
    for block, start, end in spans:
        out += bytes(block[start : min(end, start + count - len(out))])
        if len(out) == count:
            break
    return out


def inflate_profile(payload: bytes) -> bytes:
    """The profile of an iCCP payload: name, NUL, method 0, zlib data (11.3.3.3).

    Inflated with a bound, so a small chunk cannot make us hold gigabytes.
    """
    name_end = payload.find(b"\x00", 0, 80)
    if name_end < 1 or len(payload) < name_end + 2:
        raise IccError("the iCCP chunk has no profile name")
    if payload[name_end + 1] != 0:
        raise IccError(f"the iCCP chunk uses compression method {payload[name_end + 1]}")
    return inflate_bounded(payload[name_end + 2 :], MAX_HELD_BYTES, "the ICC profile")


def inflate_bounded(data: bytes, limit: int, what: str) -> bytes:
    """A zlib stream inflated to at most `limit` bytes; `IccError` when broken or larger."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as error:
        raise IccError(f"{what} cannot be decompressed: {error}") from None
    if inflater.unconsumed_tail:
        raise IccError(f"{what} inflates to more than {limit} bytes")
    if not inflater.eof:
        raise IccError(f"{what} is cut short")
    return out


def iccp_payload(profile: bytes) -> bytes:
    """An iCCP payload for a clean profile: the neutral name, method 0, zlib data."""
    return ICC_NAME + b"\x00\x00" + zlib.compress(profile, 9)


def orientation_only_chunk(orientation: int) -> bytes:
    """An eXIf chunk that says nothing but the orientation (policy `keep-tag`)."""
    return chunk(b"eXIf", orientation_only_tiff(orientation))


# --- the whole path: cut, turn when asked, verify --------------------------------------------


def sanitize_png(
    blocks: Iterable[Piece],
    write: Callable[[Piece], object],
    policy: OrientationPolicy,
    *,
    max_bytes: int,
    pixel_budget: int,
    on_removed: Removal,
) -> Facts:
    """Sanitize the PNG in `blocks` into `write`, verified piece by piece as it is written.

    On any exception the caller must discard what `write` received; only a normal
    return means the output is complete and clean.
    """
    cutter = Cutter(
        blocks, policy, max_bytes=max_bytes, pixel_budget=pixel_budget, on_removed=on_removed
    )
    verifier: PngVerifier | None = None
    for piece in cutter.pieces():
        if verifier is None:
            verifier = PngVerifier(allow_orientation_tag=cutter.keeps_orientation_tag)
        verifier.feed(piece)
        write(piece)
    facts = cutter.facts
    if cutter.turn is not None:
        # Imported here: the lossless path (and the CLI's start-up) does without it.
        from .png_turn import turn_png

        held = cutter.held()
        with budgets.reserve(turn_cost(cutter.header, len(held)), pixel_budget):
            turned = turn_png(held, cutter.turn)
        facts.rotation = "lossless"
        facts.width, facts.height = turned.width, turned.height
        verifier = PngVerifier(allow_orientation_tag=False)
        again = Cutter(
            [turned.png],
            OrientationPolicy.DROP,
            max_bytes=1 << 62,
            pixel_budget=0,
            on_removed=_nothing_to_remove,
        )
        for piece in again.pieces():
            verifier.feed(piece)
            write(piece)
    assert verifier is not None  # pieces() yields at least the signature and IEND
    verifier.close()
    return facts


def _nothing_to_remove(item: Removed) -> None:
    """What we made ourselves holds nothing to remove; if it did, that is a bug."""
    raise AssertionError(f"the turned PNG held {item.kind} at {item.offset}")


# --- inspect: every chunk, and what the metadata chunks say ------------------------------------


def list_chunks(blocks: Iterable[Piece], *, max_bytes: int) -> tuple[list[ChunkInfo], str]:
    """Every chunk of a PNG (a run of IDAT as one row), with the readable content of the
    metadata chunks; and why the listing stopped early, if the structure broke ("" if not).

    Reads as far as the structure allows and never raises for bad input: `inspect`
    shows what there is.
    """
    source = Input(blocks, max_bytes=max_bytes, what="PNG")
    found: list[ChunkInfo] = []
    try:
        if bytes(source.read(8, "the signature")) != SIGNATURE:
            return found, "not a PNG signature"
        while not source.at_end():
            at = source.offset
            length, kind = struct.unpack(">I4s", source.read(8, "a chunk header"))
            if not is_chunk_type(kind) or length > MAX_LENGTH:
                return found, f"no chunk at byte {at}"
            limit = MAX_HELD_BYTES if kind == b"iCCP" else MAX_READ
            payload = bytearray()
            for span in source.spans(length, f"chunk {_name(kind)}"):
                if len(payload) < limit:
                    payload += span[: limit - len(payload)]
            source.read(4, "a CRC")
            found.append(_describe_chunk(kind, at, length, bytes(payload)))
            if kind == b"IEND":
                break
        rest = source.offset
        trailer = source.skip_rest()
        if trailer:
            found.append(ChunkInfo(rest, "after IEND", trailer, "trailer"))
    except SanitizeError as error:
        return _merge_image_data(found), str(error)
    return _merge_image_data(found), ""


def _describe_chunk(kind: bytes, at: int, length: int, payload: bytes) -> ChunkInfo:
    name, size = _name(kind), length + 12
    if kind in (b"tEXt", b"zTXt", b"iTXt"):
        keyword, text = read_text_chunk(kind, payload)
        what = dropped_kind(kind, payload[:_PREFIX])
        return ChunkInfo(at, name, size, what, keyword, text)
    if kind == b"eXIf":
        return ChunkInfo(at, name, size, "EXIF", content=payload)
    if kind == b"iCCP":
        try:
            profile = inflate_profile(payload)
        except IccError:
            profile = b""
        keyword = payload.split(b"\x00", 1)[0].decode("latin-1")
        return ChunkInfo(at, name, size, "ICC profile", keyword, profile)
    if kind in (b"IDAT", b"fdAT"):
        return ChunkInfo(at, name, size, "image data")
    if kind in KEPT_ANCILLARY or kind in (b"IHDR", b"PLTE", b"IEND") or kind in ANIMATION_CHUNKS:
        return ChunkInfo(at, name, size, "")
    return ChunkInfo(at, name, size, dropped_kind(kind, payload[:_PREFIX]), content=payload[:256])


def _merge_image_data(found: list[ChunkInfo]) -> list[ChunkInfo]:
    """Consecutive IDAT (or fdAT) chunks as one row: libpng writes them 8 KiB at a time."""
    merged: list[ChunkInfo] = []
    for info in found:
        last = merged[-1] if merged else None
        if last is not None and info.what == "image data" and last.kind == info.kind:
            merged[-1] = ChunkInfo(last.offset, last.kind, last.size + info.size, last.what)
        else:
            merged.append(info)
    return merged


def read_text_chunk(kind: bytes, payload: bytes) -> tuple[str, bytes]:
    """A text chunk's keyword and its text as UTF-8 (11.3.4.3-5): tEXt is Latin-1, zTXt
    Latin-1 compressed, iTXt UTF-8 with a language tag and maybe compressed. Text that
    cannot be read is returned as it is."""
    keyword, _, rest = payload.partition(b"\x00")
    name = keyword.decode("latin-1")
    try:
        if kind == b"tEXt":
            return name, rest.decode("latin-1").encode()
        if kind == b"zTXt":
            return name, _inflate_text(rest[1:]).decode("latin-1").encode()
        compressed = rest[:1] == b"\x01"
        _language, _, rest = rest[2:].partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        return name, _inflate_text(text) if compressed else text
    except (zlib.error, UnicodeDecodeError):
        return name, rest


def _inflate_text(data: bytes) -> bytes:
    return zlib.decompressobj().decompress(data, MAX_READ)
