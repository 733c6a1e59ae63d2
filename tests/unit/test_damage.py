"""Photos a browser displays reach the web bucket, although something in them is broken.

Each kind of damage seen in real camera and editor files (issue 8, "Why" point 1) is
built in code from a clean photo. For each, the sanitizer must pass the picture on
losslessly: the output decodes, strictly, to the very pixels libjpeg (`djpeg`, which
every browser's decoder is built on) shows for the damaged input, and no byte it
dropped is in the output. Then the embedded images a resynchronising parser could
mistake for the photo: none of them ever becomes the output.
"""

from __future__ import annotations

import io
import struct
import subprocess

import pytest
from PIL import Image

from exif_stripper.core.errors import SanitizeError
from exif_stripper.core.jpeg import CUT_SHORT, EMBEDDED_JPEG, JUNK, JUNK_IN_SCAN, Tokenizer
from exif_stripper.core.sanitize import (
    DamagedPolicy,
    Options,
    OrientationPolicy,
    Removed,
    Result,
    sanitize_bytes,
)
from exif_stripper.core.verify import verify_jpeg
from tools.fuzz.leaks import leaked_runs
from tools.samples.composition import compose
from tools.samples.damage import (
    cut_in_scan,
    exif_with_embedded_jpeg,
    huge_grey_jpeg,
    in_scan,
    insert_at,
    insert_before,
    with_length,
)
from tools.samples.exif import exif_segment, thumbnail_jpeg
from tools.samples.jpeg import (
    APP0,
    APP1,
    APP14,
    DQT,
    SOF0,
    SOI,
    Encoding,
    base_jpeg,
    decode,
    jpeg_end,
    walk_markers,
)
from tools.samples.metadata import app_segment, comment_segment
from tools.samples.ready_made import mpo_sample

LOSSLESS_ONLY = Options(OrientationPolicy.DROP, damaged=DamagedPolicy.REJECT)
EXIF = exif_segment()
BASE = compose(base_jpeg(96, 64, seed=50), [EXIF])
PROGRESSIVE = compose(base_jpeg(96, 64, seed=51, encoding=Encoding(progressive=True)), [EXIF])
RESTARTS = compose(base_jpeg(96, 64, seed=52, encoding=Encoding(restart_rows=1)), [EXIF])
GARBAGE = b"GARBAGE-NOT-A-MARKER-0123456789"
COMMENT = comment_segment("a comment that a lying length runs into, and beyond")
ADOBE_AND_COMMENT = compose(
    base_jpeg(96, 64, seed=53),
    [app_segment(14, b"Adobe\x00\x64\x00\x00\x00\x00\x01"), COMMENT],
)

# name -> (damaged JPEG, the kind of removal or repair the report must name)
DAMAGE: dict[str, tuple[bytes, str]] = {
    "bytes that are not a marker between segments": (
        insert_before(BASE, SOF0, GARBAGE),
        JUNK,
    ),
    "bytes that are not a marker between progressive scans": (
        insert_at(PROGRESSIVE, walk_markers(PROGRESSIVE).scans[2].start, GARBAGE),
        JUNK,
    ),
    "0xFF00 outside a scan": (insert_before(BASE, DQT, b"\xff\x00"), JUNK),
    "an RST marker before the tables": (
        insert_before(BASE, APP0, b"\xff\xd3"),
        JUNK,
    ),
    "a dropped segment whose length is too short": (
        with_length(BASE, APP1, -300),
        JUNK,
    ),
    "a dropped segment whose length is too long": (
        with_length(compose(base_jpeg(96, 64, seed=50), [EXIF, COMMENT]), APP1, +20),
        JUNK,
    ),
    "a truncated APP14 (Adobe cut to 7 bytes)": (
        insert_before(BASE, DQT, app_segment(14, b"Adobe\x00\x64")),
        "Adobe (malformed)",
    ),
    "an APP14 whose length runs into the next segment": (
        with_length(ADOBE_AND_COMMENT, APP14, +9),
        JUNK,
    ),
    "a reserved marker inside entropy-coded data": (
        in_scan(BASE, b"\xff\x02"),
        JUNK_IN_SCAN,
    ),
    "a reserved marker inside entropy-coded data with restart markers": (
        in_scan(RESTARTS, b"\xff\x02" + GARBAGE, fraction=0.3),
        JUNK_IN_SCAN,
    ),
    "a missing EOI": (BASE[:-2], "end-of-image marker added"),
    "a scan that ends early": (cut_in_scan(BASE), "end-of-image marker added"),
    "a progressive file cut inside a later scan": (
        cut_in_scan(PROGRESSIVE, 0.5, scan=3),
        "end-of-image marker added",
    ),
    "a progressive file cut inside a segment between scans": (
        PROGRESSIVE[: walk_markers(PROGRESSIVE).scans[2].start + 9],
        CUT_SHORT,
    ),
}
# libjpeg gives up on a file cut inside a table (it reads the end of the file as table
# bytes); what it shows for the file cut before that segment is what the output holds.
SHOWN_AS: dict[str, bytes] = {
    "a progressive file cut inside a segment between scans": PROGRESSIVE[
        : walk_markers(PROGRESSIVE).scans[2].start - 2
    ],
}


