"""`exif-stripper inspect`: what is in an image, and what `strip` would remove.

Lists every segment of a JPEG, or every chunk of a PNG or WebP (png.list_chunks,
webp.list_chunks), with the sanitizer's own verdict on it (keep, trim or remove), then reads
the metadata a person could be identified by: GPS position, camera and serial numbers,
owner and creator names, dates, XMP, IPTC, thumbnails, trailers. EXIF is read by
`tiff.read_exif_tree`, which takes any field type and count a writer stores; XMP with a
forgiving text scan (a packet need not be well-formed XML to leak); IPTC-IIM by hand (it
is 5 bytes a record). Nothing a file holds makes inspection raise, and every finding is
printable text.
"""

from __future__ import annotations

import bisect
import io
import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, BinaryIO, Final

from .chunked import ChunkInfo
from .errors import SanitizeError, UnsupportedFormat
from .formats import HEAD_BYTES, Format, detect
from .jpeg import (
    APP0,
    APP1,
    APP2,
    APP13,
    APP_MARKERS,
    COM,
    FRAME_MARKERS,
    SOS,
    EntropyData,
    Junk,
    Segment,
    Tokenizer,
    Trailer,
)
from .sanitize import (
    CHUNK_SIZE,
    DEFAULT_OPTIONS,
    DamagedPolicy,
    OnRemoved,
    Options,
    OrientationPolicy,
    Removed,
    Report,
    describe,
    may_reencode,
    sanitize_stream,
)
from .tiff import Field, Unreadable, read_exif_tree


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    offset: int
    marker: str
    size: int
    what: str
    action: str  # "keep", "remove", or "trim" (kept with a part removed)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of identifying information, e.g. ("GPS position", "48.8584, 2.2945", "EXIF")."""

    category: str
    detail: str
    source: str


