"""A JPEG that cannot be passed on losslessly, but that libjpeg decodes, is re-encoded.

The damage used here is a second frame header after the image data of a complete
baseline picture: libjpeg (and so a browser) has shown every row by the time it reads it
and stops there, but the lossless path refuses to copy a header no decoder accepts. The
fallback decodes the pixels as a browser does, turns them upright, and encodes them
again with the cleaned ICC profile; the result goes through the lossless path itself,
so it is canonical and verified. It is never used for what is not a JPEG, for what is
too large, or when the setting says `reject`.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from exif_stripper.core.errors import (
    BadChunk,
    BadSegment,
    SanitizeError,
    TooLarge,
    Undecodable,
    UnsupportedFormat,
)
from exif_stripper.core.icc import sanitize_profile
from exif_stripper.core.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    sanitize_bytes,
    sanitize_stream,
)
from exif_stripper.core.verify import verify_jpeg
from tools.oracle import KEEP_TAG_ALLOWED, exiftool_reports, findings
from tools.samples import icc_profiles
from tools.samples.composition import compose
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.icc import icc_segments
from tools.samples.jpeg import (
    DQT,
    EOI,
    SOF0,
    Encoding,
    base_jpeg,
    decode,
    encode_jpeg,
    photo_image,
    psnr,
    walk_markers,
)
from tools.samples.metadata import iptc_segment, xmp_segment
from tools.samples.orientation import stored_pixels, upright_size
from tools.samples.trailers import samsung_motion_trailer

PROFILE = icc_profiles.matrix_rgb()


def _damaged(orientation: int = 1, *, profile: bytes | None = None) -> bytes:
    """A camera photo (EXIF, XMP, IPTC, a trailer) with a second frame header after its
    image data (libjpeg: "two SOF markers", after every row is shown)."""
    upright = photo_image(*upright_size((160, 120), orientation), seed=9)
    stored = stored_pixels(upright, orientation)
    base = encode_jpeg(stored, Encoding(quality=90))
    metadata = [
        exif_segment(CameraExif(orientation=orientation)),
        xmp_segment(),
        iptc_segment(),
        *(icc_segments(profile) if profile else []),
    ]
    photo = compose(base, metadata)
    frame = walk_markers(photo).first(SOF0)
    second = photo[frame.start : frame.end]
    return photo[:-2] + second + EOI + samsung_motion_trailer()


def _libjpeg(jpeg: bytes) -> Image.Image:
    done = subprocess.run(["djpeg", "-pnm"], input=jpeg, capture_output=True, check=False)
    return Image.open(io.BytesIO(done.stdout))


def test_the_damage_is_refused_by_the_lossless_path_and_shown_by_libjpeg() -> None:
    data = _damaged()
    with pytest.raises(BadSegment):
        sanitize_bytes(data, Options(damaged=DamagedPolicy.REJECT))
    assert _libjpeg(data).size == (160, 120)


def test_a_damaged_photo_is_re_encoded_with_nothing_but_pixels_and_colour() -> None:
    data = _damaged()
    result = sanitize_bytes(data)
    assert result.report.method == "re-encoded"
    assert "bad-segment" in result.report.reason
    assert findings(exiftool_reports([result.jpeg])[0]) == []
    names = set(walk_markers(result.jpeg).names())
    assert names <= {"SOI", "APP0", "APP2", "APP14", "DQT", "DHT", "DRI", "SOS", "EOI"} | {
        "SOF0",
        "SOF1",
        "SOF2",
    }
    verify_jpeg(result.jpeg)
    assert psnr(decode(result.jpeg), _libjpeg(data)) >= 40
    assert sanitize_bytes(result.jpeg).jpeg == result.jpeg  # canonical already


def test_the_re_encode_turns_the_pixels_upright() -> None:
    data = _damaged(orientation=6)
    result = sanitize_bytes(data)
    assert (result.report.method, result.report.rotation) == ("re-encoded", "reencode")
    shown = decode(result.jpeg)
    assert shown.size == (120, 160)
    upright = _libjpeg(data).transpose(Image.Transpose.ROTATE_270)
    assert psnr(shown, upright) >= 40


def test_keep_tag_keeps_only_the_orientation_on_a_re_encode() -> None:
    data = _damaged(orientation=6)
    result = sanitize_bytes(data, Options(OrientationPolicy.KEEP_TAG))
    assert result.report.rotation == "tag-kept"
    report = exiftool_reports([result.jpeg])[0]
    assert findings(report, KEEP_TAG_ALLOWED) == []
    assert report.values("IFD0", "Orientation") == [6]
    assert decode(result.jpeg).size == (160, 120)  # stored, not turned


def test_the_re_encode_carries_the_cleaned_icc_profile() -> None:
    result = sanitize_bytes(_damaged(profile=PROFILE))
    assert result.report.method == "re-encoded"
    kept = Image.open(io.BytesIO(result.jpeg)).info["icc_profile"]
    assert kept == sanitize_profile(PROFILE).data
    assert icc_profiles.canary_hits(result.jpeg) == []


def test_a_stream_is_read_again_for_the_re_encode() -> None:
    data = _damaged()

    class Again:
        out = io.BytesIO()

        def reread(self) -> bytes:
            return data

        def restart(self) -> io.BytesIO:
            self.out = io.BytesIO()
            return self.out

    again = Again()
    report = sanitize_stream(io.BytesIO(data), io.BytesIO(), fallback=again)
    assert report.method == "re-encoded"
    assert again.out.getvalue() == sanitize_bytes(data).jpeg
    with pytest.raises(BadSegment):  # without a way to read it again: refused
        sanitize_stream(io.BytesIO(data), io.BytesIO())


@pytest.mark.parametrize(
    ("data", "options", "error"),
    [
        (b"GIF89a" + bytes(64), Options(), UnsupportedFormat),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), Options(), BadChunk),
        (_damaged(), Options(max_bytes=1000), TooLarge),
        (_damaged(), Options(damaged=DamagedPolicy.REJECT), BadSegment),
    ],
    ids=["not an image", "a broken PNG", "too large", "policy reject"],
)
def test_never_re_encoded(data: bytes, options: Options, error: type[SanitizeError]) -> None:
    with pytest.raises(error):
        sanitize_bytes(data, options)


def test_a_frame_whose_components_share_an_id_is_re_encoded() -> None:
    # libjpeg matches scan components to frame components in order, so it decodes a
    # frame that names one id three times (old encoders wrote that); the lossless path
    # tracks components by id and refuses it.
    photo = bytearray(base_jpeg(160, 120, seed=9))
    layout = walk_markers(bytes(photo))
    ids = layout.first(SOF0).start + 10, layout.scans[0].start + 5
    for at in ids:
        photo[at] = photo[at + (2 if at == ids[1] else 3)] = photo[
            at + (4 if at == ids[1] else 6)
        ] = 1
    data = bytes(photo)
    result = sanitize_bytes(data)
    assert result.report.method == "re-encoded"
    assert "appears twice" in result.report.reason
    assert psnr(decode(result.jpeg), _libjpeg(data)) >= 40


def test_what_libjpeg_cannot_decode_either_is_undecodable() -> None:
    photo = base_jpeg(seed=3)
    dqt = walk_markers(photo).first(DQT)
    with pytest.raises(Undecodable) as caught:
        sanitize_bytes(photo[: dqt.start + 20])
    assert "truncated" not in caught.value.code
    assert "ends" in caught.value.reason  # the lossless pass's reason is kept


def test_re_encoding_is_refused_beyond_the_memory_budget() -> None:
    with pytest.raises(TooLarge):
        sanitize_bytes(_damaged(), Options(pixel_budget=64 * 1024))


def test_the_cli_re_encodes_a_damaged_file_and_a_damaged_stdin(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(_damaged())
    cli = [sys.executable, "-m", "exif_stripper.cli", "strip"]
    done = subprocess.run([*cli, str(source), str(target)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == sanitize_bytes(_damaged()).jpeg
    piped = subprocess.run([*cli, "-", "-"], input=_damaged(), capture_output=True, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == target.read_bytes()
    refused = subprocess.run(
        [*cli, "--damaged", "reject", "-", "-"], input=_damaged(), capture_output=True, check=False
    )
    assert refused.returncode == 3
    assert refused.stdout == b""


def test_inspect_says_strip_would_re_encode_it() -> None:
    from exif_stripper.core.inspection import inspect_stream

    result = inspect_stream(io.BytesIO(_damaged()))
    assert result.rejected is None
    assert result.reencoded is not None
    assert "second frame header" in result.reencoded


def test_a_frame_with_a_sampling_factor_of_0_is_undecodable_for_the_pixel_work() -> None:
    # Found by the fuzzer: the pixel work divided by a frame's sampling factors before it
    # checked them. The sanitizer itself refuses such a frame as undecodable without
    # trying (headers.parse_frame), but the fallback can still meet one the lossless pass
    # never read as the frame.
    from exif_stripper.core.transform import reencode_from_pixels

    photo = bytearray(base_jpeg(16, 16, seed=32, mode="CMYK"))
    photo[walk_markers(bytes(photo)).first(SOF0).start + 11] = 0x10  # 1x0
    with pytest.raises(Undecodable):
        reencode_from_pixels(bytes(photo), orientation=None, icc_profile=None, budget=1 << 28)
