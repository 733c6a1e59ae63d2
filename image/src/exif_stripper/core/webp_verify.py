"""The fail-closed check of a WebP the sanitizer wrote, before it is released.

It states the keep list a second time, on its own, with its own RIFF reader, fed the
output as it is written. It checks (WebP container specification, RFC 9649):

- the RIFF header, and that its size is exactly what follows it; nothing after the end;
- every chunk: one of VP8X (first), ICCP, ANIM, ANMF, ALPH, VP8, VP8L, its length inside
  the file, an odd length padded with a zero byte;
- inside an ANMF: its 16-byte frame header, then only ALPH, VP8 and VP8L;
- that VP8X's flags say exactly what the file holds (ICC, EXIF, animation) and nothing
  of XMP, and that its reserved bits are zero;
- that an ICCP chunk carries a profile with nothing left to clean (icc.py);
- with `allow_orientation_tag`, one EXIF chunk holding nothing but an Orientation tag.
"""

from __future__ import annotations

from typing import Final, NoReturn

from .errors import VerificationFailed
from .exif import orientation_only_tiff
from .icc import IccError, sanitize_profile

_ICC_FLAG: Final = 0x20
_ALPHA_FLAG: Final = 0x10
_EXIF_FLAG: Final = 0x08
_ANIMATION_FLAG: Final = 0x02
_IMAGE: Final = frozenset({b"ALPH", b"VP8 ", b"VP8L"})
_TOP_LEVEL: Final = _IMAGE | {b"VP8X", b"ICCP", b"ANIM", b"ANMF"}
#: Chunks whose payload is held and read (the rest streams through).
_HELD: Final = {b"VP8X": 10, b"ANIM": 6, b"ICCP": 64 * 1024 * 1024, b"EXIF": 32}

_ORIENTATION_ONLY: Final = frozenset(orientation_only_tiff(n) for n in range(1, 9))

# What the reader waits for next.
_RIFF, _HEADER, _FRAME_HEADER, _PAYLOAD, _PAD, _DONE = range(6)