@dataclass(slots=True)
class Inspection:
    format: str = Format.JPEG.value  # "jpeg", "png" or "webp"
    width: int = 0
    height: int = 0
    size: int = 0
    orientation: int | None = None
    segments: list[SegmentInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rejected: str | None = None  # why `strip` would refuse the file, if it would
    reencoded: str | None = None  # why `strip` would re-encode the pixels, if it would

    removed_bytes: int = 0  # what `strip` leaves out, by the sanitizer's own count

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def inspect_stream(src: BinaryIO, options: Options = DEFAULT_OPTIONS) -> Inspection:
    """Inspect an image from a seekable stream (it is read twice: its segments or chunks,
    then a dry run of the sanitizer)."""
    start = src.tell()
    head = src.read(HEAD_BYTES)
    src.seek(start)
    try:
        kind = detect(head)
    except UnsupportedFormat as error:
        return Inspection(format="", size=len(head), rejected=str(error))
    if kind is not Format.JPEG:
        return _inspect_chunks(kind, src, options)
    result = Inspection()
    metadata = _list_segments(src, result, options)
    src.seek(start)
    removed: list[Removed] = []
    report = _dry_run(src, result, options, removed.append)
    if report is not None:
        result.removed_bytes = report.removed_bytes
        result.segments = _verdicts(result.segments, removed)
    for segment in metadata:
        result.findings.extend(_read_findings(segment))
    result.findings.extend(_icc_findings(metadata))
    return result


def _verdicts(segments: list[SegmentInfo], removed: list[Removed]) -> list[SegmentInfo]:
    """The sanitizer's verdict on each row: removed whole, trimmed (a JFIF thumbnail), kept."""
    starts = [segment.offset for segment in segments]
    cut = [0] * len(segments)
    for item in removed:
        row = bisect.bisect_right(starts, item.offset) - 1
        if row >= 0:
            cut[row] += item.size
    return [
        replace(s, action="remove" if size >= s.size else "trim") if size else s
        for s, size in zip(segments, cut, strict=True)
    ]


# --- PNG and WebP: every chunk, and what the metadata chunks say -----------------------------


def _inspect_chunks(kind: Format, src: BinaryIO, options: Options) -> Inspection:
    from . import png, webp

    result = Inspection(format=kind.value)
    start = src.tell()
    blocks = iter(lambda: src.read(CHUNK_SIZE), b"")
    if kind is Format.PNG:
        found, problem = png.list_chunks(blocks, max_bytes=options.max_bytes)
    else:
        with webp.Spooled(blocks, max_bytes=options.max_bytes) as spooled:
            found, problem = webp.list_chunks(spooled)
    result.size = src.tell() - start
    result.rejected = problem or None
    result.segments = [SegmentInfo(c.offset, c.kind, c.size, c.what, "keep") for c in found]
    src.seek(start)
    removed: list[Removed] = []
    dry = Options(OrientationPolicy.DROP, max_bytes=options.max_bytes, pixel_budget=0)
    try:
        report = sanitize_stream(src, _Discard(), dry, on_removed=removed.append)
    except SanitizeError as error:
        result.rejected = str(error)
    else:
        result.rejected = None  # what the listing stumbled on, the sanitizer tolerates
        result.width, result.height = report.width, report.height
        result.orientation = report.orientation
        result.removed_bytes = report.removed_bytes
        result.segments = _verdicts(result.segments, removed)
    for info in found:
        result.findings.extend(_chunk_findings(info))
    return result


def _chunk_findings(info: ChunkInfo) -> list[Finding]:
    """What one PNG or WebP chunk says about a person (its content was read, bounded)."""
    content, where = info.content, info.kind
    if info.what == "EXIF":
        return _exif_findings(b"Exif\x00\x00" + content)
    if info.what == "XMP":
        return _xmp_findings(content)
    if info.what == "text (raw profile)":
        return _raw_profile_findings(info.keyword, content)
    if info.what == "text":
        return [Finding("text", _text(f"{info.keyword}: {_text(content)}"), where)]
    if info.what == "ICC profile":
        return _profile_findings(info.keyword, content, where)
    if info.what == "timestamp" and len(content) >= 7:
        year, month, day, hour, minute, second = int.from_bytes(content[:2], "big"), *content[2:7]
        when = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
        return [Finding("date/time", when, where)]
    if info.what == "trailer":
        return [Finding("trailer", f"{info.size} bytes after the image", where)]
    if info.what in ("", "image data", "frame"):
        return []
    return [Finding(info.what, f"{info.size} bytes", where)]  # C2PA, a private chunk, ...


def _raw_profile_findings(keyword: str, content: bytes) -> list[Finding]:
    """ImageMagick's "Raw profile type exif|xmp|iptc" text: a name, a length, then hex."""
    lines = content.split()
    try:
        data = bytes.fromhex("".join(line.decode("ascii") for line in lines[2:]))
    except (UnicodeDecodeError, ValueError):
        data = b""
    if data.startswith(b"Exif\x00"):
        return _exif_findings(data)
    if b"<x:xmpmeta" in data or b"<rdf:RDF" in data:
        return _xmp_findings(data)
    return [Finding("text", _text(f"{keyword}: {len(content)} bytes of hex"), "text")]


def _profile_findings(name: str, profile: bytes, where: str) -> list[Finding]:
    """An embedded profile's name (PNG's iCCP has one: free text) and its identifying text."""
    from .icc import identifying_text

    found = []
    if name and name != "ICC profile":
        found.append(Finding("ICC profile name", _text(name), where))
    found += [
        Finding("ICC profile text", _text(f"{tag}: {text}"), "ICC")
        for tag, text in identifying_text(profile)
    ]
    return found


# --- pass 1: every segment ------------------------------------------------------------------


def _list_segments(src: BinaryIO, result: Inspection, options: Options) -> list[Segment]:
    """Fill `result.segments`; return the metadata segments worth reading for findings."""
    tokens = Tokenizer(max_bytes=options.max_bytes, tolerant=True)
    metadata: list[Segment] = []
    scan: SegmentInfo | None = None  # entropy-coded data, summed up per scan
    trailer: SegmentInfo | None = None
    trailer_head = b""
    try:
        for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
            result.size += len(chunk)
            for token in tokens.feed(chunk):
                if isinstance(token, EntropyData):
                    scan = _grow(scan, token, "scan data", "", "keep")
                    continue
                if scan is not None:
                    result.segments.append(scan)
                    scan = None
                if isinstance(token, Trailer):
                    trailer = _grow(trailer, token, "after EOI", "trailer", "remove")
                    trailer_head = (trailer_head + bytes(token.data[:64]))[:64]
                elif isinstance(token, Junk):
                    info = SegmentInfo(token.offset, "junk", token.size, token.kind, "remove")
                    result.segments.append(info)
                else:
                    if token.marker in FRAME_MARKERS and len(token.payload) >= 5:
                        result.height = int.from_bytes(token.payload[1:3], "big")
                        result.width = int.from_bytes(token.payload[3:5], "big")
                    result.segments.append(_describe(token))
                    if _is_metadata(token):
                        metadata.append(token)
        tokens.close()
    except SanitizeError as error:
        result.rejected = str(error)
    if trailer is not None:
        result.segments.append(trailer)
        result.findings.append(_trailer_finding(trailer_head, trailer.size))
    return metadata


def _grow(
    info: SegmentInfo | None, piece: EntropyData | Trailer, marker: str, what: str, action: str
) -> SegmentInfo:
    """Entropy-coded data and trailers arrive in pieces; list each run as one row."""
    if info is None:
        return SegmentInfo(piece.offset, marker, len(piece.data), what, action)
    return replace(info, size=info.size + len(piece.data))


def _is_metadata(segment: Segment) -> bool:
    return segment.marker in APP_MARKERS or segment.marker == COM


def _describe(segment: Segment) -> SegmentInfo:
    size = len(segment.encode())
    if _is_metadata(segment):
        return SegmentInfo(segment.offset, segment.name, size, describe(segment), "keep")
    what = "scan header" if segment.marker == SOS else ""
    return SegmentInfo(segment.offset, segment.name, size, what, "keep")


def _dry_run(
    src: BinaryIO, result: Inspection, options: Options, on_removed: OnRemoved
) -> Report | None:
    """Run the real sanitizer (output discarded) so the verdicts are the sanitizer's own."""
    dry = Options(OrientationPolicy.DROP, damaged=DamagedPolicy.REJECT, max_bytes=options.max_bytes)
    try:
        report = sanitize_stream(src, _Discard(), dry, on_removed=on_removed)
    except SanitizeError as error:
        if may_reencode(error, options):
            result.reencoded = str(error)
        else:
            result.rejected = str(error)
        return None
    result.rejected = None  # the listing's complaints are what the sanitizer tolerates
    result.orientation = report.orientation
    return report


class _Discard(io.BytesIO):
    """A sink that keeps nothing: inspection only wants the sanitizer's report."""

    def write(self, data: Any, /) -> int:
        return len(data)


# --- pass 2: what the metadata says ---------------------------------------------------------------


def _read_findings(segment: Segment) -> list[Finding]:
    payload = segment.payload
    if segment.marker == APP1 and payload.startswith(b"Exif\x00"):
        return _exif_findings(payload)
    if segment.marker == APP1 and payload.startswith(b"http://ns.adobe.com/"):
        return _xmp_findings(payload)
    if segment.marker == APP13 and payload.startswith(b"Photoshop 3.0\x00"):
        return _iptc_findings(payload)
    if segment.marker == APP2 and payload.startswith(b"MPF\x00"):
        return [Finding("embedded images", "multi-picture (MPO) index", "MPF")]
    if segment.marker == COM:
        return [Finding("comment", _text(payload), "COM")]
    if segment.marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) > 14:
        return [Finding("thumbnail", f"{payload[12]}x{payload[13]} JFIF thumbnail", "JFIF")]
    if segment.marker == APP0 and payload.startswith(b"JFXX\x00"):
        return [Finding("thumbnail", f"{len(payload)} bytes JFXX thumbnail", "JFXX")]
    return []


