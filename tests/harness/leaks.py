"""Did any dropped byte reach the output? A check shared by the damage tests and the fuzzer.

The sanitizer reports every region it drops (`on_removed`). A run of `RUN` bytes of a
dropped region that shows up in the output's image data is a leak, unless the same run
also occurs in what the input kept (two segments may share bytes: a thumbnail's Huffman
tables are often the primary's) or is one of the tables a decoder fills in itself
(T.81 K.3). The output's header up to its first scan is written from parsed fields and
checked segment by segment by the verifier; its framing (SOI, a JFIF header, marker
and length bytes) naturally matches an embedded thumbnail's, so it explains itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from exif_stripper.headers import standard_huffman_table
from exif_stripper.jpeg import EntropyData, Tokenizer
from exif_stripper.sanitize import Removed

RUN = 16


def windows(data: bytes, run: int = RUN) -> set[bytes]:
    return {data[i : i + run] for i in range(len(data) - run + 1)}


def leaked_runs(
    data: bytes, output: bytes, removed: Sequence[Removed], run: int = RUN
) -> list[tuple[Removed, bytes]]:
    """(region, run) for every run of a dropped region that the output holds."""
    regions = sorted((item.offset, item.offset + item.size) for item in removed)
    kept = bytearray()
    position = 0
    for start, end in regions:
        if start > position:
            kept += data[position:start]
        # No run spans a dropped region; a kept part may be followed by a marker, as here.
        kept += b"\xff" + b"\x00" * run
        position = max(position, end)
    kept += data[position:]
    explained = windows(bytes(kept), run) | _standard_tables(run)
    explained |= windows(output[: _first_image_data(output)], run)
    in_output = windows(output, run) - explained
    leaks = []
    for item in removed:
        region = data[item.offset : item.offset + item.size]
        for i in range(len(region) - run + 1):
            if region[i : i + run] in in_output:
                leaks.append((item, region[i : i + run]))
                break
    return leaks


def _first_image_data(jpeg: bytes) -> int:
    tokens = Tokenizer(max_bytes=len(jpeg))
    found = next((t for t in tokens.feed(jpeg) if isinstance(t, EntropyData)), None)
    return len(jpeg) if found is None else found.offset


def _standard_tables(run: int) -> set[bytes]:
    found: set[bytes] = set()
    for kind, ident in ((0, 0), (0, 1), (1, 0), (1, 1)):
        found |= windows(standard_huffman_table(kind, ident).encode(), run)
    return found
