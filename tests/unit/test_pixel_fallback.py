"""The pixel fallback: a damaged JPEG a browser still shows is decoded and written anew.

What a browser shows is libjpeg's decode: a picture that ends early shows grey where its
data is missing, corrupt entropy data decodes to something. The new JPEG holds that
picture, upright, with the ICC profile the caller sanitized, and nothing else: no EXIF,
XMP, IPTC, comment or trailer of the input can survive, whatever the input carried.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from PIL import Image, JpegImagePlugin

from exif_stripper.core.budget import MiB, derived_budget
from exif_stripper.core.errors import TooLarge, Undecodable
from exif_stripper.core.transform import reencode_from_pixels
from tools.bench import turns
from tools.oracle import exiftool_reports, findings
from tools.samples.composition import compose, remove_segments
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.icc import srgb_profile
from tools.samples.jpeg import (
    COM,
    DHT,
    EOI,
    SOS,
    Encoding,
    base_jpeg,
    decode,
    encode_jpeg,
    jpeg_end,
    photo_image,
    psnr,
    segment,
    walk_markers,
)
from tools.samples.metadata import comment_segment, iptc_segment, xmp_segment
from tools.samples.orientation import stored_pixels, upright_size
from tools.samples.ready_made import kitchen_sink
from tools.samples.trailers import samsung_motion_trailer

ICC = srgb_profile()
#: JFIF, the ICC profile, Adobe (CMYK): what libjpeg and Pillow write for colour.
COLOUR_SEGMENTS = {"APP0": b"JFIF\x00", "APP2": b"ICC_PROFILE\x00", "APP14": b"Adobe"}
GREY = (128, 128, 128)


def _photo(*, progressive: bool = False, orientation: int = 6) -> bytes:
    """A camera JPEG stored sideways, with everything that identifies its owner."""
    upright = photo_image(*upright_size((320, 240), orientation), seed=5)
    stored = stored_pixels(upright, orientation)
    base = encode_jpeg(stored, Encoding(quality=90, progressive=progressive))
    metadata = [
        exif_segment(CameraExif(orientation=orientation)),
        xmp_segment(),
        iptc_segment(),
        comment_segment(),
    ]
    return compose(base, metadata, samsung_motion_trailer())


def _scan_start(jpeg: bytes) -> int:
    return walk_markers(jpeg).first(SOS).start


def _shown(damaged: bytes) -> Image.Image:
    """What libjpeg decodes for a JPEG that ends early: its data, then grey."""
    return decode(damaged + EOI)


def _fallback(data: bytes, orientation: int | None = 6) -> bytes:
    return reencode_from_pixels(data, orientation=orientation, icc_profile=ICC, budget=256 * MiB)


def assert_only_pixels_and_colour(jpeg: bytes) -> None:
    for found in walk_markers(jpeg).segments:
        if 0xE0 <= found.marker <= 0xEF or found.marker == COM:
            signature = COLOUR_SEGMENTS.get(found.name)
            assert signature is not None, f"{found.name} in the output"
            assert found.payload(jpeg).startswith(signature)
    assert findings(exiftool_reports([jpeg])[0]) == []


# --- what decodes is re-encoded ---------------------------------------------------------------


def test_a_truncated_photo_is_turned_upright_with_grey_where_data_is_missing() -> None:
    source = _photo()
    cut = source[: _scan_start(source) + 9000]
    output = _fallback(cut)
    expected = _shown(cut).transpose(Image.Transpose.ROTATE_270)
    shown = decode(output)
    assert shown.size == (240, 320)  # upright: the stored 320 x 240 turned
    assert psnr(shown, expected) >= 40
    # The data ends in the stored picture's lower rows: after the turn, its left columns.
    assert shown.convert("RGB").getpixel((5, 300)) == pytest.approx(GREY, abs=2)


def test_a_truncated_progressive_photo_shows_what_its_scans_carry() -> None:
    source = _photo(progressive=True)
    cut = source[: len(source) // 3]
    output = _fallback(cut)
    assert decode(output).size == (240, 320)
    expected = _shown(cut).transpose(Image.Transpose.ROTATE_270)
    assert psnr(decode(output), expected) >= 40


def test_corrupt_entropy_data_decodes_as_libjpeg_decodes_it() -> None:
    source = bytearray(_photo())
    start = _scan_start(bytes(source)) + 4000
    source[start : start + 64] = bytes(range(0, 128, 2))  # garbage, no 0xFF
    output = _fallback(bytes(source), orientation=None)
    assert psnr(decode(output), decode(bytes(source))) >= 40


@pytest.mark.parametrize(
    "marker",
    [b"\xff\xf3", b"\xff\xc8"],  # reserved JPGn, JPG: fatal in libjpeg after a scan
    ids=["JPG3", "JPG"],
)
def test_a_reserved_marker_inside_the_scan_ends_the_picture_there(marker: bytes) -> None:
    source = bytearray(_photo())
    at = _scan_start(bytes(source)) + 9000
    source[at : at + 2] = marker
    output = _fallback(bytes(source), orientation=None)
    expected = _shown(bytes(source[:at]))
    assert psnr(decode(output), expected) >= 40


def test_a_progressive_photo_cut_inside_a_table_shows_the_scans_before_it() -> None:
    source = _photo(progressive=True)
    scans = walk_markers(source).scans
    table = source.rfind(b"\xff\xc4", 0, scans[3].start)  # the DHT before the 4th scan
    cut = source[: table + 10]
    output = _fallback(cut, orientation=None)
    assert psnr(decode(output), _shown(source[:table])) >= 40


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_broken_table_after_the_last_scan_keeps_the_whole_picture(progressive: bool) -> None:
    # libjpeg has shown every row when it meets the table, and stops there (get_dht).
    source = _photo(progressive=progressive)
    eoi = jpeg_end(source) - 2
    broken_dht = segment(DHT, b"\x00" + b"\xff" * 16 + b"\x01" * 5)
    output = _fallback(source[:eoi] + broken_dht + EOI, orientation=None)
    assert psnr(decode(output), decode(source)) >= 40


def test_the_output_holds_the_pixels_and_the_given_icc_profile_and_nothing_else() -> None:
    source = kitchen_sink()  # EXIF, GPS, XMP, IPTC, comment, MPF, trailer, ...
    output = _fallback(source[: len(source) - 100])
    assert_only_pixels_and_colour(output)
    assert Image.open(io.BytesIO(output)).info["icc_profile"] == ICC


def test_without_a_profile_none_is_written() -> None:
    output = reencode_from_pixels(_photo(), orientation=6, icc_profile=None, budget=256 * MiB)
    assert_only_pixels_and_colour(output)
    assert "icc_profile" not in Image.open(io.BytesIO(output)).info


def test_a_picture_that_needs_no_turn_keeps_its_quality() -> None:
    source = _photo()
    stripped = remove_segments(source, range(0xE1, 0xF0))
    output = _fallback(source, orientation=None)
    before = Image.open(io.BytesIO(source))
    after = Image.open(io.BytesIO(output))
    assert isinstance(before, JpegImagePlugin.JpegImageFile)
    assert isinstance(after, JpegImagePlugin.JpegImageFile)
    # Luma blocks stay where they were: its own table gives back its own values. Chroma
    # is subsampled again from what libjpeg upsampled, or written whole, as the sample
    # of the picture shows best (see transform.py).
    assert after.quantization[0] == before.quantization[0]
    assert psnr(decode(output), decode(source)) >= 43
    assert len(output) <= 1.6 * len(stripped)


@pytest.mark.parametrize("layout", ["gray", "CMYK", "YCCK"])
def test_grayscale_and_cmyk_stay_what_they_are(layout: turns.Layout) -> None:
    if not turns.can_make(layout):
        pytest.skip("needs libturbojpeg")
    item = turns.photo(layout, 90, (200, 150), 8)
    output = _fallback(item.jpeg[:-2000], orientation=8)  # truncated, and turned
    shown = decode(output)
    expected = _shown(item.jpeg[:-2000]).transpose(Image.Transpose.ROTATE_90)
    assert shown.mode == expected.mode
    assert turns.native_psnr(shown, expected) >= 40
    assert_only_pixels_and_colour(output)


# --- what does not decode is refused ------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(64), id="not a JPEG"),
        pytest.param(b"\xff\xd8", id="SOI alone"),
        pytest.param(b"", id="empty"),
    ],
)
def test_what_is_not_a_jpeg_is_undecodable(data: bytes) -> None:
    with pytest.raises(Undecodable):
        _fallback(data)


def test_a_photo_that_ends_before_its_first_scan_is_undecodable() -> None:
    source = _photo()
    with pytest.raises(Undecodable):
        _fallback(source[: _scan_start(source)])


def test_a_photo_whose_huffman_table_is_broken_is_undecodable() -> None:
    source = bytearray(_photo())
    table = source.find(b"\xff\xc4")
    source[table + 5 : table + 21] = b"\xff" * 16  # 16 x 255 codes: no Huffman code
    with pytest.raises(Undecodable):
        _fallback(bytes(source))


# --- what costs too much is refused before it is decoded ------------------------------------------


def test_a_picture_over_the_budget_is_refused() -> None:
    with pytest.raises(TooLarge, match="budget for pixel work"):
        reencode_from_pixels(_photo(), orientation=6, icc_profile=None, budget=MiB)


_BOMB = textwrap.dedent(
    """
    import sys
    from exif_stripper.core import budget, transform
    from exif_stripper.core.errors import TooLarge

    def rss():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024

    data = sys.stdin.buffer.read()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM: what follows is measured alone
    before = rss()
    try:
        transform.reencode_from_pixels(
            data, orientation=6, icc_profile=None, budget=budget.derived_budget(2048)
        )
    except TooLarge:
        print(rss() - before)
    """
)


def test_a_small_file_that_declares_240_megapixels_is_refused_without_allocating() -> None:
    # 20,000 x 12,000 pixels declared by a file of a few kB. Decoded and turned, that is
    # two pictures of 4 bytes a pixel: more than the production function's budget.
    bomb = turns.declaring(base_jpeg(64, 48), 20_000, 12_000)
    assert len(bomb) < 10_000
    assert derived_budget(2048) < 20_000 * 12_000 * 2 * 4
    added = subprocess.run(
        [sys.executable, "-c", _BOMB], input=bomb, capture_output=True, check=True
    ).stdout
    assert added, "not refused"
    assert int(added) < 16 * MiB