# EXIF tags a person can be identified or located by (CIPA DC-008 4.6.4-4.6.6).
_IFD0_TAGS: Final = {
    0x010F: "camera",  # Make
    0x0110: "camera",  # Model
    0x013B: "person",  # Artist
    0x8298: "person",  # Copyright
    0x0131: "software",  # Software
    0x013C: "computer",  # HostComputer
    0x0132: "date/time",  # DateTime
    0x010E: "description",  # ImageDescription
    0x9C9B: "description",  # XPTitle (Windows)
    0x9C9C: "comment",  # XPComment (Windows)
    0x9C9D: "person",  # XPAuthor (Windows)
}
_EXIF_TAGS: Final = {
    0xA431: "serial number",  # BodySerialNumber
    0xA435: "serial number",  # LensSerialNumber
    0xA430: "person",  # CameraOwnerName
    0xA420: "unique id",  # ImageUniqueID
    0x9003: "date/time",  # DateTimeOriginal
    0xA434: "lens",  # LensModel
    0x9286: "comment",  # UserComment
}
_MAKER_NOTE: Final = 0x927C
_THUMBNAIL_OFFSET: Final = 0x0201  # JPEGInterchangeFormat (IFD1)
_THUMBNAIL_LENGTH: Final = 0x0202  # JPEGInterchangeFormatLength (IFD1)
_USER_COMMENT: Final = 0x9286
_UTF16_TAGS: Final = frozenset({0x9C9B, 0x9C9C, 0x9C9D})
_BYTE: Final = 1
_UNDEFINED: Final = 7


