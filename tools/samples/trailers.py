"""What phones and cameras append after the primary image's EOI: an MP4 motion-photo video,
Samsung's SEF trailer, padding.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

# =========================================================================================
# Trailers: what phones and cameras append after the primary image's EOI
# =========================================================================================


def mp4_video(payload_size: int = 16_384, *, seed: int = 3) -> bytes:
    """An MP4-like blob (ISO BMFF boxes `ftyp`, `mdat`), as a motion photo appends.

    Not a playable video: the `mdat` holds random bytes. exiftool recognises the `ftyp` box
    right after EOI as an EmbeddedVideo.
    """
    ftyp = b"ftyp" + b"mp42" + struct.pack(">I", 0) + b"isommp42"
    mdat = b"mdat" + random.Random(seed).randbytes(payload_size)
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(mdat) + 4) + mdat


@dataclass(frozen=True)
class SefBlock:
    """One Samsung "SEF" trailer block: a type code, a name and the data."""

    type: int
    name: str
    data: bytes


def samsung_trailer(blocks: Sequence[SefBlock]) -> bytes:
    """A Samsung SEF trailer: data blocks, the `SEFH` directory, its length and `SEFT`.

    Layout (as exiftool's Samsung.pm reads it, little-endian): each block is 2 zero bytes,
    a 2-byte type, a 4-byte name length, the name, the data. The SEFH directory lists for
    each block its type, its distance back from SEFH and its size; the file ends with the
    directory's length and `SEFT`.
    """
    out = bytearray()
    placed: list[tuple[int, int, int]] = []
    for block in blocks:
        name = block.name.encode()
        raw = struct.pack("<HHI", 0, block.type, len(name)) + name + block.data
        placed.append((block.type, len(out), len(raw)))
        out += raw
    directory_at = len(out)
    directory = b"SEFH" + struct.pack("<II", 107, len(blocks))
    for kind, start, size in placed:
        directory += struct.pack("<HHII", 0, kind, directory_at - start, size)
    return bytes(out + directory + struct.pack("<I", len(directory)) + b"SEFT")


def samsung_motion_trailer(video: bytes | None = None) -> bytes:
    """What a Galaxy phone appends: the motion-photo MP4, the capture time, the country code."""
    return samsung_trailer(
        [
            SefBlock(0x0A30, "MotionPhoto_Data", video if video is not None else mp4_video()),
            SefBlock(0x0A01, "Image_UTC_Data", b"1717236930123"),
            SefBlock(0x0AA1, "MCC_Data", b"208"),
        ]
    )


def padding_trailer(size: int = 4096) -> bytes:
    """Zero bytes after EOI, as some encoders pad to a block size."""
    return b"\x00" * size
