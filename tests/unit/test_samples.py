"""The fixtures are honest: exiftool finds the metadata each one claims, Pillow decodes each.

The sanitizer's tests trust these samples to carry real metadata, so these tests check that
an independent reader (exiftool, through tools.oracle) sees it, byte structures
included (MPF offsets, extended-XMP GUIDs, ICC chunks). Every sample is generated once per
module and read by exiftool in one request.
"""

from __future__ import annotations

import functools
import io
import struct
import tracemalloc
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageOps

from tools.oracle import (
    KEEP_TAG_ALLOWED,
    ExiftoolReport,
    exiftool_reports,
    findings,
    identifying_findings_many,
    parse_key,
)
from tools.samples.composition import (
    compose,
    insert_between_scans,
    reference_strip,
    remove_segments,
)
from tools.samples.corpora import (
    CorpusSpec,
    camera_photo,
    expected_large_rows,
    write_corpus,
    write_large_jpeg,
)
from tools.samples.exif import (
    EIFFEL_TOWER,
    GOLDEN_GATE,
    ORIENTATION_ONLY,
    CameraExif,
    exif_segment,
    exif_tiff,
    thumbnail_jpeg,
)
from tools.samples.icc import icc_segments, large_icc_profile, srgb_profile
from tools.samples.jpeg import (
    APP0,
    COM,
    DRI,
    SOF0,
    SOF2,
    SOS,
    Encoding,
    Subsampling,
    base_jpeg,
    decode,
    photo_image,
    psnr,
    segment,
    walk_markers,
)
from tools.samples.metadata import (
    JUNK_APP_PAYLOADS,
    XmpFields,
    app_segment,
    comment_segment,
    extended_xmp_body,
    extended_xmp_guid,
    flashpix_segments,
    iptc_segment,
    jfif_segment,
    jfxx_segment,
    junk_app_segments,
    xmp_segments,
)
from tools.samples.orientation import apply_orientation, oriented_jpeg, upright_image, upright_scene
from tools.samples.ready_made import (
    camera_exif_with_thumbnail,
    demo_samples,
    kitchen_sink,
    kitchen_sink_parts,
    motion_photo_sample,
    mpo_sample,
)
from tools.samples.trailers import mp4_video, padding_trailer, samsung_motion_trailer

BASE = base_jpeg(96, 64, seed=5)
PROGRESSIVE = base_jpeg(96, 64, seed=6, encoding=Encoding(progressive=True))
BETWEEN_SCANS = [comment_segment("between scans"), app_segment(9, b"VENDOR9\x00between")]


@functools.cache
def _samples() -> dict[str, bytes]:
    return {
        "clean": BASE,
        "clean-gray": base_jpeg(mode="L"),
        "clean-cmyk": base_jpeg(mode="CMYK"),
        "clean-icc-large": compose(BASE, icc_segments(large_icc_profile())),
        "exif": compose(BASE, [exif_segment(camera_exif_with_thumbnail())]),
        "exif-big-endian": compose(BASE, [exif_segment(CameraExif(byte_order="MM"))]),
        "orientation-only": compose(BASE, [exif_segment(replace(ORIENTATION_ONLY, orientation=6))]),
        "xmp-extended": compose(BASE, xmp_segments(XmpFields(), extended_xmp_body())),
        "motion-photo": motion_photo_sample(),
        "iptc": compose(BASE, [iptc_segment()]),
        "comment": compose(BASE, [comment_segment("hello from COM")]),
        "jfif-thumbnail": compose(BASE, [jfif_segment(photo_image(32, 24))]),
        "jfxx-thumbnail": compose(BASE, [jfxx_segment()]),
        "icc-single": compose(BASE, icc_segments(srgb_profile())),
        "flashpix": compose(BASE, flashpix_segments()),
        "junk-app": compose(BASE, junk_app_segments()),
        "mpo": mpo_sample(),
        "samsung-trailer": compose(BASE, trailer=samsung_motion_trailer()),
        "padding": compose(BASE, trailer=padding_trailer(1000)),
        "progressive-between-scans": insert_between_scans(PROGRESSIVE, BETWEEN_SCANS),
        "kitchen-sink": kitchen_sink(),
        **{f"demo/{name}": data for name, data in demo_samples().items()},
    }


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    return _samples()