def _exif_findings(payload: bytes) -> list[Finding]:
    """What an EXIF block says about a person, whatever types and counts its fields have."""
    try:
        tree = read_exif_tree(payload[6:])
    except Unreadable as error:
        return [Finding("EXIF", f"unreadable EXIF block, {len(payload)} bytes ({error})", "EXIF")]
    found = [
        Finding(what, _field_text(ifd[tag]), "EXIF")
        for ifd, tags in ((tree.ifd0, _IFD0_TAGS), (tree.exif, _EXIF_TAGS))
        for tag, what in tags.items()
        if tag in ifd
    ]
    if _MAKER_NOTE in tree.exif:
        found.append(Finding("maker notes", f"{tree.exif[_MAKER_NOTE].size} bytes", "EXIF"))
    if tree.gps:
        found.append(Finding("GPS position", _gps_position(tree.gps), "EXIF"))
    if _THUMBNAIL_LENGTH in tree.ifd1 or _THUMBNAIL_OFFSET in tree.ifd1:
        length = tree.ifd1.get(_THUMBNAIL_LENGTH)
        size = length.first_number() if length is not None else None
        what = "JPEG thumbnail" if size is None else f"{size} bytes JPEG thumbnail"
        found.append(Finding("thumbnail", what, "EXIF IFD1"))
    return found


def _field_text(value: Field) -> str:
    if value.tag in _UTF16_TAGS and value.type == _BYTE:  # Windows' XP* tags
        return _text(value.data.decode("utf-16-le", errors="replace"))
    if value.tag == _USER_COMMENT and value.type == _UNDEFINED:
        return _text(value.data[8:])  # after the 8-byte character code (Exif 4.6.5)
    return _text(value.text())


def _gps_position(gps: dict[int, Field]) -> str:
    """Latitude and longitude in degrees (Exif 4.6.6: D, M, S rationals and a reference)."""

    def degrees(tag: int, ref_tag: int, negative: str) -> float | None:
        parts = gps[tag].numbers()[:3] if tag in gps else []
        if not parts or not all(math.isfinite(part) for part in parts):
            return None
        value = sum(part / 60.0**index for index, part in enumerate(parts))
        ref = gps[ref_tag].text().upper() if ref_tag in gps else ""
        return -value if ref.startswith(negative) else value

    latitude, longitude = degrees(2, 1, "S"), degrees(4, 3, "W")
    if latitude is None or longitude is None:
        return "present (unreadable)"
    return f"{latitude:.6f}, {longitude:.6f}"


