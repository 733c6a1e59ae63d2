"""Sample WebPs built in code, carrying real metadata, for the tests, demo and bench.

Pillow (libwebp) encodes the pixels; the container around them is written here byte by
byte following the WebP container specification (RFC 9649): VP8X with its flags, an ICC
profile that names its owner, the camera's EXIF with GPS (CIPA DC-008, as a bare TIFF),
an XMP packet, a private chunk, an unknown chunk inside an animation frame, and bytes
after the RIFF's end. The reader here is separate from the product's webp.py.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image

from tools.samples import icc_profiles
from tools.samples.exif import CameraExif, exif_tiff
from tools.samples.jpeg import photo_image
from tools.samples.metadata import xmp_packet

ICC_FLAG, ALPHA_FLAG, EXIF_FLAG, XMP_FLAG, ANIMATION_FLAG = 0x20, 0x10, 0x08, 0x04, 0x02
#: Bytes after the RIFF's end, as some apps append them.
TRAILER = b"vendor block: Jane Photographer 6012345" + bytes(32)


def riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    """FourCC, little-endian size, payload, and a zero pad byte when the size is odd."""
    return fourcc + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) % 2)


def container(chunks: list[bytes]) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vp8x(flags: int, width: int, height: int) -> bytes:
    size = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return riff_chunk(b"VP8X", bytes((flags, 0, 0, 0)) + size)


@dataclass(frozen=True)
class Chunk:
    fourcc: bytes
    offset: int
    payload: bytes

    @property
    def raw(self) -> bytes:
        return riff_chunk(self.fourcc, self.payload)


def walk(data: bytes, start: int = 12, end: int | None = None) -> list[Chunk]:
    """The chunks from `start` to the RIFF's end (or `end`): inside an ANMF, pass its range."""
    if end is None:
        end = 8 + struct.unpack_from("<I", data, 4)[0]
    chunks = []
    pos = start
    while pos + 8 <= end:
        fourcc, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        chunks.append(Chunk(fourcc, pos, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + size % 2
    return chunks


def fourccs(data: bytes) -> list[bytes]:
    return [c.fourcc for c in walk(data)]


def frame_chunks(anmf: Chunk) -> list[Chunk]:
    """The sub-chunks of an ANMF, after its 16-byte frame header."""
    return walk(anmf.payload, 16, len(anmf.payload))


def pillow_webp(image: Image.Image | list[Image.Image], **options: object) -> bytes:
    out = io.BytesIO()
    if isinstance(image, list):
        image[0].save(out, "WEBP", save_all=True, append_images=image[1:], **options)
    else:
        image.save(out, "WEBP", **options)
    return out.getvalue()


def exif_payload(orientation: int | None = 1) -> bytes:
    return exif_tiff(CameraExif(orientation=orientation))


def picture(width: int, height: int, *, alpha: bool, seed: int = 12) -> Image.Image:
    image = photo_image(width, height, seed=seed, noise=5)
    if not alpha:
        return image
    mask = Image.linear_gradient("L").resize((width, height))
    image.putalpha(mask.point(lambda v: 0 if v < 40 else v))  # some pixels fully clear
    return image


def photo_webp(
    width: int = 64,
    height: int = 48,
    *,
    lossless: bool = False,
    alpha: bool = False,
    animated: bool = False,
    orientation: int | None = 1,
    icc: bytes | None = None,
    metadata: bool = True,
    trailer: bool = True,
) -> bytes:
    """A WebP whose pixels Pillow encoded, in a container carrying every kind of metadata."""
    image = picture(width, height, alpha=alpha)
    options: dict[str, object] = {"lossless": lossless, "quality": 85, "exact": True}
    if animated:
        frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image.rotate(180)]
        options |= {"duration": [100, 150, 200], "loop": 3}
        encoded = pillow_webp(frames, **options)
    else:
        encoded = pillow_webp(image, **options)
    pictures = (b"ALPH", b"VP8 ", b"VP8L", b"ANIM", b"ANMF")
    image_chunks = [c for c in walk(encoded) if c.fourcc in pictures]
    body = []
    for found in image_chunks:
        if found.fourcc == b"ANMF" and metadata and found is image_chunks[-1]:
            # A vendor's chunk inside the last frame, after its bitstream.
            inner = found.payload + riff_chunk(b"prVt", b"Private serial 4711")
            body.append(riff_chunk(b"ANMF", inner))
        else:
            body.append(found.raw)
    flags = ICC_FLAG | (ALPHA_FLAG if alpha else 0) | (ANIMATION_FLAG if animated else 0)
    chunks = [b"", riff_chunk(b"ICCP", icc if icc is not None else icc_profiles.matrix_rgb())]
    chunks += body
    if metadata:
        flags |= EXIF_FLAG | XMP_FLAG
        chunks += [
            riff_chunk(b"EXIF", exif_payload(orientation)),
            riff_chunk(b"XMP ", xmp_packet()),
            riff_chunk(b"prVt", b"Private serial 4711 \x00\x01"),
        ]
    chunks[0] = vp8x(flags, width, height)
    return container(chunks) + (TRAILER if trailer else b"")


def frames_rgba(data: bytes) -> list[tuple[tuple[int, int], bytes]]:
    """Every frame as the browser composes it (libwebp's demuxer through Pillow), as RGBA."""
    from PIL import ImageSequence

    with Image.open(io.BytesIO(data)) as image:
        return [(f.size, f.convert("RGBA").tobytes()) for f in ImageSequence.Iterator(image)]


def camera_webp(width: int = 4000, height: int = 3000, *, seed: int = 0) -> bytes:
    """A phone photo saved as WebP (lossy, quality 85) with EXIF, XMP and an ICC profile."""
    image = photo_image(width, height, seed=seed, noise=8)
    encoded = pillow_webp(image, quality=85, method=2)
    (bitstream,) = walk(encoded)
    flags = ICC_FLAG | EXIF_FLAG | XMP_FLAG
    return container(
        [
            vp8x(flags, width, height),
            riff_chunk(b"ICCP", icc_profiles.matrix_rgb()),
            bitstream.raw,
            riff_chunk(b"EXIF", exif_payload()),
            riff_chunk(b"XMP ", xmp_packet()),
        ]
    )


def demo_samples() -> dict[str, bytes]:
    """WebPs for `make demo`: a phone's lossy photo, and a lossless one stored sideways."""
    return {
        "phone-exif-xmp.webp": photo_webp(480, 320),
        "sideways-lossless-8.webp": photo_webp(320, 240, lossless=True, orientation=8),
    }
