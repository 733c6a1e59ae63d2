"""The fail-closed check: re-read the sanitizer's own output before it is released.

This states the kept list of docs/design.md "Sanitizer: what is kept" a second time, on
its own, rather than asking the sanitizer whether it did its job: if the keep/drop logic
ever regresses, the output
fails here and nothing reaches the web bucket. It shares the JPEG grammar with the sanitizer
(the tokenizer, strict here, and the field parsers of headers.py) and reads the output
as libjpeg would: every segment in its canonical form, every table a scan uses defined
before it and no table defined that the next scan does not use, scan parameters legal
for the frame. So a header no decoder accepts can never leave either.
"""

from __future__ import annotations

from .errors import SanitizeError, VerificationFailed
from .exif import orientation_only_exif, read_orientation
from .headers import (
    DecoderTables,
    FrameHeader,
    HuffmanTable,
    Jfif,
    TableKey,
    check_huffman_code,
    check_selectors,
    clean_profile,
    describe_key,
    key_of,
    parse_adobe,
    parse_frame,
    parse_jfif,
    parse_scan,
    tables_needed,
)
from .icc import ICC_APP2_PREFIX, IccError, jpeg_chunks, reassemble_jpeg_chunks
from .jpeg import (
    APP0,
    APP1,
    APP2,
    APP14,
    APP_MARKERS,
    DAC,
    DRI,
    EOI,
    FRAME_MARKERS,
    SOI,
    SOS,
    TABLE_MARKERS,
    EntropyData,
    Segment,
    Token,
    Tokenizer,
    Trailer,
)

_UNLIMITED = 1 << 62  # the input's limits were enforced on the way in; the output is ours


