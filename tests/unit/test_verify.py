"""Fail closed: output that breaks the keep list (docs/design.md "Fail closed") is never released.

The verifier is checked on hand-made outputs, then the whole sanitizer is checked with a
deliberately broken keep/drop rule: the bug must surface as `VerificationFailed`, not as
a dirty JPEG.
"""

from __future__ import annotations

import io

import pytest

from exif_stripper.core import sanitize
from exif_stripper.core.errors import VerificationFailed
from exif_stripper.core.exif import orientation_only_exif
from exif_stripper.core.icc import sanitize_profile
from exif_stripper.core.jpeg import Segment
from exif_stripper.core.sanitize import Options, OrientationPolicy, sanitize_bytes, sanitize_stream
from exif_stripper.core.verify import verify_jpeg
from tools.samples import icc_profiles
from tools.samples.composition import compose, insert_between_scans, reference_strip
from tools.samples.damage import insert_before
from tools.samples.exif import exif_segment
from tools.samples.icc import icc_segments
from tools.samples.jpeg import (
    APP1,
    APP2,
    DHT,
    DQT,
    DRI,
    SOS,
    Encoding,
    base_jpeg,
    photo_image,
    segment,
    walk_markers,
)
from tools.samples.metadata import (
    app_segment,
    comment_segment,
    flashpix_segments,
    iptc_segment,
    jfif_segment,
)
from tools.samples.ready_made import kitchen_sink

CLEAN = reference_strip(compose(base_jpeg(seed=40), []))


def _with(*segments: bytes, trailer: bytes = b"") -> bytes:
    return compose(CLEAN, list(segments), trailer=trailer)


def test_a_clean_jpeg_verifies() -> None:
    verify_jpeg(CLEAN)


@pytest.mark.parametrize(
    ("dirty", "why"),
    [
        (_with(exif_segment()), "APP1"),
        (_with(comment_segment()), "COM"),
        (_with(iptc_segment()), "APP13"),
        (_with(*flashpix_segments()), "APP2"),
        (_with(jfif_segment(photo_image(8, 8))), "APP0"),
        (_with(trailer=b"\x00" * 16), "follow the end-of-image"),
        (
            _with(
                app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
                app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
            ),
            "second Adobe",
        ),
        (
            insert_between_scans(
                reference_strip(base_jpeg(seed=41, encoding=Encoding(progressive=True))),
                [segment(APP2, b"ICC_PROFILE\x00\x01\x01" + bytes(16))],
            ),
            "APP2",
        ),
        (CLEAN[:-2], "not a valid JPEG"),
    ],
    ids=[
        "EXIF",
        "COM",
        "IPTC",
        "FlashPix",
        "JFIF thumbnail",
        "trailer",
        "two Adobe",
        "ICC between scans",
        "no EOI",
    ],
)
def test_dirty_output_fails_verification(dirty: bytes, why: str) -> None:
    with pytest.raises(VerificationFailed, match=why):
        verify_jpeg(dirty)


def _replace(jpeg: bytes, marker: int, new: bytes) -> bytes:
    """`jpeg` with its first segment of this marker replaced by `new` (b"" removes it)."""
    seg = walk_markers(jpeg).first(marker)
    return jpeg[: seg.start] + new + jpeg[seg.end :]


def _payload(jpeg: bytes, marker: int) -> bytes:
    return walk_markers(jpeg).first(marker).payload(jpeg)


DQT_PAYLOAD = _payload(CLEAN, DQT)
CLEAN_PROFILE = sanitize_profile(icc_profiles.matrix_rgb()).data
SOS_PAYLOAD = _payload(CLEAN, SOS)
ALL_ONES_HUFFMAN = bytes((0x00, 2)) + bytes(15) + bytes((0, 1))  # codes 00, 01, 10, 11


