"""Putting a JPEG together: segments after SOI, segments between progressive scans, segments
removed; MPO files (CIPA DC-007: APP2 `MPF` index and the images after the primary EOI).

Also the reference strip: what a correct sanitizer keeps of a JPEG, computed independently of
the product, for the tests to compare with.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from enum import IntEnum

from tools.samples.exif import (
    ByteOrder,
    Ifd,
    build_tiff,
    long_field,
    struct_prefix,
    undefined_field,
)
from tools.samples.jpeg import (
    APP0,
    APP1,
    APP2,
    APP14,
    COM,
    DHT,
    DQT,
    DRI,
    EOI,
    ICC_HEADER,
    MPF_HEADER,
    SOF2,
    SOF_MARKERS,
    SOI,
    SOS,
    segment,
    walk_markers,
)

# =========================================================================================
# Composition: segments after SOI, segments between scans, MPO
# =========================================================================================


def _is_jfif(seg: bytes) -> bool:
    return seg[1] == APP0 and seg[4:9] == b"JFIF\x00"


def compose(base: bytes, segments: Sequence[bytes] = (), trailer: bytes = b"") -> bytes:
    """Insert marker segments after SOI and append a trailer at the end.

    JFIF must be the first segment (JFIF 1.02), so the segments go after the base's APP0
    JFIF if it has one; if `segments` brings its own JFIF APP0, it replaces the base's.
    """
    layout = walk_markers(base)
    after = layout.segments[1]
    brings_jfif = any(_is_jfif(s) for s in segments)
    head_end = 2
    if after.marker == APP0 and base[after.start + 4 : after.start + 9] == b"JFIF\x00":
        head_end = after.end
    head = SOI if brings_jfif else base[:head_end]
    return head + b"".join(segments) + base[head_end:] + trailer


def insert_between_scans(
    jpeg: bytes, segments: Sequence[bytes], after_scans: Iterable[int] | None = None
) -> bytes:
    """Insert the segments right after the entropy-coded data of the given scans (0-based).

    By default after every scan but the last, i.e. between each pair of scans of a
    progressive JPEG. T.81 B.2.1 and B.2.4 allow APPn and COM among the tables before any
    scan, so the result is valid and decodes to the same pixels.
    """
    scans = walk_markers(jpeg).scans
    chosen = set(range(len(scans) - 1) if after_scans is None else after_scans)
    if not chosen <= set(range(len(scans))):
        raise ValueError(f"the JPEG has {len(scans)} scans")
    cuts = sorted(scans[i].end for i in chosen)
    out = bytearray()
    previous = 0
    for cut in cuts:
        out += jpeg[previous:cut] + b"".join(segments)
        previous = cut
    return bytes(out + jpeg[previous:])


def remove_segments(jpeg: bytes, markers: Iterable[int]) -> bytes:
    """The JPEG without the segments of the given markers (a reference for tests)."""
    drop = set(markers)
    layout = walk_markers(jpeg)
    kept = [jpeg[s.start : s.end] for s in layout.segments if s.marker not in drop]
    return b"".join(kept) + jpeg[layout.end :]


def reference_strip(jpeg: bytes) -> bytes:
    """What docs/design.md "Sanitizer: what is kept" says a sanitized JPEG is (no rotation),
    computed independently.

    For the well-formed files built here: SOI; APP0 JFIF cut to its 14 header bytes with
    a 0x0 thumbnail; the ICC profile cleaned, in chunks again; APP14 Adobe as its 12
    defined bytes (version 100, no flags); the frame header; then before each scan the
    tables it reads that a decoder of the output does not hold yet (one DQT, then one DHT,
    then DRI if the restart interval changes), the scan header (a sequential scan says
    Ss=0, Se=63, Ah=Al=0; a table selector the scan does not read is 0) and the scan's
    data; EOI.
    Everything else is dropped, and so is everything after the primary EOI. A
    differential reference for the sanitizer's tests and a known-clean input for the
    oracle's.
    """
    layout = walk_markers(jpeg)
    header = bytearray(SOI)
    icc: list[bytes] = []
    adobe = b""
    frame = b""
    body = bytearray()
    tables = _ReferenceTables()
    for seg in layout.segments:
        payload = seg.payload(jpeg)
        if seg.marker == APP0 and payload.startswith(b"JFIF\x00") and len(header) == 2:
            header += segment(APP0, payload[:12] + b"\x00\x00")
        elif seg.marker == APP2 and payload.startswith(ICC_HEADER) and not body:
            icc.append(payload)
        elif seg.marker == APP14 and payload.startswith(b"Adobe") and not adobe:
            adobe = segment(APP14, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, payload[11]))
        elif seg.marker in SOF_MARKERS:
            frame = jpeg[seg.start : seg.end]
            tables.frame(payload, progressive=seg.marker == SOF2)
        elif seg.marker in (DQT, DHT, DRI):
            tables.define(seg.marker, payload)
        elif seg.marker == SOS:
            length = struct.unpack_from(">H", jpeg, seg.start + 2)[0]
            body += tables.before_scan(payload)
            body += jpeg[seg.start + 2 + length : seg.end]
    return bytes(header + _reference_icc(icc) + adobe + frame + body + EOI)


def _reference_icc(chunks: list[bytes]) -> bytes:
    """The ICC chunks as the output carries them: the profile cleaned by icc.py (whose own
    tests show it keeps the colours), or nothing when the chunks form no valid profile."""
    from exif_stripper.core.icc import (
        IccError,
        jpeg_chunks,
        reassemble_jpeg_chunks,
        sanitize_profile,
    )

    if not chunks:
        return b""
    try:
        profile = sanitize_profile(reassemble_jpeg_chunks(chunks)).data
        return b"".join(segment(APP2, chunk) for chunk in jpeg_chunks(profile))
    except IccError:
        return b""


def reference_removed_bytes(jpeg: bytes) -> int:
    """How many bytes of metadata `reference_strip` leaves out: every APPn and COM segment
    but the ICC chunks and the first JFIF's 18-byte header, what cleaning the ICC profile
    takes out of it, and all after the primary EOI. (Merging tables or ICC chunks into
    fewer segments saves a few bytes more; those are not metadata.)"""
    from exif_stripper.core.icc import reassemble_jpeg_chunks, sanitize_profile

    layout = walk_markers(jpeg)
    removed = len(jpeg) - layout.end
    jfif_seen = False
    icc = []
    for seg in layout.segments:
        payload = seg.payload(jpeg)
        if seg.marker == APP2 and payload.startswith(ICC_HEADER):
            icc.append(payload)
            continue
        if 0xE0 <= seg.marker <= 0xEF or seg.marker == COM:
            removed += seg.end - seg.start
            if seg.marker == APP0 and payload.startswith(b"JFIF\x00") and not jfif_seen:
                jfif_seen = True
                removed -= 18
    if icc:
        profile = reassemble_jpeg_chunks(icc)
        removed += max(0, len(profile) - len(sanitize_profile(profile).data))
    return removed


class _ReferenceTables:
    """The tables of `reference_strip`: which ones each scan reads, and which are new."""

    def __init__(self) -> None:
        self.current: dict[tuple[int, int], bytes] = {}  # (DQT or DHT class, id) -> entry
        self.written: dict[tuple[int, int], bytes] = {}
        self.restart = (0, 0)  # (current, written)
        self.quant_of: dict[int, int] = {}
        self.latched: set[int] = set()
        self.progressive = False

    def frame(self, payload: bytes, *, progressive: bool) -> None:
        self.progressive = progressive
        for i in range(payload[5]):
            self.quant_of[payload[6 + 3 * i]] = payload[8 + 3 * i]

    def define(self, marker: int, payload: bytes) -> None:
        pos = 0
        while pos < len(payload):
            if marker == DRI:
                self.restart = (struct.unpack(">H", payload)[0], self.restart[1])
                return
            if marker == DQT:
                size = 1 + (128 if payload[pos] >> 4 else 64)
                self.current[(DQT, payload[pos] & 15)] = payload[pos : pos + size]
            else:
                size = 17 + sum(payload[pos + 1 : pos + 17])
                self.current[(payload[pos] >> 4, payload[pos] & 15)] = payload[pos : pos + size]
            pos += size

    def before_scan(self, payload: bytes) -> bytes:
        count = payload[0]
        ss, se, approximation = payload[1 + 2 * count : 4 + 2 * count]
        uses_dc = not self.progressive or (ss == 0 and approximation >> 4 == 0)
        uses_ac = not self.progressive or ss > 0
        needed = set()
        scan = bytearray((count,))
        for i in range(count):
            component, selectors = payload[1 + 2 * i], payload[2 + 2 * i]
            dc, ac = (selectors >> 4) * uses_dc, (selectors & 15) * uses_ac
            scan += bytes((component, dc << 4 | ac))
            if component not in self.latched:
                needed.add((DQT, self.quant_of[component]))
            needed |= {(0, dc)} if uses_dc else set()
            needed |= {(1, ac)} if uses_ac else set()
            self.latched.add(component)
        scan += bytes((ss, se, approximation)) if self.progressive else bytes((0, 63, 0))
        new = [key for key in sorted(needed) if self.written.get(key) != self.current[key]]
        self.written.update((key, self.current[key]) for key in new)
        out = bytearray()
        quant = [self.current[key] for key in new if key[0] == DQT]
        huffman = [self.current[key] for key in new if key[0] != DQT]
        out += segment(DQT, b"".join(quant)) if quant else b""
        out += segment(DHT, b"".join(huffman)) if huffman else b""
        if self.restart[0] != self.restart[1]:
            out += segment(DRI, struct.pack(">H", self.restart[0]))
            self.restart = (self.restart[0], self.restart[0])
        return bytes(out + segment(SOS, bytes(scan)))


class MpType(IntEnum):
    """MP image type codes (CIPA DC-007 section 5.2.3.3.1, Table 4)."""

    BASELINE_PRIMARY = 0x030000
    LARGE_THUMBNAIL_VGA = 0x010001
    LARGE_THUMBNAIL_FULL_HD = 0x010002
    PANORAMA = 0x020001
    DISPARITY = 0x020002
    MULTI_ANGLE = 0x020003


#: Individual image attribute flag: the representative image (CIPA DC-007 Table 4).
MP_REPRESENTATIVE = 0x20000000


def mpf_segment(
    image_sizes: Sequence[int],
    image_offsets: Sequence[int],
    types: Sequence[MpType],
    order: ByteOrder = "MM",
) -> bytes:
    """APP2 `MPF\\0` with an MP Index IFD (CIPA DC-007 section 5.2.2).

    After the `MPF\\0` identifier comes an MP header laid out like a TIFF header; every
    image offset counts from that header's first byte (0 for the first image).
    """
    p = struct_prefix(order)
    entries = b"".join(
        struct.pack(
            p + "IIIHH",
            kind | (MP_REPRESENTATIVE if i == 0 else 0),  # attribute: flags, JPEG, type
            size,
            offset,
            0,  # dependent image 1 entry number
            0,  # dependent image 2 entry number
        )
        for i, (size, offset, kind) in enumerate(
            zip(image_sizes, image_offsets, types, strict=True)
        )
    )
    index = Ifd(
        "mp-index",
        (
            undefined_field(0xB000, b"0100"),  # MPFVersion
            long_field(0xB001, len(image_sizes)),  # NumberOfImages
            undefined_field(0xB002, entries),  # MPEntry, 16 bytes per image
        ),
    )
    return segment(APP2, MPF_HEADER + build_tiff([index], order))


def mpo(
    primary: bytes,
    others: Sequence[bytes],
    *,
    types: Sequence[MpType] | None = None,
    trailer: bytes = b"",
) -> bytes:
    """A multi-picture file: the primary JPEG with an MPF index, then the other images.

    The MPF APP2 goes after the primary's APP0/APP1 segments (CIPA DC-007 5.2: after the
    Exif APP1). Its offsets are computed in two passes: insert a placeholder of the right
    size, find where its MP header landed, then write the real offsets.
    """
    kinds = list(types) if types is not None else [MpType.DISPARITY] * (1 + len(others))
    layout = walk_markers(primary)
    if layout.end != len(primary):
        raise ValueError("the primary image must end at its EOI (add trailers via `trailer`)")
    insert_at = 2
    for seg in layout.segments[1:]:
        if seg.marker not in (APP0, APP1):
            break
        insert_at = seg.end
    sizes = [0, *(len(o) for o in others)]
    placeholder = mpf_segment(sizes, [0] * len(sizes), kinds)
    primary_size = len(primary) + len(placeholder)
    header_at = insert_at + 4 + len(MPF_HEADER)  # marker, length, identifier
    offsets = [0]
    position = primary_size
    for other in others:
        offsets.append(position - header_at)
        position += len(other)
    mpf = mpf_segment([primary_size, *sizes[1:]], offsets, kinds)
    assert len(mpf) == len(placeholder)
    return primary[:insert_at] + mpf + primary[insert_at:] + b"".join(others) + trailer
