"""PNG and APNG: stripped chunk by chunk, pixels and colours unchanged (issue 11, point 2).

Each test builds its PNG in code (tools/samples/png.py), runs it through the
sanitizer's PNG path, and judges the output with readers that are not the product's:
Pillow (libpng's rules, zlib), exiftool, lcms, and the harness's own chunk reader and
reference decoder.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps, ImageSequence

from exif_stripper.core import png
from exif_stripper.core.chunked import Facts
from exif_stripper.core.errors import (
    BadChunk,
    SanitizeError,
    TooLarge,
    Truncated,
    VerificationFailed,
)
from exif_stripper.core.icc import identifying_text
from exif_stripper.core.png_verify import verify_png
from exif_stripper.core.sanitize import OrientationPolicy, Removed
from tools.oracle import KEEP_TAG_ALLOWED, exiftool_available, identifying_findings_many
from tools.samples import icc_profiles
from tools.samples import png as sp
from tools.samples.exif import CameraExif, exif_tiff
from tools.samples.icc import srgb_profile
from tools.samples.jpeg import photo_image
from tools.samples.orientation import DISPLAY_TRANSFORM

APPLY, KEEP_TAG, DROP = OrientationPolicy.APPLY, OrientationPolicy.KEEP_TAG, OrientationPolicy.DROP
KEPT_TYPES = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP"}
KEPT_TYPES |= {b"mDCV", b"cLLI", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT", b"iCCP"}


def strip(
    data: bytes,
    policy: OrientationPolicy = APPLY,
    *,
    block: int | None = None,
    budget: int = 1 << 30,
    max_bytes: int = 1 << 30,
) -> tuple[bytes, list[Removed], Facts]:
    removed: list[Removed] = []
    out: list[bytes | memoryview] = []
    blocks = [data] if block is None else [data[i : i + block] for i in range(0, len(data), block)]
    facts = png.sanitize_png(
        blocks,
        out.append,
        policy,
        max_bytes=max_bytes,
        pixel_budget=budget,
        on_removed=removed.append,
    )
    return b"".join(bytes(p) for p in out), removed, facts


def pixels(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    """Every frame as libpng and Pillow compose it: mode, size, bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return [(f.mode, f.size, f.tobytes()) for f in ImageSequence.Iterator(image)]


def kinds(removed: Sequence[Removed]) -> set[str]:
    return {item.kind for item in removed}


# --- what is kept and what is dropped ---------------------------------------------------------


def test_metadata_chunks_are_dropped_and_the_picture_stays() -> None:
    data = sp.photo_png()
    out, removed, facts = strip(data)
    assert sp.chunk_types(out) == [b"IHDR", b"iCCP", b"IDAT", b"IEND"]
    assert kinds(removed) >= {
        "EXIF",
        "text",
        "XMP",
        "text (raw profile)",
        "timestamp",
        "C2PA manifest",
        "prVt chunk",
        "trailer",
        "ICC profile text and identity",
    }
    assert pixels(out) == pixels(data)
    assert (facts.width, facts.height, facts.orientation) == (96, 64, 1)


def test_kept_chunks_pass_byte_for_byte() -> None:
    extra = [
        sp.png_chunk(b"gAMA", struct.pack(">I", 45455)),
        sp.png_chunk(
            b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
        ),
        sp.png_chunk(b"sRGB", b"\x00"),
        sp.png_chunk(b"cICP", b"\x01\x0d\x00\x01"),
        sp.png_chunk(b"mDCV", bytes(range(24))),
        sp.png_chunk(b"cLLI", bytes(range(8))),
        sp.png_chunk(b"sBIT", b"\x05\x06\x07"),  # palette images: red, green, blue
        sp.png_chunk(b"pHYs", struct.pack(">IIB", 3780, 3780, 1)),
        sp.png_chunk(b"tRNS", b"\x00\x01\x02"),
        sp.png_chunk(b"bKGD", b"\x02"),
    ]
    raster = sp.random_raster(9, 5, 8, 3, seed=1)
    palette = bytes(range(256)) * 3
    data = sp.encode_png(raster, palette=palette, extra=extra[:8])
    data = sp.insert_after(data, b"PLTE", extra[8:])
    out, removed, _ = strip(data)
    assert removed == []
    assert out == data


