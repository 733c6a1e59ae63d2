"""The other metadata a photo carries, each written byte by byte from its standard:

- XMP (XMP specification part 3 section 1.1.3): a packet with GPS, a motion photo's
  container directory, and extended XMP split into `xmp/extension` chunks;
- IPTC IIM 4.2 inside Adobe's Photoshop image resources (APP13 `Photoshop 3.0`);
- small segments: COM, JFIF 1.02 (APP0 `JFIF`, `JFXX` thumbnails), FlashPix, junk APPn.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape, quoteattr

from PIL import Image

from tools.samples.exif import EIFFEL_TOWER, GpsFix, thumbnail_jpeg
from tools.samples.jpeg import (
    APP0,
    APP1,
    APP2,
    APP13,
    COM,
    MAX_SEGMENT_PAYLOAD,
    PHOTOSHOP_HEADER,
    XMP_EXTENSION_HEADER,
    XMP_HEADER,
    Encoding,
    base_jpeg,
    segment,
)

# =========================================================================================
# XMP (APP1 "http://ns.adobe.com/xap/1.0/\0", XMP specification part 3 section 1.1.3)
# =========================================================================================

_NAMESPACES = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpNote": "http://ns.adobe.com/xmp/note/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "GCamera": "http://ns.google.com/photos/1.0/camera/",
    "Container": "http://ns.google.com/photos/1.0/container/",
    "Item": "http://ns.google.com/photos/1.0/container/item/",
    "GImage": "http://ns.google.com/photos/1.0/image/",
}


@dataclass(frozen=True)
class XmpFields:
    """The main XMP packet's properties. None leaves a property out.

    `motion_video_length` marks a Google motion photo whose MP4 is the last that many bytes
    of the file (GCamera:MicroVideoOffset counts from the end of the file).
    """

    gps: GpsFix | None = EIFFEL_TOWER
    creator: str | None = "Jane Photographer"
    make: str | None = "NIKON CORPORATION"
    model: str | None = "NIKON Z 6_2"
    serial: str | None = "6012345"
    city: str | None = "Paris"
    create_date: str | None = "2024-06-01T12:15:30+02:00"
    motion_video_length: int | None = None
    #: xmpNote:HasExtendedXMP, the GUID (MD5) of the extended part; set by `xmp_segments`.
    extended_guid: str | None = None


def xmp_packet(fields: XmpFields = XmpFields()) -> bytes:
    """A complete XMP packet (xpacket wrapper, x:xmpmeta, one rdf:Description)."""
    attributes: list[tuple[str, str]] = []
    elements: list[str] = []
    if fields.make:
        attributes.append(("tiff:Make", fields.make))
    if fields.model:
        attributes.append(("tiff:Model", fields.model))
    if fields.serial:
        attributes.append(("aux:SerialNumber", fields.serial))
    if fields.create_date:
        attributes.append(("xmp:CreateDate", fields.create_date))
    if fields.city:
        attributes.append(("photoshop:City", fields.city))
    if fields.gps:
        attributes += [
            ("exif:GPSLatitude", _xmp_coordinate(fields.gps.latitude, "NS")),
            ("exif:GPSLongitude", _xmp_coordinate(fields.gps.longitude, "EW")),
        ]
    if fields.motion_video_length is not None:
        attributes += _motion_photo_attributes(fields.motion_video_length)
        elements.append(_container_directory(fields.motion_video_length))
    if fields.extended_guid:
        attributes.append(("xmpNote:HasExtendedXMP", fields.extended_guid))
    if fields.creator:
        elements.append(
            f"<dc:creator><rdf:Seq><rdf:li>{escape(fields.creator)}</rdf:li></rdf:Seq></dc:creator>"
        )
    meta = _xmpmeta(attributes, elements)
    # The packet wrapper with 1 KiB of padding lets editors update in place (part 1, 7.3).
    padding = (" " * 99 + "\n") * 10
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + meta
        + padding
        + '<?xpacket end="w"?>'
    ).encode()


def _xmpmeta(attributes: Sequence[tuple[str, str]], elements: Sequence[str]) -> str:
    used = {name.split(":")[0] for name, _ in attributes} | {"rdf", "dc", "Container", "Item"}
    xmlns = " ".join(f"xmlns:{p}={quoteattr(u)}" for p, u in _NAMESPACES.items() if p in used)
    attrs = "".join(f"\n    {name}={quoteattr(value)}" for name, value in attributes)
    body = "".join(f"\n   {e}" for e in elements)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{_NAMESPACES["rdf"]}">\n'
        f'  <rdf:Description rdf:about="" {xmlns}{attrs}>{body}\n'
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )


def _xmp_coordinate(degrees: float, refs: str) -> str:
    """XMP GPS coordinate "DDD,MM.mmmmmmR" (XMP specification part 2, Exif schema)."""
    ref = refs[0] if degrees >= 0 else refs[1]
    whole = int(abs(degrees))
    minutes = (abs(degrees) - whole) * 60
    return f"{whole},{minutes:.6f}{ref}"


def _motion_photo_attributes(video_length: int) -> list[tuple[str, str]]:
    """Google's camera schema: the old MicroVideo fields and the newer MotionPhoto ones."""
    return [
        ("GCamera:MicroVideo", "1"),
        ("GCamera:MicroVideoVersion", "1"),
        ("GCamera:MicroVideoOffset", str(video_length)),
        ("GCamera:MicroVideoPresentationTimestampUs", "1366866"),
        ("GCamera:MotionPhoto", "1"),
        ("GCamera:MotionPhotoVersion", "1"),
        ("GCamera:MotionPhotoPresentationTimestampUs", "1366866"),
    ]


