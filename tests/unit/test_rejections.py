"""Bad input gets a typed error that names the reason and the byte offset, and no output.

Then the property: whatever is done to a valid JPEG, the sanitizer either returns a
clean, verified JPEG or raises a `SanitizeError`; never another exception, never a
partial answer.
"""

from __future__ import annotations

import io
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from exif_stripper.core.errors import (
    BadSegment,
    NotAJpeg,
    SanitizeError,
    TooLarge,
    Truncated,
    Undecodable,
    Unsupported,
    UnsupportedFormat,
)
from exif_stripper.core.jpeg import Tokenizer
from exif_stripper.core.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    sanitize_bytes,
    sanitize_stream,
)
from tools.fuzz import properties
from tools.fuzz.seeds import seeds
from tools.samples.composition import compose
from tools.samples.exif import exif_segment
from tools.samples.jpeg import DQT, SOF0, Segment, base_jpeg, segment, walk_markers

PHOTO = compose(base_jpeg(seed=30), [exif_segment()])
LAYOUT = walk_markers(PHOTO)


def _other_image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, fmt)
    return out.getvalue()


def _segment_at(marker: int) -> Segment:
    return LAYOUT.first(marker)


def _with_sof(width: int, height: int, components: int = 3) -> bytes:
    """PHOTO with its frame header rewritten to claim another size or component count."""
    sof = _segment_at(SOF0)
    body = struct.pack(">BHHB", 8, height, width, components)
    body += b"".join(bytes((i + 1, 0x11, 0)) for i in range(components))
    frame = segment(SOF0, body)
    return PHOTO[: sof.start] + frame + PHOTO[sof.end :]


def _reject(data: bytes, **limits: int) -> SanitizeError:
    options = Options(OrientationPolicy.DROP, damaged=DamagedPolicy.REJECT, **limits)
    with pytest.raises(SanitizeError) as caught:
        sanitize_bytes(data, options)
    return caught.value


def test_empty_input_is_an_unsupported_format() -> None:
    error = _reject(b"")
    assert isinstance(error, UnsupportedFormat)
    assert "empty" in error.reason
    assert error.offset == 0


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "BMP"])
def test_an_image_format_we_do_not_take_is_unsupported_whatever_its_name(fmt: str) -> None:
    error = _reject(_other_image(fmt))
    assert isinstance(error, UnsupportedFormat)
    assert fmt in error.reason
    assert error.offset == 0


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_a_png_or_webp_is_sanitized_as_what_it_is_whatever_its_name(fmt: str) -> None:
    result = sanitize_bytes(_other_image(fmt))
    assert result.report.format == fmt.lower()


def test_the_jpeg_path_alone_still_names_a_non_jpeg() -> None:
    # Reached only through the tokenizer itself: the public API names the format first.
    with pytest.raises(NotAJpeg):
        Tokenizer(max_bytes=1 << 20).feed(_other_image("PNG"))


def test_a_header_cut_short_is_truncated_at_the_end_of_the_file() -> None:
    dqt = _segment_at(DQT)
    cut = PHOTO[: dqt.start + 10]
    error = _reject(cut)
    assert isinstance(error, Truncated)
    assert error.offset == len(cut)


def test_a_table_length_that_lies_shorter_is_a_bad_segment() -> None:
    dqt = _segment_at(DQT)
    lying = bytearray(PHOTO)
    struct.pack_into(">H", lying, dqt.start + 2, 40)
    error = _reject(bytes(lying))
    assert isinstance(error, BadSegment)
    assert error.offset == dqt.start


def test_absurd_dimensions_are_too_large() -> None:
    error = _reject(_with_sof(65535, 65535))
    assert isinstance(error, TooLarge)
    assert "65535x65535" in error.reason
    assert error.offset == _segment_at(SOF0).start


def test_the_size_limit_is_configurable() -> None:
    error = _reject(PHOTO, max_bytes=len(PHOTO) - 1)
    assert isinstance(error, TooLarge)
    sanitize_bytes(PHOTO, Options(max_bytes=len(PHOTO)))


def test_a_frame_libjpeg_refuses_is_undecodable_without_a_re_encode() -> None:
    # Nothing can be decoded under a frame header libjpeg refuses (get_sof,
    # initial_setup): no re-encode is tried, whatever the policy.
    error = _reject(_with_sof(0, 48))
    assert isinstance(error, Undecodable)
    assert error.offset == _segment_at(SOF0).start
    with pytest.raises(Undecodable, match="width is 0"):
        sanitize_bytes(_with_sof(0, 48))


def test_height_defined_later_by_dnl_is_unsupported() -> None:
    assert isinstance(_reject(_with_sof(64, 0)), Unsupported)


def test_more_than_four_components_is_unsupported() -> None:
    assert isinstance(_reject(_with_sof(64, 48, components=5)), Unsupported)


def test_hierarchical_jpeg_is_unsupported() -> None:
    dhp = segment(0xDE, struct.pack(">BHHB", 8, 48, 64, 1) + bytes((1, 0x11, 0)))
    error = _reject(compose(PHOTO, [dhp]))
    assert isinstance(error, Unsupported)
    assert "hierarchical" in error.reason


def test_a_scan_before_the_frame_header_is_a_bad_segment() -> None:
    sos = LAYOUT.scans[0]
    sof = _segment_at(SOF0)
    moved = PHOTO[: sof.start] + PHOTO[sof.end : sos.start] + PHOTO[sos.start :]
    error = _reject(moved)
    assert isinstance(error, BadSegment)


def test_a_second_start_of_image_is_a_bad_segment() -> None:
    error = _reject(PHOTO[:2] + PHOTO)
    assert isinstance(error, BadSegment)
    assert error.offset == 2


def test_errors_read_as_one_line_with_code_reason_and_offset() -> None:
    dqt = _segment_at(DQT)
    error = _reject(PHOTO[: dqt.start + 10])
    assert str(error) == f"truncated: {error.reason} (at byte {error.offset})"
    assert "\n" not in str(error)


def test_a_rejected_stream_ends_before_any_output_is_released() -> None:
    # Headers are held back until the first scan, so a file broken before its image
    # data writes nothing at all; later breaks are caught by the caller's discard.
    out = io.BytesIO()
    with pytest.raises(SanitizeError):
        sanitize_stream(io.BytesIO(_with_sof(65535, 65535)), out)
    assert out.getvalue() == b""


# --- the work per byte ----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(sorted(seeds())),
    rng=st.randoms(use_true_random=False),
    chunk=st.integers(1, 512),
)
def test_tokenizer_work_stays_linear_in_the_input(
    name: str, rng: random.Random, chunk: int
) -> None:
    data = properties.mutate(seeds()[name], rng)
    tokenizer = Tokenizer(max_bytes=len(data) + 1, tolerant=True)
    try:
        for start in range(0, len(data), chunk):
            tokenizer.feed(data[start : start + chunk])
        tokenizer.close()
    except SanitizeError:
        pass
    assert tokenizer.copied <= 2 * len(data) + 4
