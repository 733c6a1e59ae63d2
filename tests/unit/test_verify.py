"""Fail closed: output that breaks SPEC §1's keep list is never released.

The verifier is checked on hand-made outputs, then the whole sanitizer is checked with a
deliberately broken keep/drop rule: the bug must surface as `VerificationFailed`, not as
a dirty JPEG.
"""

from __future__ import annotations

import io

import pytest

from exif_stripper import sanitize
from exif_stripper.errors import VerificationFailed
from exif_stripper.exif import orientation_only_exif
from exif_stripper.jpeg import Segment
from exif_stripper.sanitize import Options, OrientationPolicy, sanitize_bytes, sanitize_stream
from exif_stripper.verify import verify_jpeg
from tests.harness import samples

CLEAN = samples.reference_strip(samples.compose(samples.base_jpeg(seed=40), []))


def _with(*segments: bytes, trailer: bytes = b"") -> bytes:
    return samples.compose(CLEAN, list(segments), trailer=trailer)


def test_a_clean_jpeg_verifies() -> None:
    verify_jpeg(CLEAN)


@pytest.mark.parametrize(
    ("dirty", "why"),
    [
        (_with(samples.exif_segment()), "APP1"),
        (_with(samples.comment_segment()), "COM"),
        (_with(samples.iptc_segment()), "APP13"),
        (_with(*samples.flashpix_segments()), "APP2"),
        (_with(samples.jfif_segment(samples.photo_image(8, 8))), "APP0"),
        (_with(trailer=b"\x00" * 16), "follow the end-of-image"),
        (
            _with(
                samples.app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
                samples.app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
            ),
            "second Adobe",
        ),
        (
            samples.insert_between_scans(
                samples.reference_strip(
                    samples.base_jpeg(seed=41, encoding=samples.Encoding(progressive=True))
                ),
                [samples.segment(samples.APP2, b"ICC_PROFILE\x00\x01\x01" + bytes(16))],
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


def test_orientation_tag_passes_only_when_allowed_and_only_alone() -> None:
    tag = samples.segment(samples.APP1, orientation_only_exif(6))
    verify_jpeg(_with(tag), allow_orientation_tag=True)
    with pytest.raises(VerificationFailed):
        verify_jpeg(_with(tag))
    with pytest.raises(VerificationFailed):  # anything beyond the one tag
        verify_jpeg(_with(samples.exif_segment()), allow_orientation_tag=True)


@pytest.fixture
def keep_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """A regression in the keep/drop rules: every metadata segment is kept."""

    def keep(self: sanitize._Cutter, segment: Segment) -> None:
        self._out.append(segment.encode())

    monkeypatch.setattr(sanitize._Cutter, "_cut_metadata", keep)


@pytest.mark.usefixtures("keep_everything")
def test_a_keep_drop_bug_is_caught_by_the_bytes_api() -> None:
    with pytest.raises(VerificationFailed):
        sanitize_bytes(samples.kitchen_sink(), Options(OrientationPolicy.DROP))


@pytest.mark.usefixtures("keep_everything")
def test_a_keep_drop_bug_is_caught_by_the_stream_api() -> None:
    with pytest.raises(VerificationFailed):
        sanitize_stream(io.BytesIO(samples.kitchen_sink()), io.BytesIO())