def _container_directory(video_length: int) -> str:
    """Google's container directory: the primary image, then the MP4 at the end of the file."""
    items = (
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg"'
        ' Item:Semantic="Primary" Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4"'
        f' Item:Semantic="MotionPhoto" Item:Length="{video_length}" Item:Padding="0"/></rdf:li>'
    )
    return f"<Container:Directory><rdf:Seq>{items}</rdf:Seq></Container:Directory>"


def xmp_segment(fields: XmpFields = XmpFields()) -> bytes:
    """APP1 with the main XMP packet."""
    return segment(APP1, XMP_HEADER + xmp_packet(fields))


#: Signature, GUID, full length and offset precede each extended chunk (part 3, 1.1.3.1).
EXTENDED_XMP_CHUNK = MAX_SEGMENT_PAYLOAD - len(XMP_EXTENSION_HEADER) - 32 - 4 - 4


def extended_xmp_body(*, gps: GpsFix | None = EIFFEL_TOWER, image: bytes | None = None) -> bytes:
    """The extended part: an x:xmpmeta (no packet wrapper) too big for one APP1.

    Phones use it for depth maps and edit history; here it carries a GImage JPEG (base64)
    and the altitude, so GPS data lives in the extended part too.
    """
    image = image if image is not None else base_jpeg(480, 360, seed=11, encoding=Encoding(95))
    attributes = [("GImage:Mime", "image/jpeg"), ("GImage:Data", base64.b64encode(image).decode())]
    if gps:
        attributes += [
            ("exif:GPSAltitude", f"{round(gps.altitude_m * 100)}/100"),
            ("exif:GPSAltitudeRef", "0" if gps.altitude_m >= 0 else "1"),
        ]
    return _xmpmeta(attributes, []).encode()


def extended_xmp_guid(body: bytes) -> str:
    """The GUID of an extended XMP part: MD5 of its bytes, 32 uppercase hex digits."""
    return hashlib.md5(body).hexdigest().upper()  # noqa: S324 - XMP specifies MD5


def extended_xmp_segments(body: bytes) -> list[bytes]:
    """APP1 chunks: signature, GUID, full length, offset of this chunk, chunk data."""
    guid = extended_xmp_guid(body).encode()
    chunks = []
    for offset in range(0, len(body), EXTENDED_XMP_CHUNK):
        chunk = body[offset : offset + EXTENDED_XMP_CHUNK]
        header = XMP_EXTENSION_HEADER + guid + struct.pack(">II", len(body), offset)
        chunks.append(segment(APP1, header + chunk))
    return chunks


def xmp_segments(
    fields: XmpFields = XmpFields(), extended_body: bytes | None = None
) -> list[bytes]:
    """The main XMP APP1 and, when given an extended body, its chunks with the GUID linked."""
    if extended_body is None:
        return [xmp_segment(fields)]
    linked = replace(fields, extended_guid=extended_xmp_guid(extended_body))
    return [xmp_segment(linked), *extended_xmp_segments(extended_body)]


# =========================================================================================
# IPTC IIM in Photoshop image resources (APP13 "Photoshop 3.0\0")
# =========================================================================================


@dataclass(frozen=True)
class Iptc:
    """IIM application record (record 2) datasets a newsroom or a stock site writes."""

    by_line: str = "Jane Photographer"  # 2:80
    city: str = "Paris"  # 2:90
    country: str = "France"  # 2:101
    copyright: str = "(c) 2024 Jane Photographer"  # 2:116
    keywords: tuple[str, ...] = ("holiday", "family", "home")  # 2:25, repeatable


def iptc_iim(iptc: Iptc = Iptc()) -> bytes:
    """IIM datasets: 0x1C, record, dataset, 2-byte length, data (IPTC IIM 4.2 section 1.5)."""
    datasets = [
        (1, 90, b"\x1b%G"),  # CodedCharacterSet: UTF-8
        (2, 0, b"\x00\x04"),  # ApplicationRecordVersion 4
        *((2, 25, k.encode()) for k in iptc.keywords),
        (2, 80, iptc.by_line.encode()),
        (2, 90, iptc.city.encode()),
        (2, 101, iptc.country.encode()),
        (2, 116, iptc.copyright.encode()),
    ]
    return b"".join(struct.pack(">BBBH", 0x1C, r, d, len(v)) + v for r, d, v in datasets)