def libjpeg_pixels(jpeg: bytes) -> Image.Image:
    """The pixels libjpeg shows for a JPEG, damaged or not: what `djpeg` writes.

    djpeg writes every row before it reports an error found after the image data (as a
    browser has shown the picture by then), so its exit status is not the verdict.
    """
    done = subprocess.run(["djpeg", "-pnm"], input=jpeg, capture_output=True, check=False)
    return Image.open(io.BytesIO(done.stdout))


def _strictly(jpeg: bytes) -> None:
    tokenizer = Tokenizer(max_bytes=len(jpeg))
    tokenizer.feed(jpeg)
    tokenizer.close()


def strict_pixels(jpeg: bytes) -> Image.Image:
    """Pillow's decode with no tolerance for truncation: what a well-formed JPEG gets."""
    return decode(jpeg)


def sanitized(data: bytes, options: Options = LOSSLESS_ONLY) -> tuple[Result, list[Removed]]:
    removed: list[Removed] = []
    return sanitize_bytes(data, options, on_removed=removed.append), removed


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[Result, list[Removed]]]:
    return {name: sanitized(data) for name, (data, _) in DAMAGE.items()}


@pytest.mark.parametrize("name", DAMAGE)
def test_damage_is_passed_on_losslessly_with_the_pixels_libjpeg_shows(
    name: str, results: dict[str, tuple[Result, list[Removed]]]
) -> None:
    data, _ = DAMAGE[name]
    result, _ = results[name]
    assert result.report.method == "lossless"
    shown = libjpeg_pixels(SHOWN_AS.get(name, data))
    output = libjpeg_pixels(result.jpeg)
    assert (output.mode, output.size) == (shown.mode, shown.size)
    assert output.tobytes() == shown.tobytes()
    assert strict_pixels(result.jpeg).size == shown.size  # and it decodes without complaint


@pytest.mark.parametrize("name", DAMAGE)
def test_no_dropped_byte_reaches_the_output(
    name: str, results: dict[str, tuple[Result, list[Removed]]]
) -> None:
    data, _ = DAMAGE[name]
    result, removed = results[name]
    assert leaked_runs(data, result.jpeg, removed) == []
    assert GARBAGE not in result.jpeg
    assert b"Jane Photographer" not in result.jpeg  # the EXIF's canary


@pytest.mark.parametrize("name", DAMAGE)
def test_the_report_names_the_damage(
    name: str, results: dict[str, tuple[Result, list[Removed]]]
) -> None:
    _, named = DAMAGE[name]
    report = results[name][0].report
    assert named in report.removed_kinds + report.repairs


@pytest.mark.parametrize("name", DAMAGE)
def test_the_output_is_clean_and_stable(
    name: str, results: dict[str, tuple[Result, list[Removed]]]
) -> None:
    result, _ = results[name]
    verify_jpeg(result.jpeg)
    assert sanitize_bytes(result.jpeg, LOSSLESS_ONLY).jpeg == result.jpeg


@pytest.mark.parametrize("name", DAMAGE)
def test_the_damage_breaks_the_grammar(name: str) -> None:
    # Guards the tests above against damage builders that damage nothing: the strict
    # tokenizer (the verifier's) refuses every damaged input.
    data, _ = DAMAGE[name]
    if name.startswith("a truncated APP14"):
        # Well-formed as a segment: its damage is that it is not a whole Adobe segment.
        adobe = walk_markers(data).first(APP14)
        assert adobe.end - adobe.start - 4 < 12
        return
    with pytest.raises(SanitizeError):
        _strictly(data)


