"""The sanitizer keeps the picture and removes everything else (docs/design.md "The sanitizer").

Each fixture carries real metadata (tools/samples/; test_samples.py proves
exiftool sees it). The checks are a user's: exiftool, an independent reader, finds
nothing identifying in the output; Pillow decodes the same pixels; the ICC profile is
the same bytes; and the output equals `reference_strip`, an independent implementation
of the keep list, docs/design.md "Sanitizer: what is kept".
"""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from exif_stripper.core import headers, icc
from exif_stripper.core.icc import identifying_text, sanitize_profile
from exif_stripper.core.sanitize import (
    Options,
    OrientationPolicy,
    Result,
    sanitize_bytes,
    sanitize_stream,
)
from tools.oracle import exiftool_reports, findings
from tools.samples import icc_profiles
from tools.samples.composition import (
    compose,
    insert_between_scans,
    reference_removed_bytes,
    reference_strip,
)
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.icc import MAX_ICC_CHUNK, icc_segments, large_icc_profile
from tools.samples.jpeg import (
    APP0,
    APP2,
    Encoding,
    base_jpeg,
    decode,
    photo_image,
    segment,
    walk_markers,
)
from tools.samples.metadata import (
    XmpFields,
    comment_segment,
    extended_xmp_body,
    flashpix_segments,
    iptc_segment,
    jfif_segment,
    jfxx_segment,
    junk_app_segments,
    xmp_segment,
    xmp_segments,
)
from tools.samples.ready_made import (
    camera_exif_with_thumbnail,
    kitchen_sink,
    motion_photo_sample,
    mpo_sample,
)
from tools.samples.trailers import padding_trailer

DROP = Options(OrientationPolicy.DROP)

# name -> JPEG carrying one kind of metadata (or all of them)
FIXTURES: dict[str, Callable[[], bytes]] = {
    "kitchen sink": kitchen_sink,
    "EXIF with GPS, serials, maker note": lambda: compose(base_jpeg(seed=1), [exif_segment()]),
    "EXIF IFD1 thumbnail": lambda: compose(
        base_jpeg(seed=2), [exif_segment(camera_exif_with_thumbnail(2))]
    ),
    "big-endian EXIF": lambda: compose(
        base_jpeg(seed=3), [exif_segment(CameraExif(byte_order="MM"))]
    ),
    "XMP with GPS and extended XMP": lambda: compose(
        base_jpeg(seed=4),
        xmp_segments(XmpFields(), extended_xmp_body()),
    ),
    "IPTC in APP13": lambda: compose(base_jpeg(seed=5), [iptc_segment()]),
    "COM": lambda: compose(base_jpeg(seed=6), [comment_segment()]),
    "JFIF thumbnail": lambda: compose(
        base_jpeg(seed=7),
        [jfif_segment(photo_image(16, 12, seed=7))],
    ),
    "JFXX thumbnail": lambda: compose(base_jpeg(seed=8), [jfxx_segment()]),
    "FlashPix and junk APP3-APP15": lambda: compose(
        base_jpeg(seed=9), [*flashpix_segments(), *junk_app_segments()]
    ),
    "MPO second image with its own GPS": mpo_sample,
    "motion photo trailer": motion_photo_sample,
    "padding after EOI": lambda: compose(base_jpeg(seed=10), trailer=padding_trailer()),
    "APPn and COM between progressive scans": lambda: insert_between_scans(
        base_jpeg(seed=11, encoding=Encoding(progressive=True)),
        [comment_segment(), xmp_segment()],
    ),
    "restart markers": lambda: compose(
        base_jpeg(96, 64, seed=12, encoding=Encoding(restart_rows=1)),
        [exif_segment()],
    ),
    "CMYK with APP14 Adobe": lambda: compose(base_jpeg(seed=13, mode="CMYK"), [exif_segment()]),
    "grayscale": lambda: compose(base_jpeg(seed=14, mode="L"), [exif_segment(), iptc_segment()]),
    "multi-chunk ICC": lambda: compose(
        base_jpeg(seed=15),
        [exif_segment(), *icc_segments(large_icc_profile())],
    ),
}


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[bytes, Result]]:
    """Every fixture and its sanitized result, built once for the module."""
    built = {name: make() for name, make in FIXTURES.items()}
    return {name: (data, sanitize_bytes(data, DROP)) for name, data in built.items()}


@pytest.fixture(scope="module")
def output_findings(cases: dict[str, tuple[bytes, Result]]) -> dict[str, list[str]]:
    """What exiftool finds in every output, in one exiftool request."""
    reports = exiftool_reports([result.jpeg for _, result in cases.values()])
    return {name: findings(report) for name, report in zip(cases, reports, strict=True)}