def _text(value: str | bytes) -> str:
    """At most 80 printable characters: a finding must not smuggle control codes to a terminal."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    value = " ".join(value.replace("\x00", " ").split())[:80]
    return "".join(char if char.isprintable() else "?" for char in value)


_XMP_PROPERTY: Final = re.compile(
    rb"(?:<|\s)(exif:GPSLatitude|exif:GPSLongitude|dc:creator|tiff:Make|tiff:Model|"
    rb"aux:SerialNumber|exifEX:BodySerialNumber|photoshop:City|GCamera:MicroVideo|"
    rb"GCamera:MotionPhoto|xmpNote:HasExtendedXMP)[\s=>]+\"?([^\"<]{0,80})"
)
_XMP_CATEGORY: Final = {
    "exif:GPSLatitude": "GPS position",
    "exif:GPSLongitude": "GPS position",
    "dc:creator": "person",
    "tiff:Make": "camera",
    "tiff:Model": "camera",
    "aux:SerialNumber": "serial number",
    "exifEX:BodySerialNumber": "serial number",
    "photoshop:City": "location",
    "GCamera:MicroVideo": "motion photo",
    "GCamera:MotionPhoto": "motion photo",
    "xmpNote:HasExtendedXMP": "extended XMP",
}


def _xmp_findings(payload: bytes) -> list[Finding]:
    source = "extended XMP" if b"xmp/extension/" in payload[:40] else "XMP"
    found = [Finding("XMP", f"{len(payload)} bytes", source)]
    for match in _XMP_PROPERTY.finditer(payload):
        name = match.group(1).decode()
        value = _text(match.group(2))
        found.append(Finding(_XMP_CATEGORY[name], f"{name} {value}".strip(), source))
    return found


# IPTC-IIM application record datasets (IPTC IIM 4.2, chapter 6).
_IPTC_DATASETS: Final = {
    25: "keywords",
    80: "person",  # By-line
    90: "location",  # City
    92: "location",  # Sub-location
    95: "location",  # Province/State
    101: "location",  # Country
    110: "person",  # Credit
    116: "person",  # Copyright notice
    120: "description",  # Caption/Abstract
}


def _iptc_findings(payload: bytes) -> list[Finding]:
    found = [Finding("IPTC", f"{len(payload)} bytes of Photoshop resources", "APP13")]
    for resource, data in _photoshop_resources(payload[14:]):
        if resource == 0x0404:
            found += [
                Finding(_IPTC_DATASETS[dataset], value, "IPTC")
                for dataset, value in _iim_records(data)
                if dataset in _IPTC_DATASETS
            ]
        elif resource in (0x0409, 0x040C):
            found.append(Finding("thumbnail", f"{len(data)} bytes Photoshop thumbnail", "APP13"))
    return found


def _photoshop_resources(data: bytes) -> list[tuple[int, bytes]]:
    """8BIM image resource blocks (Photoshop File Formats, "Image Resource Blocks")."""
    out = []
    pos = 0
    while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        resource = int.from_bytes(data[pos + 4 : pos + 6], "big")
        name_length = data[pos + 6]
        pos += 6 + ((name_length + 2) & ~1)  # Pascal name, padded to even length
        size = int.from_bytes(data[pos : pos + 4], "big")
        out.append((resource, data[pos + 4 : pos + 4 + size]))
        pos += 4 + size + (size & 1)
    return out


def _iim_records(data: bytes) -> list[tuple[int, str]]:
    out = []
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, dataset = data[pos + 1], data[pos + 2]
        size = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if record == 2:
            out.append((dataset, _text(data[pos + 5 : pos + 5 + size])))
        pos += 5 + size
    return out


def _icc_findings(metadata: list[Segment]) -> list[Finding]:
    """The text of the ICC profile a person could be identified by (icc.identifying_text):
    display-calibration tools write the owner's name and the monitor's serial there."""
    from .icc import ICC_APP2_PREFIX, IccError, identifying_text, reassemble_jpeg_chunks

    chunks = [
        s.payload for s in metadata if s.marker == APP2 and s.payload.startswith(ICC_APP2_PREFIX)
    ]
    if not chunks:
        return []
    try:
        profile = reassemble_jpeg_chunks(chunks)
    except IccError as error:
        return [Finding("ICC profile", f"not a valid set of chunks ({error}): dropped", "APP2")]
    return [
        Finding("ICC profile text", f"{tag}: {text[:80]}", "ICC")
        for tag, text in identifying_text(profile)
    ]


def _trailer_finding(head: bytes, size: int) -> Finding:
    if head.startswith(b"\xff\xd8"):
        kind = "a second JPEG image (MPO / depth map)"
    elif b"ftyp" in head:
        kind = "a video (motion photo)"
    elif not head.strip(b"\x00"):
        kind = "padding"
    else:
        kind = "vendor data"
    return Finding("trailer", f"{size} bytes after the image: {kind}", "after EOI")