def test_the_icc_profile_loses_its_identity_and_keeps_its_colours() -> None:
    data = sp.photo_png()
    out, _, _ = strip(data)
    (iccp,) = [c for c in sp.walk(out) if c.kind == b"iCCP"]
    name, rest = iccp.payload.split(b"\x00", 1)
    profile = zlib.decompress(rest[1:])
    assert name == sp.NEUTRAL_PROFILE_NAME
    assert identifying_text(profile) == []
    assert icc_profiles.canary_hits(profile) == []
    assert icc_profiles.shown_in_srgb(out) == icc_profiles.shown_in_srgb(data)


def test_a_standard_srgb_profile_keeps_its_bytes() -> None:
    standard = srgb_profile()
    data = sp.without(sp.photo_png(icc=standard), [b"iCCP"])
    data = sp.insert_after(data, b"IHDR", [sp.iccp_chunk(standard)])
    out, _, _ = strip(data)
    (iccp,) = [c for c in sp.walk(out) if c.kind == b"iCCP"]
    assert zlib.decompress(iccp.payload.split(b"\x00", 2)[2]) == png.sanitize_profile(standard).data


@pytest.mark.skipif(not exiftool_available(), reason="exiftool not installed")
def test_exiftool_finds_nothing_identifying_in_any_output() -> None:
    inputs = [
        sp.photo_png(),
        sp.photo_png(mode="RGBA", orientation=6),
        sp.photo_png(mode="L"),
        sp.photo_png(mode="P"),
        sp.apng(),
        sp.apng(orientation=3, default_image_is_frame=False),
    ]
    outputs = [strip(data)[0] for data in inputs]
    before = identifying_findings_many(inputs)
    assert all(before), "every input must carry metadata exiftool sees"
    assert identifying_findings_many(outputs) == [[]] * len(outputs)


def test_no_identifying_text_survives_anywhere_in_the_bytes() -> None:
    for data in (sp.photo_png(), sp.apng()):
        out, _, _ = strip(data)
        readable = out + b"".join(
            zlib.decompress(c.payload.split(b"\x00", 1)[1][1:])
            for c in sp.walk(out)
            if c.kind == b"iCCP"
        )
        assert [c for c in sp.CANARIES if c in readable] == []


# --- APNG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("default_image_is_frame", [True, False])
def test_every_animation_frame_keeps_its_pixels(default_image_is_frame: bool) -> None:
    data = sp.apng(default_image_is_frame=default_image_is_frame)
    out, removed, facts = strip(data)
    assert pixels(out) == pixels(data)
    (actl,) = [c.payload for c in sp.walk(data) if c.kind == b"acTL"]
    assert facts.frames == struct.unpack(">I", actl[:4])[0] == 3
    assert {"EXIF", "text", "prVt chunk"} <= kinds(removed)
    assert set(sp.chunk_types(out)) <= KEPT_TYPES