@pytest.mark.parametrize("name", FIXTURES)
def test_exiftool_finds_nothing_identifying_in_the_output(
    name: str, output_findings: dict[str, list[str]]
) -> None:
    assert output_findings[name] == []


@pytest.mark.parametrize("name", FIXTURES)
def test_the_input_did_carry_identifying_metadata(
    name: str, cases: dict[str, tuple[bytes, Result]]
) -> None:
    # Guards the test above against fixtures that lose their metadata.
    data, _ = cases[name]
    assert findings(exiftool_reports([data])[0]) != []


@pytest.mark.parametrize("name", FIXTURES)
def test_output_decodes_to_the_same_pixels(
    name: str, cases: dict[str, tuple[bytes, Result]]
) -> None:
    data, result = cases[name]
    before, after = decode(data), decode(result.jpeg)
    assert (after.mode, after.size) == (before.mode, before.size)
    assert after.tobytes() == before.tobytes()


@pytest.mark.parametrize("name", FIXTURES)
def test_output_equals_the_independent_reference(
    name: str, cases: dict[str, tuple[bytes, Result]]
) -> None:
    data, result = cases[name]
    assert result.jpeg == reference_strip(data)


@pytest.mark.parametrize("name", FIXTURES)
def test_entropy_coded_data_is_byte_identical(
    name: str, cases: dict[str, tuple[bytes, Result]]
) -> None:
    data, result = cases[name]
    assert _scans(result.jpeg) == _scans(data)


def _scans(jpeg: bytes) -> list[bytes]:
    layout = walk_markers(jpeg)
    return [jpeg[scan.start : scan.end] for scan in layout.scans]


def test_icc_profile_across_chunks_is_reassembled_and_cleaned(
    cases: dict[str, tuple[bytes, Result]],
) -> None:
    data, result = cases["multi-chunk ICC"]
    profile = Image.open(io.BytesIO(data)).info["icc_profile"]
    assert walk_markers(data).names().count("APP2") >= 3
    kept = Image.open(io.BytesIO(result.jpeg)).info["icc_profile"]
    assert kept == sanitize_profile(profile).data
    assert b"zpad" not in kept  # the private tag that padded it to three chunks
    assert "ICC profile text and identity" in result.report.removed_kinds


# A display profile as calibration tools write it: the owner, the monitor's serial, EDID.
CALIBRATED = icc_profiles.matrix_rgb()


def _with_profile(profile: bytes, chunk_size: int = MAX_ICC_CHUNK) -> bytes:
    segments = icc_segments(profile, chunk_size=chunk_size)
    return compose(base_jpeg(seed=16), segments)


def test_icc_text_that_identifies_is_removed_and_colours_stay() -> None:
    data = _with_profile(CALIBRATED, chunk_size=700)
    assert icc_profiles.canary_hits(data)
    result = sanitize_bytes(data, DROP)
    assert icc_profiles.canary_hits(result.jpeg) == []
    kept = Image.open(io.BytesIO(result.jpeg)).info["icc_profile"]
    assert identifying_text(kept) == []
    source = ImageCms.ImageCmsProfile(io.BytesIO(CALIBRATED))
    cleaned = ImageCms.ImageCmsProfile(io.BytesIO(kept))
    srgb = ImageCms.createProfile("sRGB")
    pixels = decode(data)
    before = ImageCms.profileToProfile(pixels, source, srgb)
    after = ImageCms.profileToProfile(decode(result.jpeg), cleaned, srgb)
    assert before is not None
    assert after is not None
    assert after.tobytes() == before.tobytes()


def test_a_standard_profile_passes_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    known = icc._KnownProfile("test profile", len(CALIBRATED), zlib.crc32(CALIBRATED))
    monkeypatch.setattr(icc, "_KNOWN_PROFILES", (known,))
    monkeypatch.setattr(icc, "_KNOWN_LENGTHS", frozenset({len(CALIBRATED)}))
    headers._clean_small_profile.cache_clear()
    try:
        result = sanitize_bytes(_with_profile(CALIBRATED), DROP)
    finally:
        headers._clean_small_profile.cache_clear()
    assert Image.open(io.BytesIO(result.jpeg)).info["icc_profile"] == CALIBRATED
    assert result.report.removed_kinds == []


@pytest.mark.parametrize(
    ("chunks", "why"),
    [
        (lambda c: c[:-1], "a chunk missing"),
        (lambda c: c + c[:1], "a chunk twice"),
        (lambda c: [c[0][:17] + b"\x09" + c[0][18:], *c[1:]], "a wrong count"),
        (
            lambda c: [segment(APP2, b"ICC_PROFILE\x00\x01\x01not a profile")],
            "no profile",
        ),
    ],
)
def test_icc_chunks_that_form_no_valid_profile_are_dropped(
    chunks: Callable[[list[bytes]], list[bytes]], why: str
) -> None:
    segments = chunks(icc_segments(CALIBRATED, chunk_size=1000))
    data = compose(base_jpeg(seed=17), segments)
    result = sanitize_bytes(data, DROP)
    assert "APP2" not in walk_markers(result.jpeg).names(), why
    assert result.report.removed["ICC profile (invalid)"].count == len(segments)
    assert icc_profiles.canary_hits(result.jpeg) == []