@pytest.mark.parametrize(
    ("dirty", "why"),
    [
        (
            insert_before(CLEAN, SOS, segment(DQT, b"\x03" + bytes(64))),
            "next scan does not use",
        ),
        (_replace(CLEAN, DHT, b""), "before it is defined"),
        (
            _replace(
                CLEAN,
                DQT,
                segment(DQT, b"\x20" + DQT_PAYLOAD[1:65] * 2 + DQT_PAYLOAD[65:]),
            ),
            "not in canonical form",
        ),
        (
            _replace(CLEAN, SOS, segment(SOS, SOS_PAYLOAD[:-3] + b"\x01\x3f\x00")),
            "not in canonical form",
        ),
        (
            insert_before(CLEAN, SOS, segment(0xCC, b"\x00\x10")),
            "DAC outside an arithmetic frame",
        ),
        (
            insert_before(CLEAN, SOS, segment(DHT, ALL_ONES_HUFFMAN)),
            "not a valid code",
        ),
        (
            _with(app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01extra")),
            "APP14",
        ),
        (_with(app_segment(14, b"Adobe\x00\x65\x80\x00\x00\x00\x01")), "APP14"),
        (insert_before(CLEAN, DQT, comment_segment("x")), "COM"),
        (
            insert_before(CLEAN, SOS, app_segment(2, b"ICC_PROFILE\x00\x01\x01")),
            "APP2",
        ),
        (
            CLEAN[:-2] + CLEAN[walk_markers(CLEAN).scans[0].start :],
            "scan after a complete image",
        ),
        (
            insert_before(CLEAN, SOS, segment(DRI, b"\x00\x00")),
            "repeats the restart interval",
        ),
        (CLEAN[:2] + b"\xff\x00" + CLEAN[2:], "0xFF00 outside"),
        (_with(*icc_segments(icc_profiles.matrix_rgb())), "ICC profile that is not clean"),
        (
            _with(*icc_segments(CLEAN_PROFILE, chunk_size=100)),
            "ICC chunks not in canonical",
        ),
        (_with(*icc_segments(CLEAN_PROFILE, chunk_size=100)[1:]), "invalid ICC profile"),
    ],
    ids=[
        "unused quantization table",
        "Huffman table not defined",
        "DQT precision 2",
        "sequential scan with Ss=1",
        "DAC in a Huffman frame",
        "Huffman code of all ones",
        "Adobe beyond 12 bytes",
        "Adobe with flags",
        "COM among the tables",
        "ICC after the frame",
        "second scan of a complete image",
        "DRI that changes nothing",
        "junk",
        "ICC profile with identity",
        "ICC profile in small chunks",
        "ICC chunk missing",
    ],
)
def test_a_header_no_decoder_reads_as_written_fails_verification(dirty: bytes, why: str) -> None:
    with pytest.raises(VerificationFailed, match=why):
        verify_jpeg(dirty)


def test_orientation_tag_passes_only_when_allowed_and_only_alone() -> None:
    tag = segment(APP1, orientation_only_exif(6))
    verify_jpeg(_with(tag), allow_orientation_tag=True)
    with pytest.raises(VerificationFailed):
        verify_jpeg(_with(tag))
    with pytest.raises(VerificationFailed):  # anything beyond the one tag
        verify_jpeg(_with(exif_segment()), allow_orientation_tag=True)


@pytest.fixture
def keep_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """A regression in the keep/drop rules: every metadata segment is kept."""

    def keep(self: sanitize._Cutter, segment: Segment) -> None:
        self._out.append(segment.encode())

    monkeypatch.setattr(sanitize._Cutter, "_cut_metadata", keep)


@pytest.mark.usefixtures("keep_everything")
def test_a_keep_drop_bug_is_caught_by_the_bytes_api() -> None:
    with pytest.raises(VerificationFailed):
        sanitize_bytes(kitchen_sink(), Options(OrientationPolicy.DROP))


@pytest.mark.usefixtures("keep_everything")
def test_a_keep_drop_bug_is_caught_by_the_stream_api() -> None:
    with pytest.raises(VerificationFailed):
        sanitize_stream(io.BytesIO(kitchen_sink()), io.BytesIO())