def test_a_280_megapixel_picture_needs_no_pixel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = huge_grey_jpeg(20_000, 14_000)
    result = sanitize_bytes(data, LOSSLESS_ONLY)
    assert (result.report.width, result.report.height) == (20_000, 14_000)
    assert result.report.method == "lossless"
    scan_in, scan_out = (walk_markers(j).scans[0] for j in (data, result.jpeg))
    assert data[scan_in.start :] == result.jpeg[scan_out.start :]  # SOS, data, EOI as found
    # Decoding 280 MP in full takes a gigabyte; a decoder's 1/8 scale reads every block.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    small = []
    for jpeg in (data, result.jpeg):
        with Image.open(io.BytesIO(jpeg)) as image:
            image.draft("L", (2_500, 1_750))
            image.load()
            small.append(image.tobytes())
    assert small[0] == small[1]


# --- embedded images never become the output --------------------------------------------------

PRIMARY = base_jpeg(96, 64, seed=60)
EMBEDDED = thumbnail_jpeg(48, 32, seed=61)


def _with_thumbnail(*, maker_note: bool = False) -> bytes:
    return compose(PRIMARY, [exif_with_embedded_jpeg(EMBEDDED, maker_note=maker_note)])


def _ending_at(jpeg: bytes, marker: int, end: int) -> bytes:
    """The first segment with this marker declared to end at `end` (not at a marker)."""
    seg = walk_markers(jpeg).first(marker)
    while jpeg[end] == 0xFF or jpeg[end - 1] == 0xFF:
        end += 1
    out = bytearray(jpeg)
    struct.pack_into(">H", out, seg.start + 2, end - seg.start - 2)
    return bytes(out)


def _embedded_at(jpeg: bytes) -> int:
    return jpeg.index(EMBEDDED)


EMBEDDED_CASES: dict[str, bytes] = {
    "EXIF cut short before its thumbnail": _ending_at(
        _with_thumbnail(), APP1, _embedded_at(_with_thumbnail()) - 12
    ),
    "EXIF cut short inside its thumbnail's tables": _ending_at(
        _with_thumbnail(), APP1, _embedded_at(_with_thumbnail()) + 30
    ),
    "EXIF cut short inside its thumbnail's image data": _ending_at(
        _with_thumbnail(), APP1, _embedded_at(_with_thumbnail()) + len(EMBEDDED) - 60
    ),
    "JFIF running into the thumbnail of the EXIF after it": _ending_at(
        _with_thumbnail(), APP0, _embedded_at(_with_thumbnail()) + 40
    ),
    "EXIF cut short inside a preview in its maker note": _ending_at(
        _with_thumbnail(maker_note=True),
        APP1,
        _embedded_at(_with_thumbnail(maker_note=True)) + len(EMBEDDED) // 2,
    ),
}


@pytest.mark.parametrize("name", EMBEDDED_CASES)
def test_an_embedded_jpeg_met_while_resynchronising_is_skipped_whole(name: str) -> None:
    data = EMBEDDED_CASES[name]
    result, removed = sanitized(data)
    output = strict_pixels(result.jpeg)
    assert output.size == (96, 64)
    assert output.tobytes() == strict_pixels(PRIMARY).tobytes()
    scan = walk_markers(EMBEDDED).scans[0]
    assert EMBEDDED[scan.start : scan.end][:64] not in result.jpeg
    assert leaked_runs(data, result.jpeg, removed) == []
    assert EMBEDDED_JPEG in result.report.removed_kinds or "EXIF" in result.report.removed_kinds


def test_the_damaged_thumbnail_cases_really_cut_into_the_embedded_jpeg() -> None:
    for name, data in EMBEDDED_CASES.items():
        # libjpeg follows the lying length into the embedded JPEG and cannot show the
        # photo; the sanitizer does (above).
        done = subprocess.run(["djpeg", "-pnm"], input=data, capture_output=True, check=False)
        assert done.returncode != 0, name
        assert b"extraneous bytes" in done.stderr, name


def test_an_mpo_without_its_primary_eoi_gives_the_primary_only() -> None:
    mpo = mpo_sample()
    end = jpeg_end(mpo)
    data = mpo[: end - 2] + mpo[end:]
    result, removed = sanitized(data)
    assert strict_pixels(result.jpeg).tobytes() == libjpeg_pixels(data).tobytes()
    second = mpo[end:]
    assert second[-256:] not in result.jpeg
    assert "trailer" in result.report.removed_kinds
    assert leaked_runs(data, result.jpeg, removed) == []


def test_a_file_that_is_nothing_but_damage_is_still_rejected() -> None:
    data = SOI + GARBAGE + EXIF + GARBAGE
    with pytest.raises(SanitizeError):
        sanitize_bytes(data, LOSSLESS_ONLY)
