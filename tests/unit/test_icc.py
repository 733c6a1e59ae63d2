"""ICC profiles keep their colour and lose their identity (issue 8, point 2; docs/design.md
"Sanitizer: ICC profiles").

A user checks three things: the colours of a photo are the same after sanitizing (lcms
converts a grid of colours through the profile before and after, every intent, both
directions), nothing that names them or their monitor survives (canaries in every text
place a calibration tool writes), and a broken or hostile profile is a typed `IccError`,
never a crash or a hang.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from exif_stripper.core import icc
from exif_stripper.core.icc import (
    ICC_APP2_PREFIX,
    CleanProfile,
    IccError,
    identifying_text,
    jpeg_chunks,
    reassemble_jpeg_chunks,
    sanitize_profile,
)
from tools.samples import icc_profiles as built
from tools.samples.icc import MAX_ICC_CHUNK, icc_segments, large_icc_profile, srgb_profile

V2, V4 = 0x02100000, 0x04300000

BUILT: dict[str, Callable[[], bytes]] = {
    "matrix-trc RGB v4, parametric curves": lambda: built.matrix_rgb(V4),
    "matrix-trc RGB v2, gamma": lambda: built.matrix_rgb(V2, trc="gamma"),
    "matrix-trc RGB v2, sampled curves": lambda: built.matrix_rgb(0x02400000, trc="table"),
    "gray v2": lambda: built.gray(V2),
    "gray v4": lambda: built.gray(V4),
    "LUT RGB v2 (mft2)": lambda: built.lut_rgb(V2),
    "LUT RGB v4 (mAB/mBA)": lambda: built.lut_rgb(V4),
    "CMYK v2 (mft2, gamt)": lambda: built.cmyk(V2),
    "CMYK v4 (mAB/mBA)": lambda: built.cmyk(V4),
}

# Debian's icc-profiles-free, colord-data and libgs-common (Ghostscript); `make
# system-deps` installs them, so `make test` never skips these.
SYSTEM_PROFILES = Path("/usr/share/color/icc")


def real_profiles() -> list[Path]:
    return sorted(
        path for path in SYSTEM_PROFILES.rglob("*") if path.suffix.lower() in (".icc", ".icm")
    )


def real_profile_params() -> list[object]:
    paths = real_profiles()
    if not paths:
        reason = f"no profiles in {SYSTEM_PROFILES}: run `make system-deps`"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]
    return [pytest.param(path, id=str(path.relative_to(SYSTEM_PROFILES))) for path in paths]


@pytest.fixture(params=list(BUILT), ids=list(BUILT))
def identified(request: pytest.FixtureRequest) -> bytes:
    """A built profile full of identity."""
    return BUILT[request.param]()


# =========================================================================================
# Colour: lcms converts identically before and after
# =========================================================================================

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
MODES = {b"RGB ": "RGB", b"GRAY": "L", b"CMYK": "CMYK", b"Lab ": "LAB"}


def colour_grid(mode: str) -> Image.Image:
    """Every combination of a few levels per channel, as one row of pixels."""
    if mode == "L":
        return Image.frombytes("L", (256, 1), bytes(range(256)))
    levels = [0, 1, 31, 64, 100, 128, 170, 200, 254, 255]
    channels = 4 if mode == "CMYK" else 3
    if channels == 4:
        levels = levels[::2]
    pixels = [b""]
    for _ in range(channels):
        pixels = [p + bytes((v,)) for p in pixels for v in levels]
    return Image.frombytes(mode, (len(pixels), 1), b"".join(pixels))


def conversions(profile: bytes) -> Iterator[tuple[str, bytes | str]]:
    """(what, result) for every intent, both directions, with and without black point
    compensation: the converted grid's bytes, or lcms's refusal as text."""
    mode = MODES[profile[16:20]]
    opened = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    for intent in ImageCms.Intent:
        for flags in (ImageCms.Flags.NONE, ImageCms.Flags.BLACKPOINTCOMPENSATION):
            for direction in ("input", "output"):
                source, target = (opened, SRGB) if direction == "input" else (SRGB, opened)
                modes = (mode, "RGB") if direction == "input" else ("RGB", mode)
                what = f"{intent.name} {direction} {flags.name}"
                try:
                    transform = ImageCms.buildTransform(
                        source, target, *modes, renderingIntent=intent, flags=flags
                    )
                except ImageCms.PyCMSError as error:
                    yield what, f"refused: {error}"
                    continue
                yield what, converted(colour_grid(modes[0]), transform)


def converted(image: Image.Image, transform: ImageCms.ImageCmsTransform) -> bytes:
    # ImageCms.applyTransform also serialises the output profile into the result's
    # info, which lcms cannot do for some valid profiles (Ghostscript's gray_to_k.icc);
    # the conversion itself is all this test compares.
    out = Image.new(transform.output_mode, image.size)
    transform.transform.apply(image.getim(), out.getim())
    return out.tobytes()


def assert_same_colour(before: bytes, after: bytes) -> None:
    expected, got = dict(conversions(before)), dict(conversions(after))
    assert any(isinstance(result, bytes) for result in expected.values()), "nothing converted"
    different = [what for what in expected if expected[what] != got[what]]
    assert not different, f"colours differ for {different}"


def test_built_profiles_convert_colours_identically(identified: bytes) -> None:
    assert_same_colour(identified, sanitize_profile(identified).data)


@pytest.mark.parametrize("path", real_profile_params())
def test_real_profiles_convert_colours_identically(path: Path) -> None:
    profile = path.read_bytes()
    clean = sanitize_profile(profile)
    if profile[12:16] in (b"link", b"abst", b"nmcl") or profile[16:20] not in MODES:
        # DeviceLinks, abstract and named-colour profiles are not an image's profile
        # and Pillow cannot build a two-profile transform from them: they must still
        # come out as a profile lcms opens.
        ImageCms.ImageCmsProfile(io.BytesIO(clean.data))
        return
    assert_same_colour(profile, clean.data)


def test_the_colour_comparison_notices_a_changed_curve() -> None:
    """The comparison above can fail: one changed TRC parameter changes the colours."""
    profile = built.matrix_rgb(V4)
    (count,) = struct.unpack_from(">I", profile, 128)
    table = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    offset = next(offset for sig, offset, _ in table if sig == b"rTRC")
    changed = bytearray(profile)
    changed[offset + 12 : offset + 16] = built.s15(2.2)  # gamma 2.4 -> 2.2
    with pytest.raises(AssertionError, match="colours differ"):
        assert_same_colour(profile, bytes(changed))


# =========================================================================================
# Identity: nothing that names a person or a device survives
# =========================================================================================


def test_the_built_profiles_carry_every_canary(identified: bytes) -> None:
    assert built.canary_hits(identified) == list(built.CANARIES)


def test_no_canary_survives(identified: bytes) -> None:
    assert built.canary_hits(sanitize_profile(identified).data) == []


def test_the_report_names_every_text_identity_and_private_tag(identified: bytes) -> None:
    removed = set(sanitize_profile(identified).removed)
    expected = {"desc", "cprt", "dmnd", "dmdd", "vued", "view", "targ", "ciis", "calt"}
    assert expected | {"tech", "meta", "DevD", "mmod", "vcgt", "header"} <= removed


def tag_table(profile: bytes) -> dict[str, tuple[int, int]]:
    """Signature -> (offset, size), read independently of the product."""
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    return {sig.decode("latin-1"): (offset, size) for sig, offset, size in entries}


def element(profile: bytes, signature: str) -> bytes:
    offset, size = tag_table(profile)[signature]
    return profile[offset : offset + size]


def test_colour_tags_stay_and_text_tags_go() -> None:
    clean = sanitize_profile(built.matrix_rgb(V4)).data
    assert list(tag_table(clean)) == [
        *("desc", "cprt", "wtpt", "bkpt", "rXYZ", "gXYZ", "bXYZ", "chad", "chrm", "lumi"),
        *("meas", "rTRC", "gTRC", "bTRC"),
    ]


def test_v4_description_is_neutral_multilocalized_text() -> None:
    clean = sanitize_profile(built.matrix_rgb(V4)).data
    assert element(clean, "desc")[:4] == b"mluc"
    assert "RGB profile".encode("utf-16-be") in element(clean, "desc")
    assert element(clean, "cprt")[:4] == b"mluc"


def test_v2_description_is_neutral_text_description() -> None:
    clean = sanitize_profile(built.gray(V2)).data
    assert element(clean, "desc")[:4] == b"desc"
    assert b"GRAY profile\x00" in element(clean, "desc")
    assert element(clean, "cprt") == b"text\x00\x00\x00\x00\x00"


def test_header_identity_is_neutralised_and_colour_fields_kept() -> None:
    profile = built.cmyk(V2)
    clean = sanitize_profile(profile).data
    for start, end in ((4, 8), (24, 36), (40, 44), (48, 64), (80, 84), (100, 128)):
        assert clean[start:end] == bytes(end - start), f"header bytes {start}..{end}"
    assert clean[8:24] == profile[8:24]  # version, device class, colour space, PCS
    assert clean[36:40] == b"acsp"
    assert clean[64:80] == profile[64:80]  # rendering intent, PCS illuminant
    assert struct.unpack_from(">I", clean, 44) == (0x00000001,)  # "embedded" kept


def test_a_profile_id_is_recomputed() -> None:
    clean = sanitize_profile(built.matrix_rgb(V4)).data
    assert clean[84:100] == built.profile_id(clean)


def test_a_profile_without_id_stays_without() -> None:
    profile = built.build(built.Header(with_profile_id=False), [(b"wtpt", built.xyz(1, 1, 1))])
    assert sanitize_profile(profile).data[84:100] == bytes(16)


def test_colorant_names_are_blanked_and_their_colours_kept() -> None:
    names = [b"Alice's spot ink".ljust(32, b"\x00"), b"Cyan".ljust(32, b"\x00")]
    pcs = [struct.pack(">3H", 1000, 2000, 3000), struct.pack(">3H", 4, 5, 6)]
    table = (
        b"clrt"
        + bytes(4)
        + struct.pack(">I", 2)
        + b"".join(n + p for n, p in zip(names, pcs, strict=True))
    )
    header = built.Header(device_class=b"prtr", colour_space=b"2CLR", pcs=b"Lab ")
    clean = sanitize_profile(built.build(header, [(b"clrt", table)]))
    kept = element(clean.data, "clrt")
    assert b"Alice" not in kept
    assert b"Cyan" not in kept
    assert kept[12 + 32 : 12 + 38] == pcs[0]
    assert kept[50 + 32 : 50 + 38] == pcs[1]
    assert "clrt" in clean.removed


def test_a_profile_sequence_is_emptied() -> None:
    entry = bytes(20) + built.text_description(built.OWNER) * 2
    pseq = b"pseq" + bytes(4) + struct.pack(">I", 1) + entry
    header = built.Header(device_class=b"link", pcs=b"CMYK")
    clean = sanitize_profile(built.build(header, [(b"pseq", pseq)]))
    assert element(clean.data, "pseq") == b"pseq" + bytes(8)
    assert built.canary_hits(clean.data) == []


def test_a_sanitized_profile_has_no_identifying_text(identified: bytes) -> None:
    assert identifying_text(sanitize_profile(identified).data) == []


def test_identifying_text_lists_what_inspect_reports(identified: bytes) -> None:
    found = identifying_text(identified)
    tags = {tag for tag, _ in found}
    assert {"desc", "cprt", "dmnd", "dmdd", "vued", "targ", "meta", "DevD"} <= tags
    assert ("meta", f"EDID_serial={built.EDID_SERIAL}") in found
    assert any(built.SERIAL in text for tag, text in found if tag == "DevD")
    assert any(built.OWNER in text for tag, text in found if tag == "cprt")


# =========================================================================================
# Structure: what is written is a well-formed profile
# =========================================================================================


def test_shared_curves_stay_shared() -> None:
    table = tag_table(sanitize_profile(built.matrix_rgb(V4)).data)
    assert table["rTRC"] == table["gTRC"] == table["bTRC"]


def test_elements_are_aligned_and_the_size_is_exact(identified: bytes) -> None:
    clean = sanitize_profile(identified).data
    assert struct.unpack_from(">I", clean, 0) == (len(clean),)
    assert len(clean) % 4 == 0
    assert all(offset % 4 == 0 for offset, _ in tag_table(clean).values())


def test_bytes_smuggled_after_a_curve_are_cut() -> None:
    curve = built.gamma_curve(2.2) + f"{built.OWNER} {built.SERIAL}".encode()
    profile = built.build(built.Header(colour_space=b"GRAY"), [(b"kTRC", curve)])
    clean = sanitize_profile(profile).data
    assert element(clean, "kTRC") == built.gamma_curve(2.2)[:14]
    assert built.canary_hits(clean) == []


def test_a_colour_tag_of_the_wrong_type_is_dropped() -> None:
    profile = built.build(built.Header(), [(b"rTRC", built.text(built.OWNER))])
    clean = sanitize_profile(profile)
    assert "rTRC" not in tag_table(clean.data)
    assert "rTRC" in clean.removed


def test_a_lut_whose_offsets_leave_the_tag_is_dropped() -> None:
    """A CLUT offset past the tag's end would read other tags' bytes, which move."""
    lut = bytearray(built.lut_a_to_b(3, 3, 3, random.Random(0)))
    struct.pack_into(">I", lut, 24, len(lut) + 64)  # the CLUT offset
    profile = built.build(built.Header(pcs=b"Lab "), [(b"A2B0", bytes(lut))])
    clean = sanitize_profile(profile)
    assert "A2B0" not in tag_table(clean.data)
    assert "A2B0" in clean.removed


def test_a_duplicate_tag_keeps_the_first() -> None:
    first, second = built.xyz(0.9642, 1, 0.8249), built.xyz(0.5, 0.5, 0.5)
    clean = sanitize_profile(built.build(built.Header(), [(b"wtpt", first), (b"wtpt", second)]))
    assert list(tag_table(clean.data)) == ["wtpt"]
    assert element(clean.data, "wtpt") == first


def test_a_misaligned_tag_is_accepted_and_written_aligned() -> None:
    profile = bytearray(built.build(built.Header(), [(b"wtpt", built.xyz(1, 1, 1))]))
    profile += bytes(4)
    offset, size = tag_table(bytes(profile))["wtpt"]
    profile[offset + 2 : offset + 2 + size] = profile[offset : offset + size]
    struct.pack_into(">I", profile, 132 + 4, offset + 2)
    struct.pack_into(">I", profile, 0, len(profile))
    clean = sanitize_profile(bytes(profile)).data
    assert element(clean, "wtpt") == built.xyz(1, 1, 1)
    assert tag_table(clean)["wtpt"][0] % 4 == 0


def test_overlapping_colour_tags_are_written_once() -> None:
    """A curve whose data lies inside another's: both kept, the bytes written once."""
    inner = built.gamma_curve(1.8)[:14]
    outer = b"curv" + bytes(4) + struct.pack(">I", 10) + inner + bytes(6)
    profile = bytearray(built.build(built.Header(), [(b"rTRC", outer), (b"gTRC", inner)]))
    offset, _ = tag_table(bytes(profile))["rTRC"]
    struct.pack_into(">I", profile, 132 + 12 + 4, offset + 12)  # gTRC inside rTRC
    clean = sanitize_profile(bytes(profile)).data
    table = tag_table(clean)
    assert table["gTRC"] == (table["rTRC"][0] + 12, 14)
    assert clean.count(inner) == 1