@pytest.fixture(scope="module")
def reports(samples: Mapping[str, bytes]) -> dict[str, ExiftoolReport]:
    """exiftool's view of every sample, from one request."""
    return dict(zip(samples, exiftool_reports(list(samples.values())), strict=True))


def _one(report: ExiftoolReport, group: str, name: str, *, document: str = "") -> object:
    values = report.values(group, name, document=document)
    assert values, f"exiftool did not report {group}:{name} in {document or 'the file'}"
    return values[0]


# --- every fixture is a JPEG ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(_samples()))
def test_pillow_decodes_every_sample(samples: Mapping[str, bytes], name: str) -> None:
    image = decode(samples[name])
    assert image.width > 0


@pytest.mark.parametrize("name", list(_samples()))
def test_exiftool_reads_every_sample_without_error(
    reports: Mapping[str, ExiftoolReport], name: str
) -> None:
    assert reports[name].errors == []
    assert _one(reports[name], "File", "FileType") == "JPEG"


def test_samples_are_deterministic() -> None:
    assert kitchen_sink() == kitchen_sink()
    assert camera_photo(320, 240, seed=3) == camera_photo(320, 240, seed=3)


# --- the marker walker and the base images ------------------------------------------------


def test_walker_lists_a_baseline_jpeg_in_order() -> None:
    names = walk_markers(BASE).names()
    assert names[:2] == ["SOI", "APP0"]
    assert names[-2:] == ["SOS", "EOI"]
    assert "SOF0" in names


def test_walker_finds_every_scan_of_a_progressive_jpeg() -> None:
    layout = walk_markers(PROGRESSIVE)
    assert layout.first(SOF2)
    assert len(layout.scans) >= 5
    assert layout.end == len(PROGRESSIVE)


def test_segment_refuses_a_payload_longer_than_a_segment_holds() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        segment(COM, b"x" * 65534)


@pytest.mark.parametrize(
    ("subsampling", "luma_factors"), [("4:4:4", 0x11), ("4:2:2", 0x21), ("4:2:0", 0x22)]
)
def test_base_jpeg_has_the_chosen_subsampling(subsampling: Subsampling, luma_factors: int) -> None:
    jpeg = base_jpeg(64, 48, encoding=Encoding(subsampling=subsampling))
    sof = walk_markers(jpeg).first(SOF0).payload(jpeg)
    assert sof[7] == luma_factors  # first component's H/V sampling factors (T.81 B.2.2)


def test_restart_interval_puts_dri_and_rst_markers_in_the_scan() -> None:
    jpeg = base_jpeg(64, 64, encoding=Encoding(restart_rows=1, subsampling="4:4:4"))
    layout = walk_markers(jpeg)
    assert layout.first(DRI)
    scan = jpeg[layout.first(SOS).start : layout.first(SOS).end]
    assert [bytes((0xFF, 0xD0 + i % 8)) in scan for i in range(7)] == [True] * 7


def test_cmyk_base_carries_adobe_app14_and_four_components(
    reports: Mapping[str, ExiftoolReport],
) -> None:
    assert _one(reports["clean-cmyk"], "Adobe", "ColorTransform") == 0
    assert _one(reports["clean-cmyk"], "File", "ColorComponents") == 4
    assert decode(base_jpeg(mode="CMYK")).mode == "CMYK"


def test_grayscale_base_has_one_component(reports: Mapping[str, ExiftoolReport]) -> None:
    assert _one(reports["clean-gray"], "File", "ColorComponents") == 1


def test_a_12_megapixel_camera_photo_weighs_like_one() -> None:
    photo = camera_photo(seed=1)
    assert 3_000_000 <= len(photo) <= 6_000_000
    assert Image.open(io.BytesIO(photo)).size == (4000, 3000)


# --- EXIF ---------------------------------------------------------------------------------


