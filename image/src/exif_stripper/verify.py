"""The fail-closed check: re-read the sanitizer's own output before it is released.

This states SPEC §1's "output keeps" list a second time, on its own, rather than asking
the sanitizer whether it did its job: if the keep/drop logic ever regresses, the output
fails here and nothing reaches bucket B. It shares only the tokenizer (the JPEG grammar)
with the sanitizer.
"""

from __future__ import annotations

from .errors import SanitizeError, VerificationFailed
from .exif import orientation_only_exif, read_orientation
from .jpeg import (
    APP0,
    APP1,
    APP2,
    APP14,
    APP_MARKERS,
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
        self._tokens = Tokenizer(max_bytes=_UNLIMITED, max_pixels=_UNLIMITED)
        self._allow_orientation_tag = allow_orientation_tag
        self._seen: set[str] = set()
        self._in_header = True  # before the first scan, the only place metadata may be

    def feed(self, piece: bytes | memoryview) -> None:
        try:
            tokens = self._tokens.feed(piece)
        except SanitizeError as error:
            raise VerificationFailed(f"output is not a valid JPEG: {error}", error.offset) from None
        for token in tokens:
            self._check(token)

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
        marker = token.marker
        if marker == SOS:
            self._in_header = False
        if marker in (SOI, EOI, SOS) or marker in FRAME_MARKERS or marker in TABLE_MARKERS:
            return
        if marker in APP_MARKERS and self._in_header:
            self._check_header_app(token)
            return
        raise VerificationFailed(f"output holds a {token.name} segment", token.offset)

    def _check_header_app(self, segment: Segment) -> None:
        payload, marker = segment.payload, segment.marker
        if marker == APP0 and _is_bare_jfif(payload):
            self._once("JFIF", segment)
        elif marker == APP1 and self._allow_orientation_tag and _is_orientation_only(payload):
            self._once("Orientation", segment)
        elif marker == APP2 and payload.startswith(b"ICC_PROFILE\x00"):
            pass
        elif marker == APP14 and payload.startswith(b"Adobe"):
            self._once("Adobe", segment)
        else:
            raise VerificationFailed(f"output holds a {segment.name} segment", segment.offset)

    def _once(self, what: str, segment: Segment) -> None:
        if what in self._seen:
            raise VerificationFailed(f"output holds a second {what} segment", segment.offset)
        self._seen.add(what)


def _is_bare_jfif(payload: bytes) -> bool:
    # identifier, version, units, densities, and a 0x0 thumbnail: exactly 14 bytes
    return len(payload) == 14 and payload.startswith(b"JFIF\x00") and payload[12:] == b"\x00\x00"


def _is_orientation_only(payload: bytes) -> bool:
    orientation = read_orientation(payload)
    return orientation is not None and payload == orientation_only_exif(orientation)


def verify_jpeg(data: bytes | memoryview, *, allow_orientation_tag: bool = False) -> None:
    """Raise `VerificationFailed` unless `data` is a JPEG holding only what SPEC §1 keeps."""
    verifier = Verifier(allow_orientation_tag=allow_orientation_tag)
    verifier.feed(data)
    verifier.close()
