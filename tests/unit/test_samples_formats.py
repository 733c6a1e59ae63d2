"""The PNG and WebP samples are what they claim to be, judged by readers that are not ours:
exiftool finds the metadata in them, libpng and libwebp (Pillow) decode them, and the
harness's own PNG encoder and reference decoder agree with libpng at every bit depth."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tools.oracle import exiftool_available, exiftool_reports
from tools.samples import png as sp
from tools.samples import webp as sw

pytestmark = pytest.mark.skipif(not exiftool_available(), reason="exiftool not installed")


def test_exiftool_finds_every_kind_of_metadata_in_the_png_sample() -> None:
    (report,) = exiftool_reports([sp.photo_png()])
    # once from eXIf, once from ImageMagick's hex-encoded "Raw profile type exif"
    assert report.values("GPS", "GPSLatitude") == [48.858222, 48.858222]
    assert report.has("IFD0", "Make")
    assert report.has("XMP-exif", "GPSLatitude")
    assert report.values("PNG", "Author") == ["Jane Photographer"]
    assert report.values("PNG", "ProfileName") == ["Alice's ColorEdge CG277"]
    assert "Alice" in str(report.values("ICC_Profile", "ProfileDescription"))
    assert report.has("PNG", "ModifyDate")  # tIME
    # (exiftool 12.57 stops at the C2PA box here: it mistakes it for the eXIf's IFD0 again)
    assert any("JUMBF" in warning for warning in report.warnings)
    assert report.has("File", "Trailer") or any("IEND" in w for w in report.warnings)


def test_exiftool_finds_every_kind_of_metadata_in_the_webp_samples() -> None:
    for data in (sw.photo_webp(), sw.photo_webp(animated=True, lossless=True)):
        (report,) = exiftool_reports([data])
        assert report.values("GPS", "GPSLatitude") == [48.858222]
        assert report.has("XMP-exif", "GPSLatitude")
        assert "Alice" in str(report.values("ICC_Profile", "ProfileDescription"))


@pytest.mark.parametrize(
    "data",
    [sp.photo_png(), sp.apng(), sw.photo_webp(), sw.photo_webp(alpha=True, animated=True)],
    ids=["png", "apng", "webp", "animated webp"],
)
def test_pillow_decodes_every_frame_of_the_samples(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        frames = getattr(image, "n_frames", 1)
        for index in range(frames):
            image.seek(index)
            image.load()
    assert frames >= 1


@pytest.mark.parametrize(("colour_type", "depth"), [(0, 1), (0, 2), (0, 4), (0, 8), (3, 4)])
@pytest.mark.parametrize("interlaced", [False, True])
def test_the_harness_encoder_and_decoder_agree_with_libpng(
    colour_type: int, depth: int, interlaced: bool
) -> None:
    raster = sp.random_raster(13, 9, depth, colour_type, seed=depth)
    palette = bytes(range(256)) * 3 if colour_type == 3 else None
    png = sp.encode_png(raster, interlaced=interlaced, palette=palette)
    assert sp.reference_decode(png) == raster
    with Image.open(io.BytesIO(png)) as image:
        # Pillow reads low-depth grey scaled up to 8 bits and palette indices as they are.
        scale = 1 if colour_type == 3 else 255 // ((1 << depth) - 1)
        pixels = image.convert("L") if image.mode == "1" else image
        assert pixels.tobytes() == bytes(v * scale for v in raster.cells)


@pytest.mark.parametrize(("colour_type", "raw_modes"), [(2, ("RGB", "RGB;16B", "RGB;16L"))])
def test_the_harness_agrees_with_libpng_at_16_bits_a_sample(
    colour_type: int, raw_modes: tuple[str, str, str]
) -> None:
    # Pillow keeps only the high byte of 16-bit colour; its PNG decoder ("zip") reads the
    # low bytes too when told the samples are little-endian.
    raster = sp.random_raster(7, 5, 16, colour_type, seed=3)
    png = sp.encode_png(raster)
    assert sp.reference_decode(png) == raster
    data = b"".join(c.payload for c in sp.walk(png) if c.kind == b"IDAT")
    mode, high, low = raw_modes
    assert Image.frombytes(mode, (7, 5), data, "zip", high).tobytes() == raster.cells[0::2]
    assert Image.frombytes(mode, (7, 5), data, "zip", low).tobytes() == raster.cells[1::2]