def photoshop_resource(resource_id: int, data: bytes, name: bytes = b"") -> bytes:
    """One image resource block: `8BIM`, id, even-padded Pascal name, size, even-padded data."""
    pascal = bytes((len(name),)) + name
    pascal += b"\x00" * (len(pascal) % 2)
    return (
        b"8BIM"
        + struct.pack(">H", resource_id)
        + pascal
        + struct.pack(">I", len(data))
        + (data + b"\x00" * (len(data) % 2))
    )


def iptc_segment(iptc: Iptc = Iptc()) -> bytes:
    """APP13 with resource 0x0404 (IPTC-NAA) and 0x0425 (its MD5 digest, as Photoshop does)."""
    iim = iptc_iim(iptc)
    digest = hashlib.md5(iim).digest()  # noqa: S324 - the format specifies MD5
    resources = photoshop_resource(0x0404, iim) + photoshop_resource(0x0425, digest)
    return segment(APP13, PHOTOSHOP_HEADER + resources)


# =========================================================================================
# Small segments: COM, JFIF/JFXX thumbnails, FlashPix, junk APPn
# =========================================================================================


def comment_segment(text: str = "Taken at 12 Rue Example, Paris by Jane") -> bytes:
    """COM (T.81 B.2.4.5): free text, often a location or a name."""
    return segment(COM, text.encode())


def jfif_segment(thumbnail: Image.Image | None = None, *, dpi: int = 72) -> bytes:
    """APP0 JFIF 1.02, optionally with an uncompressed RGB thumbnail (JFIF 1.02 page 5)."""
    width, height, pixels = 0, 0, b""
    if thumbnail is not None:
        rgb = thumbnail.convert("RGB")
        width, height = rgb.size
        pixels = rgb.tobytes()
    header = b"JFIF\x00" + bytes((1, 2, 1)) + struct.pack(">HHBB", dpi, dpi, width, height)
    return segment(APP0, header + pixels)


def jfxx_segment(thumbnail: bytes | None = None) -> bytes:
    """APP0 JFXX extension 0x10: a JPEG-compressed thumbnail (JFIF 1.02 page 6)."""
    data = thumbnail if thumbnail is not None else thumbnail_jpeg(80, 60, seed=5)
    return segment(APP0, b"JFXX\x00\x10" + data)


def flashpix_segments(audio: bytes = b"RIFF-voice-memo " * 64) -> list[bytes]:
    """APP2 `FPXR` (Kodak/Fuji FlashPix-ready): a contents list and one stream.

    The stream is an "Audio Stream" (cameras' voice memos): a 28-byte stream header, then
    the data. exiftool reports it as FlashPix:AudioStream.
    """
    stream = b"\x00" * 0x1C + audio
    name = "/Audio Stream 000000".encode("utf-16-le") + b"\x00\x00"
    contents = b"FPXR\x00" + bytes((0, 1)) + struct.pack(">H", 1)
    contents += struct.pack(">IB", len(stream), 0) + name
    data = b"FPXR\x00" + bytes((0, 2)) + struct.pack(">HI", 0, 0) + stream
    return [segment(APP2, contents), segment(APP2, data)]


#: APP3..APP12 and APP15 as vendors use them: private data that no standard describes, here
#: with identifying text inside. Each starts with an identifier exiftool does not know, so
#: `exiftool -u` warns "Unknown APPn 'VENDORn' segment" and the oracle sees it; APP12 is
#: Photoshop's "Ducky" (save-for-web quality), which exiftool decodes.
JUNK_APP_PAYLOADS: Mapping[int, bytes] = {
    3: b"VENDOR3\x00owner=Jane Photographer;serial=6012345",
    4: b"VENDOR4\x00\x00\x00\x00\x00",
    5: b"VENDOR5\x00camera-serial:6012345",
    6: b"VENDOR6\x00",
    7: b"VENDOR7\x00gps=48.858222,2.294500",
    8: b"VENDOR8\x00",
    9: b"VENDOR9\x00device-id:a1b2c3",
    10: b"VENDOR10\x00",
    11: b"VENDOR11\x00",
    12: b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50\x00\x00",
    15: b"VENDOR15\x00user=jane",
}


def junk_app_segments() -> list[bytes]:
    """APP3..APP12 and APP15 segments (see JUNK_APP_PAYLOADS)."""
    return [segment(0xE0 + n, payload) for n, payload in JUNK_APP_PAYLOADS.items()]


def app_segment(n: int, payload: bytes) -> bytes:
    """APPn with any payload."""
    if not 0 <= n <= 15:
        raise ValueError("APPn is APP0..APP15")
    return segment(0xE0 + n, payload)
