"""Kept segments are written again from their fields, by libjpeg's rules.

The rules are checked against libjpeg itself (`djpeg`, the decoder browsers build on):
a Huffman table or a progressive scan our parser refuses is one libjpeg refuses. Then
the tables a decoder keeps between scans: quantization tables latch at a component's
first scan, Huffman tables are redefined between progressive scans, Motion-JPEG frames
get the standard tables, arithmetic conditioning is written only where it matters.
"""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from exif_stripper.core.errors import BadSegment, SanitizeError, Undecodable
from exif_stripper.core.headers import HuffmanTable, check_huffman_code, parse_scan
from exif_stripper.core.jpeg import Segment
from exif_stripper.core.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    Removed,
    sanitize_bytes,
)
from tools.samples.composition import reference_strip
from tools.samples.damage import insert_before
from tools.samples.jpeg import (
    APP14,
    DHT,
    DQT,
    EOI,
    SOF0,
    SOF2,
    SOS,
    Encoding,
    base_jpeg,
    decode,
    segment,
    walk_markers,
)
from tools.samples.jpeg import Segment as SampleSegment

LOSSLESS_ONLY = Options(OrientationPolicy.DROP, damaged=DamagedPolicy.REJECT)
BASELINE = base_jpeg(32, 16, seed=70)
PROGRESSIVE = base_jpeg(32, 16, seed=71, encoding=Encoding(progressive=True))


def djpeg(jpeg: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["djpeg", "-pnm"], input=jpeg, capture_output=True, check=False)


def libjpeg_pixels(jpeg: bytes) -> bytes:
    done = djpeg(jpeg)
    assert done.stdout, done.stderr
    return Image.open(io.BytesIO(done.stdout)).tobytes()


def _replace_segment(jpeg: bytes, seg: SampleSegment, payload: bytes) -> bytes:
    return (
        jpeg[: seg.start]
        + segment(seg.marker, payload)
        + jpeg[seg.start :][
            seg.end - seg.start if seg.marker != SOS else 4 + len(seg.payload(jpeg)) :
        ]
    )


# --- the rules, against libjpeg ------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=16, max_size=16),
    symbols=st.lists(st.integers(0, 17), min_size=64, max_size=64),
)
def test_a_huffman_table_is_refused_exactly_when_libjpeg_refuses_it(
    counts: list[int], symbols: list[int]
) -> None:
    total = min(sum(counts), 64)
    table = HuffmanTable(0, 0, bytes(counts), bytes(symbols[:total]))
    if sum(counts) > total:
        return  # more codes than symbols: refused by both when the DHT is read
    first_dht = walk_markers(BASELINE).first(DHT)  # Pillow: DC table 0 first
    jpeg = _replace_segment(BASELINE, first_dht, table.encode())
    try:
        check_huffman_code(table, 0)
        ours = True
    except BadSegment:
        ours = False
    theirs = b"Bogus Huffman table definition" not in djpeg(jpeg).stderr
    assert ours == theirs


@settings(max_examples=60, deadline=None)
@given(
    ss=st.integers(0, 70),
    se=st.integers(0, 70),
    ah=st.integers(0, 15),
    al=st.integers(0, 15),
)
def test_progressive_scan_parameters_are_refused_exactly_when_libjpeg_refuses_them(
    ss: int, se: int, ah: int, al: int
) -> None:
    scan = walk_markers(PROGRESSIVE).scans[2]  # an AC scan of one component
    payload = bytearray(scan.payload(PROGRESSIVE))
    payload[-3:] = bytes((ss, se, ah << 4 | al))
    jpeg = _replace_segment(PROGRESSIVE, scan, bytes(payload))
    frame = sanitize_bytes(PROGRESSIVE, LOSSLESS_ONLY)  # proves the rest is fine
    assert frame.report.method == "lossless"
    from exif_stripper.core.headers import parse_frame

    sof = walk_markers(jpeg).first(SOF2)
    header = parse_frame(Segment(sof.marker, 0, sof.payload(jpeg)))
    try:
        parse_scan(Segment(SOS, 0, bytes(payload)), header)
        ours = True
    except BadSegment:
        ours = False
    theirs = b"Invalid progressive parameters" not in djpeg(jpeg).stderr
    assert ours == theirs


def test_fractional_sampling_is_refused_like_libjpeg_refuses_it() -> None:
    sof = walk_markers(BASELINE).first(SOF0)
    payload = bytearray(sof.payload(BASELINE))
    payload[7], payload[10] = 0x31, 0x21  # Y 3x1, Cb 2x1, Cr 1x1
    jpeg = _replace_segment(BASELINE, sof, bytes(payload))
    assert b"Fractional sampling not implemented" in djpeg(jpeg).stderr
    with pytest.raises(Undecodable, match="fractional"):
        sanitize_bytes(jpeg, LOSSLESS_ONLY)


def test_a_component_named_twice_in_a_scan_is_refused() -> None:
    scan = walk_markers(BASELINE).scans[0]
    payload = bytearray(scan.payload(BASELINE))
    payload[3] = payload[1]  # the second component's id becomes the first's
    jpeg = _replace_segment(BASELINE, scan, bytes(payload))
    assert djpeg(jpeg).returncode == 1
    with pytest.raises(SanitizeError):
        sanitize_bytes(jpeg, LOSSLESS_ONLY)


