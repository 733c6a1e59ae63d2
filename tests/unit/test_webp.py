"""WebP: stripped RIFF chunk by RIFF chunk, bitstreams copied byte for byte (issue 11, point 3).

Each test builds its WebP in code (tools/samples/webp.py) and judges the output
with readers that are not the product's: Pillow (libwebp's decoder and demuxer),
exiftool, lcms, and the harness's own RIFF reader.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from exif_stripper.core.chunked import Facts
from exif_stripper.core.errors import (
    BadChunk,
    SanitizeError,
    TooLarge,
    Truncated,
    VerificationFailed,
)
from exif_stripper.core.icc import identifying_text, sanitize_profile
from exif_stripper.core.sanitize import OrientationPolicy, Removed
from exif_stripper.core.webp import InMemory, Spooled, list_chunks, sanitize_webp
from exif_stripper.core.webp_verify import verify_webp
from tools.oracle import KEEP_TAG_ALLOWED, exiftool_available, identifying_findings_many
from tools.samples import icc_profiles
from tools.samples import webp as sw
from tools.samples.jpeg import photo_image, psnr
from tools.samples.orientation import DISPLAY_TRANSFORM

APPLY, KEEP_TAG, DROP = OrientationPolicy.APPLY, OrientationPolicy.KEEP_TAG, OrientationPolicy.DROP
CANARIES = (
    b"Jane Photographer",
    b"6012345",
    b"Private serial",
    b"GPS",
    *(c.encode() for c in icc_profiles.CANARIES),
)


def strip(
    data: bytes,
    policy: OrientationPolicy = APPLY,
    *,
    stream: bool = False,
    budget: int = 1 << 30,
    max_bytes: int = 1 << 30,
) -> tuple[bytes, list[Removed], Facts]:
    removed: list[Removed] = []
    out: list[bytes | memoryview] = []
    if stream:
        blocks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
        source: InMemory | Spooled = Spooled(blocks, max_bytes=max_bytes)
    else:
        source = InMemory(data, max_bytes=max_bytes)
    facts = sanitize_webp(
        source, out.append, policy, pixel_budget=budget, on_removed=removed.append
    )
    return b"".join(bytes(p) for p in out), removed, facts


def kinds(removed: Sequence[Removed]) -> set[str]:
    return {item.kind for item in removed}


VARIANTS: dict[str, dict[str, bool]] = {
    "lossy": {"lossless": False},
    "lossy+alpha": {"lossless": False, "alpha": True},
    "lossless": {"lossless": True},
    "lossless+alpha": {"lossless": True, "alpha": True},
    "animated lossless": {"lossless": True, "alpha": True, "animated": True},
    "animated lossy": {"lossless": False, "animated": True},
}
LOSSLESS = [name for name, variant in VARIANTS.items() if variant["lossless"]]


# --- what is kept and what is dropped ---------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_metadata_is_dropped_and_every_frame_keeps_its_pixels(variant: str) -> None:
    data = sw.photo_webp(**VARIANTS[variant])
    out, removed, facts = strip(data)
    assert sw.frames_rgba(out) == sw.frames_rgba(data)
    assert {"EXIF", "XMP", "prVt chunk", "trailer", "ICC profile text and identity"} <= kinds(
        removed
    )
    allowed = {b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"}
    assert set(sw.fourccs(out)) <= allowed
    assert (facts.width, facts.height) == (64, 48)
    for anmf in (c for c in sw.walk(out) if c.fourcc == b"ANMF"):
        assert {c.fourcc for c in sw.frame_chunks(anmf)} <= {b"ALPH", b"VP8 ", b"VP8L"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_bitstreams_are_copied_byte_for_byte(variant: str) -> None:
    data = sw.photo_webp(**VARIANTS[variant])
    out, _, _ = strip(data)

    def bitstreams(webp: bytes) -> list[bytes]:
        found = []
        for chunk in sw.walk(webp):
            inner = sw.frame_chunks(chunk) if chunk.fourcc == b"ANMF" else [chunk]
            found += [c.payload for c in inner if c.fourcc in (b"ALPH", b"VP8 ", b"VP8L")]
        return found

    assert bitstreams(out) == bitstreams(data)
    assert bitstreams(out)


def test_vp8x_flags_and_the_riff_size_say_what_the_file_holds() -> None:
    out, _, _ = strip(sw.photo_webp(alpha=True))
    (vp8x,) = [c.payload for c in sw.walk(out) if c.fourcc == b"VP8X"]
    assert vp8x[0] == sw.ICC_FLAG | sw.ALPHA_FLAG
    assert struct.unpack("<I", out[4:8])[0] == len(out) - 8
    assert all(
        len(c.payload) % 2 == 0 or out[c.offset + 8 + len(c.payload)] == 0 for c in sw.walk(out)
    )


def test_the_icc_profile_loses_its_identity_and_keeps_its_colours() -> None:
    data = sw.photo_webp(lossless=True)
    out, _, _ = strip(data)
    (profile,) = [c.payload for c in sw.walk(out) if c.fourcc == b"ICCP"]
    assert identifying_text(profile) == []
    assert icc_profiles.shown_in_srgb(out) == icc_profiles.shown_in_srgb(data)


def test_an_icc_profile_vp8x_does_not_announce_is_dropped() -> None:
    data = sw.photo_webp(lossless=True)
    flags_at = next(c for c in sw.walk(data) if c.fourcc == b"VP8X").offset + 8
    data = data[:flags_at] + bytes((data[flags_at] & ~sw.ICC_FLAG,)) + data[flags_at + 1 :]
    out, removed, _ = strip(data)
    assert b"ICCP" not in sw.fourccs(out)
    assert "ICC profile (not announced by VP8X)" in kinds(removed)


@pytest.mark.skipif(not exiftool_available(), reason="exiftool not installed")
def test_exiftool_finds_nothing_identifying_in_any_output() -> None:
    inputs = [sw.photo_webp(**variant) for variant in VARIANTS.values()]
    outputs = [strip(data)[0] for data in inputs]
    assert all(identifying_findings_many(inputs))
    assert identifying_findings_many(outputs) == [[]] * len(outputs)


def test_no_identifying_text_survives_anywhere_in_the_bytes() -> None:
    for variant in VARIANTS.values():
        out, _, _ = strip(sw.photo_webp(**variant))
        assert [c for c in CANARIES if c in out] == []


def test_a_simple_lossy_file_passes_unchanged() -> None:
    data = sw.pillow_webp(photo_image(40, 30), quality=80)
    assert sw.fourccs(data) == [b"VP8 "]
    out, removed, _ = strip(data)
    assert out == data
    assert removed == []


def test_chunks_after_the_bitstream_of_a_simple_file_are_dropped() -> None:
    # libwebp reads nothing after the bitstream of a file without VP8X.
    plain = sw.pillow_webp(photo_image(40, 30), lossless=True)
    data = sw.container([sw.walk(plain)[0].raw, sw.riff_chunk(b"EXIF", sw.exif_payload(6))])
    out, removed, facts = strip(data)
    assert out == plain
    assert "EXIF" in kinds(removed)
    assert facts.orientation is None


def test_an_odd_chunk_gets_its_pad_byte() -> None:
    plain = sw.pillow_webp(photo_image(40, 30), quality=80)
    (vp8,) = sw.walk(plain)
    odd = vp8.payload + b"\x00" if len(vp8.payload) % 2 == 0 else vp8.payload
    data = sw.container([sw.riff_chunk(b"VP8 ", odd)])[:-1]  # the final pad byte left out
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    out, _, facts = strip(data)
    assert len(out) % 2 == 0
    assert out.endswith(b"\x00")
    assert facts.repairs == ["pad byte added"]


# --- damage ---------------------------------------------------------------------------------------


def mutate(data: bytes, fourcc: bytes, payload: bytes) -> bytes:
    found = next(c for c in sw.walk(data) if c.fourcc == fourcc)
    size = 8 + len(found.payload) + len(found.payload) % 2
    return sw.container(
        [data[12 : found.offset] + sw.riff_chunk(fourcc, payload) + data[found.offset + size :]]
    )


STILL = sw.photo_webp(lossless=True, metadata=False, trailer=False)
LOSSY = sw.photo_webp(alpha=True, metadata=False, trailer=False)
ANIMATED = sw.photo_webp(animated=True, lossless=True, metadata=False, trailer=False)


def vp8l_payload() -> bytes:
    return next(c.payload for c in sw.walk(STILL) if c.fourcc == b"VP8L")


def anmf_with(data: bytes, index: int, change: Callable[[bytes], bytes]) -> bytes:
    """`data` with the payload of its `index`th ANMF changed."""
    frames = [c for c in sw.walk(data) if c.fourcc == b"ANMF"]
    target = frames[index]
    payload = change(target.payload)
    end = target.offset + 8 + len(target.payload)
    return sw.container(
        [
            data[12 : target.offset]
            + sw.riff_chunk(b"ANMF", payload)
            + data[end : 8 + struct.unpack_from("<I", data, 4)[0]]
        ]
    )


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (lambda: STILL[:4] + struct.pack("<I", len(STILL)) + STILL[8:], Truncated, "shorter"),
        (lambda: STILL[:-10], Truncated, "declares"),
        (lambda: mutate(STILL, b"VP8X", bytes(9)), BadChunk, "not 10"),
        (lambda: sw.container([sw.riff_chunk(b"ALPH", b"\x00")]), BadChunk, "cannot start"),
        (lambda: mutate(STILL, b"VP8L", b"\x00" + vp8l_payload()[1:]), BadChunk, "signature"),
        (
            lambda: sw.container(
                [
                    sw.vp8x(0, 64, 48),
                    sw.riff_chunk(b"ALPH", b"\x00"),
                    sw.riff_chunk(b"VP8L", vp8l_payload()),
                ]
            ),
            BadChunk,
            "ALPH",
        ),
        (
            lambda: sw.container([sw.vp8x(0, 63, 48), sw.riff_chunk(b"VP8L", vp8l_payload())]),
            BadChunk,
            "canvas size",
        ),
        (
            lambda: sw.container(
                [sw.vp8x(sw.ANIMATION_FLAG, 64, 48), sw.riff_chunk(b"VP8L", vp8l_payload())]
            ),
            BadChunk,
            "ANIM",
        ),
        (lambda: mutate(LOSSY, b"ALPH", b"\xff"), BadChunk, "ALPH"),
        (
            # x = 2 * 16: the 64-pixel-wide frame would end at 96 on a 64-pixel canvas
            lambda: anmf_with(ANIMATED, 1, lambda frame: b"\x10\x00\x00" + frame[3:]),
            BadChunk,
            "outside the canvas",
        ),
        (
            # an unknown chunk before the frame's bitstream: the demuxer refuses the frame
            lambda: anmf_with(
                ANIMATED, 0, lambda frame: frame[:16] + sw.riff_chunk(b"prVt", b"x") + frame[16:]
            ),
            BadChunk,
            "first",
        ),
    ],
)
def test_broken_structure_is_a_typed_rejection(
    damage: Callable[[], bytes], error: type[SanitizeError], match: str
) -> None:
    with pytest.raises(error, match=match):
        strip(damage())


def test_a_non_key_frame_is_rejected() -> None:
    (vp8,) = [c.payload for c in sw.walk(sw.pillow_webp(photo_image(8, 8), quality=50))]
    with pytest.raises(BadChunk, match="key frame"):
        strip(sw.container([sw.riff_chunk(b"VP8 ", bytes((vp8[0] | 1,)) + vp8[1:])]))


def test_bytes_after_the_riff_are_dropped() -> None:
    out, removed, _ = strip(STILL + b"appended")
    assert out == strip(STILL)[0]
    assert "trailer" in kinds(removed)


def test_a_file_over_the_byte_limit_is_too_large() -> None:
    for stream in (False, True):
        with pytest.raises(TooLarge):
            strip(STILL, stream=stream, max_bytes=len(STILL) - 1)


# --- orientation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("variant", LOSSLESS)
def test_lossless_pictures_are_turned_exactly(orientation: int, variant: str) -> None:
    data = sw.photo_webp(orientation=orientation, **VARIANTS[variant])
    out, _, facts = strip(data)
    with Image.open(io.BytesIO(data)) as source:
        upright = [
            f.convert("RGBA").transpose(DISPLAY_TRANSFORM[orientation])
            for f in ImageSequence.Iterator(source)
        ]
    assert sw.frames_rgba(out) == [(f.size, f.tobytes()) for f in upright]
    assert facts.rotation == "lossless"
    assert [c for c in CANARIES if c in out] == []


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_lossy_pictures_are_turned_by_a_reported_reencode(orientation: int) -> None:
    # VP8 keeps chroma at half resolution, which caps what any re-encode of a tiny picture
    # scores; a photo-sized one shows what users get.
    data = sw.photo_webp(320, 240, orientation=orientation, alpha=True)
    out, _, facts = strip(data)
    assert facts.rotation == "reencode"
    with Image.open(io.BytesIO(data)) as source, Image.open(io.BytesIO(out)) as turned:
        upright = source.convert("RGBA").transpose(DISPLAY_TRANSFORM[orientation])
        assert turned.size == upright.size
        assert psnr(turned.convert("RGB"), upright.convert("RGB")) >= 40
        assert turned.getchannel("A").tobytes() == upright.getchannel("A").tobytes()


def test_keep_tag_writes_an_exif_with_only_the_orientation() -> None:
    data = sw.photo_webp(orientation=6, lossless=True)
    out, _, facts = strip(data, KEEP_TAG)
    (exif,) = [c.payload for c in sw.walk(out) if c.fourcc == b"EXIF"]
    assert exif == b"MM\x00*" + struct.pack(">IHHHIHHI", 8, 1, 0x0112, 3, 1, 6, 0, 0)
    assert sw.walk(out)[0].payload[0] & sw.EXIF_FLAG
    assert facts.rotation == "tag-kept"
    assert sw.frames_rgba(out) == sw.frames_rgba(data)
    verify_webp(out, allow_orientation_tag=True)
    if exiftool_available():
        assert identifying_findings_many([out], KEEP_TAG_ALLOWED) == [[]]


def test_keep_tag_writes_the_tag_after_the_picture_and_announces_it() -> None:
    plain = sw.pillow_webp(photo_image(40, 30), lossless=True)
    data = sw.container(
        [
            sw.vp8x(sw.EXIF_FLAG, 40, 30),
            sw.walk(plain)[0].raw,
            sw.riff_chunk(b"EXIF", sw.exif_payload(3)),
        ]
    )
    out, _, _ = strip(data, KEEP_TAG)
    assert sw.fourccs(out) == [b"VP8X", b"VP8L", b"EXIF"]
    assert sw.walk(out)[0].payload[0] == sw.EXIF_FLAG


def test_a_simple_file_has_no_orientation_to_keep() -> None:
    # Without VP8X no decoder reads EXIF, so there is nothing to keep or apply.
    plain = sw.pillow_webp(photo_image(40, 30), lossless=True)
    data = sw.container([sw.walk(plain)[0].raw, sw.riff_chunk(b"EXIF", sw.exif_payload(6))])
    for policy in OrientationPolicy:
        out, _, facts = strip(data, policy)
        assert out == plain
        assert facts.rotation == "none"


def test_drop_leaves_the_pixels_as_stored() -> None:
    data = sw.photo_webp(orientation=6, lossless=True)
    out, _, facts = strip(data, DROP)
    assert sw.frames_rgba(out) == sw.frames_rgba(data)
    assert facts.rotation == "none"


def test_a_turn_beyond_the_pixel_budget_is_too_large() -> None:
    with pytest.raises(TooLarge, match="budget"):
        strip(sw.photo_webp(orientation=6, lossless=True), budget=1 << 20)


# --- streaming and the verifier ----------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(policy=st.sampled_from(list(OrientationPolicy)), variant=st.sampled_from(list(VARIANTS)))
def test_a_spooled_stream_gives_the_same_output(policy: OrientationPolicy, variant: str) -> None:
    data = sw.photo_webp(orientation=6, **VARIANTS[variant])
    assert strip(data, policy, stream=True)[0] == strip(data, policy)[0]


@pytest.mark.parametrize(
    ("dirty", "reason"),
    [
        (
            lambda d: sw.container(
                [
                    sw.walk(d)[0].raw,
                    *(c.raw for c in sw.walk(d)[1:]),
                    sw.riff_chunk(b"EXIF", sw.exif_payload()),
                ]
            ),
            "EXIF",
        ),
        (
            lambda d: sw.container([*(c.raw for c in sw.walk(d)), sw.riff_chunk(b"XMP ", b"x")]),
            "XMP",
        ),
        (lambda d: d + b"xx", "follow the end"),
        (lambda d: d[:4] + struct.pack("<I", len(d) - 6) + d[8:] + b"\x00\x00", "ends inside"),
        (lambda d: sw.container([sw.vp8x(0, 64, 48), *(c.raw for c in sw.walk(d)[1:])]), "flags"),
        (
            lambda d: sw.container(
                [
                    sw.walk(d)[0].raw,
                    sw.riff_chunk(b"ICCP", icc_profiles.matrix_rgb()),
                    *(c.raw for c in sw.walk(d)[2:]),
                ]
            ),
            "not clean",
        ),
    ],
)
def test_the_verifier_refuses_anything_but_the_kept_list(
    dirty: Callable[[bytes], bytes], reason: str
) -> None:
    clean = strip(sw.photo_webp(lossless=True))[0]
    verify_webp(clean)
    with pytest.raises(VerificationFailed, match=reason):
        verify_webp(dirty(clean))


def test_the_clean_profile_is_one_the_verifier_accepts() -> None:
    clean = sanitize_profile(icc_profiles.matrix_rgb()).data
    data = sw.container(
        [
            sw.vp8x(sw.ICC_FLAG, 40, 30),
            sw.riff_chunk(b"ICCP", clean),
            sw.walk(sw.pillow_webp(photo_image(40, 30), lossless=True))[0].raw,
        ]
    )
    verify_webp(data)


# --- inspect's view ----------------------------------------------------------------------------


def test_list_chunks_reads_exif_xmp_and_the_profile_and_lists_frames() -> None:
    data = sw.photo_webp(animated=True)
    found, problem = list_chunks(InMemory(data, max_bytes=1 << 30))
    assert problem == ""
    what = {info.kind: info for info in found}
    assert what["EXIF"].content == sw.exif_payload()
    assert b"exif:GPSLatitude" in what["XMP"].content
    assert what["ICCP"].content == icc_profiles.matrix_rgb()
    assert [info.kind for info in found if info.kind.startswith("frame 3")] == [
        "frame 3 VP8",
        "frame 3 prVt",
    ]
    assert found[-1].what == "trailer"


def test_list_chunks_says_where_a_broken_file_stops() -> None:
    data = sw.photo_webp()
    found, problem = list_chunks(InMemory(data[:2500], max_bytes=1 << 30))
    assert "runs past the end" in problem
    assert [info.kind for info in found][:1] == ["VP8X"]
