"""The sanitizer: one JPEG in, one web-safe JPEG out (SPEC §1).

It cuts metadata out at the marker level and copies the image data byte for byte:

    SOI, APP0 JFIF (thumbnail removed), APP2 ICC_PROFILE, APP14 Adobe,
    DQT, DHT, DAC, SOFn, DRI, every SOS with its entropy-coded data, EOI   -> kept
    APP1 (EXIF, XMP), other APP0/APP2, APP3-APP13, APP15, COM,
    APPn between scans, everything after the EOI                          -> dropped

Orientation: a photo that relied on its EXIF Orientation tag to display upright is turned
(policy `apply`, the default), keeps a minimal tag (`keep-tag`), or is left as stored
(`drop`). Whatever the path, the output is re-read by `verify.Verifier` before it is
released, and any input that cannot be parsed completely is rejected with a typed error.

Two entry points: `sanitize_bytes` for data in memory, `sanitize_stream` for files and
S3 bodies of any size (memory stays flat unless the pixels must be turned).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from .errors import BadSegment, TooLarge
from .exif import orientation_only_exif, read_orientation
from .jpeg import (
    APP0,
    APP1,
    APP2,
    APP13,
    APP14,
    APP_MARKERS,
    COM,
    SOS,
    EntropyData,
    Frame,
    Segment,
    Token,
    Tokenizer,
    Trailer,
)
from .verify import Verifier

DEFAULT_MAX_BYTES: Final = 512 * 1024 * 1024
# Above the largest phone sensors (200 MP) and far above what any camera writes by default.
DEFAULT_MAX_PIXELS: Final = 250_000_000
CHUNK_SIZE: Final = 1024 * 1024
# Kept segments before the first scan are held until orientation is known. The largest
# legitimate header is an ICC profile: 255 chunks of 65,519 bytes (ICC.1 B.4), ~16 MiB.
MAX_HEADER_BYTES: Final = 32 * 1024 * 1024


class OrientationPolicy(StrEnum):
    APPLY = "apply"  # turn the pixels so the picture is upright without a tag
    KEEP_TAG = "keep-tag"  # keep a minimal APP1 that holds only the Orientation tag
    DROP = "drop"  # ignore orientation: the picture displays as stored


@dataclass(frozen=True, slots=True)
class Options:
    orientation: OrientationPolicy = OrientationPolicy.APPLY
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


DEFAULT_OPTIONS: Final = Options()


@dataclass(frozen=True, slots=True)
class Removed:
    """One thing the sanitizer cut out."""

    kind: str  # what it was, e.g. "EXIF", "XMP", "IPTC/Photoshop", "trailer"
    marker: str  # where it was, e.g. "APP1", "COM", "after EOI"
    offset: int
    size: int


@dataclass(slots=True)
class Report:
    """What happened to one input; the CLI prints it and the Lambda logs it."""

    bytes_in: int = 0
    bytes_out: int = 0
    width: int = 0
    height: int = 0
    orientation: int | None = None  # the EXIF Orientation tag found, if any
    rotation: str = "none"  # "none", "lossless", "reencode" or "tag-kept"
    removed: list[Removed] = field(default_factory=list)

    @property
    def removed_kinds(self) -> list[str]:
        """The distinct kinds removed, in order of first appearance."""
        return list(dict.fromkeys(item.kind for item in self.removed))


@dataclass(frozen=True, slots=True)
class Result:
    jpeg: bytes
    report: Report


# --- public API ----------------------------------------------------------------------------


def sanitize_bytes(data: bytes | memoryview, options: Options = DEFAULT_OPTIONS) -> Result:
    """Sanitize a JPEG held in memory; raises a `SanitizeError` subclass on bad input."""
    sink = _BytesSink()
    report = _sanitize([memoryview(data)], sink, options)
    jpeg = b"".join(sink.pieces)
    verifier = Verifier(allow_orientation_tag=_writes_orientation_tag(options, report))
    verifier.feed(jpeg)
    verifier.close()
    return Result(jpeg, report)


class Reader(Protocol):
    """What `sanitize_stream` reads from: a file, stdin, an S3 body."""

    def read(self, size: int, /) -> bytes: ...


class Writer(Protocol):
    """What `sanitize_stream` writes to: a file, a spool, an S3 upload."""

    def write(self, data: bytes | memoryview, /) -> object: ...


def sanitize_stream(src: Reader, dst: Writer, options: Options = DEFAULT_OPTIONS) -> Report:
    """Sanitize from a readable binary stream into a writable one, in bounded memory.

    The output is verified as it is written; on any exception the caller must discard what
    `dst` received (the CLI deletes its temporary file, the Lambda aborts its multipart
    upload). Only a normal return means the output is complete and clean.
    """
    sink = _VerifiedStreamSink(dst)
    return _sanitize(_chunks(src), sink, options)


# --- the pipeline ----------------------------------------------------------------------------


class _Sink(Protocol):
    def begin(self, allow_orientation_tag: bool) -> None: ...
    def write(self, piece: bytes | memoryview) -> None: ...
    def end(self) -> int: ...


def _sanitize(chunks: Iterable[bytes | memoryview], sink: _Sink, options: Options) -> Report:
    cutter = _Cutter(options)
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
    from .transform import TransformFailed, make_upright

    report = cutter.report
    stripped = b"".join(cutter.take())
    orientation = report.orientation or 1
    try:
        upright = make_upright(stripped, orientation, frame)
    except (TransformFailed, OSError, SyntaxError, ValueError) as error:
        # The structure parsed, but the compressed data itself is broken.
        raise BadSegment(f"image data cannot be decoded to turn it upright: {error}", 0) from None
    report.rotation = upright.method.value
    again = _Cutter(Options(OrientationPolicy.DROP, max_bytes=1 << 62, max_pixels=1 << 62))
    again.feed(memoryview(upright.jpeg))
    again.finish()
    sink.begin(False)
    for piece in again.take():
        sink.write(piece)


def _writes_orientation_tag(options: Options, report: Report) -> bool:
    return options.orientation is OrientationPolicy.KEEP_TAG and report.rotation == "tag-kept"


def _chunks(src: Reader) -> Iterator[bytes]:
    return iter(lambda: src.read(CHUNK_SIZE), b"")


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
    """Applies SPEC §1's keep/drop rules to the tokenizer's tokens.

    Kept bytes wait in `_out` until `take()`. Before the first scan they are held back,
    because what goes first depends on the orientation (read from EXIF) and the frame;
    at the first SOS the plan is made: stream from here on, or hold everything because
    the pixels must be turned.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
        self.report = Report()
        self.streaming = False
        self.begun = False
        self.turn_with: Frame | None = None
        self._tokens = Tokenizer(max_bytes=options.max_bytes, max_pixels=options.max_pixels)
        self._out: list[bytes | memoryview] = []
        self._held_bytes = 0
        self._planned = False
        # Tokens come in batches per chunk, so "before the first scan" is tracked here,
        # token by token, not read off the tokenizer (which is already further on).
        self._in_header = True
        self._jfif_kept = False
        self._adobe_kept = False
        self._trailer: Removed | None = None

    def feed(self, chunk: bytes | memoryview) -> None:
        for token in self._tokens.feed(chunk):
            self._cut(token)
        self.report.bytes_in += len(chunk)

    def finish(self) -> None:
        self._tokens.close()
        if self._trailer is not None:
            self.report.removed.append(self._trailer)

    def take(self) -> list[bytes | memoryview]:
        out, self._out = self._out, []
        return out

    # -- per token ----------------------------------------------------------------------

    def _cut(self, token: Token) -> None:
        if isinstance(token, EntropyData):
            self._out.append(token.data)
        elif isinstance(token, Trailer):
            self._drop_trailer(token)
        elif token.marker in APP_MARKERS or token.marker == COM:
            self._cut_metadata(token)
        else:
            if token.marker == SOS and not self._planned:
                self._plan()
            self._keep(token)
            if token.marker == SOS:
                self._in_header = False

    def _keep(self, segment: Segment) -> None:
        data = segment.encode()
        self._out.append(data)
        if not self._planned:
            self._held_bytes += len(data)
            if self._held_bytes > MAX_HEADER_BYTES:
                raise TooLarge(
                    f"more than {MAX_HEADER_BYTES} bytes of headers before the image data",
                    segment.offset,
                )

    def _drop(self, segment: Segment, kind: str, size: int | None = None) -> None:
        length = len(segment.payload) + 4 if size is None else size
        self.report.removed.append(Removed(kind, segment.name, segment.offset, length))

    def _drop_trailer(self, piece: Trailer) -> None:
        if self._trailer is None:
            self._trailer = Removed("trailer", "after EOI", piece.offset, 0)
        size = self._trailer.size + len(piece.data)
        self._trailer = Removed("trailer", "after EOI", self._trailer.offset, size)

    def _cut_metadata(self, segment: Segment) -> None:
        payload, marker = segment.payload, segment.marker
        in_header = self._in_header
        if marker == APP0 and in_header and payload.startswith(b"JFIF\x00"):
            self._cut_jfif(segment)
        elif marker == APP2 and in_header and payload.startswith(b"ICC_PROFILE\x00"):
            self._keep(segment)
        elif marker == APP14 and in_header and _is_adobe(payload) and not self._adobe_kept:
            self._adobe_kept = True
            self._keep(segment)
        else:
            if marker == APP1 and in_header and self.report.orientation is None:
                self.report.orientation = read_orientation(payload)
            kind = describe(segment)
            if not in_header:
                kind += " (between scans)"
            elif kind == "Adobe":
                kind += " (duplicate)" if self._adobe_kept else " (malformed)"
            self._drop(segment, kind)

    def _cut_jfif(self, segment: Segment) -> None:
        payload = segment.payload
        if self._jfif_kept or len(payload) < 14:
            self._drop(segment, "JFIF (duplicate)" if self._jfif_kept else "JFIF (malformed)")
            return
        self._jfif_kept = True
        # Keep identifier, version, units and densities; declare a 0x0 thumbnail and
        # leave out its pixels (JFIF 1.02, "JFIF APP0 marker").
        bare = payload[:12] + b"\x00\x00"
        if bare != payload:
            self._drop(segment, "JFIF thumbnail", size=len(payload) - 14)
        self._keep(Segment(APP0, segment.offset, bare))

    # -- the plan, made at the first scan --------------------------------------------------

    def _plan(self) -> None:
        self._planned = True
        frame = self._tokens.frame
        assert frame is not None  # the tokenizer refuses a scan before the frame
        report = self.report
        report.width, report.height = frame.width, frame.height
        orientation = report.orientation
        turned = orientation is not None and orientation != 1
        policy = self.options.orientation
        if turned and policy is OrientationPolicy.APPLY:
            self.turn_with = frame  # hold everything: the whole picture gets turned
            return
        if turned and policy is OrientationPolicy.KEEP_TAG:
            assert orientation is not None
            report.rotation = "tag-kept"
            self._insert_orientation_tag(orientation)
        self.streaming = True

    def _insert_orientation_tag(self, orientation: int) -> None:
        tag = Segment(APP1, 0, orientation_only_exif(orientation)).encode()
        # Right after SOI, or after JFIF's APP0 when it leads (JFIF wants to be first).
        jfif_leads = bytes(self._out[1][:2]) == b"\xff\xe0"
        self._out.insert(2 if jfif_leads else 1, tag)


def _is_adobe(payload: bytes) -> bool:
    # "Adobe", DCTEncodeVersion, APP14Flags0, APP14Flags1, ColorTransform (Adobe TN 5116)
    return len(payload) >= 12 and payload.startswith(b"Adobe")


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
        (APP2, b"ICC_PROFILE\x00"): "ICC profile",
        (APP13, b"Photoshop 3.0\x00"): "IPTC/Photoshop",
        (APP14, b"Adobe"): "Adobe",
    }
    for (known_marker, prefix), kind in known.items():
        if marker == known_marker and payload.startswith(prefix):
            return kind
    if marker == COM:
        return "comment"
    return segment.name