def test_exif_carries_camera_owner_and_serials(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["exif"]
    assert _one(report, "IFD0", "Make") == "NIKON CORPORATION"
    assert _one(report, "IFD0", "Artist") == "Jane Photographer"
    assert _one(report, "IFD0", "Orientation") == 1
    assert str(_one(report, "ExifIFD", "SerialNumber")) == "6012345"  # BodySerialNumber
    assert str(_one(report, "ExifIFD", "LensSerialNumber")) == "20087654"
    assert _one(report, "ExifIFD", "DateTimeOriginal") == "2024:06:01 12:15:30"


def test_exif_maker_note_is_decoded_with_its_serial(reports: Mapping[str, ExiftoolReport]) -> None:
    assert str(_one(reports["exif"], "Nikon", "SerialNumber")) == "6012345"


@pytest.mark.parametrize("name", ["exif", "exif-big-endian"])
def test_exif_gps_is_the_eiffel_tower(reports: Mapping[str, ExiftoolReport], name: str) -> None:
    report = reports[name]
    assert _one(report, "GPS", "GPSLatitudeRef") == "N"
    assert _one(report, "GPS", "GPSLatitude") == pytest.approx(EIFFEL_TOWER.latitude, abs=1e-6)
    assert _one(report, "GPS", "GPSLongitude") == pytest.approx(EIFFEL_TOWER.longitude, abs=1e-6)
    assert _one(report, "GPS", "GPSAltitude") == pytest.approx(35)


def test_exif_ifd1_holds_the_thumbnail_jpeg(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["exif"]
    assert _one(report, "IFD1", "Compression") == 6
    assert _one(report, "IFD1", "ThumbnailLength") == len(thumbnail_jpeg())
    assert report.has("IFD1", "ThumbnailImage")


def test_pillow_reads_the_same_exif() -> None:
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + exif_tiff(camera_exif_with_thumbnail()))
    assert exif[0x010F] == "NIKON CORPORATION"
    assert exif.get_ifd(0x8825)[2] == (48.0, 51.0, 29.5992)


@settings(max_examples=40, deadline=None)
@given(
    latitude=st.floats(-89.9999, 89.9999),
    longitude=st.floats(-179.9999, 179.9999),
)
def test_gps_rationals_round_trip_through_pillow(latitude: float, longitude: float) -> None:
    fix = replace(EIFFEL_TOWER, latitude=latitude, longitude=longitude)
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + exif_tiff(replace(ORIENTATION_ONLY, gps=fix)))
    gps = exif.get_ifd(0x8825)
    lat = sum(float(v) / 60**i for i, v in enumerate(gps[2])) * (1 if gps[1] == "N" else -1)
    lon = sum(float(v) / 60**i for i, v in enumerate(gps[4])) * (1 if gps[3] == "E" else -1)
    assert lat == pytest.approx(latitude, abs=1e-7)
    assert lon == pytest.approx(longitude, abs=1e-7)


# --- XMP ----------------------------------------------------------------------------------


