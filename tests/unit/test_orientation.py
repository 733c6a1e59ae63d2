"""A photo that displayed upright with its Orientation tag displays upright without it.

Orientations 1-8, on sizes that are whole MCUs (lossless transform) and sizes that are
not (re-encode), for each chroma subsampling. "Upright" is what Pillow's exif_transpose
shows for the input, the way a browser would.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from PIL import Image, JpegImagePlugin

from exif_stripper import transform
from exif_stripper.icc import sanitize_profile
from exif_stripper.sanitize import Options, OrientationPolicy, sanitize_bytes
from tests.harness import samples
from tests.harness.oracle import KEEP_TAG_ALLOWED, exiftool_reports, findings

ORIENTATIONS = range(1, 9)
SUBSAMPLINGS: tuple[samples.Subsampling, ...] = ("4:4:4", "4:2:2", "4:2:0")
WHOLE_MCUS = (64, 48)  # a multiple of 16x16, the largest MCU here
ODD = (61, 47)


def _photo(orientation: int, size: tuple[int, int], subsampling: samples.Subsampling) -> bytes:
    return samples.oriented_jpeg(orientation, size, subsampling=subsampling)


def _decode(jpeg: bytes) -> Image.Image:
    return samples.decode(jpeg).convert("RGB")


def _upright(jpeg: bytes) -> Image.Image:
    return samples.upright_image(jpeg).convert("RGB")


def _apply(jpeg: bytes) -> tuple[bytes, str]:
    result = sanitize_bytes(jpeg, Options(OrientationPolicy.APPLY))
    return result.jpeg, result.report.rotation


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_apply_turns_whole_mcu_pictures_losslessly(
    orientation: int, subsampling: samples.Subsampling
) -> None:
    source = _photo(orientation, WHOLE_MCUS, subsampling)
    output, rotation = _apply(source)
    assert rotation == ("none" if orientation == 1 else "lossless")
    assert Image.open(io.BytesIO(output)).getexif().get(0x0112) is None
    assert samples.psnr(_decode(output), _upright(source)) >= 50


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_apply_turns_odd_sized_pictures_upright(
    orientation: int, subsampling: samples.Subsampling
) -> None:
    source = _photo(orientation, ODD, subsampling)
    output, rotation = _apply(source)
    frame = sanitize_bytes(source, Options(OrientationPolicy.DROP))  # for the geometry
    assert frame.report.width == ODD[0]
    upright = _upright(source)
    assert _decode(output).size == upright.size
    # On a 61x47 picture of hard synthetic edges a second JPEG generation on a shifted
    # block grid costs more than on a photo (see the next test for the 40 dB bar); here
    # the point is the direction: a wrong turn scores below 20 dB.
    threshold = 50 if rotation in ("none", "lossless") else 33
    assert samples.psnr(_decode(output), upright) >= threshold
    # A transpose is exact at any size; flips need whole MCUs along the flipped axis.
    if orientation == 5:
        assert rotation == "lossless"
    if orientation in (3, 7):
        assert rotation == "reencode"


def test_a_wrong_turn_scores_far_below_the_thresholds() -> None:
    source = _photo(3, ODD, "4:2:0")
    assert samples.psnr(_decode(source), _upright(source)) < 20


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:0"])
@pytest.mark.parametrize("orientation", [2, 3, 4, 6, 7, 8])
def test_reencode_of_a_photo_stays_above_40_db(
    orientation: int, subsampling: samples.Subsampling
) -> None:
    # A photo-sized picture (odd, so no lossless path) with a camera's mild sensor grain.
    upright = samples.photo_image(1001, 751, seed=3, noise=4)
    stored = samples.stored_pixels(upright, orientation)
    base = samples.encode_jpeg(stored, samples.Encoding(quality=90, subsampling=subsampling))
    source = samples.compose(
        base, [samples.exif_segment(samples.CameraExif(orientation=orientation))]
    )
    output, rotation = _apply(source)
    assert rotation == "reencode"
    assert samples.psnr(_decode(output), _upright(source)) >= 40


def test_reencode_keeps_the_quantization_tables_and_subsampling() -> None:
    source = _photo(6, ODD, "4:2:2")
    output, rotation = _apply(source)
    assert rotation == "reencode"
    before = Image.open(io.BytesIO(source))
    after = Image.open(io.BytesIO(output))
    assert isinstance(before, JpegImagePlugin.JpegImageFile)
    assert isinstance(after, JpegImagePlugin.JpegImageFile)
    assert after.quantization == before.quantization
    assert JpegImagePlugin.get_sampling(after) == JpegImagePlugin.get_sampling(before)


def test_turned_output_keeps_the_icc_profile_and_drops_all_metadata() -> None:
    profile = samples.large_icc_profile()
    source = samples.compose(samples.oriented_jpeg(6, WHOLE_MCUS), [*samples.icc_segments(profile)])
    output, rotation = _apply(source)
    assert rotation == "lossless"
    kept = Image.open(io.BytesIO(output)).info["icc_profile"]
    assert kept == sanitize_profile(profile).data  # cleaned of its private padding tag
    assert findings(exiftool_reports([output])[0]) == []


@pytest.mark.skipif(shutil.which("jpegtran") is None, reason="jpegtran is not installed")
@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_lossless_path_matches_jpegtran(orientation: int) -> None:
    source = sanitize_bytes(_photo(1, WHOLE_MCUS, "4:2:0")).jpeg
    frame = sanitize_bytes(source).report
    assert (frame.width, frame.height) == WHOLE_MCUS
    ours = transform.make_upright(source, orientation, _frame(source))
    flags = {
        2: ["-flip", "horizontal"],
        3: ["-rotate", "180"],
        4: ["-flip", "vertical"],
        5: ["-transpose"],
        6: ["-rotate", "90"],
        7: ["-transverse"],
        8: ["-rotate", "270"],
    }
    theirs = subprocess.run(
        ["jpegtran", "-perfect", "-copy", "none", *flags[orientation]],
        input=source,
        capture_output=True,
        check=True,
    ).stdout
    assert ours.method is transform.Method.LOSSLESS
    assert _decode(ours.jpeg).tobytes() == _decode(theirs).tobytes()


def _frame(jpeg: bytes) -> transform.Frame:
    from exif_stripper.headers import parse_frame
    from exif_stripper.jpeg import Segment

    sof = samples.walk_markers(jpeg).first(samples.SOF0)
    return parse_frame(Segment(sof.marker, sof.start, sof.payload(jpeg))).frame


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_keep_tag_keeps_only_the_orientation_and_the_stored_pixels(orientation: int) -> None:
    source = _photo(orientation, ODD, "4:2:0")
    result = sanitize_bytes(source, Options(OrientationPolicy.KEEP_TAG))
    report = exiftool_reports([result.jpeg])[0]
    assert findings(report, KEEP_TAG_ALLOWED) == []
    shown = report.values("IFD0", "Orientation")
    assert shown == ([] if orientation == 1 else [orientation])
    assert _decode(result.jpeg).tobytes() == _decode(source).tobytes()
    assert samples.psnr(_upright(result.jpeg), _upright(source)) == float("inf")


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_drop_ignores_orientation(orientation: int) -> None:
    source = _photo(orientation, ODD, "4:2:0")
    result = sanitize_bytes(source, Options(OrientationPolicy.DROP))
    assert result.report.rotation == "none"
    assert Image.open(io.BytesIO(result.jpeg)).getexif().get(0x0112) is None
    assert _decode(result.jpeg).tobytes() == _decode(source).tobytes()


# --- without libjpeg-turbo -----------------------------------------------------------------


@pytest.fixture
def no_turbojpeg(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    transform.turbojpeg.cache_clear()
    monkeypatch.setattr(transform.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(transform, "_LIBRARY_FALLBACK", "libturbojpeg-absent.so.0")
    yield
    transform.turbojpeg.cache_clear()


@pytest.mark.usefixtures("no_turbojpeg")
def test_without_libjpeg_turbo_it_says_so_once_and_reencodes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exif_stripper.transform")
    for orientation in (6, 8):
        source = _photo(orientation, WHOLE_MCUS, "4:2:0")
        output, rotation = _apply(source)
        assert rotation == "reencode"
        assert samples.psnr(_decode(output), _upright(source)) >= 33  # 64x48, as above
    warnings = [r for r in caplog.records if "TurboJPEG library was not found" in r.message]
    assert len(warnings) == 1