class WebpVerifier:
    """Feed it the output as it is written; `close()` raises unless all of it was clean."""

    def __init__(self, *, allow_orientation_tag: bool) -> None:
        self._allowed = _TOP_LEVEL | ({b"EXIF"} if allow_orientation_tag else set())
        self._state = _RIFF
        self._need = 12
        self._buf = bytearray()
        self._offset = 0  # of the next byte fed
        self._end = 0  # where the RIFF ends
        self._frame_end = 0  # where the current ANMF ends (0: not in a frame)
        self._kind = b""
        self._size = 0
        self._at = 0  # the current chunk's offset
        self._flags: int | None = None
        self._seen: list[bytes] = []

    def feed(self, piece: bytes | memoryview) -> None:
        view = memoryview(piece).cast("B")
        pos, end = 0, len(view)
        while pos < end:
            if self._state == _DONE:
                self._fail("bytes follow the end of the RIFF", self._offset + pos)
            if self._state == _PAYLOAD and self._kind not in _HELD:
                take = min(self._need, end - pos)
                pos += take
                self._need -= take
                if not self._need:
                    self._after_payload(self._offset + pos)
                continue
            take = min(self._need - len(self._buf), end - pos)
            self._buf += view[pos : pos + take]
            pos += take
            if len(self._buf) == self._need:
                data = bytes(self._buf)
                self._buf.clear()
                self._complete(data, self._offset + pos)
        self._offset += end

    def close(self) -> None:
        if self._state != _DONE:
            if self._state == _HEADER and not self._buf and self._offset == self._end:
                self._finish()
                return
            self._fail("the output ends inside a chunk", self._offset)

    # -- the reader -------------------------------------------------------------------------

    def _complete(self, data: bytes, at: int) -> None:
        if self._state == _RIFF:
            if data[:4] != b"RIFF" or data[8:] != b"WEBP":
                self._fail("the output does not start with a WebP RIFF header", 0)
            self._end = 8 + int.from_bytes(data[4:8], "little")
            self._expect(_HEADER, 8)
        elif self._state == _HEADER:
            self._begin(data[:4], int.from_bytes(data[4:], "little"), at - 8)
        elif self._state == _FRAME_HEADER:
            self._expect(_HEADER, 8)  # the frame's sub-chunks follow
            self._check_boundaries(at)
        elif self._state == _PAYLOAD:
            self._check_payload(data)
            self._after_payload(at)
        elif self._state == _PAD:
            if data != b"\x00":
                self._fail("a pad byte is not zero", at - 1)
            self._expect(_HEADER, 8)
            self._check_boundaries(at)

    def _expect(self, state: int, need: int) -> None:
        self._state, self._need = state, need

    def _after_payload(self, at: int) -> None:
        if self._size & 1:
            self._expect(_PAD, 1)
        else:
            self._expect(_HEADER, 8)
            self._check_boundaries(at)

    def _check_boundaries(self, at: int) -> None:
        """At a chunk boundary: leave a frame that ends here; stop at the RIFF's end."""
        if self._frame_end and at >= self._frame_end:
            if at > self._frame_end:
                self._fail("a chunk runs past the end of its frame", at)
            self._frame_end = 0
        if at >= self._end:
            if at > self._end:
                self._fail("a chunk runs past the end of the RIFF", at)
            self._finish()

    def _fail(self, reason: str, at: int) -> NoReturn:
        raise VerificationFailed(f"output WebP: {reason}", at)

    # -- the rules ---------------------------------------------------------------------------

    def _begin(self, kind: bytes, size: int, at: int) -> None:
        self._kind, self._size, self._at = kind, size, at
        in_frame = bool(self._frame_end)
        if kind not in (_IMAGE if in_frame else self._allowed):
            where = "a frame" if in_frame else "the file"
            self._fail(f"{where} holds a {kind!r} chunk", at)
        if kind == b"VP8X" and at != 12:
            self._fail("VP8X is not the first chunk", at)
        if not in_frame:
            if kind in (b"VP8X", b"ICCP", b"ANIM", b"EXIF") and kind in self._seen:
                self._fail(f"holds a second {kind!r}", at)
            self._seen.append(kind)
        if kind in _HELD and size > _HELD[kind]:
            self._fail(f"holds a {size}-byte {kind!r}", at)
        if kind == b"ANMF":
            if size < 16:
                self._fail("holds an ANMF too short for its frame header", at)
            self._frame_end = at + 8 + size
            self._expect(_FRAME_HEADER, 16)
            return
        if size == 0:
            self._check_payload(b"")
            self._after_payload(at + 8)
        else:
            self._expect(_PAYLOAD, size)

    def _check_payload(self, payload: bytes) -> None:
        kind, at = self._kind, self._at
        if kind == b"VP8X":
            if len(payload) != 10 or payload[0] & 0xC1 or any(payload[1:4]):
                self._fail("holds a VP8X with reserved bits set", at)
            self._flags = payload[0]
        elif kind == b"ICCP":
            try:
                clean = sanitize_profile(payload).data
            except IccError as error:
                self._fail(f"holds an unreadable ICC profile ({error})", at)
            if clean != payload:
                self._fail("holds an ICC profile that is not clean", at)
        elif kind == b"EXIF" and payload not in _ORIENTATION_ONLY:
            self._fail("holds an EXIF chunk with more than the orientation", at)

    def _finish(self) -> None:
        """At the RIFF's end: VP8X's flags must say what the file holds."""
        self._state = _DONE
        seen = set(self._seen)
        if self._flags is None:
            if seen - {b"VP8 ", b"VP8L"} or len(self._seen) != 1:
                self._fail("a file without VP8X holds more than one bitstream chunk", 12)
            return
        announced = {
            b"ICCP": bool(self._flags & _ICC_FLAG),
            b"EXIF": bool(self._flags & _EXIF_FLAG),
            b"ANIM": bool(self._flags & _ANIMATION_FLAG),
        }
        for kind, flagged in announced.items():
            if flagged != (kind in seen):
                self._fail(f"VP8X's flags do not match its {kind!r} chunk", 12)
        if self._flags & ~(_ICC_FLAG | _ALPHA_FLAG | _EXIF_FLAG | _ANIMATION_FLAG):
            self._fail("VP8X announces XMP or a reserved flag", 12)
        if bool(seen & {b"ANIM", b"ANMF"}) == bool(seen & _IMAGE):
            self._fail("holds both (or neither) of frames and a still picture", 12)


def verify_webp(data: bytes | memoryview, *, allow_orientation_tag: bool = False) -> None:
    """Raise `VerificationFailed` unless `data` is a WebP holding only what is kept."""
    verifier = WebpVerifier(allow_orientation_tag=allow_orientation_tag)
    verifier.feed(data)
    verifier.close()
