"""Large inputs for the benchmark: a corpus of camera-sized photos (deterministic, cached on
disk), and a large JPEG streamed to disk from repeated restart intervals (ITU T.81 B.2.4.4,
F.1.2.3) with the rows a decoder must find in it.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from tools.samples.composition import compose
from tools.samples.exif import exif_segment
from tools.samples.icc import icc_segments, srgb_profile
from tools.samples.jpeg import (
    EOI,
    RST0,
    SOF0,
    SOS,
    Encoding,
    base_jpeg,
    decode,
    encode_jpeg,
    photo_image,
    walk_markers,
)
from tools.samples.metadata import xmp_segment
from tools.samples.ready_made import camera_exif_with_thumbnail

# =========================================================================================
# Benchmark corpus: camera-sized photos, deterministic, cached on disk
# =========================================================================================

#: Bump when the generator's output changes, so cached corpus files are not reused.
CORPUS_VERSION = 1


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus of camera photos (12 MP, quality 90 by default: 3-6 MB each)."""

    count: int = 12
    width: int = 4000
    height: int = 3000
    quality: int = 90
    seed: int = 0

    def digest(self, index: int) -> str:
        key = f"{CORPUS_VERSION}|{self.width}x{self.height}|q{self.quality}|{self.seed}|{index}"
        return hashlib.sha256(key.encode()).hexdigest()[:12]


def camera_photo(
    width: int = 4000, height: int = 3000, *, quality: int = 90, seed: int = 0
) -> bytes:
    """One realistic camera file: EXIF (GPS, serials, maker note, thumbnail), XMP, ICC.

    The grain varies with the seed (like ISO between shots), so 12 MP files at quality 90
    weigh 3 to 5 MB, as a phone's or a camera's do.
    """
    noise = 10 + 2 * (seed % 4)
    base = base_jpeg(width, height, seed=seed, encoding=Encoding(quality=quality), noise=noise)
    segments = [
        exif_segment(camera_exif_with_thumbnail(seed)),
        xmp_segment(),
        *icc_segments(srgb_profile()),
    ]
    return compose(base, segments)


def corpus_paths(directory: Path, spec: CorpusSpec = CorpusSpec()) -> list[Path]:
    """Where `write_corpus` puts each photo (the name carries the parameters' digest)."""
    return [directory / f"camera-{i:03d}-{spec.digest(i)}.jpg" for i in range(spec.count)]


def write_corpus(directory: Path, spec: CorpusSpec = CorpusSpec()) -> list[Path]:
    """Write the corpus, reusing files generated earlier with the same parameters."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = corpus_paths(directory, spec)
    for index, path in enumerate(paths):
        if path.exists():
            continue
        data = camera_photo(spec.width, spec.height, quality=spec.quality, seed=spec.seed + index)
        _write_atomically(path, data)
    return paths


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)


# =========================================================================================
# A large JPEG, streamed: repeated restart intervals (T.81 B.2.4.4, F.1.2.3)
# =========================================================================================


@dataclass(frozen=True)
class LargeJpeg:
    path: Path
    width: int
    height: int
    size: int
    #: The strip whose MCU rows repeat down the image (decode it to know every pixel).
    strip: bytes


#: Rows of 8x8 MCUs in the strip that repeats (4:4:4 keeps an MCU row 8 pixels tall).
_STRIP_MCU_ROWS = 16


def large_jpeg_strip(width: int = 4096, *, quality: int = 100, seed: int = 0) -> bytes:
    """The building block: a baseline 4:4:4 JPEG, 128 px tall, a restart marker every MCU row.

    Half photo, half colour noise at quality 100 costs about 3.4 bytes per pixel, so a
    200 MB file is about 60 MP: below Pillow's decompression-bomb warning (89 MP) and
    below the pixel limits a sanitizer sensibly sets, yet as large as files get.
    """
    height = 8 * _STRIP_MCU_ROWS
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    image = Image.blend(photo_image(width, height, seed=seed, noise=0), noise, 0.5)
    return encode_jpeg(image, Encoding(quality=quality, subsampling="4:4:4", restart_rows=1))


def write_large_jpeg(
    path: Path,
    target_bytes: int = 200 * 1024 * 1024,
    *,
    width: int = 4096,
    quality: int = 100,
    seed: int = 0,
) -> LargeJpeg:
    """Stream a valid baseline JPEG of about `target_bytes` to `path` in bounded memory.

    A JPEG cannot be concatenated, but a restart interval can be repeated: at each RSTn
    the decoder resets its DC predictions and byte-aligns (T.81 F.1.2.3), so the
    entropy-coded data of one MCU row, restart-aligned, decodes the same wherever it sits.
    The strip (see `large_jpeg_strip`) is encoded once with DRI = one MCU row; its rows are
    then written again and again, each followed by the next RSTn (numbers cycle 0..7), and
    SOF's height is patched to the total. 4:4:4 means no chroma upsampling across rows, so
    every pixel equals the strip's pixel at the same row modulo the strip height. Memory:
    one strip (a few MB), whatever the file size. JPEG heights stop at 65535 pixels, so a
    target too large for the width raises ValueError.
    """
    strip = large_jpeg_strip(width, quality=quality, seed=seed)
    layout = walk_markers(strip)
    scan = layout.first(SOS)
    sof = layout.first(SOF0)
    header_end = scan.start + 2 + struct.unpack_from(">H", strip, scan.start + 2)[0]
    intervals = restart_intervals(strip[header_end : scan.end])
    per_row = sum(len(i) + 2 for i in intervals) / len(intervals)
    rows = max(1, round((target_bytes - header_end - 2) / per_row))
    if rows * 8 > 65535:
        raise ValueError(f"{target_bytes} bytes need a wider image than {width} px")
    height = rows * 8
    header = bytearray(strip[:header_end])
    struct.pack_into(">H", header, sof.start + 5, height)  # SOF: P, then Y (T.81 B.2.2)
    with path.open("wb") as out:
        out.write(header)
        write_restarted_rows(out, intervals, rows)
        out.write(EOI)
    return LargeJpeg(path, width, height, path.stat().st_size, strip)


def restart_intervals(entropy: bytes) -> list[bytes]:
    """Split entropy-coded data at its RSTn markers (stuffed 0xFF00 bytes never match)."""
    intervals = []
    start = 0
    pos = 0
    while True:
        ff = entropy.find(b"\xff", pos)
        if ff < 0:
            intervals.append(entropy[start:])
            return intervals
        if 0xD0 <= entropy[ff + 1] <= 0xD7:
            intervals.append(entropy[start:ff])
            start = ff + 2
        pos = ff + 2


def write_restarted_rows(out: BinaryIO, intervals: Sequence[bytes], rows: int) -> None:
    """Write the rows' data with RSTn between rows (not after the last), 1 MiB at a time."""
    batch = bytearray()
    for row in range(rows):
        batch += intervals[row % len(intervals)]
        if row < rows - 1:
            batch += bytes((0xFF, RST0 + row % 8))
        if len(batch) >= 1 << 20:
            out.write(batch)
            batch.clear()
    out.write(batch)


def expected_large_rows(strip: bytes, height: int) -> Iterator[tuple[int, Image.Image]]:
    """(y, pixels) of each strip-high band of a large JPEG, from the decoded strip."""
    tile = decode(strip)
    for y in range(0, height, tile.height):
        yield y, tile.crop((0, 0, tile.width, min(tile.height, height - y)))