# =========================================================================================
# Standard profiles pass byte-identical
# =========================================================================================


@pytest.fixture
def known_standard(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A profile entered in the known list the way a published one is: length and CRC."""
    profile = built.matrix_rgb(V4)
    known = icc._KnownProfile("test profile", len(profile), zlib.crc32(profile))
    monkeypatch.setattr(icc, "_KNOWN_PROFILES", (known,))
    monkeypatch.setattr(icc, "_KNOWN_LENGTHS", frozenset({len(profile)}))
    return profile


def test_a_known_standard_profile_passes_byte_identical(known_standard: bytes) -> None:
    assert sanitize_profile(known_standard) == CleanProfile(known_standard, True, ())


def test_a_known_standard_profile_identifies_nobody(known_standard: bytes) -> None:
    assert identifying_text(known_standard) == []


def test_a_known_profile_edited_by_one_byte_is_sanitized(known_standard: bytes) -> None:
    edited = known_standard[:-1] + bytes([known_standard[-1] ^ 1])
    clean = sanitize_profile(edited)
    assert not clean.standard
    assert clean.data != edited


def test_a_profile_id_in_the_list_must_match_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = built.matrix_rgb(V4)
    crc, adler = zlib.crc32(profile), zlib.adler32(profile)
    for profile_id, standard in ((built.profile_id(profile), True), (bytes(16), False)):
        known = icc._KnownProfile("test", len(profile), crc, adler, profile_id)
        monkeypatch.setattr(icc, "_KNOWN_PROFILES", (known,))
        monkeypatch.setattr(icc, "_KNOWN_LENGTHS", frozenset({len(profile)}))
        assert sanitize_profile(profile).standard is standard


def test_the_lcms_srgb_profile_is_not_in_the_list() -> None:
    assert not sanitize_profile(srgb_profile()).standard


# =========================================================================================
# JPEG chunks (ICC.1 Annex B.4)
# =========================================================================================


def app2_payloads(profile: bytes, chunk_size: int) -> list[bytes]:
    """The payloads of the harness's own APP2 segments (marker and length stripped)."""
    return [segment[4:] for segment in icc_segments(profile, chunk_size)]


def test_chunks_reassemble_to_the_profile() -> None:
    profile = large_icc_profile(200_000)
    assert reassemble_jpeg_chunks(app2_payloads(profile, MAX_ICC_CHUNK)) == profile


def test_chunks_are_ordered_by_sequence_number() -> None:
    chunks = app2_payloads(srgb_profile(), 100)
    assert reassemble_jpeg_chunks(chunks[::-1]) == srgb_profile()


def test_jpeg_chunks_round_trip_and_fill_each_segment() -> None:
    profile = large_icc_profile(300_000)
    chunks = jpeg_chunks(profile)
    assert [len(c) for c in chunks[:-1]] == [65_533] * (len(chunks) - 1)  # a full segment
    assert all(c.startswith(ICC_APP2_PREFIX) for c in chunks)
    assert [c[12:14] for c in chunks] == [bytes((n, len(chunks))) for n in range(1, 6)]
    assert reassemble_jpeg_chunks(chunks) == profile


def _chunk(number: int, count: int, data: bytes = b"x") -> bytes:
    return ICC_APP2_PREFIX + bytes((number, count)) + data


@pytest.mark.parametrize(
    ("chunks", "why"),
    [
        ([], "no ICC_PROFILE chunks"),
        ([_chunk(1, 2)], r"chunks \[2\] of 2 are missing"),
        ([_chunk(1, 3), _chunk(3, 3)], r"chunks \[2\] of 3 are missing"),
        ([_chunk(1, 2), _chunk(1, 2)], "sequence number 1 appears twice"),
        ([_chunk(1, 2), _chunk(2, 3)], "disagree on the chunk count"),
        ([_chunk(0, 1)], "sequence number 0 of 1"),
        ([_chunk(2, 1)], "sequence number 2 of 1"),
        ([_chunk(1, 0)], "chunk count of 0"),
        ([b"ICC_PROFILE\x00\x01"], "not an ICC_PROFILE chunk"),
        ([b"MPF\x00" + bytes(10)], "not an ICC_PROFILE chunk"),
    ],
)
def test_broken_chunk_sets_are_refused(chunks: list[bytes], why: str) -> None:
    with pytest.raises(IccError, match=why):
        reassemble_jpeg_chunks(chunks)


def test_a_profile_too_large_for_a_jpeg_is_refused() -> None:
    with pytest.raises(IccError, match="at most 255"):
        jpeg_chunks(bytes(255 * 65_519 + 1))
    assert len(jpeg_chunks(bytes(255 * 65_519))) == 255


# =========================================================================================
# Hostile profiles: typed errors, linear work
# =========================================================================================


def _patched(profile: bytes, at: int, value: bytes) -> bytes:
    return profile[:at] + value + profile[at + len(value) :]


GOOD = built.matrix_rgb(V4)
WTPT_ENTRY = 132 + 12 * len(built.identity_tags(V4))  # the first tag after the identity


@pytest.mark.parametrize(
    ("profile", "why"),
    [
        (b"", "shorter than the header"),
        (GOOD[:131], "shorter than the header"),
        (GOOD + bytes(4), "the header says"),
        (_patched(GOOD, 36, b"xcsp"), "no 'acsp'"),
        (_patched(GOOD, 8, b"\x05"), "v5"),
        (_patched(GOOD, 8, b"\x01"), "unknown profile version 1"),
        (_patched(GOOD, 12, b"\x00abc"), "unknown device class '0x00616263'"),
        (_patched(GOOD, 16, b"RGBA"), "unknown colour space 'RGBA'"),
        (_patched(GOOD, 20, b"CMYK"), "unknown connection space 'CMYK'"),
        (_patched(GOOD, 128, struct.pack(">I", 4_000_000)), "4000000 tags"),
        (_patched(GOOD, 128, struct.pack(">I", 1000)), "runs past the profile's end"),
        (_patched(GOOD, WTPT_ENTRY + 4, struct.pack(">I", len(GOOD))), "lies outside"),
        (_patched(GOOD, WTPT_ENTRY + 4, struct.pack(">I", 0)), "lies outside"),
        (_patched(GOOD, WTPT_ENTRY + 8, struct.pack(">I", 0xFFFFFFF0)), "lies outside"),
    ],
)
def test_broken_profiles_are_typed_errors(profile: bytes, why: str) -> None:
    with pytest.raises(IccError, match=why):
        sanitize_profile(profile)


@pytest.mark.timeout(60)  # a hang guard, not a speed goal (make bench measures speed)
def test_many_tags_pointing_at_one_string_stay_cheap() -> None:
    """identifying_text never raises and its output is bounded by the profile's size."""
    payload = built.text(built.OWNER * 10_000)
    count = 100_000
    start = 132 + 12 * count
    table = struct.pack(">4sII", b"DevD", start, len(payload)) * count
    profile = bytearray(built.header_bytes(built.Header()))
    profile += struct.pack(">I", count) + table + payload
    struct.pack_into(">I", profile, 0, len(profile))
    found = identifying_text(bytes(profile))
    assert sum(len(text) for _, text in found) <= len(profile)
    with pytest.raises(IccError, match="100000 tags"):
        sanitize_profile(bytes(profile))


# --- properties --------------------------------------------------------------------------

SIGNATURES = [*icc._RULES, b"DevD", b"vcgt", b"\x00\x00\x00\x00"]
ELEMENTS = [
    built.xyz(0.9, 1, 0.8),
    built.gamma_curve(2.2),
    built.parametric(3, (2.4, 0.9, 0.05, 0.07, 0.04)),
    built.text("x"),
    built.mluc("y"),
    built.text_description("z"),
    built.sf32([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    built.dictionary({"a": "b"}),
]


@st.composite
def structured_profiles(draw: st.DrawFn) -> bytes:
    """Profiles with a plausible header and a random tag table over random data."""
    header = built.Header(
        device_class=draw(st.sampled_from([b"mntr", b"prtr", b"link", b"xxxx"])),
        colour_space=draw(st.sampled_from([b"RGB ", b"GRAY", b"CMYK", b"3CLR"])),
        pcs=draw(st.sampled_from([b"XYZ ", b"Lab ", b"RGB "])),
        version=draw(st.sampled_from([V2, V4, 0x05000000])),
        with_profile_id=draw(st.booleans()),
    )
    tags = draw(
        st.lists(
            st.tuples(
                st.sampled_from(SIGNATURES),
                st.one_of(st.sampled_from(ELEMENTS), st.binary(max_size=64)),
            ),
            max_size=8,
        )
    )
    profile = bytearray(built.build(header, tags))
    for _ in range(draw(st.integers(0, 4))):  # then break a few bytes anywhere
        at = draw(st.integers(0, len(profile) - 1))
        profile[at] = draw(st.integers(0, 255))
    return bytes(profile)


def mutated(profile: bytes) -> st.SearchStrategy[bytes]:
    return st.lists(st.tuples(st.integers(0, len(profile) - 1), st.integers(0, 255))).map(
        lambda edits: bytes(_apply(profile, edits))
    )


def _apply(profile: bytes, edits: list[tuple[int, int]]) -> bytearray:
    result = bytearray(profile)
    for at, value in edits:
        result[at] = value
    return result


ANY_PROFILE = st.one_of(
    st.binary(max_size=512),
    structured_profiles(),
    mutated(built.matrix_rgb(V4)),
    mutated(built.cmyk(V2)),
)


def assert_clean_or_typed_error(profile: bytes) -> CleanProfile | None:
    try:
        clean = sanitize_profile(profile)
    except IccError:
        return None
    again = sanitize_profile(clean.data)  # it parses...
    assert again.data == clean.data  # ...and sanitizing is idempotent
    # Only the neutral texts (~100 bytes) and alignment (< 4 bytes a tag) add bytes.
    assert len(clean.data) <= len(profile) + 512
    return clean


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ANY_PROFILE)
def test_any_bytes_are_a_typed_error_or_an_idempotent_clean_profile(profile: bytes) -> None:
    assert_clean_or_typed_error(profile)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(ANY_PROFILE)
def test_identifying_text_never_raises(profile: bytes) -> None:
    found = identifying_text(profile)
    assert sum(len(text) for _, text in found) <= len(profile)


@pytest.mark.parametrize("path", real_profile_params())
def test_real_profiles_sanitize_idempotently(path: Path) -> None:
    clean = assert_clean_or_typed_error(path.read_bytes())
    assert clean is not None
    assert sanitize_profile(clean.data).removed == ()