def apng_with(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A 4x4 RGBA APNG from (type, payload) pairs between IHDR and IEND."""
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0)
    body = b"".join(sp.png_chunk(kind, payload) for kind, payload in chunks)
    return sp.SIGNATURE + sp.png_chunk(b"IHDR", ihdr) + body + sp.png_chunk(b"IEND", b"")


def frame_data(width: int = 4, height: int = 4) -> bytes:
    return zlib.compress(b"".join(b"\x00" + bytes(4 * width) for _ in range(height)))


def fctl(sequence: int, width: int = 4, height: int = 4, x: int = 0, y: int = 0) -> bytes:
    return struct.pack(">IIIIIHHBB", sequence, width, height, x, y, 1, 10, 0, 0)


GOOD_APNG = [
    (b"acTL", struct.pack(">II", 2, 0)),
    (b"fcTL", fctl(0)),
    (b"IDAT", frame_data()),
    (b"fcTL", fctl(1, 2, 2, 1, 1)),
    (b"fdAT", struct.pack(">I", 2) + frame_data(2, 2)),
]


def test_a_minimal_apng_passes() -> None:
    data = apng_with(GOOD_APNG)
    out, removed, _ = strip(data)
    assert out == data
    assert removed == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({4: (b"fdAT", struct.pack(">I", 5) + frame_data(2, 2))}, "sequence number"),
        ({3: (b"fcTL", fctl(1, 4, 4, 1, 1))}, "outside the image"),
        ({0: (b"acTL", struct.pack(">II", 3, 0))}, "declares 3 frames"),
        ({1: (b"fcTL", fctl(0, 2, 2))}, "cover the image"),
        ({4: (b"tEXt", b"a\x00b")}, "has no data"),
    ],
)
def test_broken_animations_are_rejected(
    change: dict[int, tuple[bytes, bytes]], reason: str
) -> None:
    chunks = [change.get(i, c) for i, c in enumerate(GOOD_APNG)]
    with pytest.raises(BadChunk, match=reason):
        strip(apng_with(chunks))


def test_a_second_actl_is_rejected_even_after_an_invalid_one() -> None:
    # libpng's APNG patch skips an invalid acTL and takes the next; Pillow gives up on the
    # animation: which frames are shown depends on the decoder, so the file is refused.
    invalid = (b"acTL", b"\x00" * 8)  # 0 frames
    with pytest.raises(BadChunk, match="second acTL"):
        strip(apng_with([invalid, *GOOD_APNG]))


def test_an_fdat_before_the_image_data_is_rejected() -> None:
    chunks = [
        GOOD_APNG[0],
        (b"fcTL", fctl(0)),
        (b"fdAT", struct.pack(">I", 1) + b"x"),
        GOOD_APNG[2],
    ]
    with pytest.raises(BadChunk, match="belongs to no frame"):
        strip(apng_with(chunks))


def test_without_an_actl_before_the_image_the_still_image_is_kept() -> None:
    # Decoders show the still image then, so the output is that still image.
    chunks = [GOOD_APNG[2], GOOD_APNG[0], *GOOD_APNG[3:]]
    out, removed, _ = strip(apng_with(chunks))
    assert sp.chunk_types(out) == [b"IHDR", b"IDAT", b"IEND"]
    assert "acTL (out of place)" in kinds(removed)
    assert "animation frame (no acTL before the image)" in kinds(removed)


# --- damage: what libpng refuses is refused, what it ignores is dropped --------------------------


def small_png(**options: object) -> bytes:
    return sp.pillow_png(photo_image(16, 12, seed=3), **options)


def test_a_bad_crc_in_image_data_is_rejected_with_its_offset() -> None:
    source = small_png()
    idat = next(c for c in sp.walk(source) if c.kind == b"IDAT")
    data = sp.replace_payload(source, b"IDAT", idat.payload, crc=False)
    at = idat.offset
    with pytest.raises(BadChunk, match="CRC of IDAT") as raised:
        strip(data)
    assert raised.value.offset == at


def test_a_second_kept_chunk_of_a_kind_is_dropped_and_the_first_stays() -> None:
    first, second = (sp.png_chunk(b"tRNS", struct.pack(">3H", v, v, v)) for v in (1, 2))
    data = sp.insert_after(small_png(), b"IHDR", [first, second])
    out, removed, _ = strip(data)
    assert [c.payload for c in sp.walk(out) if c.kind == b"tRNS"] == [struct.pack(">3H", 1, 1, 1)]
    assert "tRNS (duplicate)" in kinds(removed)


def test_a_bad_crc_in_a_kept_ancillary_chunk_drops_it() -> None:
    data = sp.insert_after(small_png(), b"IHDR", [sp.png_chunk(b"gAMA", struct.pack(">I", 45455))])
    data = sp.replace_payload(data, b"gAMA", struct.pack(">I", 45455), crc=False)
    out, removed, _ = strip(data)
    assert b"gAMA" not in sp.chunk_types(out)
    assert "gAMA (bad CRC)" in kinds(removed)


@pytest.mark.parametrize(
    ("where", "chunk", "kind"),
    [
        ("after IDAT", sp.png_chunk(b"gAMA", struct.pack(">I", 45455)), "gAMA (out of place)"),
        ("after IHDR", sp.png_chunk(b"gAMA", b"\x00\x00\x00\x00"), "gAMA (invalid)"),
        ("after IHDR", sp.png_chunk(b"sRGB", b"\x07"), "sRGB (invalid)"),
        ("after IHDR", sp.png_chunk(b"pHYs", b"\x00" * 8), "pHYs (invalid)"),
        ("after IHDR", sp.png_chunk(b"tRNS", b"\x00" * 2), "tRNS (invalid)"),  # RGB needs 6
        ("after IHDR", sp.png_chunk(b"bKGD", b"\x00" * 2), "bKGD (invalid)"),
        ("after IHDR", sp.png_chunk(b"sBIT", b"\x09\x08\x08"), "sBIT (invalid)"),  # > 8 bits
    ],
)
def test_kept_chunks_that_libpng_ignores_are_dropped(where: str, chunk: bytes, kind: str) -> None:
    base = small_png()
    if where == "after IDAT":
        data = sp.insert_before(base, b"IEND", [chunk])
    else:
        data = sp.insert_after(base, b"IHDR", [chunk])
    out, removed, _ = strip(data)
    assert kind in kinds(removed)
    assert out == strip(base)[0]


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (lambda d: d[:8] + sp.png_chunk(b"tEXt", b"a\x00b") + d[8:], BadChunk, "not IHDR"),
        (
            lambda d: sp.insert_after(d, b"IHDR", [sp.png_chunk(b"CgBI", b"\x50\x00\x20\x06")]),
            BadChunk,
            "unknown critical chunk CgBI",
        ),
        (
            lambda d: sp.insert_after(d, b"IHDR", [sp.png_chunk(b"a1b2", b"")]),
            BadChunk,
            "not a chunk type",
        ),
        (lambda d: d[:-30], Truncated, "ends inside"),
        (lambda d: d[:33] + struct.pack(">I", 2**31) + d[37:], BadChunk, "declares"),
        (lambda d: sp.without(d, [b"IDAT"]), BadChunk, "no IDAT"),
        (
            lambda d: (
                d[:8] + sp.png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 4, 8, 2, 0, 0, 0)) + d[33:]
            ),
            BadChunk,
            "IHDR declares",
        ),
        (
            lambda d: (
                d[:8] + sp.png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 3, 2, 0, 0, 0)) + d[33:]
            ),
            BadChunk,
            "bit depth 3",
        ),
    ],
)
def test_broken_structure_is_a_typed_rejection(
    damage: object, error: type[SanitizeError], match: str
) -> None:
    assert callable(damage)
    with pytest.raises(error, match=match):
        strip(damage(small_png()))


def test_image_data_split_by_another_chunk_is_rejected() -> None:
    data = sp.pillow_png(photo_image(64, 64, seed=4), compress_level=0)
    raster = sp.walk(data)
    idat = b"".join(c.payload for c in raster if c.kind == b"IDAT")
    split = [
        sp.png_chunk(b"IDAT", idat[:100]),
        sp.text_chunk("a", "b"),
        sp.png_chunk(b"IDAT", idat[100:]),
    ]
    broken = (
        sp.SIGNATURE
        + sp.png_chunk(b"IHDR", raster[0].payload)
        + b"".join(split)
        + sp.png_chunk(b"IEND", b"")
    )
    with pytest.raises(BadChunk, match="not consecutive"):
        strip(broken)


def test_a_palette_image_needs_its_palette() -> None:
    data = sp.without(sp.pillow_png(photo_image(8, 8).convert("P")), [b"PLTE"])
    with pytest.raises(BadChunk, match="without PLTE"):
        strip(data)


def test_a_missing_iend_is_added_and_bytes_after_iend_are_dropped() -> None:
    data = small_png()
    out, _, facts = strip(data[:-12])
    assert out == data
    assert facts.repairs == ["IEND added"]
    out, removed, _ = strip(data + b"trailing bytes")
    assert out == data
    assert "trailer" in kinds(removed)


def test_an_iccp_that_inflates_too_far_is_dropped_not_held() -> None:
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)  # 64 KiB in, 64 MiB out
    data = sp.insert_after(small_png(), b"IHDR", [sp.png_chunk(b"iCCP", b"x\x00\x00" + bomb)])
    out, removed, _ = strip(data)
    assert b"iCCP" not in sp.chunk_types(out)
    assert "ICC profile (invalid)" in kinds(removed)


def test_a_file_over_the_byte_limit_is_too_large() -> None:
    data = small_png()
    with pytest.raises(TooLarge):
        strip(data, max_bytes=len(data) - 1)


def test_an_exif_after_the_image_data_is_dropped_and_not_applied() -> None:
    data = sp.insert_before(small_png(), b"IEND", [sp.exif_chunk(6)])
    out, removed, facts = strip(data)
    assert facts.orientation is None
    assert "EXIF" in kinds(removed)
    assert pixels(out) == pixels(data)


# --- orientation ---------------------------------------------------------------------------------

# Every colour type with every bit depth it allows (PNG 3rd edition, Table 11).
DEPTHS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2), (3, 4), (3, 8)]
DEPTHS += [(4, 8), (4, 16), (6, 8), (6, 16)]


@pytest.mark.parametrize(("colour_type", "depth"), DEPTHS)
@pytest.mark.parametrize("interlaced", [False, True])
def test_apply_turns_every_bit_depth_exactly(
    colour_type: int, depth: int, interlaced: bool
) -> None:
    raster = sp.random_raster(11, 7, depth, colour_type, seed=depth + colour_type)
    palette = bytes(range(256)) * 3 if colour_type == 3 else None
    extra = [sp.png_chunk(b"pHYs", struct.pack(">IIB", 2000, 3000, 1))]
    for orientation in range(2, 9):
        data = sp.encode_png(
            raster,
            interlaced=interlaced,
            palette=palette,
            extra=[*extra, sp.exif_chunk(orientation)],
        )
        out, _, facts = strip(data)
        decoded = sp.reference_decode(out)
        assert decoded == sp.turned_raster(raster, orientation), orientation
        ihdr = sp.walk(out)[0].payload
        assert ihdr[8:10] == bytes((depth, colour_type))
        assert ihdr[12] == 0
        (phys,) = [c.payload for c in sp.walk(out) if c.kind == b"pHYs"]
        swapped = orientation >= 5
        assert phys == struct.pack(">IIB", *((3000, 2000) if swapped else (2000, 3000)), 1)
        assert facts.rotation == "lossless"


def test_a_turned_palette_image_keeps_its_palette_and_transparency() -> None:
    image = photo_image(20, 10, seed=8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    data = sp.pillow_png(image, bits=4, transparency=bytes(range(0, 256, 16)))
    data = sp.insert_after(data, b"IHDR", [sp.exif_chunk(8)])
    out, _, _ = strip(data)
    with Image.open(io.BytesIO(out)) as turned, Image.open(io.BytesIO(data)) as source:
        upright = ImageOps.exif_transpose(source)
        assert turned.mode == "P"
        assert turned.getpalette() == source.getpalette()
        assert turned.info["transparency"] == source.info["transparency"]
        assert turned.tobytes() == upright.tobytes()
    assert [c.payload for c in sp.walk(out) if c.kind in (b"PLTE", b"tRNS")] == [
        c.payload for c in sp.walk(data) if c.kind in (b"PLTE", b"tRNS")
    ]


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("default_image_is_frame", [True, False])
def test_apply_turns_every_animation_frame_exactly(
    orientation: int, default_image_is_frame: bool
) -> None:
    data = sp.apng(orientation=orientation, default_image_is_frame=default_image_is_frame)
    out, _, facts = strip(data)
    with Image.open(io.BytesIO(data)) as source:
        upright = [
            f.copy().transpose(DISPLAY_TRANSFORM[orientation])
            for f in ImageSequence.Iterator(source)
        ]
    assert pixels(out) == [(f.mode, f.size, f.tobytes()) for f in upright]
    assert facts.rotation == "lossless"


def test_keep_tag_writes_an_exif_with_only_the_orientation() -> None:
    data = sp.photo_png(orientation=6)
    out, _, facts = strip(data, KEEP_TAG)
    (exif,) = [c.payload for c in sp.walk(out) if c.kind == b"eXIf"]
    # A TIFF header, one IFD with one entry (Orientation, SHORT, 1, value 6), no next IFD.
    assert exif == b"MM\x00*" + struct.pack(">IHHHIHHI", 8, 1, 0x0112, 3, 1, 6, 0, 0)
    assert facts.rotation == "tag-kept"
    assert pixels(out) == pixels(data)
    verify_png(out, allow_orientation_tag=True)
    if exiftool_available():
        assert identifying_findings_many([out], KEEP_TAG_ALLOWED) == [[]]


def test_drop_leaves_the_pixels_as_stored() -> None:
    data = sp.photo_png(orientation=6)
    out, _, facts = strip(data, DROP)
    assert pixels(out) == pixels(data)
    assert facts.rotation == "none"
    assert b"eXIf" not in sp.chunk_types(out)


def test_a_turn_beyond_the_pixel_budget_is_too_large() -> None:
    data = sp.photo_png(orientation=6)
    with pytest.raises(TooLarge, match="budget"):
        strip(data, budget=1 << 20)


# --- streaming -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(block=st.integers(1, 5000), policy=st.sampled_from(list(OrientationPolicy)))
def test_any_split_of_the_input_gives_the_same_output(
    block: int, policy: OrientationPolicy
) -> None:
    data = SPLIT_SAMPLE
    assert strip(data, policy, block=block)[0] == strip(data, policy)[0]


SPLIT_SAMPLE = sp.apng(orientation=6, frames=2)


# --- the verifier fails closed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "reason"),
    [
        (lambda d: sp.insert_after(d, b"IHDR", [sp.text_chunk("Author", "x")]), "tEXt"),
        (lambda d: sp.insert_after(d, b"IHDR", [sp.exif_chunk(1)]), "eXIf"),
        (lambda d: sp.insert_after(d, b"IHDR", [sp.iccp_chunk()]), "profile name"),
        (
            lambda d: sp.insert_after(
                d,
                b"IHDR",
                [
                    sp.png_chunk(
                        b"iCCP",
                        b"ICC profile\x00\x00" + zlib.compress(icc_profiles.matrix_rgb(), 9),
                    )
                ],
            ),
            "not clean",
        ),
        (lambda d: d + b"x", "follow IEND"),
        (lambda d: d[:-12], "ends before IEND"),
        (lambda d: sp.replace_payload(d, b"IEND", b"", crc=False), "CRC"),
        (
            lambda d: sp.insert_before(d, b"IEND", [sp.png_chunk(b"gAMA", b"\x00\x00\xb1\x8f")]),
            "after the image data",
        ),
    ],
)
def test_the_verifier_refuses_anything_but_the_kept_list(dirty: object, reason: str) -> None:
    assert callable(dirty)
    clean = strip(small_png())[0]
    verify_png(clean)
    with pytest.raises(VerificationFailed, match=reason):
        verify_png(dirty(clean))


def test_a_sanitizer_that_kept_a_text_chunk_would_fail_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The keep/drop rules regress (tEXt treated as kept): the verifier stops the output.
    rule = png.KEPT_ANCILLARY[b"pHYs"]
    monkeypatch.setitem(png.KEPT_ANCILLARY, b"tEXt", type(rule)(rule.place, lambda *_: True))
    data = sp.insert_after(small_png(), b"IHDR", [sp.text_chunk("Author", "Jane")])
    with pytest.raises(VerificationFailed, match="tEXt"):
        strip(data)


# --- inspect's view ----------------------------------------------------------------------------


def test_list_chunks_reads_what_each_metadata_chunk_says() -> None:
    data = sp.photo_png()
    found, problem = png.list_chunks([data], max_bytes=1 << 30)
    assert problem == ""
    by_keyword = {info.keyword: info for info in found if info.keyword}
    assert by_keyword["Author"].content == b"Jane Photographer"
    assert by_keyword["Description"].content == b"Jane Photographer at home, 12 Rue Example"
    assert by_keyword["Title"].content == b"Jane Photographer, chez elle"
    assert by_keyword["XML:com.adobe.xmp"].what == "XMP"
    assert b"exif:GPSLatitude" in by_keyword["XML:com.adobe.xmp"].content
    assert by_keyword["Alice's ColorEdge CG277"].content == icc_profiles.matrix_rgb()
    (exif,) = [info for info in found if info.what == "EXIF"]
    assert exif.content == exif_tiff(CameraExif(orientation=1))
    image = [info for info in found if info.what == "image data"]
    assert len(image) == 1  # the IDAT chunks as one row
    assert found[-1].what == "trailer"
    assert found[-1].size == len(sp.TRAILER)
    assert sum(info.size for info in found) == len(data) - 8


def test_list_chunks_says_where_a_broken_file_stops() -> None:
    data = sp.photo_png()
    found, problem = png.list_chunks([data[:3000]], max_bytes=1 << 30)
    assert "ends inside" in problem
    assert [info.kind for info in found][:2] == ["IHDR", "iCCP"]