def test_adobe_segment_is_kept_for_cmyk(cases: dict[str, tuple[bytes, Result]]) -> None:
    _, result = cases["CMYK with APP14 Adobe"]
    assert "APP14" in walk_markers(result.jpeg).names()
    assert Image.open(io.BytesIO(result.jpeg)).mode == "CMYK"


def test_jfif_is_kept_without_its_thumbnail(cases: dict[str, tuple[bytes, Result]]) -> None:
    _, result = cases["JFIF thumbnail"]
    jfif = walk_markers(result.jpeg).first(APP0)
    payload = jfif.payload(result.jpeg)
    assert payload[:5] == b"JFIF\x00"
    assert payload[12:] == b"\x00\x00"
    assert len(payload) == 14
    assert "JFIF thumbnail" in _kinds(cases, "JFIF thumbnail")


def test_report_names_what_was_removed(cases: dict[str, tuple[bytes, Result]]) -> None:
    kinds = _kinds(cases, "kitchen sink")
    for expected in ("EXIF", "XMP", "extended XMP", "IPTC/Photoshop", "comment", "trailer"):
        assert expected in kinds
    assert "MPF (multi-picture index)" in kinds
    assert "XMP (between scans)" in kinds


def test_report_counts_bytes(cases: dict[str, tuple[bytes, Result]]) -> None:
    data, result = cases["kitchen sink"]
    report = result.report
    assert report.bytes_in == len(data)
    assert report.bytes_out == len(result.jpeg)
    layout = walk_markers(data)
    assert report.removed_bytes == reference_removed_bytes(data)
    assert report.removed["trailer"].bytes == len(data) - layout.end


def _kinds(cases: dict[str, tuple[bytes, Result]], name: str) -> list[str]:
    return cases[name][1].report.removed_kinds


def test_a_clean_jpeg_keeps_every_table_and_scan_byte() -> None:
    # Pillow writes each table in a segment of its own; the output holds the same
    # tables, one DQT and one DHT before the scan.
    data = base_jpeg(seed=20)
    output = sanitize_bytes(data).jpeg
    assert walk_markers(output).names() == [
        "SOI", "APP0", "SOF0", "DQT", "DHT", "SOS", "EOI"
    ]  # fmt: skip
    assert _scans(output) == _scans(data)
    names = walk_markers(data).names()
    merged = names.count("DQT") + names.count("DHT") - 2
    assert len(data) - len(output) == 4 * merged  # marker and length of each merged segment


def test_sanitizing_twice_changes_nothing(cases: dict[str, tuple[bytes, Result]]) -> None:
    _, result = cases["kitchen sink"]
    assert sanitize_bytes(result.jpeg, DROP).jpeg == result.jpeg


def test_the_input_buffer_is_not_modified() -> None:
    data = bytearray(kitchen_sink())
    before = bytes(data)
    sanitize_bytes(data)
    assert data == before


# --- the streaming API -------------------------------------------------------------------


class _Trickle:
    """A reader that returns fewer bytes than asked, as pipes and sockets may."""

    def __init__(self, data: bytes, most: int, seed: int) -> None:
        self._data = io.BytesIO(data)
        self._most = most
        self._random = random.Random(seed)

    def read(self, size: int, /) -> bytes:
        return self._data.read(min(size, self._random.randint(1, self._most)))


@settings(max_examples=25, deadline=None)
@given(most=st.integers(min_value=1, max_value=70_000), seed=st.integers(0, 2**16))
def test_stream_output_equals_bytes_output_however_the_input_is_chunked(
    most: int, seed: int
) -> None:
    data = _KITCHEN_SINK
    out = io.BytesIO()
    report = sanitize_stream(_Trickle(data, most, seed), out, DROP)
    assert out.getvalue() == sanitize_bytes(data, DROP).jpeg
    assert report.bytes_out == len(out.getvalue())


_KITCHEN_SINK = kitchen_sink()


def test_stream_work_stays_linear_when_input_trickles_in_byte_by_byte() -> None:
    from exif_stripper.core.jpeg import Tokenizer

    data = _KITCHEN_SINK
    tokenizer = Tokenizer(max_bytes=len(data), tolerant=True)
    for i in range(len(data)):
        tokenizer.feed(data[i : i + 1])
    tokenizer.close()
    # Every byte is copied into the carry-over buffer a bounded number of times.
    assert tokenizer.copied <= 2 * len(data)
