"""`inspect` reads whatever EXIF a camera or an attacker writes, and never fails on it."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exif_stripper.cli import main
from exif_stripper.cli.inspect import render_inspection
from exif_stripper.core.inspection import Finding, inspect_stream
from tools.samples.composition import compose
from tools.samples.exif import (
    GOLDEN_GATE,
    CameraExif,
    Field,
    FieldType,
    Ifd,
    Link,
    ascii_field,
    build_tiff,
    byte_field,
    exif_segment,
    exif_tiff,
    long_field,
    rational_field,
    short_field,
)
from tools.samples.jpeg import APP1, COM, base_jpeg, segment

BASE = base_jpeg(32, 24)
MAKER_NOTE = 0x927C
EXIF_POINTER = 0x8769
GPS_POINTER = 0x8825


def _jpeg_with_exif(tiff: bytes) -> bytes:
    return compose(BASE, [segment(APP1, b"Exif\x00\x00" + tiff)])


def _exif_ifd(*entries: Field | Link) -> bytes:
    """IFD0 pointing to an Exif IFD holding `entries`."""
    return build_tiff([Ifd("ifd0", (Link(EXIF_POINTER, "exif"),)), Ifd("exif", entries)])


def _findings(jpeg: bytes) -> list[Finding]:
    return inspect_stream(io.BytesIO(jpeg)).findings


def _details(jpeg: bytes, category: str) -> list[str]:
    return [f.detail for f in _findings(jpeg) if f.category == category]


@pytest.mark.parametrize(
    ("note", "size"),
    [
        (short_field(MAKER_NOTE, 7), 2),
        (short_field(MAKER_NOTE, *range(40)), 80),
        (rational_field(MAKER_NOTE, (1, 3)), 8),
        (rational_field(MAKER_NOTE, (1, 0), (5, 2)), 16),
        (long_field(MAKER_NOTE, 1, 2, 3), 12),
        (ascii_field(MAKER_NOTE, "Canon"), 6),
        (Field(MAKER_NOTE, 99, b"\x01\x02\x03\x04\x05\x06"), 6),  # a type TIFF does not define
    ],
    ids=["short", "shorts", "rational", "rational-zero", "longs", "ascii", "unknown-type"],
)
def test_a_maker_note_of_any_type_is_reported_with_its_size(note: Field, size: int) -> None:
    jpeg = _jpeg_with_exif(_exif_ifd(note))
    assert _details(jpeg, "maker notes") == [f"{size} bytes"]


def test_inspect_command_reports_a_short_maker_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "short-note.jpg"
    source.write_bytes(_jpeg_with_exif(_exif_ifd(short_field(MAKER_NOTE, 1))))
    assert main(["inspect", str(source)]) == 0
    assert "maker notes  2 bytes  [EXIF]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        (short_field(0x010F, 1, 2, 3), "1 2 3"),
        (rational_field(0x010F, (7, 2)), "3.5"),
        (rational_field(0x010F, (7, 0)), "nan"),
        (byte_field(0x010F, *b"Canon"), "Canon"),
        (Field(0x010F, FieldType.UNDEFINED, b"Leica\x00"), "Leica"),
    ],
    ids=["shorts", "rational", "zero-denominator", "bytes", "undefined"],
)
def test_a_text_tag_of_another_type_is_still_shown(make: Field, shown: str) -> None:
    jpeg = _jpeg_with_exif(build_tiff([Ifd("ifd0", (make,))]))
    assert _details(jpeg, "camera") == [shown]


def test_gps_position_is_read_from_rationals_with_references() -> None:
    exif = exif_segment(CameraExif(gps=GOLDEN_GATE))
    assert _details(compose(BASE, [exif]), "GPS position") == ["37.819929, -122.478255"]


@pytest.mark.parametrize(
    "latitude",
    [
        rational_field(2, (1, 0), (2, 0), (3, 0)),
        ascii_field(2, "48.85"),
        Field(2, FieldType.RATIONAL, b"\x00\x01"),  # cut short
    ],
    ids=["zero-denominators", "ascii", "truncated"],
)
def test_an_unreadable_gps_position_is_still_reported(latitude: Field) -> None:
    gps = Ifd("gps", (ascii_field(1, "N"), latitude, rational_field(4, (2, 1))))
    tiff = build_tiff([Ifd("ifd0", (Link(GPS_POINTER, "gps"),)), gps])
    assert _details(_jpeg_with_exif(tiff), "GPS position") == ["present (unreadable)"]


def test_ifds_that_point_at_each_other_are_read_once() -> None:
    ifd0 = Ifd("ifd0", (ascii_field(0x013B, "Jane"), Link(EXIF_POINTER, "ifd0")), "ifd1")
    ifd1 = Ifd("ifd1", (Link(0x0201, "ifd0"), long_field(0x0202, 999)), "ifd0")
    jpeg = _jpeg_with_exif(build_tiff([ifd0, ifd1]))
    assert _details(jpeg, "person") == ["Jane"]
    assert _details(jpeg, "thumbnail") == ["999 bytes JPEG thumbnail"]


def test_offsets_outside_the_block_leave_the_rest_readable() -> None:
    tiff = bytearray(
        _exif_ifd(ascii_field(0xA431, "SN-1234"), ascii_field(0xA430, "Jane Doe Long"))
    )
    # Point the owner's name (0xA430, the Exif IFD's first entry) far outside the block.
    exif_at = struct.unpack_from("<I", tiff, 8 + 2 + 8)[0]
    struct.pack_into("<I", tiff, exif_at + 2 + 8, 0xFFFFFFF0)
    jpeg = _jpeg_with_exif(bytes(tiff))
    assert _details(jpeg, "serial number") == ["SN-1234"]
    assert _details(jpeg, "person") == ["14 bytes outside the EXIF block"]


def test_a_block_that_is_not_tiff_is_named_unreadable() -> None:
    [finding] = _findings(_jpeg_with_exif(b"XX\x2a\x00\x08\x00\x00\x00"))
    assert finding.category == "EXIF"
    assert "unreadable EXIF block" in finding.detail


def test_control_characters_never_reach_the_terminal() -> None:
    hostile = "Jane\x1b[2J\x1b]0;owned\x07\r\nDoe\u202e"
    jpeg = compose(
        BASE,
        [
            exif_segment(CameraExif(artist=hostile, gps=None)),
            segment(COM, hostile.encode()),
        ],
    )
    result = inspect_stream(io.BytesIO(jpeg))
    shown = render_inspection("x.jpg", result)
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\r" not in shown
    assert "\u202e" not in shown
    assert "Jane?[2J?]0;owned? Doe?" in {f.detail for f in result.findings}


# --- any EXIF block at all ----------------------------------------------------------------

_TAGS = st.sampled_from(
    [0x010F, 0x0110, 0x013B, 0x0112, EXIF_POINTER, GPS_POINTER, 0x0201, 0x0202, MAKER_NOTE, 1, 2]
) | st.integers(0, 0xFFFF)
_ENTRIES = st.lists(
    st.tuples(
        _TAGS,
        st.integers(0, 20) | st.sampled_from([0xFFFF]),  # field type, defined or not
        st.integers(0, 40) | st.integers(0, 0xFFFFFFFF),  # count
        st.binary(min_size=4, max_size=4) | st.integers(0, 600).map(lambda n: struct.pack("<I", n)),
    ),
    max_size=24,
)


def _ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int) -> bytes:
    table = b"".join(
        struct.pack("<HHI", tag, kind, count) + value for tag, kind, count, value in entries
    )
    return struct.pack("<H", len(entries)) + table + struct.pack("<I", next_ifd)


@st.composite
def _exif_blocks(draw: st.DrawFn) -> bytes:
    """A little-endian TIFF whose IFDs hold arbitrary entries, offsets and tails."""
    first = draw(st.integers(0, 64) | st.just(8))
    header = b"II*\x00" + struct.pack("<I", first)
    body = b"".join(
        _ifd(draw(_ENTRIES), draw(st.integers(0, 600))) + draw(st.binary(max_size=64))
        for _ in range(draw(st.integers(1, 4)))
    )
    tiff = header + body
    cut = draw(st.integers(0, len(tiff)))
    return tiff[: len(tiff) - cut] if draw(st.booleans()) else tiff


@st.composite
def _mutated_camera_blocks(draw: st.DrawFn) -> bytes:
    """A real camera's EXIF with a few bytes changed: plausible structure, lying fields."""
    tiff = bytearray(exif_tiff(CameraExif(thumbnail=BASE)))
    for _ in range(draw(st.integers(1, 12))):
        tiff[draw(st.integers(0, len(tiff) - 1))] = draw(st.integers(0, 255))
    return bytes(tiff)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exif_blocks() | _mutated_camera_blocks() | st.binary(max_size=200))
def test_any_exif_block_gives_readable_findings(tiff: bytes) -> None:
    result = inspect_stream(io.BytesIO(_jpeg_with_exif(tiff)))
    assert result.rejected is None  # EXIF is removed anyway: it never decides a rejection
    for finding in result.findings:
        assert finding.detail.isprintable()
        assert len(finding.detail) <= 120
    json.dumps(result.as_json())
    render_inspection("x.jpg", result)
