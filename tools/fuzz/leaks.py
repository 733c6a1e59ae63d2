"""Did any dropped byte reach the output? A check shared by the damage tests and the fuzzer.

(For PNG and WebP, what a lossless output copies is every kept chunk's payload; only a
PNG's iCCP, a WebP's VP8X and ICCP, and their frames' headers are written again.)

The sanitizer reports every region it drops (`on_removed`). A run of `RUN` bytes of a
dropped region that shows up in what a lossless output copies from the input is a leak:
in its image data or its tables. The rest of the output is written from parsed fields and
checked segment by segment by the verifier (the ICC profile too: it must come out of
icc.py's cleaning unchanged); it naturally matches an embedded thumbnail's framing, so
runs are looked for inside each copied piece only. A re-encoded output copies nothing:
its data is the encoder's, made from the pixels (re-encoding a picture with its own
tables gives back long runs of its own data, which is no leak).

A run is no leak when the input holds it in what was kept too: two segments may share
bytes (a thumbnail's Huffman tables are often the primary's), and dropping a region joins
the bytes on either side of it. Tables a decoder fills in itself (T.81 K.3) are no leak
either.
"""

from __future__ import annotations

from collections.abc import Sequence

from exif_stripper.core.headers import standard_huffman_table
from exif_stripper.core.jpeg import DAC, DHT, DQT, EntropyData, Segment, Tokenizer
from exif_stripper.core.sanitize import Removed
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp

RUN = 16
_COPIED = frozenset({DQT, DHT, DAC})


def windows(data: bytes, run: int = RUN) -> set[bytes]:
    return {data[i : i + run] for i in range(len(data) - run + 1)}


def leaked_runs(
    data: bytes, output: bytes, removed: Sequence[Removed], run: int = RUN
) -> list[tuple[Removed, bytes]]:
    """(region, run) for every dropped region a run of which a lossless output copies."""
    kept = bytearray()
    position = 0
    for start, end in sorted((item.offset, item.offset + item.size) for item in removed):
        kept += data[position:start] if start > position else b""
        position = max(position, end)
    kept += data[position:]
    explained = windows(bytes(kept), run) | _standard_tables(run)
    copied: set[bytes] = set()
    for piece in copied_pieces(output):
        copied |= windows(piece, run)
    copied -= explained
    leaks = []
    for item in removed:
        region = data[item.offset : item.offset + item.size]
        found = next(
            (
                region[i : i + run]
                for i in range(len(region) - run + 1)
                if region[i : i + run] in copied
            ),
            None,
        )
        if found is not None:
            leaks.append((item, found))
    return leaks


def copied_pieces(jpeg: bytes) -> list[bytes]:
    """What a lossless output copies from its input: each scan's data, each table; each
    chunk of a PNG but what it writes itself (iCCP, an orientation-only eXIf); each image
    chunk of a WebP."""
    if jpeg.startswith(samples_png.SIGNATURE):
        written = (b"iCCP", b"eXIf")
        return [c.payload for c in samples_png.walk(jpeg) if c.kind not in written]
    if jpeg[:4] == b"RIFF":
        return _webp_pieces(jpeg)
    pieces: list[bytes] = []
    scan = bytearray()
    for token in Tokenizer(max_bytes=len(jpeg)).feed(jpeg):
        if isinstance(token, EntropyData):
            scan += token.data
            continue
        if scan:
            pieces.append(bytes(scan))
            scan.clear()
        if isinstance(token, Segment) and token.marker in _COPIED:
            pieces.append(token.payload)
    return pieces


def _webp_pieces(webp: bytes) -> list[bytes]:
    pieces = []
    for found in samples_webp.walk(webp):
        inner = samples_webp.frame_chunks(found) if found.fourcc == b"ANMF" else [found]
        pieces += [c.payload for c in inner if c.fourcc in (b"ALPH", b"VP8 ", b"VP8L", b"ANIM")]
    return pieces


def _standard_tables(run: int) -> set[bytes]:
    found: set[bytes] = set()
    for kind, ident in ((0, 0), (0, 1), (1, 0), (1, 1)):
        found |= windows(standard_huffman_table(kind, ident).encode(), run)
    return found
