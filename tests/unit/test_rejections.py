"""Bad input gets a typed error that names the reason and the byte offset, and no output.

Then the property: whatever is done to a valid JPEG, the sanitizer either returns a
clean, verified JPEG or raises a `SanitizeError`; never another exception, never a
partial answer.
"""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from exif_stripper.errors import (
    BadSegment,
    NotAJpeg,
    SanitizeError,
    TooLarge,
    Truncated,
    Unsupported,
)
from exif_stripper.jpeg import Tokenizer
from exif_stripper.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    sanitize_bytes,
    sanitize_stream,
)
from tests.harness import samples

PHOTO = samples.compose(samples.base_jpeg(seed=30), [samples.exif_segment()])
LAYOUT = samples.walk_markers(PHOTO)


def _other_image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, fmt)
    return out.getvalue()


def _segment_at(marker: int) -> samples.Segment:
    return LAYOUT.first(marker)


def _with_sof(width: int, height: int, components: int = 3) -> bytes:
    """PHOTO with its frame header rewritten to claim another size or component count."""
    sof = _segment_at(samples.SOF0)
    body = struct.pack(">BHHB", 8, height, width, components)
    body += b"".join(bytes((i + 1, 0x11, 0)) for i in range(components))
    segment = samples.segment(samples.SOF0, body)
    return PHOTO[: sof.start] + segment + PHOTO[sof.end :]


def _reject(data: bytes, **limits: int) -> SanitizeError:
    options = Options(OrientationPolicy.DROP, damaged=DamagedPolicy.REJECT, **limits)
    with pytest.raises(SanitizeError) as caught:
        sanitize_bytes(data, options)
    return caught.value


def test_empty_input_is_not_a_jpeg() -> None:
    error = _reject(b"")
    assert isinstance(error, NotAJpeg)
    assert "empty" in error.reason
    assert error.offset == 0


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_another_image_format_named_jpg_is_not_a_jpeg(fmt: str) -> None:
    error = _reject(_other_image(fmt))
    assert isinstance(error, NotAJpeg)
    assert error.offset == 0


def test_a_header_cut_short_is_truncated_at_the_end_of_the_file() -> None:
    dqt = _segment_at(samples.DQT)
    cut = PHOTO[: dqt.start + 10]
    error = _reject(cut)
    assert isinstance(error, Truncated)
    assert error.offset == len(cut)


def test_a_table_length_that_lies_shorter_is_a_bad_segment() -> None:
    dqt = _segment_at(samples.DQT)
    lying = bytearray(PHOTO)
    struct.pack_into(">H", lying, dqt.start + 2, 40)
    error = _reject(bytes(lying))
    assert isinstance(error, BadSegment)
    assert error.offset == dqt.start


def test_absurd_dimensions_are_too_large() -> None:
    error = _reject(_with_sof(65535, 65535))
    assert isinstance(error, TooLarge)
    assert "65535x65535" in error.reason
    assert error.offset == _segment_at(samples.SOF0).start


def test_the_size_limit_is_configurable() -> None:
    error = _reject(PHOTO, max_bytes=len(PHOTO) - 1)
    assert isinstance(error, TooLarge)
    sanitize_bytes(PHOTO, Options(max_bytes=len(PHOTO)))


def test_zero_width_is_a_bad_segment() -> None:
    assert isinstance(_reject(_with_sof(0, 48)), BadSegment)


def test_height_defined_later_by_dnl_is_unsupported() -> None:
    assert isinstance(_reject(_with_sof(64, 0)), Unsupported)


def test_more_than_four_components_is_unsupported() -> None:
    assert isinstance(_reject(_with_sof(64, 48, components=5)), Unsupported)


def test_hierarchical_jpeg_is_unsupported() -> None:
    dhp = samples.segment(0xDE, struct.pack(">BHHB", 8, 48, 64, 1) + bytes((1, 0x11, 0)))
    error = _reject(samples.compose(PHOTO, [dhp]))
    assert isinstance(error, Unsupported)
    assert "hierarchical" in error.reason


def test_a_scan_before_the_frame_header_is_a_bad_segment() -> None:
    sos = LAYOUT.scans[0]
    sof = _segment_at(samples.SOF0)
    moved = PHOTO[: sof.start] + PHOTO[sof.end : sos.start] + PHOTO[sos.start :]
    error = _reject(moved)
    assert isinstance(error, BadSegment)


def test_a_second_start_of_image_is_a_bad_segment() -> None:
    error = _reject(PHOTO[:2] + PHOTO)
    assert isinstance(error, BadSegment)
    assert error.offset == 2


def test_errors_read_as_one_line_with_code_reason_and_offset() -> None:
    dqt = _segment_at(samples.DQT)
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


# --- the property -------------------------------------------------------------------------

SEEDS = {
    "baseline with EXIF": PHOTO,
    "progressive kitchen sink": samples.kitchen_sink(width=64, height=48),
    "restart markers": samples.base_jpeg(
        48, 32, seed=31, encoding=samples.Encoding(restart_rows=1)
    ),
    "orientation 6, odd size": samples.oriented_jpeg(6, (21, 13)),
    "orientation 3, whole MCUs": samples.oriented_jpeg(3, (32, 16)),
    "CMYK": samples.base_jpeg(16, 16, seed=32, mode="CMYK"),
}
KEPT = {"SOI", "APP0", "APP1", "APP2", "APP14", "DQT", "DHT", "DAC", "DRI", "SOS", "EOI"}


@st.composite
def mutated_jpegs(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(list(SEEDS.values()))))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat"]))
        if kind == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[where:]
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 64))]
        else:
            size = draw(st.integers(1, 256))
            data[where:where] = data[where : where + size]
        if not data:
            break
    return bytes(data)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated_jpegs(), policy=st.sampled_from(list(OrientationPolicy)))
def test_any_mutation_gives_a_clean_jpeg_or_a_typed_rejection(
    data: bytes, policy: OrientationPolicy
) -> None:
    try:
        result = sanitize_bytes(data, Options(policy))
    except SanitizeError:
        return
    layout = samples.walk_markers(result.jpeg)  # an independent reader
    assert layout.end == len(result.jpeg)
    names = {name if not name.startswith("SOF") else "SOS" for name in layout.names()}
    assert names <= KEPT
    if "APP1" in names:
        assert policy is OrientationPolicy.KEEP_TAG


@settings(max_examples=100, deadline=None)
@given(data=mutated_jpegs(), chunk=st.integers(1, 512))
def test_tokenizer_work_stays_linear_in_the_input(data: bytes, chunk: int) -> None:
    tokenizer = Tokenizer(max_bytes=len(data) + 1, tolerant=True)
    try:
        for start in range(0, len(data), chunk):
            tokenizer.feed(data[start : start + chunk])
        tokenizer.close()
    except SanitizeError:
        pass
    assert tokenizer.copied <= 2 * len(data) + 4
