"""The content decides the format, never the name (issue 11, point 1)."""

from __future__ import annotations

import pytest

from exif_stripper.core.errors import UnsupportedFormat
from exif_stripper.core.formats import Format, detect, is_image_key
from tools.samples import png as sp
from tools.samples import webp as sw
from tools.samples.jpeg import base_jpeg, photo_image


@pytest.mark.parametrize(
    ("data", "expected", "content_type"),
    [
        (base_jpeg(), Format.JPEG, "image/jpeg"),
        (sp.photo_png(), Format.PNG, "image/png"),
        (sp.apng(), Format.PNG, "image/png"),
        (sw.photo_webp(), Format.WEBP, "image/webp"),
        (sw.pillow_webp(photo_image(8, 8)), Format.WEBP, "image/webp"),
    ],
)
def test_jpeg_png_and_webp_are_told_by_their_first_bytes(
    data: bytes, expected: Format, content_type: str
) -> None:
    assert detect(data[:16]) is expected
    assert expected.content_type == content_type


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "AVIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "HEIF"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", "ISO BMFF"),
        (b"GIF89a\x01\x00\x01\x00", "GIF"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"\xff\x0a\xfa\x7f", "JPEG XL"),
        (b"%PDF-1.7\n", "PDF"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "RIFF file of type b'WAVE'"),
        (b"\x89PNG\r\n\x1a", "unknown"),  # a PNG signature cut short
        (b"", "empty"),
        (b"hello world", "unknown"),
    ],
)
def test_anything_else_is_an_unsupported_format_that_says_what_it_is(
    head: bytes, named: str
) -> None:
    with pytest.raises(UnsupportedFormat, match=named) as raised:
        detect(head)
    assert raised.value.code == "unsupported-format"
    assert raised.value.offset == 0


@pytest.mark.parametrize(
    "key",
    ["a.jpg", "b/c.JPEG", "d.Png", "e/f/g.WEBP", "photo.jpeg", "x.webp"],
)
def test_image_keys_are_recognised_in_any_case(key: str) -> None:
    assert is_image_key(key)


@pytest.mark.parametrize("key", ["a.heic", "b.gif", "c.jpg.txt", "png", "d.webpx", "e/"])
def test_other_keys_are_not(key: str) -> None:
    assert not is_image_key(key)
