"""The sanitizer: one image in (JPEG, PNG or WebP), one web-safe image out.

docs/design.md "The sanitizer" is the contract.

The first bytes decide the format (formats.py), never the name. PNG and WebP are cut
chunk by chunk in png.py and webp.py, with their own verifiers; this module hands them
the input and fills the report. A JPEG is handled here.

It cuts metadata out at the marker level, copies the image data byte for byte, and
writes every segment it keeps again from its parsed fields (headers.py):

    SOI, APP0 JFIF (version, units, density), APP2 ICC_PROFILE, APP14 Adobe (12 bytes),
    SOFn, and before each scan the DQT/DHT/DAC/DRI it uses, SOS, its data, EOI   -> kept
    APP1 (EXIF, XMP), other APP0/APP2, APP3-APP13, APP15, COM, unused tables,
    APPn between scans, junk, everything after the EOI                         -> dropped

Damage libjpeg tolerates is tolerated without loss (jpeg.py's tolerant mode: junk
between segments, lying lengths of dropped segments, a missing EOI, a file cut short
in its image data). What is still refused, but is a JPEG, can be decoded and encoded
again from its pixels (`DamagedPolicy.REENCODE`, the default): that output holds nothing
but pixels and colour by construction.

Orientation: a photo that relied on its EXIF Orientation tag to display upright is turned
(policy `apply`, the default), keeps a minimal tag (`keep-tag`), or is left as stored
(`drop`). Whatever the path, the output is re-read by `verify.Verifier` before it is
released.

Two entry points: `sanitize_bytes` for data in memory, `sanitize_stream` for files and
S3 bodies of any size (memory stays flat unless the pixels must be turned).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
from typing import Final, Protocol, TypeVar

from .errors import BadSegment, SanitizeError, Truncated, Undecodable, Unsupported
from .exif import orientation_only_exif, read_orientation
from .formats import HEAD_BYTES, Format, detect
from .headers import (
    Adobe,
    FrameHeader,
    Jfif,
    TableWriter,
    clean_profile,
    parse_adobe,
    parse_frame,
    parse_jfif,
    parse_scan,
)
from .icc import ICC_APP2_PREFIX, IccError, jpeg_chunks, reassemble_jpeg_chunks
from .jpeg import (
    APP0,
    APP1,
    APP2,
    APP13,
    APP14,
    APP_MARKERS,
    COM,
    DNL,
    EOI,
    FRAME_MARKERS,
    SOI,
    SOS,
    TABLE_MARKERS,
    EntropyData,
    Frame,
    Junk,
    Segment,
    Token,
    Tokenizer,
)
from .verify import Verifier

DEFAULT_MAX_BYTES: Final = 512 * 1024 * 1024
CHUNK_SIZE: Final = 1024 * 1024
# An ICC profile is split into at most 255 chunks (ICC.1 B.4): more cannot be one profile.
MAX_ICC_CHUNKS: Final = 255
_UNLIMITED: Final = 1 << 62


class OrientationPolicy(StrEnum):
    APPLY = "apply"  # turn the pixels so the picture is upright without a tag
    KEEP_TAG = "keep-tag"  # keep a minimal APP1 that holds only the Orientation tag
    DROP = "drop"  # ignore orientation: the picture displays as stored


class DamagedPolicy(StrEnum):
    REENCODE = "reencode"  # a JPEG that cannot be passed on losslessly is re-encoded
    REJECT = "reject"  # ... or rejected


@dataclass(frozen=True, slots=True)
class Options:
    orientation: OrientationPolicy = OrientationPolicy.APPLY
    _: KW_ONLY
    damaged: DamagedPolicy = DamagedPolicy.REENCODE
    max_bytes: int = DEFAULT_MAX_BYTES
    # Bytes of memory that turning or re-encoding one picture may take; None: the
    # default for this machine (budget.py).
    pixel_budget: int | None = None


DEFAULT_OPTIONS: Final = Options()


@dataclass(frozen=True, slots=True)
class Removed:
    """One thing the sanitizer cut out (what an `on_removed` callback is told)."""

    kind: str  # what it was, e.g. "EXIF", "XMP", "IPTC/Photoshop", "junk", "trailer"
    marker: str  # where it was, e.g. "APP1", "COM", "after EOI"
    offset: int
    size: int


@dataclass(slots=True)
class Tally:
    count: int = 0
    bytes: int = 0


@dataclass(slots=True)
class Report:
    """What happened to one input; the CLI prints it and the Lambda logs it.

    What was removed is added up per kind, so a report stays small whatever the input
    holds; `sanitize_stream(..., on_removed=...)` hears of every piece one by one.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    width: int = 0
    height: int = 0
    orientation: int | None = None  # the EXIF Orientation tag found, if any
    rotation: str = "none"  # "none", "lossless", "reencode" or "tag-kept"
    method: str = "lossless"  # or "re-encoded": made again from the pixels
    reason: str = ""  # why the pixels were re-encoded
    removed: dict[str, Tally] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)  # e.g. "end-of-image marker added"
    format: str = Format.JPEG.value  # what the content is: it names the copy's Content-Type

    @property
    def removed_kinds(self) -> list[str]:
        """The distinct kinds removed, in order of first appearance."""
        return list(self.removed)

    @property
    def removed_bytes(self) -> int:
        return sum(tally.bytes for tally in self.removed.values())

    def add(self, item: Removed) -> None:
        tally = self.removed.setdefault(item.kind, Tally())
        tally.count += 1
        tally.bytes += item.size