def test_xmp_carries_gps_creator_and_camera(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["xmp-extended"]
    assert _one(report, "XMP-exif", "GPSLatitude") == pytest.approx(48.858222, abs=1e-6)
    assert _one(report, "XMP-exif", "GPSLongitude") == pytest.approx(2.2945, abs=1e-6)
    assert _one(report, "XMP-dc", "Creator") == "Jane Photographer"
    assert _one(report, "XMP-tiff", "Make") == "NIKON CORPORATION"


def test_extended_xmp_is_reassembled_by_exiftool(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["xmp-extended"]
    body = extended_xmp_body()
    assert _one(report, "XMP-xmpNote", "HasExtendedXMP") == extended_xmp_guid(body)
    assert report.has("XMP-GImage", "ImageData")  # only in the extended part
    assert _one(report, "XMP-exif", "GPSAltitude") == 35  # GPS in the extended part too
    assert report.warnings == []  # a wrong GUID or a missing chunk would warn


def test_extended_xmp_spans_several_segments() -> None:
    assert len(xmp_segments(XmpFields(), extended_xmp_body())) >= 3


def test_motion_photo_xmp_points_at_the_mp4_after_eoi(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    data = samples["motion-photo"]
    offset = _one(reports["motion-photo"], "XMP-GCamera", "MicroVideoOffset")
    assert isinstance(offset, int)
    assert data[-offset:] == mp4_video()
    assert data[-offset + 4 : -offset + 8] == b"ftyp"
    assert walk_markers(data).end == len(data) - offset
    assert reports["motion-photo"].has("File", "EmbeddedVideo")


# --- IPTC, COM, thumbnails, FlashPix, junk APPn -------------------------------------------


def test_iptc_carries_byline_place_copyright_keywords(
    reports: Mapping[str, ExiftoolReport],
) -> None:
    report = reports["iptc"]
    assert _one(report, "IPTC", "By-line") == "Jane Photographer"
    assert _one(report, "IPTC", "City") == "Paris"
    assert _one(report, "IPTC", "Country-PrimaryLocationName") == "France"
    assert _one(report, "IPTC", "CopyrightNotice") == "(c) 2024 Jane Photographer"
    assert _one(report, "IPTC", "Keywords") == ["holiday", "family", "home"]
    assert _one(report, "Photoshop", "IPTCDigest") == _one(report, "File", "CurrentIPTCDigest")


def test_comment_is_reported(reports: Mapping[str, ExiftoolReport]) -> None:
    assert _one(reports["comment"], "File", "Comment") == "hello from COM"


def test_jfif_thumbnail_is_reported(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    report = reports["jfif-thumbnail"]
    assert (_one(report, "JFIF", "ThumbnailWidth"), _one(report, "JFIF", "ThumbnailHeight")) == (
        32,
        24,
    )
    assert report.has("JFIF", "ThumbnailTIFF")
    app0 = [s for s in walk_markers(samples["jfif-thumbnail"]).segments if s.marker == APP0]
    assert len(app0) == 1  # the sample's JFIF replaced Pillow's


def test_jfxx_thumbnail_is_reported(reports: Mapping[str, ExiftoolReport]) -> None:
    assert reports["jfxx-thumbnail"].has("JFXX", "ThumbnailImage")


def test_flashpix_stream_is_reported(reports: Mapping[str, ExiftoolReport]) -> None:
    assert reports["flashpix"].has("FlashPix", "AudioStream")


def test_every_junk_app_segment_is_visible_to_exiftool(
    reports: Mapping[str, ExiftoolReport],
) -> None:
    report = reports["junk-app"]
    unknown = [n for n in JUNK_APP_PAYLOADS if n != 12]
    for n in unknown:
        assert any(f"Unknown APP{n} " in w for w in report.warnings), f"APP{n}"
    assert report.has("Ducky", "Quality")  # APP12


# --- ICC ----------------------------------------------------------------------------------


def test_single_chunk_icc_profile_round_trips(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    assert Image.open(io.BytesIO(samples["icc-single"])).info["icc_profile"] == srgb_profile()
    assert _one(reports["icc-single"], "ICC_Profile", "ProfileDescription") == "sRGB built-in"


def test_large_icc_profile_needs_three_chunks_and_round_trips(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    profile = large_icc_profile()
    assert len(icc_segments(profile)) == 3
    read_back = Image.open(io.BytesIO(samples["clean-icc-large"])).info["icc_profile"]
    assert read_back == profile
    parsed = ImageCms.ImageCmsProfile(io.BytesIO(read_back))
    assert ImageCms.getProfileDescription(parsed).strip() == "sRGB built-in"
    assert _one(reports["clean-icc-large"], "ICC_Profile", "ProfileDescription") == "sRGB built-in"


def test_a_small_profile_split_into_many_chunks_is_reassembled() -> None:
    chunks = icc_segments(srgb_profile(), chunk_size=100)
    assert len(chunks) == 6
    jpeg = compose(BASE, chunks)
    assert Image.open(io.BytesIO(jpeg)).info["icc_profile"] == srgb_profile()


# --- MPO and trailers ---------------------------------------------------------------------


def _mp_entries(mpf_payload: bytes) -> list[tuple[int, int, int]]:
    """(attribute, size, offset) of each MP Entry, read straight from an MPF payload (MM)."""
    tiff = mpf_payload[4:]
    (ifd,) = struct.unpack_from(">I", tiff, 4)
    (count,) = struct.unpack_from(">H", tiff, ifd)
    for i in range(count):
        tag, _, size, offset = struct.unpack_from(">HHII", tiff, ifd + 2 + 12 * i)
        if tag == 0xB002:
            return [struct.unpack_from(">III", tiff, offset + e) for e in range(0, size, 16)]
    raise AssertionError("no MPEntry tag")


def test_mpo_index_points_at_the_second_image(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    data, report = samples["mpo"], reports["mpo"]
    primary_end = walk_markers(data).end
    assert _one(report, "MPF0", "NumberOfImages") == 2
    # exiftool turns the offset into a file position (MPF.pm: IsOffset)
    assert _one(report, "MPImage2", "MPImageStart") == primary_end
    assert _one(report, "MPImage2", "MPImageLength") == len(data) - primary_end
    assert report.has("MPImage2", "MPImage2")
    mpf = next(s for s in walk_markers(data).segments if s.payload(data).startswith(b"MPF\x00"))
    first, second = _mp_entries(mpf.payload(data))
    assert first[1:] == (primary_end, 0)
    # in the file, offsets count from the MP header right after "MPF\0" (CIPA DC-007 5.2.3.3)
    assert mpf.start + 8 + second[2] == primary_end
    assert walk_markers(data, primary_end).end == len(data)


def test_mpo_second_image_has_its_own_gps(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["mpo"]
    (document,) = report.documents()
    latitude = _one(report, "GPS", "GPSLatitude", document=document)
    assert latitude == pytest.approx(GOLDEN_GATE.latitude, abs=1e-6)
    assert _one(report, "GPS", "GPSLongitudeRef", document=document) == "W"
    assert _one(report, "GPS", "GPSLatitude") == pytest.approx(EIFFEL_TOWER.latitude, abs=1e-6)


def test_pillow_opens_the_mpo_as_two_frames(samples: Mapping[str, bytes]) -> None:
    with Image.open(io.BytesIO(samples["mpo"])) as image:
        assert getattr(image, "n_frames", 1) == 2
        image.seek(1)
        image.load()


def test_samsung_trailer_is_decoded(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["samsung-trailer"]
    assert _one(report, "Samsung", "EmbeddedVideoType") == "MotionPhoto_Data"
    assert report.has("Samsung", "EmbeddedVideoFile")
    assert _one(report, "Samsung", "MCCData") == 208
    assert report.has("File", "Trailer")


def test_padding_after_eoi_is_reported_as_a_trailer(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    assert (
        _one(reports["padding"], "File", "Trailer")
        == "(Binary data 1000 bytes, use -b option to extract)"
    )
    assert samples["padding"].endswith(b"\x00" * 1000)


# --- segments between progressive scans ---------------------------------------------------


def test_segments_between_scans_sit_between_sos_markers(samples: Mapping[str, bytes]) -> None:
    names = walk_markers(samples["progressive-between-scans"]).names()
    first_sos, last_sos = names.index("SOS"), len(names) - 1 - names[::-1].index("SOS")
    between = names[first_sos:last_sos]
    assert between.count("COM") == between.count("APP9") == names.count("SOS") - 1


def test_segments_between_scans_do_not_change_the_pixels(samples: Mapping[str, bytes]) -> None:
    with_segments = decode(samples["progressive-between-scans"])
    assert with_segments.tobytes() == decode(PROGRESSIVE).tobytes()
    stripped = remove_segments(samples["progressive-between-scans"], [COM, 0xE9])
    assert stripped == PROGRESSIVE


def test_exiftool_sees_comments_between_scans(reports: Mapping[str, ExiftoolReport]) -> None:
    report = reports["progressive-between-scans"]
    assert "between scans" in report.values("File", "Comment")
    assert any("Unknown APP9" in w for w in report.warnings)


# --- orientation --------------------------------------------------------------------------


@pytest.mark.parametrize("stored_size", [(64, 48), (61, 47)])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_oriented_jpeg_displays_the_upright_scene(
    orientation: int, stored_size: tuple[int, int]
) -> None:
    jpeg = oriented_jpeg(orientation, stored_size)
    assert decode(jpeg).size == stored_size
    shown = upright_image(jpeg)
    assert psnr(shown, upright_scene(orientation, stored_size)) > 30


def test_the_scene_is_asymmetric_so_a_wrong_turn_shows() -> None:
    scene = upright_scene(1, (64, 64))
    views = [apply_orientation(scene, o).tobytes() for o in range(1, 9)]
    assert len(set(views)) == 8
    for o in range(2, 9):
        assert psnr(apply_orientation(scene, o), scene) < 20


@pytest.mark.parametrize("orientation", range(1, 9))
def test_apply_orientation_matches_pillow_exif_transpose(orientation: int) -> None:
    image = photo_image(40, 30, seed=2)
    tagged = image.copy()
    tagged.getexif()[0x0112] = orientation
    transposed = ImageOps.exif_transpose(tagged)
    assert apply_orientation(image, orientation).tobytes() == transposed.tobytes()


def test_oriented_jpeg_tags_its_orientation() -> None:
    reports = exiftool_reports([oriented_jpeg(o) for o in range(1, 9)])
    assert [_one(r, "IFD0", "Orientation") for r in reports] == list(range(1, 9))


# --- compose ------------------------------------------------------------------------------


def test_compose_keeps_jfif_first_and_adds_segments_after_it() -> None:
    jpeg = compose(BASE, [comment_segment("x")], trailer=b"TRAILER")
    names = walk_markers(jpeg).names()
    assert names[:3] == ["SOI", "APP0", "COM"]
    assert jpeg.endswith(b"\xff\xd9TRAILER")


# --- the kitchen sink ---------------------------------------------------------------------


def test_kitchen_sink_carries_everything(
    samples: Mapping[str, bytes], reports: Mapping[str, ExiftoolReport]
) -> None:
    report = reports["kitchen-sink"]
    parts = kitchen_sink_parts()
    present = {
        (group, name)
        for group, name in [
            ("GPS", "GPSLatitude"),
            ("ExifIFD", "SerialNumber"),
            ("Nikon", "SerialNumber"),
            ("IFD1", "ThumbnailImage"),
            ("JFIF", "ThumbnailTIFF"),
            ("JFXX", "ThumbnailImage"),
            ("XMP-exif", "GPSLatitude"),
            ("XMP-GImage", "ImageData"),
            ("XMP-GCamera", "MicroVideoOffset"),
            ("IPTC", "By-line"),
            ("FlashPix", "AudioStream"),
            ("Ducky", "Quality"),
            ("MPF0", "NumberOfImages"),
            ("Samsung", "EmbeddedVideoFile"),
            ("File", "Comment"),
            ("File", "Trailer"),
            ("ICC_Profile", "ProfileDescription"),
        ]
        if report.has(group, name)
    }
    assert len(present) == 17
    assert "Comment between scans" in report.values("File", "Comment")
    assert report.values("XMP-dc", "Creator").count("Between Scans") == 1
    (document,) = report.documents()
    assert report.has("GPS", "GPSLatitude", document=document)
    data = samples["kitchen-sink"]
    assert data[-parts.video_length :].startswith(mp4_video())
    assert parts.extended_xmp_chunks >= 2
    assert parts.icc_chunks == 2
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == srgb_profile()


# --- the oracle ---------------------------------------------------------------------------


def test_oracle_finds_nothing_in_clean_jpegs(reports: Mapping[str, ExiftoolReport]) -> None:
    clean = ["clean", "clean-gray", "clean-cmyk", "clean-icc-large", "icc-single"]
    assert {name: findings(reports[name]) for name in clean} == {name: [] for name in clean}


def test_oracle_allows_the_orientation_tag_only_when_asked(
    reports: Mapping[str, ExiftoolReport],
) -> None:
    report = reports["orientation-only"]
    assert findings(report) == ["File:ExifByteOrder = II", "IFD0:Orientation = 6"]
    assert findings(report, KEEP_TAG_ALLOWED) == []


@pytest.mark.parametrize("name", [n for n in _samples() if not n.startswith(("clean", "icc"))])
def test_oracle_finds_something_in_every_metadata_sample(
    reports: Mapping[str, ExiftoolReport], name: str
) -> None:
    assert findings(reports[name]) != []


def test_oracle_reports_embedded_documents_and_warnings(
    reports: Mapping[str, ExiftoolReport],
) -> None:
    found = findings(reports["kitchen-sink"])
    assert any(f.startswith("Doc") and "GPSLatitude = 37.8" in f for f in found)
    assert any(f.startswith("ExifTool:Warning = [minor] Unknown APP15") for f in found)
    assert len(found) == len(set(found))


def test_oracle_finds_nothing_once_the_spec_strip_is_applied(samples: Mapping[str, bytes]) -> None:
    stripped = {name: reference_strip(data) for name, data in samples.items()}
    found = identifying_findings_many(list(stripped.values()))
    assert {n: f for n, f in zip(stripped, found, strict=True) if f} == {}
    for name, data in stripped.items():
        assert decode(data).tobytes() == decode(samples[name]).tobytes(), name


def test_identifying_findings_many_batches_bytes_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "comment.jpg"
    path.write_bytes(compose(BASE, [comment_segment("on disk")]))
    assert identifying_findings_many([BASE, path]) == [[], ["File:Comment = on disk"]]


def test_parse_key_reads_document_copy_group_and_name() -> None:
    tag = parse_key("Doc2:Copy3:GPS:GPSLatitude", 37.8)
    assert (tag.document, tag.copy, tag.group, tag.name, tag.key) == (
        "Doc2",
        3,
        "GPS",
        "GPSLatitude",
        "Doc2:GPS:GPSLatitude",
    )


# --- corpus and the large JPEG ------------------------------------------------------------


def test_corpus_is_deterministic_and_cached(tmp_path: Path) -> None:
    spec = CorpusSpec(count=2, width=320, height=240)
    first = write_corpus(tmp_path / "a", spec)
    again = write_corpus(tmp_path / "b", spec)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    stamps = [p.stat().st_mtime_ns for p in first]
    assert [p.stat().st_mtime_ns for p in write_corpus(tmp_path / "a", spec)] == stamps
    assert first[0].read_bytes() != first[1].read_bytes()


def test_corpus_photos_carry_exif_gps_xmp_icc_and_thumbnail(tmp_path: Path) -> None:
    (path,) = write_corpus(tmp_path, CorpusSpec(count=1, width=320, height=240))
    (report,) = exiftool_reports([path])
    for group, name in [
        ("GPS", "GPSLatitude"),
        ("ExifIFD", "SerialNumber"),
        ("XMP-exif", "GPSLatitude"),
        ("ICC_Profile", "ProfileDescription"),
        ("IFD1", "ThumbnailImage"),
    ]:
        assert report.has(group, name), f"{group}:{name}"


def test_large_jpeg_decodes_fully_to_the_repeated_strip(tmp_path: Path) -> None:
    large = write_large_jpeg(tmp_path / "large.jpg", 2_000_000, width=256)
    assert large.size == pytest.approx(2_000_000, rel=0.02)
    image = decode(large.path.read_bytes())
    assert image.size == (large.width, large.height)
    for y, band in expected_large_rows(large.strip, large.height):
        assert image.crop((0, y, large.width, y + band.height)).tobytes() == band.tobytes()


def test_large_jpeg_restart_markers_cycle_through_all_eight(tmp_path: Path) -> None:
    large = write_large_jpeg(tmp_path / "large.jpg", 300_000, width=128)
    data = large.path.read_bytes()
    scan = walk_markers(data).first(SOS)
    rst = [data[i + 1] for i in range(scan.start + 2, scan.end - 1) if data[i] == 0xFF]
    rst = [m for m in rst if 0xD0 <= m <= 0xD7]
    assert len(rst) == large.height // 8 - 1
    assert rst[:9] == [0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD0]


def test_large_jpeg_memory_does_not_grow_with_size(tmp_path: Path) -> None:
    write_large_jpeg(tmp_path / "warm-up.jpg", 100_000, width=1024)  # one-time allocations
    peaks = []
    for target in (8_000_000, 40_000_000):
        tracemalloc.start()
        write_large_jpeg(tmp_path / f"{target}.jpg", target, width=1024)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert abs(peaks[1] - peaks[0]) < 1_000_000
    assert max(peaks) < 4_000_000


def test_large_jpeg_refuses_a_height_beyond_65535(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="wider image"):
        write_large_jpeg(tmp_path / "x.jpg", 200_000_000, width=64)


def test_sof_height_of_the_large_jpeg_is_patched(tmp_path: Path) -> None:
    large = write_large_jpeg(tmp_path / "large.jpg", 500_000, width=128)
    data = large.path.read_bytes()
    sof = walk_markers(data).first(SOF0).payload(data)
    assert struct.unpack(">HH", sof[1:5]) == (large.height, large.width)