# --- tables, as a decoder keeps them --------------------------------------------------------------


def test_a_motion_jpeg_frame_gets_the_standard_huffman_tables() -> None:
    layout = walk_markers(BASELINE)
    frame = b"".join(BASELINE[s.start : s.end] for s in layout.segments if s.marker != DHT)
    frame += BASELINE[layout.end :]
    result = sanitize_bytes(frame, LOSSLESS_ONLY)
    assert "DHT" in walk_markers(result.jpeg).names()
    assert decode(result.jpeg).tobytes() == libjpeg_pixels(frame)
    assert libjpeg_pixels(frame) == libjpeg_pixels(BASELINE)  # Pillow writes K.3 tables


def test_a_quantization_table_latches_at_a_components_first_scan(tmp_path: Path) -> None:
    # Y's DC alone first, so Cb and Cr latch their table only at the second scan; the
    # chroma table is redefined in between, and that redefinition is what they use.
    script = tmp_path / "scans.txt"
    script.write_text("0: 0 0 0 0;\n1 2: 0 0 0 0;\n0: 1 63 0 0;\n1: 1 63 0 0;\n2: 1 63 0 0;\n")
    made = subprocess.run(
        ["jpegtran", "-scans", str(script)], input=BASELINE, capture_output=True, check=True
    ).stdout
    second = walk_markers(made).scans[1].start
    flat = segment(DQT, b"\x01" + bytes([2] * 64))
    redefined = made[:second] + flat + made[second:]
    result = sanitize_bytes(redefined, LOSSLESS_ONLY)
    assert libjpeg_pixels(result.jpeg) == libjpeg_pixels(redefined)
    assert libjpeg_pixels(redefined) != libjpeg_pixels(made)  # the redefinition matters
    # ... and after Y latched its table, redefining table 0 changes nothing.
    third = walk_markers(made).scans[2].start
    ignored = made[:third] + segment(DQT, b"\x00" + bytes([2] * 64)) + made[third:]
    result = sanitize_bytes(ignored, LOSSLESS_ONLY)
    assert libjpeg_pixels(result.jpeg) == libjpeg_pixels(made)
    assert result.report.removed["unused tables"].count == 1


def test_arithmetic_conditioning_is_written_where_it_differs_from_the_default() -> None:
    arithmetic = subprocess.run(
        ["jpegtran", "-arithmetic"], input=BASELINE, capture_output=True, check=True
    ).stdout
    assert "DAC" in walk_markers(arithmetic).names()  # jpegtran writes the defaults
    assert "DAC" not in walk_markers(sanitize_bytes(arithmetic).jpeg).names()
    changed = insert_before(arithmetic, SOS, segment(0xCC, b"\x10\x08"))
    result = sanitize_bytes(changed, LOSSLESS_ONLY)
    assert "DAC" in walk_markers(result.jpeg).names()
    assert libjpeg_pixels(result.jpeg) == libjpeg_pixels(changed)


def test_a_dac_segment_in_a_huffman_coded_image_is_dropped() -> None:
    with_dac = insert_before(BASELINE, SOS, segment(0xCC, b"\x10\x08"))
    result = sanitize_bytes(with_dac, LOSSLESS_ONLY)
    assert "DAC" not in walk_markers(result.jpeg).names()
    assert result.report.removed["unused tables"].count == 1


def test_tables_no_scan_uses_are_dropped_and_reported() -> None:
    unused = segment(DQT, b"\x03" + bytes(range(64)))
    removed: list[Removed] = []
    result = sanitize_bytes(
        insert_before(BASELINE, SOS, unused),
        LOSSLESS_ONLY,
        on_removed=removed.append,
    )
    assert bytes(range(64)) not in result.jpeg
    assert result.report.removed["unused tables"].bytes == 65


def test_a_scan_after_a_complete_sequential_image_ends_it() -> None:
    layout = walk_markers(BASELINE)
    scan = layout.scans[0]
    extra = BASELINE[: layout.end - 2] + BASELINE[scan.start : scan.end] + EOI
    result = sanitize_bytes(extra, LOSSLESS_ONLY)
    assert result.jpeg == reference_strip(BASELINE)
    assert "image ended before an extra scan" in result.report.repairs
    assert b"Didn't expect more than one scan" in djpeg(extra).stderr


def test_adobe_keeps_its_transform_and_nothing_else() -> None:
    cmyk = base_jpeg(16, 16, seed=72, mode="CMYK")
    adobe = walk_markers(cmyk).first(APP14)
    payload = adobe.payload(cmyk)
    flagged = payload[:7] + b"\x12\x34\x56\x78" + payload[11:] + b"trailing bytes"
    jpeg = _replace_segment(cmyk, adobe, flagged)
    result = sanitize_bytes(jpeg, LOSSLESS_ONLY)
    kept = walk_markers(result.jpeg).first(APP14).payload(result.jpeg)
    assert kept == b"Adobe" + struct.pack(">HHHB", 100, 0, 0, payload[11])
    assert decode(result.jpeg).tobytes() == decode(cmyk).tobytes()