@dataclass(frozen=True, slots=True)
class Result:
    data: bytes  # the sanitized image, in the input's format (`report.format`)
    report: Report

    @property
    def jpeg(self) -> bytes:
        """`data`, by the name it had when only JPEG was taken."""
        return self.data


OnRemoved = Callable[[Removed], None]
_Kept = TypeVar("_Kept", Jfif, Adobe)


class Reader(Protocol):
    """What `sanitize_stream` reads from: a file, stdin, an S3 body."""

    def read(self, size: int, /) -> bytes: ...


class Writer(Protocol):
    """What `sanitize_stream` writes to: a file, a spool, an S3 upload."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class Fallback(Protocol):
    """How `sanitize_stream` takes a second look at an input it cannot pass on losslessly.

    The re-encode needs the whole input again (the lossless pass streamed it and kept
    nothing), and a destination without what the lossless pass had written already.
    """

    def reread(self) -> bytes:
        """The whole input again, from its first byte."""
        ...

    def restart(self) -> Writer:
        """The destination, emptied of whatever was written to it so far."""
        ...


# --- public API ----------------------------------------------------------------------------


def sanitize_bytes(
    data: bytes | memoryview,
    options: Options = DEFAULT_OPTIONS,
    *,
    on_removed: OnRemoved | None = None,
) -> Result:
    """Sanitize an image held in memory; raises a `SanitizeError` subclass on bad input
    (`UnsupportedFormat` when it is no JPEG, PNG or WebP)."""
    kind = detect(data[:HEAD_BYTES])
    if kind is not Format.JPEG:
        pieces: list[bytes | memoryview] = []
        report = _png_or_webp(kind, data, pieces.append, options, on_removed)
        return Result(b"".join(pieces), report)
    cutter = _Cutter(options, on_removed)
    try:
        sink = _BytesSink()
        report = _lossless(cutter, [memoryview(data)], sink)
        jpeg = b"".join(sink.pieces)
        _verify(jpeg, _writes_orientation_tag(options, report))
        return Result(jpeg, report)
    except SanitizeError as error:
        if not may_reencode(error, options):
            raise
        return _reencode(bytes(data), options, error, cutter)


def sanitize_stream(
    src: Reader,
    dst: Writer,
    options: Options = DEFAULT_OPTIONS,
    *,
    fallback: Fallback | None = None,
    on_removed: OnRemoved | None = None,
) -> Report:
    """Sanitize from a readable binary stream into a writable one, in bounded memory.

    The output is verified as it is written; on any exception the caller must discard what
    the destination received (the CLI deletes its temporary file, the Lambda aborts its
    multipart upload). Only a normal return means the output is complete and clean.
    Without a `fallback`, a JPEG that cannot be passed on losslessly is rejected (a PNG
    or WebP never needs one).
    """
    kind, src = identify(src)
    if kind is not Format.JPEG:
        return _png_or_webp(kind, _chunks(src), dst.write, options, on_removed)
    cutter = _Cutter(options, on_removed)
    try:
        return _lossless(cutter, _chunks(src), _VerifiedStreamSink(dst))
    except SanitizeError as error:
        if fallback is None or not may_reencode(error, options):
            raise
        failure = error
    result = _reencode(fallback.reread(), options, failure, cutter)
    fallback.restart().write(result.jpeg)
    return result.report


def identify(src: Reader) -> tuple[Format, Reader]:
    """The format of a stream, from its first bytes, and the stream to read it from (the
    same bytes again, then the rest). Raises `UnsupportedFormat` for anything else."""
    head = b""
    while len(head) < HEAD_BYTES:
        more = src.read(HEAD_BYTES - len(head))
        if not more:
            break
        head += more
    return detect(head), _Replay(head, src)


class _Replay:
    """A stream whose first bytes were read already: those first, then the rest."""

    def __init__(self, head: bytes, rest: Reader) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int, /) -> bytes:
        if not self._head:
            return self._rest.read(size)
        head, self._head = self._head[:size], self._head[size:]
        if len(head) == size:
            return head
        return head + self._rest.read(size - len(head))


def may_reencode(error: SanitizeError, options: Options) -> bool:
    """Whether a refusal may be answered by re-encoding the pixels.

    Only for a JPEG (it started with SOI) that is damaged or of a flavour we do not
    pass on; never for something that is not a JPEG, is too large, or when our own
    output failed verification (a bug, which must stay loud).
    """
    damaged = isinstance(error, (BadSegment, Truncated, Unsupported))
    return damaged and options.damaged is DamagedPolicy.REENCODE


# --- PNG and WebP -----------------------------------------------------------------------------


def _png_or_webp(
    kind: Format,
    data: bytes | memoryview | Iterable[bytes | memoryview],
    write: Callable[[bytes | memoryview], object],
    options: Options,
    on_removed: OnRemoved | None,
) -> Report:
    """png.py or webp.py cut, turn (within the budget) and verify; this fills the report.

    `data` is the whole input in memory, or its blocks as a stream delivers them.
    Imported here: a folder of JPEGs (and the CLI's start-up) does without them.
    """
    report = Report(format=kind.value)

    def removed(item: Removed) -> None:
        report.add(item)
        if on_removed is not None:
            on_removed(item)

    def counted(piece: bytes | memoryview) -> None:
        report.bytes_out += len(piece)
        write(piece)

    budget = _pixel_budget(options)
    whole = data if isinstance(data, bytes | memoryview) else None
    blocks = [memoryview(whole)] if whole is not None else data
    assert not isinstance(blocks, bytes | memoryview)
    if kind is Format.PNG:
        from .png import sanitize_png

        facts = sanitize_png(
            blocks,
            counted,
            options.orientation,
            max_bytes=options.max_bytes,
            pixel_budget=budget,
            on_removed=removed,
        )
    else:
        from .webp import InMemory, Spooled, sanitize_webp

        limit = options.max_bytes
        with (
            InMemory(whole, max_bytes=limit)
            if whole is not None
            else Spooled(blocks, max_bytes=limit)
        ) as src:
            facts = sanitize_webp(
                src, counted, options.orientation, pixel_budget=budget, on_removed=removed
            )
    report.width, report.height = facts.width, facts.height
    report.orientation, report.rotation = facts.orientation, facts.rotation
    report.bytes_in, report.repairs = facts.bytes_in, facts.repairs
    return report


def _pixel_budget(options: Options) -> int:
    from .budget import default_pixel_budget

    return default_pixel_budget() if options.pixel_budget is None else options.pixel_budget


# --- the lossless path ------------------------------------------------------------------------


class _Sink(Protocol):
    def begin(self, allow_orientation_tag: bool) -> None: ...
    def write(self, piece: bytes | memoryview) -> None: ...
    def end(self) -> int: ...


def _lossless(cutter: _Cutter, chunks: Iterable[bytes | memoryview], sink: _Sink) -> Report:
    for chunk in chunks:
        cutter.feed(chunk)
        if cutter.streaming:
            _drain(cutter, sink)
    cutter.finish()
    report = cutter.report
    if cutter.turn_with is not None:
        _write_upright(cutter, cutter.turn_with, sink)
    else:
        _drain(cutter, sink)
    report.bytes_out = sink.end()
    return report


def _drain(cutter: _Cutter, sink: _Sink) -> None:
    if not cutter.begun:
        sink.begin(_writes_orientation_tag(cutter.options, cutter.report))
        cutter.begun = True
    for piece in cutter.take():
        sink.write(piece)


def _write_upright(cutter: _Cutter, frame: Frame, sink: _Sink) -> None:
    """Turn the already-stripped picture, then strip and verify the result once more."""
    # Imported here: the transform (ctypes, and Pillow for a re-encode) is the rare path,
    # and the CLI's start-up time is measured against `cp -r`.
    from .transform import make_upright

    report = cutter.report
    stripped = b"".join(cutter.take())
    orientation = report.orientation or 1
    # Within the memory budget (TooLarge beyond it); Undecodable when the data is broken.
    upright = make_upright(stripped, orientation, frame, budget=cutter.options.pixel_budget)
    report.rotation = upright.method.value
    _recut(upright.jpeg, Options(OrientationPolicy.DROP, max_bytes=_UNLIMITED), sink)


def _recut(jpeg: bytes, options: Options, sink: _Sink, orientation: int | None = None) -> Report:
    """Pass a JPEG we made ourselves through the lossless path: canonical and verified."""
    again = _Cutter(options, None)
    again.report.orientation = orientation
    again.feed(memoryview(jpeg))
    again.finish()
    sink.begin(_writes_orientation_tag(options, again.report))
    for piece in again.take():
        sink.write(piece)
    return again.report


def _writes_orientation_tag(options: Options, report: Report) -> bool:
    return options.orientation is OrientationPolicy.KEEP_TAG and report.rotation == "tag-kept"


def _verify(jpeg: bytes, allow_orientation_tag: bool) -> None:
    verifier = Verifier(allow_orientation_tag=allow_orientation_tag)
    verifier.feed(jpeg)
    verifier.close()


def _chunks(src: Reader) -> Iterator[bytes]:
    """The input in pieces of CHUNK_SIZE (short reads are joined, so work stays linear)."""
    pending = bytearray()
    while True:
        data = src.read(CHUNK_SIZE - len(pending))
        if not data:
            break
        if not pending and len(data) == CHUNK_SIZE:
            yield data
            continue
        pending += data
        if len(pending) >= CHUNK_SIZE:
            yield bytes(pending)
            pending.clear()
    if pending:
        yield bytes(pending)


# --- the pixel fallback ----------------------------------------------------------------------


def _reencode(data: bytes, options: Options, error: SanitizeError, failed: _Cutter) -> Result:
    """Decode the pixels, turn them upright, encode them again, and vouch for the result.

    What the failed lossless pass learned (orientation, ICC profile) is used; the new
    JPEG then takes the lossless path itself, so its headers are canonical and verified.
    """
    from .transform import reencode_from_pixels

    orientation = failed.report.orientation
    policy = options.orientation
    turn = orientation if policy is OrientationPolicy.APPLY and orientation != 1 else None
    budget = _pixel_budget(options)
    try:
        jpeg = reencode_from_pixels(
            data, orientation=turn, icc_profile=failed.clean_icc_profile(), budget=budget
        )
    except Undecodable as undecodable:
        raise Undecodable(
            f"{error.reason}, and libjpeg cannot decode it either ({undecodable.reason})",
            error.offset,
        ) from None
    # The tag for `keep-tag` is written again; `apply` turned the pixels already.
    keep_tag = policy is OrientationPolicy.KEEP_TAG
    again = Options(
        OrientationPolicy.KEEP_TAG if keep_tag else OrientationPolicy.DROP, max_bytes=_UNLIMITED
    )
    sink = _BytesSink()
    report = _recut(jpeg, again, sink, orientation if keep_tag else None)
    output = b"".join(sink.pieces)
    _verify(output, _writes_orientation_tag(again, report))
    for kind, tally in failed.report.removed.items():
        report.removed.setdefault(kind, tally)
    report.bytes_in, report.bytes_out = len(data), len(output)
    report.orientation = orientation
    report.method, report.reason = "re-encoded", str(error)
    if turn is not None:
        report.rotation = "reencode"
    return Result(output, report)


# --- sinks ----------------------------------------------------------------------------------


class _BytesSink:
    """Collects output in memory; `sanitize_bytes` verifies the joined result."""

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self._size = 0

    def begin(self, allow_orientation_tag: bool) -> None:
        pass

    def write(self, piece: bytes | memoryview) -> None:
        self.pieces.append(piece)
        self._size += len(piece)

    def end(self) -> int:
        return self._size


class _VerifiedStreamSink:
    """Writes to the destination and, in step, through an independent verifier."""

    def __init__(self, dst: Writer) -> None:
        self._dst = dst
        self._verifier: Verifier | None = None
        self._size = 0

    def begin(self, allow_orientation_tag: bool) -> None:
        self._verifier = Verifier(allow_orientation_tag=allow_orientation_tag)

    def write(self, piece: bytes | memoryview) -> None:
        assert self._verifier is not None
        self._verifier.feed(piece)
        self._dst.write(piece)
        self._size += len(piece)

    def end(self) -> int:
        assert self._verifier is not None
        self._verifier.close()
        return self._size


# --- keep or drop, token by token ---------------------------------------------------------------


class _Cutter:
    """Applies the keep/drop rules of design.md, "Sanitizer: what is kept", to the tolerant
    tokenizer's tokens.

    Kept bytes wait in `_out` until `take()`. Before the first scan nothing is written:
    the header is rebuilt at the first SOS from what was read (JFIF, ICC profile, Adobe,
    the frame), because what goes first depends on the orientation (read from EXIF) and
    the frame. Then the plan is made: stream from here on, or hold everything because
    the pixels must be turned.
    """

    def __init__(self, options: Options, on_removed: OnRemoved | None) -> None:
        self.options = options
        self.report = Report()
        self.streaming = False
        self.begun = False
        self.turn_with: Frame | None = None
        self._on_removed = on_removed
        self._tokens = Tokenizer(max_bytes=options.max_bytes, tolerant=True)
        self._tables = TableWriter()
        self._frame: FrameHeader | None = None
        self._out: list[bytes | memoryview] = []
        self._planned = False
        self._in_header = True  # before the first scan
        self._jfif: Jfif | None = None
        self._adobe: Adobe | None = None
        self._icc_chunks: list[Segment] = []  # APP2 ICC_PROFILE segments, in file order
        self._icc_overflow = False
        self._icc_profile: bytes | None = None  # cleaned, once the first scan is reached
        self._icc_cleaned = False
        self._complete_after_first_scan = False
        self._image_end: int | None = None

    def feed(self, chunk: bytes | memoryview) -> None:
        try:
            tokens = self._tokens.feed(chunk)
        except SanitizeError:
            # The tokens before the fault still count: they may carry the orientation,
            # or end the image before the fault (then the fault is in a trailer).
            for token in self._tokens.salvaged:
                self._cut(token)
            if self._image_end is None:
                raise
            tokens = []
        for token in tokens:
            self._cut(token)
        self.report.bytes_in += len(chunk)

    def finish(self) -> None:
        if self._image_end is None:
            for token in self._tokens.close():
                self._cut(token)
        assert self._image_end is not None
        self.report.repairs = list(dict.fromkeys(self.report.repairs + self._tokens.repairs))
        self._tables.finish()
        if self._tables.unused_count:
            self.report.removed["unused tables"] = Tally(
                self._tables.unused_count, self._tables.unused_bytes
            )
        trailer = self.report.bytes_in - self._image_end
        if trailer > 0:
            self._drop("trailer", "after EOI", self._image_end, trailer)

    def take(self) -> list[bytes | memoryview]:
        out, self._out = self._out, []
        return out

    def clean_icc_profile(self) -> bytes | None:
        """The ICC profile the output carries: reassembled, without identity (icc.py).

        None when there is none, or when the chunks form no valid profile: then decoders
        ignore them too, and they are dropped and reported.
        """
        if self._icc_cleaned:
            return self._icc_profile
        self._icc_cleaned = True
        chunks, self._icc_chunks = self._icc_chunks, []
        if not chunks:
            return None
        try:
            if self._icc_overflow:
                raise IccError(f"more than {MAX_ICC_CHUNKS} chunks")
            profile = reassemble_jpeg_chunks([chunk.payload for chunk in chunks])
            clean = clean_profile(profile)
            jpeg_chunks(clean.data)  # it fits the 255 chunks a JPEG holds
        except IccError:
            for chunk in chunks:
                self._drop_segment(chunk, "ICC profile (invalid)")
            return None
        if clean.removed:
            # Rewritten, not cut: what changed is counted, no region of the input dropped.
            removed = max(0, len(profile) - len(clean.data))
            self.report.add(
                Removed("ICC profile text and identity", "APP2", chunks[0].offset, removed)
            )
        self._icc_profile = clean.data
        return clean.data

    # -- per token ----------------------------------------------------------------------

    def _cut(self, token: Token) -> None:
        if self._image_end is not None:
            return  # after the image: a trailer, counted by `finish`
        if isinstance(token, EntropyData):
            self._out.append(token.data)
        elif isinstance(token, Junk):
            self._drop(token.kind, "junk", token.offset, token.size)
        elif isinstance(token, Segment):
            self._cut_segment(token)

    def _cut_segment(self, segment: Segment) -> None:
        marker = segment.marker
        if marker == SOI:
            self._out.append(segment.encode())
        elif marker == EOI:
            self._end_image(self._tokens.end_offset)
        elif marker in APP_MARKERS or marker == COM:
            self._cut_metadata(segment)
        elif marker == DNL:
            self._drop_segment(segment, "DNL")
        elif marker in FRAME_MARKERS:
            if self._frame is not None:
                raise BadSegment("a second frame header (SOFn) in one image", segment.offset)
            self._frame = parse_frame(segment)
        elif marker in TABLE_MARKERS:
            self._tables.define(segment)
        else:
            assert marker == SOS
            self._scan(segment)

    def _end_image(self, end: int | None) -> None:
        assert end is not None
        self._out.append(bytes((0xFF, EOI)))
        self._image_end = end

    def _scan(self, segment: Segment) -> None:
        scan = parse_scan(segment, self._frame)
        frame = self._frame
        assert frame is not None  # parse_scan refuses a scan before the frame
        if self._complete_after_first_scan:
            # A sequential image whose first scan held every component is complete:
            # libjpeg stops there (jdinput.c, JERR_EOI_EXPECTED) and so does the output.
            self._tokens.end_image(segment.offset)
            self.report.repairs.append("image ended before an extra scan")
            self._end_image(segment.offset)
            return
        if not self._planned:
            self._plan(frame)
        self._out.extend(self._tables.before_scan(frame, scan, segment.offset))
        self._out.append(scan.encode())
        if self._in_header and not frame.progressive:
            self._complete_after_first_scan = len(scan.components) == len(frame.components)
        self._in_header = False

    def _drop(self, kind: str, marker: str, offset: int, size: int) -> None:
        item = Removed(kind, marker, offset, size)
        self.report.add(item)
        if self._on_removed is not None:
            self._on_removed(item)

    def _drop_segment(self, segment: Segment, kind: str) -> None:
        self._drop(kind, segment.name, segment.offset, len(segment.payload) + 4)

    # -- metadata ----------------------------------------------------------------------------

    def _cut_metadata(self, segment: Segment) -> None:
        payload, marker = segment.payload, segment.marker
        if not self._in_header:
            self._drop_segment(segment, describe(segment) + " (between scans)")
        elif marker == APP0 and payload.startswith(b"JFIF\x00"):
            self._cut_jfif(segment)
        elif marker == APP2 and payload.startswith(ICC_APP2_PREFIX):
            self._collect_icc(segment)
        elif marker == APP14 and payload.startswith(b"Adobe"):
            self._cut_adobe(segment)
        else:
            if marker == APP1 and self.report.orientation is None:
                self.report.orientation = read_orientation(payload)
            self._drop_segment(segment, describe(segment))

    def _cut_jfif(self, segment: Segment) -> None:
        # Kept as version, units and densities; a thumbnail (JFIF 1.02) is left out.
        parsed = parse_jfif(segment.payload)
        self._jfif = self._keep_once(segment, parsed, self._jfif, "JFIF", 14, "JFIF thumbnail")

    def _cut_adobe(self, segment: Segment) -> None:
        parsed = parse_adobe(segment.payload)
        extra = "Adobe (beyond its 12 bytes)"
        self._adobe = self._keep_once(segment, parsed, self._adobe, "Adobe", 12, extra)

    def _keep_once(
        self,
        segment: Segment,
        parsed: _Kept | None,
        kept: _Kept | None,
        name: str,
        size: int,
        extra: str,
    ) -> _Kept | None:
        """The first well-formed segment of its kind is kept as its `size` defined bytes."""
        if parsed is None or kept is not None:
            self._drop_segment(
                segment, f"{name} (malformed)" if parsed is None else f"{name} (duplicate)"
            )
            return kept
        beyond = len(segment.payload) - size
        if beyond:
            self._drop(extra, segment.name, segment.offset + 4 + size, beyond)
        return parsed

    def _collect_icc(self, segment: Segment) -> None:
        if len(self._icc_chunks) >= MAX_ICC_CHUNKS:
            self._icc_overflow = True
            self._drop_segment(segment, "ICC profile (invalid)")
            return
        self._icc_chunks.append(segment)

    # -- the plan, made at the first scan --------------------------------------------------

    def _plan(self, frame: FrameHeader) -> None:
        self._planned = True
        report = self.report
        report.width, report.height = frame.width, frame.height
        orientation = report.orientation
        turned = orientation is not None and orientation != 1
        policy = self.options.orientation
        header: list[bytes] = []
        if self._jfif is not None:
            header.append(self._jfif.encode())
        if turned and policy is OrientationPolicy.KEEP_TAG:
            assert orientation is not None
            report.rotation = "tag-kept"
            header.append(Segment(APP1, 0, orientation_only_exif(orientation)).encode())
        profile = self.clean_icc_profile()
        if profile is not None:
            header += [Segment(APP2, 0, chunk).encode() for chunk in jpeg_chunks(profile)]
        if self._adobe is not None:
            header.append(self._adobe.for_components(len(frame.components)).encode())
        header.append(frame.encode())
        self._out.extend(header)
        if turned and policy is OrientationPolicy.APPLY:
            self.turn_with = frame.frame  # hold everything: the whole picture gets turned
        else:
            self.streaming = True


def describe(segment: Segment) -> str:
    """What an APPn or COM segment holds, in the words of the report."""
    payload, marker = segment.payload, segment.marker
    known = {
        (APP0, b"JFIF\x00"): "JFIF",
        (APP0, b"JFXX\x00"): "JFXX thumbnail",
        (APP1, b"Exif\x00"): "EXIF",
        (APP1, b"http://ns.adobe.com/xap/1.0/\x00"): "XMP",
        (APP1, b"http://ns.adobe.com/xmp/extension/\x00"): "extended XMP",
        (APP2, b"MPF\x00"): "MPF (multi-picture index)",
        (APP2, b"FPXR\x00"): "FlashPix",
        (APP2, ICC_APP2_PREFIX): "ICC profile",
        (APP13, b"Photoshop 3.0\x00"): "IPTC/Photoshop",
        (APP14, b"Adobe"): "Adobe",
    }
    for (known_marker, prefix), kind in known.items():
        if marker == known_marker and payload.startswith(prefix):
            return kind
    if marker == COM:
        return "comment"
    return segment.name
