"""WebP: keep what draws the picture in its colours, drop the rest, RIFF chunk by chunk.

References: the WebP container specification (RFC 9649, 2024; Google's "WebP Container
Specification"), the VP8 and VP8L bitstream headers it names (RFC 6386 9.1, RFC 9649
3.2), and libwebp's demuxer, which is what browsers decode with.

    VP8X                       written again: flags fixed, canvas size kept
    ICCP                       written again: its profile cleaned (icc.py)
    ANIM, ANMF                 kept (an ANMF written again without unknown sub-chunks)
    ALPH, VP8, VP8L            copied byte for byte, their headers checked
    EXIF (Orientation read     dropped
    first), XMP, unknown
    chunks, bytes after the
    RIFF's end

The RIFF size and the VP8X flags are set for what is written, and every chunk of odd
length is padded. A file whose structure libwebp's demuxer would refuse, or where two
decoders could disagree (two ALPH chunks, ALPH with VP8L, a frame outside the canvas, an
animation without ANIM), is rejected with a `BadChunk`.

The RIFF header, the first thing written, holds the size of everything after it, and
what is dropped (EXIF, XMP) usually comes last; so the file is read twice: once to plan
the output from its chunk headers, once to copy. An input in memory is read in place; a
stream is first spooled (memory up to `SPOOL_MEMORY`, a temporary file beyond).
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Final, Protocol

from . import budget as budgets
from .chunked import MAX_HELD_BYTES, MAX_READ, ChunkInfo, Facts, Piece
from .errors import BadChunk, TooLarge, Truncated, Undecodable, Unsupported
from .exif import orientation_only_tiff, read_tiff_orientation
from .icc import IccError, sanitize_profile
from .sanitize import OrientationPolicy, Removed
from .webp_verify import WebpVerifier

Removal = Callable[[Removed], None]

#: VP8X flags (container specification, "Extended File Format").
ICC_FLAG: Final = 0x20
ALPHA_FLAG: Final = 0x10
EXIF_FLAG: Final = 0x08
XMP_FLAG: Final = 0x04
ANIMATION_FLAG: Final = 0x02
#: Streams up to this size are spooled in memory, larger ones in a temporary file.
SPOOL_MEMORY: Final = 32 * 1024 * 1024
_PIECE: Final = 1024 * 1024  # bytes copied per piece from a spooled input
#: A RIFF size is 32 bits; the WebP container caps it at 2^32 - 10.
MAX_RIFF_SIZE: Final = 2**32 - 10

_DROPPED_KINDS: Final = {b"EXIF": "EXIF", b"XMP ": "XMP"}


def dropped_kind(fourcc: bytes) -> str:
    """What the report calls a dropped chunk."""
    return _DROPPED_KINDS.get(fourcc, f"{_name(fourcc)} chunk")


# --- reading the input twice ------------------------------------------------------------------


class Source(Protocol):
    """The input with random access: in memory, or spooled from a stream."""

    size: int

    def read_at(self, offset: int, size: int) -> bytes | memoryview: ...

    def pieces(self, offset: int, size: int) -> Iterator[Piece]: ...


class InMemory:
    """An input already in memory: pieces are views, nothing is copied."""

    def __init__(self, data: bytes | memoryview, *, max_bytes: int) -> None:
        self._data = memoryview(data).cast("B")
        self.size = len(self._data)
        if self.size > max_bytes:
            raise TooLarge(f"file exceeds the limit of {max_bytes} bytes", max_bytes)

    def read_at(self, offset: int, size: int) -> memoryview:
        return self._data[offset : offset + size]

    def pieces(self, offset: int, size: int) -> Iterator[Piece]:
        yield self._data[offset : offset + size]

    def __enter__(self) -> InMemory:
        return self

    def __exit__(self, *_: object) -> None:
        pass


class Spooled:
    """A stream written to a spool (memory, then a temporary file) so it can be read twice."""

    def __init__(self, blocks: Iterable[Piece], *, max_bytes: int) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self.size = 0
        for block in blocks:
            self.size += len(block)
            if self.size > max_bytes:
                self._file.close()
                raise TooLarge(f"file exceeds the limit of {max_bytes} bytes", max_bytes)
            self._file.write(block)

    def read_at(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(size)

    def pieces(self, offset: int, size: int) -> Iterator[Piece]:
        self._file.seek(offset)
        while size > 0:
            piece = self._file.read(min(size, _PIECE))
            if not piece:
                return
            size -= len(piece)
            yield piece

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# --- the bitstream headers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bitstream:
    """What a VP8 or VP8L chunk's first bytes say."""

    lossless: bool
    width: int
    height: int
    alpha: bool  # VP8L's alpha_is_used hint


