"""The fail-closed check of a PNG the sanitizer wrote, before it is released.

It states the keep list a second time, on its own, with its own chunk reader: if the
sanitizer's keep/drop logic ever regresses, the output fails here and nothing reaches
the web bucket. It is fed the output as it is written (`feed`), holds only small chunks and
the ICC profile, and checks (PNG specification, third edition):

- the signature, every chunk's length and CRC (5.3, 5.5), IHDR first and IEND last,
  nothing after IEND;
- that every chunk is one of the kept types, each single chunk at most once, the image
  data consecutive, and everything but the animation's frames before it (5.6);
- that an iCCP chunk carries a profile with nothing left to clean (icc.py) under the
  neutral name, compressed exactly as the sanitizer writes it (so nothing rides along
  after the zlib stream);
- that an APNG's sequence numbers run 0, 1, 2, ... and its frames number what acTL says;
- with `allow_orientation_tag`, one eXIf holding nothing but an Orientation tag.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final, NoReturn

from zlib_ng.zlib_ng import crc32

from .errors import VerificationFailed
from .exif import orientation_only_tiff
from .icc import IccError, sanitize_profile

_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_SINGLE: Final = frozenset(
    {b"IHDR", b"PLTE", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"mDCV"}
    | {b"cLLI", b"mDCv", b"cLLi", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"iCCP", b"eXIf"}
)
_IMAGE_DATA: Final = frozenset({b"IDAT", b"fdAT"})
_ALLOWED: Final = _SINGLE | _IMAGE_DATA | {b"fcTL"}
#: Largest payload of each held chunk type (11.2, 11.3): nothing kept is larger.
_MOST: Final = {b"PLTE": 768, b"tRNS": 256, b"iCCP": 64 * 1024 * 1024, b"eXIf": 64}
_SMALL: Final = 32  # IHDR 13, cHRM 32, fcTL 26, mDCV 24, ...
_ICC_NAME: Final = b"ICC profile\x00\x00"
#: Chunks that must come before PLTE (Table 7).
_BEFORE_PLTE: Final = frozenset(
    {b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI", b"mDCv", b"cLLi"}
)

_CHUNK_HEADER: Final = struct.Struct(">I4s")
_U32: Final = struct.Struct(">I")

# What the reader waits for next: the signature, a chunk header, an fdAT's sequence
# number, a payload, a CRC; or nothing more.
_SIG, _HEADER, _SEQUENCE, _PAYLOAD, _CRC, _DONE = range(6)


class PngVerifier:
    """Feed it the output as it is written; `close()` raises unless all of it was clean."""

    def __init__(self, *, allow_orientation_tag: bool) -> None:
        self._allowed = _ALLOWED if allow_orientation_tag else _ALLOWED - {b"eXIf"}
        self._state = _SIG
        self._need = 8  # bytes the current state waits for
        self._buf = bytearray()
        self._offset = 0  # of the next byte fed
        self._chunk_at = 0
        self._kind = b""
        self._length = 0
        self._crc = 0
        self._held = False  # whether the payload is collected in _buf (or streamed)
        self._seen: set[bytes] = set()
        self._image_data = "before"  # before, in, or after the IDAT chunks
        self._frames = 0  # fcTL chunks
        self._declared_frames = -1  # from acTL
        self._sequence = 0

    def feed(self, piece: bytes | memoryview) -> None:
        view = memoryview(piece).cast("B")
        pos, end = 0, len(view)
        while pos < end:
            if self._state == _HEADER and not self._buf and self._image_data == "in":
                pos = self._image_data_run(view, pos)
                if pos == end:
                    break
            if self._state == _PAYLOAD and not self._held:
                take = min(self._need, end - pos)
                self._crc = crc32(view[pos : pos + take], self._crc)
                pos += take
                self._need -= take
                if not self._need:
                    self._to_crc()
                continue
            if self._state == _DONE:
                self._fail("bytes follow IEND", self._offset + pos)
            take = min(self._need - len(self._buf), end - pos)
            self._buf += view[pos : pos + take]
            pos += take
            if len(self._buf) == self._need:
                self._complete(self._offset + pos)
        self._offset += end

    def close(self) -> None:
        if self._state != _DONE:
            self._fail("the output ends before IEND", self._offset)

    def _image_data_run(self, view: memoryview, pos: int) -> int:
        """Whole IDAT chunks at `pos`, checked in one tight loop; returns where they end."""
        size = len(view)
        # Locals, not globals and attribute lookups: a 12 MP PNG is about 1,600 chunks.
        header, stored, crc = _CHUNK_HEADER.unpack_from, _U32.unpack_from, crc32
        while pos + 12 <= size:
            length, kind = header(view, pos)
            end = pos + 12 + length
            if kind != b"IDAT" or end > size:
                break
            if crc(view[pos + 4 : end - 4]) != stored(view, end - 4)[0]:
                self._fail("the CRC of IDAT does not match", self._offset + pos)
            pos = end
        return pos

    # -- the reader -------------------------------------------------------------------------

    def _complete(self, at: int) -> None:
        data = bytes(self._buf)
        self._buf.clear()
        if self._state == _SIG:
            if data != _SIGNATURE:
                self._fail("the output does not start with the PNG signature", 0)
            self._expect(_HEADER, 8)
        elif self._state == _HEADER:
            self._chunk_at = at - 8
            self._begin_chunk(data)
        elif self._state == _SEQUENCE:
            self._crc = crc32(data, self._crc)
            self._count_sequence(self._chunk_at, data)
            self._held = False
            self._expect(_PAYLOAD, self._length - 4)
            if not self._need:
                self._to_crc()
        elif self._state == _PAYLOAD:
            self._crc = crc32(data, self._crc)
            self._check_payload(data)
            self._to_crc()
        else:
            if struct.unpack(">I", data)[0] != self._crc:
                self._fail(f"the CRC of {self._name} does not match", self._chunk_at)
            if self._kind == b"IEND":
                self._end()
            else:
                self._expect(_HEADER, 8)

    def _expect(self, state: int, need: int) -> None:
        self._state, self._need = state, need

    def _to_crc(self) -> None:
        self._expect(_CRC, 4)

    def _fail(self, reason: str, at: int) -> NoReturn:
        raise VerificationFailed(f"output PNG: {reason}", at)

    @property
    def _name(self) -> str:
        return self._kind.decode("latin-1")

    # -- the rules ---------------------------------------------------------------------------

    def _begin_chunk(self, header: bytes) -> None:
        self._length, self._kind = struct.unpack(">I4s", header)
        kind, at = self._kind, self._chunk_at
        if kind not in self._allowed:
            self._fail(f"holds a {kind!r} chunk", at)
        if (kind == b"IHDR") != (at == len(_SIGNATURE)):
            self._fail("IHDR is not the first chunk", at)
        if kind in _SINGLE:
            if kind in self._seen:
                self._fail(f"holds a second {self._name}", at)
            self._seen.add(kind)
        self._check_place(kind, at)
        self._crc = crc32(kind)
        self._held = kind not in _IMAGE_DATA
        if self._held and self._length > _MOST.get(kind, _SMALL):
            self._fail(f"holds a {self._length}-byte {self._name}", at)
        if kind == b"fdAT":
            if self._length < 4:
                self._fail("holds an fdAT without a sequence number", at)
            self._held = True
            self._expect(_SEQUENCE, 4)
        elif self._length == 0:
            self._check_payload(b"")
            self._to_crc()
        else:
            self._expect(_PAYLOAD, self._length)

    def _check_place(self, kind: bytes, at: int) -> None:
        if kind == b"IDAT":
            if self._image_data == "after":
                self._fail("its IDAT chunks are not consecutive", at)
            self._image_data = "in"
            return
        if self._image_data == "in":
            self._image_data = "after"
        if kind in _BEFORE_PLTE and b"PLTE" in self._seen:
            self._fail(f"holds {self._name} after PLTE", at)
        if kind == b"fdAT":
            if self._image_data == "before":
                self._fail("holds an fdAT before IDAT", at)
        elif kind not in (b"fcTL", b"IEND") and self._image_data != "before":
            self._fail(f"holds {self._name} after the image data", at)
        elif kind == b"IEND" and self._image_data == "before":
            self._fail("holds no IDAT", at)

    def _check_payload(self, payload: bytes) -> None:
        kind, at = self._kind, self._chunk_at
        if kind == b"IHDR":
            if len(payload) != 13 or min(struct.unpack(">II", payload[:8])) < 1:
                self._fail("holds a damaged IHDR", at)
        elif kind == b"iCCP":
            self._check_profile(payload)
        elif kind == b"eXIf":
            if not any(payload == orientation_only_tiff(n) for n in range(1, 9)):
                self._fail("holds an eXIf with more than the orientation", at)
        elif kind == b"acTL":
            if len(payload) != 8:
                self._fail("holds a damaged acTL", at)
            self._declared_frames = struct.unpack(">I", payload[:4])[0]
        elif kind == b"fcTL":
            if len(payload) != 26:
                self._fail("holds a damaged fcTL", at)
            self._count_sequence(at, payload)
            self._frames += 1
        elif kind == b"IEND" and payload:
            self._fail("holds data in IEND", at)

    def _count_sequence(self, at: int, payload: bytes) -> None:
        """fcTL and fdAT share one sequence: 0, 1, 2, ..., in their first four bytes."""
        if self._declared_frames < 0:
            self._fail(f"holds {self._name} without acTL", at)
        if struct.unpack(">I", payload[:4])[0] != self._sequence:
            self._fail("its APNG sequence numbers do not run in order", at)
        self._sequence += 1

    def _check_profile(self, payload: bytes) -> None:
        at = self._chunk_at
        if not payload.startswith(_ICC_NAME):
            self._fail("holds an iCCP chunk without the neutral profile name", at)
        inflater = zlib.decompressobj()
        try:
            profile = inflater.decompress(payload[len(_ICC_NAME) :], _MOST[b"iCCP"])
            clean = sanitize_profile(profile).data
        except (zlib.error, IccError) as error:
            self._fail(f"holds an unreadable ICC profile ({error})", at)
        if clean != profile:
            self._fail("holds an ICC profile that is not clean", at)
        if payload[len(_ICC_NAME) :] != zlib.compress(profile, 9):
            self._fail("holds an iCCP chunk not in canonical form", at)

    def _end(self) -> None:
        if self._declared_frames >= 0 and self._frames != self._declared_frames:
            self._fail(
                f"acTL declares {self._declared_frames} frames, it holds {self._frames}",
                self._chunk_at,
            )
        self._state = _DONE


def verify_png(data: bytes | memoryview, *, allow_orientation_tag: bool = False) -> None:
    """Raise `VerificationFailed` unless `data` is a PNG holding only what is kept."""
    verifier = PngVerifier(allow_orientation_tag=allow_orientation_tag)
    verifier.feed(data)
    verifier.close()
