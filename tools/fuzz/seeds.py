"""The fuzzer's seeds, made in code: small images of every shape the sanitizer meets (JPEG,
PNG, APNG, WebP), with metadata in every place.

    python -m tools.fuzz.seeds DIR        # one file per seed (`make fuzz` does, for atheris)

tests/unit/test_fuzz.py mutates the same seeds in its short fixed-seed pass.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from tools.samples import png as samples_png
from tools.samples import webp as samples_webp
from tools.samples.composition import compose
from tools.samples.damage import cut_in_scan, insert_at, with_length
from tools.samples.exif import exif_segment
from tools.samples.icc import icc_segments, srgb_profile
from tools.samples.jpeg import APP1, SOF0, Encoding, base_jpeg, photo_image, walk_markers
from tools.samples.metadata import iptc_segment
from tools.samples.orientation import oriented_jpeg
from tools.samples.ready_made import camera_exif_with_thumbnail, kitchen_sink, mpo_sample

# --- seeds ---------------------------------------------------------------------------------------


@cache
def seeds() -> Mapping[str, bytes]:
    """Small images of every shape the sanitizer meets, with metadata in every place."""
    return {**jpeg_seeds(), **png_and_webp_seeds()}


@cache
def jpeg_seeds() -> Mapping[str, bytes]:
    """Small JPEGs of every shape the sanitizer meets, with metadata in every place."""
    exif = exif_segment(camera_exif_with_thumbnail(3))
    base = compose(base_jpeg(seed=30), [exif_segment()])
    return {
        "baseline with EXIF": base,
        "progressive kitchen sink": kitchen_sink(width=64, height=48),
        "restart markers": base_jpeg(48, 32, seed=31, encoding=Encoding(restart_rows=1)),
        "orientation 6, odd size": oriented_jpeg(6, (21, 13)),
        "orientation 3, whole MCUs": oriented_jpeg(3, (32, 16)),
        "CMYK with Adobe": base_jpeg(16, 16, seed=32, mode="CMYK"),
        "grey with IPTC": compose(base_jpeg(24, 16, seed=33, mode="L"), [iptc_segment()]),
        "EXIF thumbnail": compose(base_jpeg(32, 24, seed=34), [exif]),
        "MPO": mpo_sample(width=32, height=24),
        "ICC in chunks": compose(
            base_jpeg(16, 16, seed=35),
            icc_segments(srgb_profile(), chunk_size=200),
        ),
        "junk and a lying length": _lying_exif_after_junk(base),
        "cut inside a scan": cut_in_scan(kitchen_sink(width=32, height=24)),
    }


@cache
def png_and_webp_seeds() -> Mapping[str, bytes]:
    """Small PNGs, APNGs and WebPs: every chunk kind, turned and still, still and animated."""
    grey16 = samples_png.random_raster(9, 7, 16, 4, seed=40)
    palette = samples_png.random_raster(11, 5, 2, 3, seed=41)
    return {
        "PNG with every metadata chunk": samples_png.photo_png(24, 16),
        "PNG RGBA orientation 6": samples_png.photo_png(16, 12, orientation=6, mode="RGBA"),
        "APNG orientation 5": samples_png.apng(16, 12, frames=3, orientation=5),
        "APNG, still image apart": samples_png.apng(16, 12, frames=2, default_image_is_frame=False),
        "PNG 16-bit grey+alpha, interlaced, orientation 8": samples_png.encode_png(
            grey16, interlaced=True, extra=[samples_png.exif_chunk(8)]
        ),
        "PNG 2-bit palette orientation 7": samples_png.encode_png(
            palette, palette=bytes(range(12)), extra=[samples_png.exif_chunk(7)], idat_size=16
        ),
        "WebP lossy with alpha, orientation 3": samples_webp.photo_webp(
            16, 12, alpha=True, orientation=3
        ),
        "WebP lossless orientation 6": samples_webp.photo_webp(
            16, 12, lossless=True, orientation=6
        ),
        "WebP animation": samples_webp.photo_webp(16, 12, animated=True, lossless=True),
        "WebP without VP8X": samples_webp.pillow_webp(photo_image(16, 12)),
    }


def _lying_exif_after_junk(jpeg: bytes) -> bytes:
    frame = walk_markers(jpeg).first(SOF0).start
    lying = with_length(jpeg, APP1, -40)
    return insert_at(lying, frame, b"\x00junk\xff\x00\xff\xd3")


def write_seeds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for data in seeds().values():
        path = directory / hashlib.sha256(data).hexdigest()[:16]
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the fuzzer's seeds")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    paths = write_seeds(args.directory)
    print(f"{len(paths)} seeds in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