def parse_vp8(payload: bytes | memoryview, size: int, at: int) -> Bitstream:
    """A VP8 key frame's header (RFC 6386 9.1), checked as libwebp's VP8GetInfo does."""
    if len(payload) < 10:
        raise BadChunk("a VP8 chunk too short for its frame header", at)
    bits = payload[0] | payload[1] << 8 | payload[2] << 16
    if bits & 1:
        raise BadChunk("the VP8 frame is not a key frame", at)
    if (bits >> 1) & 7 > 3 or bytes(payload[3:6]) != b"\x9d\x01\x2a" or bits >> 5 >= size:
        raise BadChunk("the VP8 frame header is damaged", at)
    if not (bits >> 4) & 1:
        raise Unsupported("the VP8 frame is not meant to be shown", at)
    width = (payload[6] | payload[7] << 8) & 0x3FFF
    height = (payload[8] | payload[9] << 8) & 0x3FFF
    if not width or not height:
        raise BadChunk("the VP8 frame declares no pixels", at)
    return Bitstream(False, width, height, False)


def parse_vp8l(payload: bytes | memoryview, at: int) -> Bitstream:
    """A VP8L header: signature 0x2f, 14-bit width - 1 and height - 1, alpha, version 0."""
    if len(payload) < 5 or payload[0] != 0x2F:
        raise BadChunk("the VP8L chunk lacks its signature", at)
    (bits,) = struct.unpack("<I", payload[1:5])
    if bits >> 29:
        raise BadChunk(f"the VP8L bitstream has version {bits >> 29}", at)
    return Bitstream(True, 1 + (bits & 0x3FFF), 1 + (bits >> 14 & 0x3FFF), bool(bits >> 28 & 1))


def check_alpha_header(first: int, at: int) -> None:
    """ALPH's header byte (reserved, pre-processing, filtering, compression), as libwebp's
    alpha decoder checks it before it decodes anything."""
    if first >> 6 or (first >> 4) & 3 > 1 or first & 3 > 1:
        raise BadChunk("the ALPH chunk's header is invalid", at)


# --- the plan ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Chunk:
    fourcc: bytes
    offset: int  # of the chunk header in the input
    size: int  # payload bytes (without the pad byte)

    @property
    def payload_at(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 8 + self.size + (self.size & 1)


#: What the output is made of: new bytes, or a range (offset, size) of the input.
Item = bytes | tuple[int, int]


@dataclass(slots=True)
class Plan:
    """The output, before it is written: items, and what the cutter found."""

    items: list[Item] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)
    turn: int | None = None
    keeps_orientation_tag: bool = False
    animated: bool = False
    lossless: bool = True  # every bitstream is VP8L

    @property
    def size(self) -> int:
        return sum(len(i) if isinstance(i, bytes) else i[1] for i in self.items)


