"""Which image format a file is, told by its first bytes, never by its name.

The sanitizer takes JPEG, PNG (APNG included) and WebP. A key's extension only decides
whether an upload is looked at at all (`is_image_key`); what it holds decides how it is
sanitized and which Content-Type the copy gets: a PNG named `.jpg` is sanitized as a PNG
and served as `image/png`. Anything else is an `UnsupportedFormat` rejection that says
what it looks like (HEIC, AVIF, GIF, ...), so the log line is useful.

Signatures: ITU T.81 B.1.1.2 (SOI), PNG 3rd edition 5.2, the WebP container's RIFF
header, ISO/IEC 14496-12 4.3 (the `ftyp` box of HEIF and AVIF, ISO/IEC 23008-12 and
AV1 Image File Format), GIF89a, TIFF 6.0 section 2, ISO/IEC 18181-2 (JPEG XL).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from .errors import UnsupportedFormat


class Format(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"

    @property
    def content_type(self) -> str:
        """The media type the copy is served with (APNG too is served as image/png: every
        browser that animates it knows it by its content, and the rest show its first frame)."""
        return _CONTENT_TYPES[self]


_CONTENT_TYPES: Final = {
    Format.JPEG: "image/jpeg",
    Format.PNG: "image/png",
    Format.WEBP: "image/webp",
}

#: Keys whose uploads are looked at, in any case; the content then decides the format.
IMAGE_SUFFIXES: Final = (".jpg", ".jpeg", ".png", ".webp")
#: Bytes `detect` needs to tell every format below apart.
HEAD_BYTES: Final = 16

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"

# ISO BMFF major brands (the `ftyp` box) of the HEIF family: HEIC, HEIF and AVIF stills
# and sequences (ISO/IEC 23008-12 Annex B and D; AV1 Image File Format 1.1).
_HEIF_BRANDS: Final = {
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"heim": "HEIC",
    b"heis": "HEIC",
    b"hevc": "HEIC sequence",
    b"hevx": "HEIC sequence",
    b"hevm": "HEIC sequence",
    b"hevs": "HEIC sequence",
    b"mif1": "HEIF",
    b"msf1": "HEIF sequence",
    b"avif": "AVIF",
    b"avis": "AVIF sequence",
}
_OTHER_SIGNATURES: Final = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"BM", "BMP"),
    (b"%PDF", "PDF"),
    (b"8BPS", "Photoshop document"),
    (b"\x00\x00\x01\x00", "Windows icon"),
)


def is_image_key(key: str) -> bool:
    """Whether an upload with this key is sanitized (its content then decides the format)."""
    return key.lower().endswith(IMAGE_SUFFIXES)


def detect(head: bytes | memoryview) -> Format:
    """The format of a file that starts with `head` (give it `HEAD_BYTES` or all there is).

    Raises `UnsupportedFormat`, naming what the content looks like, for anything else.
    """
    head = bytes(head[:HEAD_BYTES])
    if head.startswith(b"\xff\xd8"):
        return Format.JPEG
    if head.startswith(PNG_SIGNATURE):
        return Format.PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Format.WEBP
    raise UnsupportedFormat(f"the content is {_describe(head)}, not JPEG, PNG or WebP", 0)


def _describe(head: bytes) -> str:
    """What a file we do not take looks like, for the rejection's reason."""
    if not head:
        return "empty"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return f"{_HEIF_BRANDS[brand]} (ISO BMFF brand {brand.decode('ascii')!r})"
        return "an ISO BMFF file (a video or another HEIF brand)"
    for signature, name in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return name
    if head[:4] == b"RIFF":
        return f"a RIFF file of type {head[8:12]!r}"
    if len(head) < 2:
        return "a file too short to be an image"
    return f"unknown (it starts with {head[:8].hex(' ')})"
