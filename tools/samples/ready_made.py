"""Ready-made samples: the kitchen sink (every kind of metadata at once), an MPO stereo pair, a
motion photo, and the demo's set of photos, written to a folder on request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.samples.composition import MpType, compose, insert_between_scans, mpo
from tools.samples.exif import GOLDEN_GATE, CameraExif, exif_segment, thumbnail_jpeg
from tools.samples.icc import icc_segments, srgb_profile
from tools.samples.jpeg import Encoding, base_jpeg, photo_image, walk_markers
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
from tools.samples.orientation import oriented_jpeg
from tools.samples.trailers import mp4_video, samsung_motion_trailer

# =========================================================================================
# Ready-made samples
# =========================================================================================


def camera_exif_with_thumbnail(seed: int = 0) -> CameraExif:
    """CameraExif defaults plus a real IFD1 thumbnail."""
    return CameraExif(thumbnail=thumbnail_jpeg(seed=seed))


def mpo_sample(*, width: int = 320, height: int = 240, seed: int = 21) -> bytes:
    """A stereo MPO: left image with EXIF (Eiffel Tower GPS) and the MPF index; right image
    after the primary's EOI with its OWN EXIF and a different GPS fix (Golden Gate)."""
    left = compose(base_jpeg(width, height, seed=seed), [exif_segment()])
    right_exif = CameraExif(gps=GOLDEN_GATE, body_serial="7099999", maker_serial="7099999")
    right = compose(base_jpeg(width, height, seed=seed + 1), [exif_segment(right_exif)])
    return mpo(left, [right])


def motion_photo_sample(*, width: int = 320, height: int = 240, seed: int = 31) -> bytes:
    """A Pixel-style motion photo: XMP with GCamera fields, the MP4 appended after EOI."""
    video = mp4_video()
    fields = XmpFields(motion_video_length=len(video))
    base = base_jpeg(width, height, seed=seed)
    return compose(base, [exif_segment(), *xmp_segments(fields)], trailer=video)


@dataclass(frozen=True)
class KitchenSinkParts:
    """What `kitchen_sink` puts where, for tests that check each part is found."""

    video_length: int
    extended_xmp_chunks: int
    icc_chunks: int
    scans: int


def kitchen_sink(*, width: int = 640, height: int = 480, seed: int = 7) -> bytes:
    """A progressive phone photo that carries every kind of metadata at once.

    APP0 JFIF with an RGB thumbnail, APP0 JFXX thumbnail, APP1 EXIF (camera, serials,
    Nikon maker note, GPS, IFD1 thumbnail), APP1 XMP (GPS, creator, serial, motion photo)
    with extended XMP, APP2 ICC (two chunks), APP2 FlashPix, APP2 MPF, APP3..APP12, APP13
    IPTC, APP15, two COM; a COM and an APP1 XMP between the progressive scans; after EOI
    an MPO second image with its own EXIF+GPS, then a Samsung SEF trailer holding the
    motion-photo MP4.
    """
    return _kitchen_sink(width, height, seed)[0]


def kitchen_sink_parts(*, width: int = 640, height: int = 480, seed: int = 7) -> KitchenSinkParts:
    return _kitchen_sink(width, height, seed)[1]


def _kitchen_sink(width: int, height: int, seed: int) -> tuple[bytes, KitchenSinkParts]:
    base = base_jpeg(width, height, seed=seed, encoding=Encoding(quality=88, progressive=True))
    video = mp4_video()
    trailer = samsung_motion_trailer(video)
    # MicroVideoOffset counts from the end of the file to the MP4, which sits inside the SEF
    # trailer: the MP4 block's data, the blocks after it, the directory and its footer.
    video_from_end = len(trailer) - trailer.index(video)
    extended = extended_xmp_body()
    xmp = xmp_segments(XmpFields(motion_video_length=video_from_end), extended)
    icc = icc_segments(srgb_profile(), chunk_size=400)
    thumb_rgb = photo_image(48, 36, seed=seed, noise=0)
    leading = [
        jfif_segment(thumb_rgb),
        jfxx_segment(),
        exif_segment(camera_exif_with_thumbnail(seed)),
        *xmp,
        *icc,
        *flashpix_segments(),
        *junk_app_segments()[:10],  # APP3..APP12
        iptc_segment(),
        *junk_app_segments()[10:],  # APP15
        comment_segment(),
        comment_segment("Second comment: phone number +33 1 23 45 67 89"),
    ]
    primary = compose(base, leading)
    between = [
        comment_segment("Comment between scans"),
        xmp_segment(XmpFields(creator="Between Scans", gps=GOLDEN_GATE, make=None, model=None)),
    ]
    primary = insert_between_scans(primary, between, after_scans=[0])
    second_exif = CameraExif(gps=GOLDEN_GATE, thumbnail=None)
    second = compose(base_jpeg(width // 2, height // 2, seed=seed + 1), [exif_segment(second_exif)])
    data = mpo(primary, [second], types=[MpType.BASELINE_PRIMARY, MpType.LARGE_THUMBNAIL_VGA])
    data += trailer
    parts = KitchenSinkParts(
        video_length=video_from_end,
        extended_xmp_chunks=len(xmp) - 1,
        icc_chunks=len(icc),
        scans=len(walk_markers(base).scans),
    )
    return data, parts


def demo_samples() -> dict[str, bytes]:
    """A handful of named photos for `make demo`: each shows one way metadata leaks."""
    return {
        "kitchen-sink.jpg": kitchen_sink(),
        "camera-exif-gps-thumbnail.jpg": compose(
            base_jpeg(480, 320, seed=41), [exif_segment(camera_exif_with_thumbnail(41))]
        ),
        "xmp-gps-extended.jpg": compose(
            base_jpeg(480, 320, seed=42), xmp_segments(XmpFields(), extended_xmp_body())
        ),
        "iptc-newsroom.jpg": compose(base_jpeg(480, 320, seed=43), [iptc_segment()]),
        "stereo-mpo.jpg": mpo_sample(),
        "motion-photo.jpg": motion_photo_sample(),
        "sideways-orientation-6.jpg": oriented_jpeg(6, (480, 320), camera=CameraExif()),
        "cmyk-adobe.jpg": compose(
            base_jpeg(320, 240, seed=44, mode="CMYK"), [exif_segment(), comment_segment()]
        ),
    }


def write_samples(directory: Path, samples: Mapping[str, bytes] | None = None) -> list[Path]:
    """Write `demo_samples()` (or the given samples) into a directory; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in (samples if samples is not None else demo_samples()).items():
        path = directory / name
        path.write_bytes(data)
        paths.append(path)
    return paths