def chunk(fourcc: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: FourCC, little-endian size, payload, a pad byte if the size is odd."""
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)


class Planner:
    """Reads the chunk headers (and the few payloads that matter) and plans the output."""

    def __init__(self, source: Source, policy: OrientationPolicy, on_removed: Removal) -> None:
        self._source = source
        self._policy = policy
        self._on_removed = on_removed
        self.plan = Plan()

    def run(self) -> Plan:
        end = self._riff()
        chunks = self._chunks(end)
        if not chunks:
            raise Truncated("the WebP file holds no chunk", 12)
        first = chunks[0]
        if first.fourcc == b"VP8X":
            self._extended(first, chunks[1:])
        elif first.fourcc in (b"VP8 ", b"VP8L"):
            self._simple(first, chunks[1:])
        else:
            raise BadChunk(f"a WebP cannot start with {_name(first.fourcc)}", first.offset)
        if end < self._source.size:
            self._drop("trailer", "after RIFF", end, self._source.size - end)
        self._set_riff_size()
        return self.plan

    # -- the container --------------------------------------------------------------------

    def _riff(self) -> int:
        """The RIFF header; returns where the RIFF ends (bytes after it are a trailer)."""
        head = bytes(self._source.read_at(0, 12))
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WEBP":
            raise BadChunk("the RIFF header is damaged", 0)
        size = int.from_bytes(head[4:8], "little")
        if size < 4 or size > MAX_RIFF_SIZE:
            raise BadChunk(f"the RIFF header declares {size} bytes", 4)
        end = 8 + size
        if end > self._source.size:
            raise Truncated(f"the RIFF header declares {size} bytes, the file is shorter", 4)
        self.plan.items.append(b"")  # the RIFF header, set when the size is known
        return end

    def _chunks(self, end: int) -> list[_Chunk]:
        """Every chunk header up to the RIFF's end (a missing final pad byte is tolerated)."""
        chunks = []
        offset = 12
        while offset < end:
            if offset + 8 > end:
                raise Truncated("the WebP file ends inside a chunk header", offset)
            header = bytes(self._source.read_at(offset, 8))
            fourcc, size = header[:4], struct.unpack("<I", header[4:])[0]
            found = _Chunk(fourcc, offset, size)
            if found.payload_at + size > end:
                raise Truncated(f"chunk {_name(fourcc)} runs past the end of the file", offset)
            chunks.append(found)
            if found.end > end:
                self.plan.facts.repairs.append("pad byte added")
            offset = found.end
        return chunks

    def _set_riff_size(self) -> None:
        size = self.plan.size - 8 + 12  # the header's 12 bytes are still the placeholder
        if size > MAX_RIFF_SIZE:
            raise TooLarge("the output would exceed the RIFF's size limit", 4)
        self.plan.items[0] = b"RIFF" + struct.pack("<I", size) + b"WEBP"

    def _drop(self, kind: str, where: bytes | str, at: int, size: int) -> None:
        name = where if isinstance(where, str) else _name(where)
        self._on_removed(Removed(kind, name, at, size))

    def _drop_chunk(self, found: _Chunk, kind: str | None = None) -> None:
        size = found.end - found.offset
        self._drop(kind or dropped_kind(found.fourcc), found.fourcc, found.offset, size)

    def _copy(self, found: _Chunk) -> None:
        """A chunk copied as it is, with its pad byte (written when the input lacks it)."""
        self.plan.items.append((found.offset, 8 + found.size))
        if found.size & 1:
            self.plan.items.append(b"\x00")

    def _payload(self, found: _Chunk, limit: int) -> bytes:
        return bytes(self._source.read_at(found.payload_at, min(found.size, limit)))

    # -- a simple file: VP8 or VP8L, nothing else --------------------------------------------

    def _simple(self, first: _Chunk, rest: list[_Chunk]) -> None:
        """A file without VP8X: its bitstream, and nothing else counts. Decoders read no
        EXIF here (it needs VP8X), so there is no orientation to apply or keep."""
        image = self._bitstream(first)
        facts = self.plan.facts
        facts.width, facts.height = image.width, image.height
        self.plan.lossless = image.lossless
        for found in rest:  # libwebp reads nothing after the bitstream of a simple file
            self._drop_chunk(found)
        self._copy(first)

    # -- the extended format ---------------------------------------------------------------

    def _extended(self, first: _Chunk, rest: list[_Chunk]) -> None:
        payload = self._payload(first, 10)
        if first.size != 10:
            raise BadChunk(f"VP8X holds {first.size} bytes, not 10", first.offset)
        flags = payload[0]
        width = 1 + int.from_bytes(payload[4:7], "little")
        height = 1 + int.from_bytes(payload[7:10], "little")
        if width * height >= 2**32:
            raise BadChunk(f"VP8X declares a {width}x{height} canvas", first.offset)
        facts = self.plan.facts
        facts.width, facts.height = width, height
        self.plan.animated = bool(flags & ANIMATION_FLAG)
        profile = self._metadata(flags, rest)
        self._plan_orientation()
        out_flags = flags & (ALPHA_FLAG | ANIMATION_FLAG) | (ICC_FLAG if profile else 0)
        if self.plan.keeps_orientation_tag:
            out_flags |= EXIF_FLAG
        self.plan.items.append(vp8x(out_flags, width, height))
        if profile:
            self.plan.items.append(chunk(b"ICCP", profile))
        image = [c for c in rest if c.fourcc in _IMAGE_CHUNKS]
        if self.plan.animated:
            self._animation(image, width, height)
        else:
            self._still(image, width, height)
        self._append_orientation_tag()

    def _metadata(self, flags: int, rest: list[_Chunk]) -> bytes | None:
        """Drops what is not image data; returns the cleaned ICC profile, if one is kept."""
        profile: bytes | None = None
        seen_icc = seen_exif = False
        for found in rest:
            if found.fourcc in _IMAGE_CHUNKS:
                continue
            if found.fourcc == b"ICCP":
                if not flags & ICC_FLAG or seen_icc:
                    # Decoders read the first ICCP, and only when VP8X announces it.
                    problem = "duplicate" if seen_icc else "not announced by VP8X"
                    self._drop_chunk(found, f"ICC profile ({problem})")
                else:
                    profile = self._profile(found)
                seen_icc = True
                continue
            if found.fourcc == b"EXIF" and flags & EXIF_FLAG and not seen_exif:
                seen_exif = True
                tiff = self._payload(found, 1024 * 1024)
                self.plan.facts.orientation = read_tiff_orientation(tiff)
            self._drop_chunk(found)
        return profile

    def _profile(self, found: _Chunk) -> bytes | None:
        if found.size > MAX_HELD_BYTES:
            raise TooLarge(f"an ICC profile of {found.size} bytes", found.offset)
        profile = self._payload(found, found.size)
        try:
            clean = sanitize_profile(profile)
        except IccError:
            self._drop_chunk(found, "ICC profile (invalid)")
            return None
        if clean.removed:
            removed = max(0, len(profile) - len(clean.data))
            self._drop("ICC profile text and identity", found.fourcc, found.offset, removed)
        return clean.data

    def _still(self, image: list[_Chunk], width: int, height: int) -> None:
        """[ALPH] VP8, or VP8L: the one picture of a still extended file."""
        kinds = [c.fourcc for c in image]
        if kinds not in ([b"VP8 "], [b"ALPH", b"VP8 "], [b"VP8L"]):
            shown = ", ".join(_name(k) for k in kinds) or "none"
            at = image[0].offset if image else 12
            raise BadChunk(f"a still WebP needs [ALPH] VP8 or VP8L, it holds {shown}", at)
        for found in image:
            if found.fourcc == b"ALPH":
                self._check_alpha(found)
            else:
                bitstream = self._bitstream(found)
                if (bitstream.width, bitstream.height) != (width, height):
                    raise BadChunk("the picture's size is not the canvas size", found.offset)
                self.plan.lossless = bitstream.lossless
            self._copy(found)

    def _animation(self, image: list[_Chunk], width: int, height: int) -> None:
        """ANIM, then one ANMF per frame, each written again with only its image chunks."""
        kinds = [c.fourcc for c in image]
        if not kinds or kinds[0] != b"ANIM" or kinds.count(b"ANIM") != 1 or len(kinds) < 2:
            raise BadChunk("an animated WebP needs one ANIM and then its frames", 12)
        if any(k != b"ANMF" for k in kinds[1:]):
            raise BadChunk("an animated WebP holds image chunks outside its frames", 12)
        anim = image[0]
        if anim.size != 6:
            raise BadChunk(f"ANIM holds {anim.size} bytes, not 6", anim.offset)
        self._copy(anim)
        self.plan.facts.frames = len(image) - 1
        for frame in image[1:]:
            self._frame(frame, width, height)

    def _frame(self, frame: _Chunk, width: int, height: int) -> None:
        if frame.size < 16:
            raise BadChunk("an ANMF too short for its frame header", frame.offset)
        header = self._payload(frame, 16)
        x, y, w, h = frame_region(header)
        if x + w > width or y + h > height:
            raise BadChunk("a frame lies outside the canvas", frame.offset)
        inner = self._subchunks(frame)
        kinds = [c.fourcc for c in inner]
        image = kinds[:2] if kinds[:2] == [b"ALPH", b"VP8 "] else kinds[:1]
        if image not in ([b"VP8 "], [b"ALPH", b"VP8 "], [b"VP8L"]):
            raise BadChunk("a frame needs [ALPH] VP8 or VP8L first", frame.offset)
        items: list[Item] = []
        for found in inner[: len(image)]:
            if found.fourcc == b"ALPH":
                self._check_alpha(found)
            else:
                bitstream = self._bitstream(found)
                if (bitstream.width, bitstream.height) != (w, h):
                    raise BadChunk("a frame's picture is not the frame's size", found.offset)
                self.plan.lossless &= bitstream.lossless
            items.append((found.offset, 8 + found.size))
            if found.size & 1:
                items.append(b"\x00")
        for found in inner[len(image) :]:  # the demuxer stops reading a frame here
            self._drop_chunk(found, f"{dropped_kind(found.fourcc)} (in a frame)")
        size = 16 + sum(len(i) if isinstance(i, bytes) else i[1] for i in items)
        self.plan.items.append(b"ANMF" + struct.pack("<I", size) + header)
        self.plan.items += items

    def _subchunks(self, frame: _Chunk) -> list[_Chunk]:
        chunks = []
        offset, end = frame.payload_at + 16, frame.payload_at + frame.size
        while offset < end:
            if offset + 8 > end:
                raise BadChunk("a frame ends inside a chunk header", offset)
            header = bytes(self._source.read_at(offset, 8))
            found = _Chunk(header[:4], offset, struct.unpack("<I", header[4:])[0])
            if found.payload_at + found.size > end:
                raise BadChunk(f"chunk {_name(found.fourcc)} runs past its frame", offset)
            chunks.append(found)
            offset = found.end
        return chunks

    def _check_alpha(self, found: _Chunk) -> None:
        if not found.size:
            raise BadChunk("an empty ALPH chunk", found.offset)
        check_alpha_header(self._payload(found, 1)[0], found.offset)

    def _bitstream(self, found: _Chunk) -> Bitstream:
        head = self._payload(found, 10)
        if found.fourcc == b"VP8L":
            return parse_vp8l(head, found.offset)
        return parse_vp8(head, found.size, found.offset)

    # -- orientation -------------------------------------------------------------------------

    def _plan_orientation(self) -> None:
        orientation = self.plan.facts.orientation
        if orientation is None or orientation == 1:
            return
        if self._policy is OrientationPolicy.APPLY:
            self.plan.turn = orientation
        elif self._policy is OrientationPolicy.KEEP_TAG:
            self.plan.keeps_orientation_tag = True
            self.plan.facts.rotation = "tag-kept"

    def _append_orientation_tag(self) -> None:
        orientation = self.plan.facts.orientation
        if self.plan.keeps_orientation_tag and orientation is not None:
            self.plan.items.append(chunk(b"EXIF", orientation_only_tiff(orientation)))


_IMAGE_CHUNKS: Final = frozenset({b"ALPH", b"VP8 ", b"VP8L", b"ANIM", b"ANMF"})


def frame_region(header: bytes) -> tuple[int, int, int, int]:
    """An ANMF frame's x, y, width and height from its first 12 bytes (24-bit fields:
    x / 2, y / 2, width - 1, height - 1)."""
    x, y, w, h = (int.from_bytes(header[at : at + 3], "little") for at in (0, 3, 6, 9))
    return 2 * x, 2 * y, w + 1, h + 1


def vp8x(flags: int, width: int, height: int) -> bytes:
    """A VP8X chunk: flags, three reserved bytes, canvas width - 1 and height - 1."""
    payload = bytes((flags, 0, 0, 0)) + (width - 1).to_bytes(3, "little")
    return chunk(b"VP8X", payload + (height - 1).to_bytes(3, "little"))


def _name(fourcc: bytes) -> str:
    """A FourCC for messages: as text when it is printable ASCII, else escaped."""
    text = fourcc.decode("latin-1")
    return text.strip() if text.isprintable() and text.isascii() and text.strip() else repr(fourcc)


# --- writing -----------------------------------------------------------------------------------


def write_plan(plan: Plan, source: Source) -> Iterator[Piece]:
    """The planned output, piece by piece."""
    for item in plan.items:
        if isinstance(item, bytes):
            if item:
                yield item
        else:
            yield from source.pieces(*item)


# --- the whole path: plan, turn when asked, verify --------------------------------------------


def sanitize_webp(
    source: Source,
    write: Callable[[Piece], object],
    policy: OrientationPolicy,
    *,
    pixel_budget: int,
    on_removed: Removal,
) -> Facts:
    """Sanitize the WebP in `source` into `write`, verified piece by piece as it is written.

    On any exception the caller must discard what `write` received; only a normal
    return means the output is complete and clean.
    """
    plan = Planner(source, policy, on_removed).run()
    facts = plan.facts
    facts.bytes_in = source.size
    if plan.turn is not None:
        # Imported here: Pillow is for the rare picture that must be turned.
        from .webp_turn import turn_cost, turn_webp

        cost = turn_cost(facts.width, facts.height, facts.frames, plan.size)
        with budgets.reserve(cost, pixel_budget):
            stripped = b"".join(write_plan(plan, source))
            try:
                turned = turn_webp(
                    stripped, plan.turn, lossless=plan.lossless, animated=plan.animated
                )
            except (OSError, SyntaxError, ValueError, EOFError) as error:
                # The container parsed, but libwebp cannot decode the picture to turn it.
                reason = f"the picture cannot be decoded to turn it: {error}"
                raise Undecodable(reason, 0) from None
        facts.rotation = "lossless" if plan.lossless else "reencode"
        source = InMemory(turned, max_bytes=1 << 62)
        again = Planner(source, OrientationPolicy.DROP, _nothing_to_remove).run()
        facts.width, facts.height = again.facts.width, again.facts.height
        plan = again
    verifier = WebpVerifier(allow_orientation_tag=plan.keeps_orientation_tag)
    for piece in write_plan(plan, source):
        verifier.feed(piece)
        write(piece)
    verifier.close()
    return facts


def _nothing_to_remove(item: Removed) -> None:
    """What we made ourselves holds nothing to remove; if it did, that is a bug."""
    raise AssertionError(f"the turned WebP held {item.kind} at {item.offset}")


# --- inspect: every chunk, and what the metadata chunks say ------------------------------------


def list_chunks(source: Source) -> tuple[list[ChunkInfo], str]:
    """Every chunk of a WebP (an animation frame's chunks after it), with the readable
    content of EXIF, XMP and ICCP; and why the listing stopped early ("" if it did not).

    Never raises for bad input: `inspect` shows what there is.
    """
    found: list[ChunkInfo] = []
    head = bytes(source.read_at(0, 12))
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WEBP":
        return found, "not a WebP RIFF header"
    end = min(source.size, 8 + int.from_bytes(head[4:8], "little"))
    problem = _list_range(source, 12, end, found, "")
    if end < source.size:
        found.append(ChunkInfo(end, "after RIFF", source.size - end, "trailer"))
    return found, problem


def _list_range(source: Source, offset: int, end: int, found: list[ChunkInfo], frame: str) -> str:
    while offset < end:
        header = bytes(source.read_at(offset, 8))
        if len(header) < 8:
            return f"the file ends inside a chunk header at byte {offset}"
        fourcc, size = header[:4], int.from_bytes(header[4:], "little")
        name = _name(fourcc)
        if offset + 8 + size > end:
            return f"chunk {name} at byte {offset} runs past the end"
        limit = {b"ICCP": MAX_HELD_BYTES, b"EXIF": MAX_READ, b"XMP ": MAX_READ}.get(fourcc, 0)
        content = bytes(source.read_at(offset + 8, min(size, limit))) if limit else b""
        what = {b"ICCP": "ICC profile", b"ANMF": "frame"}.get(fourcc, "")
        if fourcc in _DROPPED_KINDS or fourcc not in _KNOWN:
            what = dropped_kind(fourcc)
        found.append(ChunkInfo(offset, frame + name, 8 + size + (size & 1), what, content=content))
        if fourcc == b"ANMF" and size >= 16:
            number = sum(1 for info in found if info.kind == "ANMF")
            problem = _list_range(source, offset + 24, offset + 8 + size, found, f"frame {number} ")
            if problem:
                return problem
        offset += 8 + size + (size & 1)
    return ""


_KNOWN: Final = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