class Verifier:
    """Feed it the output as it is written; `close()` raises unless all of it was clean."""

    def __init__(self, *, allow_orientation_tag: bool) -> None:
        self._tokens = Tokenizer(max_bytes=_UNLIMITED)
        self._allow_orientation_tag = allow_orientation_tag
        self._seen: set[str] = set()
        self._frame: FrameHeader | None = None
        self._tables = DecoderTables()
        self._defined: set[TableKey] = set()  # since the last scan
        self._latched: set[int] = set()
        self._scans = 0
        self._complete = False  # a sequential image whose first scan held every component
        self._icc: list[bytes] = []

    def feed(self, piece: bytes | memoryview) -> None:
        try:
            tokens = self._tokens.feed(piece)
            for token in tokens:
                self._check(token)
        except VerificationFailed:
            raise
        except SanitizeError as error:
            raise VerificationFailed(f"output is not a valid JPEG: {error}", error.offset) from None

    def close(self) -> None:
        try:
            self._tokens.close()
        except SanitizeError as error:
            raise VerificationFailed(f"output is not a valid JPEG: {error}", error.offset) from None

    # -- the rules -------------------------------------------------------------------------

    def _check(self, token: Token) -> None:
        if isinstance(token, EntropyData):
            return
        if isinstance(token, Trailer):
            raise VerificationFailed("bytes follow the end-of-image marker", token.offset)
        if not isinstance(token, Segment):
            raise VerificationFailed("output holds bytes outside any segment", token.offset)
        marker = token.marker
        if marker in (SOI, EOI):
            return
        if marker in APP_MARKERS and self._frame is None and not self._scans:
            self._check_header_app(token)
        elif marker in FRAME_MARKERS:
            self._check_frame(token)
        elif marker in TABLE_MARKERS:
            self._check_tables(token)
        elif marker == SOS:
            self._check_scan(token)
        else:
            raise VerificationFailed(f"output holds a {token.name} segment", token.offset)

    def _check_header_app(self, segment: Segment) -> None:
        payload, marker = segment.payload, segment.marker
        if marker == APP0 and _is_canonical_jfif(payload):
            self._once("JFIF", segment)
        elif marker == APP1 and self._allow_orientation_tag and _is_orientation_only(payload):
            self._once("Orientation", segment)
        elif marker == APP2 and payload.startswith(ICC_APP2_PREFIX):
            self._icc.append(payload)
        elif marker == APP14 and _is_canonical_adobe(payload):
            self._once("Adobe", segment)
        else:
            raise VerificationFailed(f"output holds a {segment.name} segment", segment.offset)

    def _once(self, what: str, segment: Segment) -> None:
        if what in self._seen:
            raise VerificationFailed(f"output holds a second {what} segment", segment.offset)
        self._seen.add(what)

    def _check_frame(self, segment: Segment) -> None:
        if self._frame is not None:
            raise VerificationFailed("output holds a second frame header", segment.offset)
        self._check_icc(segment.offset)
        self._frame = parse_frame(segment)
        _require_canonical(segment, self._frame.encode())

    def _check_icc(self, at: int) -> None:
        """The ICC chunks form one profile that has nothing left to clean (icc.py)."""
        if not self._icc:
            return
        try:
            profile = reassemble_jpeg_chunks(self._icc)
            clean = clean_profile(profile).data
        except IccError as error:
            raise VerificationFailed(f"output holds an invalid ICC profile: {error}", at) from None
        if clean != profile:
            raise VerificationFailed("output holds an ICC profile that is not clean", at)
        if jpeg_chunks(profile) != self._icc:
            raise VerificationFailed("output holds ICC chunks not in canonical form", at)

    def _check_tables(self, segment: Segment) -> None:
        if segment.marker == DAC and (self._frame is None or not self._frame.arithmetic):
            raise VerificationFailed("output holds DAC outside an arithmetic frame", segment.offset)
        before = self._tables.restart_interval
        tables = self._tables.define(segment)
        if segment.marker == DRI:
            if self._tables.restart_interval == before:
                raise VerificationFailed("output repeats the restart interval", segment.offset)
            return
        if not tables:
            raise VerificationFailed(f"output holds an empty {segment.name}", segment.offset)
        encoded = Segment(segment.marker, 0, b"".join(t.encode() for t in tables)).encode()
        _require_canonical(segment, encoded)
        self._defined.update(key_of(table) for table in tables)

    def _check_scan(self, segment: Segment) -> None:
        frame = self._frame
        scan = parse_scan(segment, frame)
        assert frame is not None
        _require_canonical(segment, scan.encode())
        if self._complete:
            raise VerificationFailed("output holds a scan after a complete image", segment.offset)
        needed = tables_needed(frame, scan, self._latched)
        check_selectors(needed, segment.offset)
        for key in needed:
            table = self._tables.slots.get(key)
            if table is None and key[0] != "c":
                raise VerificationFailed(
                    f"scan uses {describe_key(key)} before it is defined", segment.offset
                )
            if isinstance(table, HuffmanTable):
                check_huffman_code(table, segment.offset)
        unused = self._defined - set(needed)
        if unused:
            raise VerificationFailed(
                f"output defines {describe_key(min(unused))}, which the next scan does not use",
                segment.offset,
            )
        if not self._scans and not frame.progressive:
            self._complete = len(scan.components) == len(frame.components)
        self._defined.clear()
        self._latched.update(c.id for c in scan.components)
        self._scans += 1


def _require_canonical(segment: Segment, canonical: bytes) -> None:
    if segment.encode() != canonical:
        raise VerificationFailed(
            f"output holds a {segment.name} not in canonical form", segment.offset
        )


def _is_canonical_jfif(payload: bytes) -> bool:
    jfif: Jfif | None = parse_jfif(payload)
    return jfif is not None and jfif.encode()[4:] == payload


def _is_canonical_adobe(payload: bytes) -> bool:
    adobe = parse_adobe(payload)
    return adobe is not None and adobe.encode()[4:] == payload


def _is_orientation_only(payload: bytes) -> bool:
    orientation = read_orientation(payload)
    return orientation is not None and payload == orientation_only_exif(orientation)


def verify_jpeg(data: bytes | memoryview, *, allow_orientation_tag: bool = False) -> None:
    """Raise `VerificationFailed` unless `data` is a JPEG holding only what design.md,
    "Sanitizer: what is kept", keeps."""
    verifier = Verifier(allow_orientation_tag=allow_orientation_tag)
    verifier.feed(data)
    verifier.close()
