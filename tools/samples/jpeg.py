"""JPEG structure and pixels: markers, segments, a marker walker, photo-like scenes, encoding.

The foundation of every JPEG sample in tools/samples/: ITU T.81 (markers, segment lengths,
scans, Annex B) written byte by byte, pixels drawn with Pillow and encoded by libjpeg.

The marker walker is deliberately separate from the product's parser: the tests must not
share a bug with the code they check.
"""

from __future__ import annotations

import io
import math
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageChops, ImageDraw, ImageStat

# =========================================================================================
# Markers and segments (ITU T.81 Annex B)
# =========================================================================================

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
#: The length field is two bytes and counts itself (T.81 B.1.1.4), so a payload holds at
#: most 65535 - 2 bytes.
MAX_SEGMENT_PAYLOAD = 65533

APP0 = 0xE0
APP1 = 0xE1
APP2 = 0xE2
APP13 = 0xED
APP14 = 0xEE
APP15 = 0xEF
COM = 0xFE
DQT = 0xDB
DHT = 0xC4
DRI = 0xDD
SOS = 0xDA
SOF0 = 0xC0
SOF2 = 0xC2
RST0 = 0xD0

#: Markers without a length field (T.81 Table B.1): TEM, RST0..RST7, SOI, EOI.
STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8), 0xD8, 0xD9})
#: Start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
MPF_HEADER = b"MPF\x00"


def segment(marker: int, payload: bytes) -> bytes:
    """One marker segment: FF, the marker, a big-endian length that counts itself, payload."""
    if marker in STANDALONE_MARKERS or not 0x02 <= marker <= 0xFE:
        raise ValueError(f"0x{marker:02X} is not a marker that carries a segment")
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes does not fit one segment")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def marker_name(marker: int) -> str:
    """A short readable name for a marker byte (APP1, SOS, RST3, ...)."""
    names = {0xD8: "SOI", 0xD9: "EOI", DQT: "DQT", DHT: "DHT", DRI: "DRI", SOS: "SOS"}
    names |= {COM: "COM", 0xCC: "DAC", 0x01: "TEM"}
    if marker in names:
        return names[marker]
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    if 0xD0 <= marker <= 0xD7:
        return f"RST{marker - 0xD0}"
    if marker in SOF_MARKERS:
        return f"SOF{marker - 0xC0}"
    return f"0x{marker:02X}"


@dataclass(frozen=True)
class Segment:
    """Where one marker (and what it carries) sits in a JPEG.

    For SOS, `end` lies past the scan's entropy-coded data, so a scan is one `Segment` and
    the next segment starts at `end`. `start` is the offset of the marker's 0xFF.
    """

    marker: int
    start: int
    end: int

    @property
    def name(self) -> str:
        return marker_name(self.marker)

    def payload(self, jpeg: bytes) -> bytes:
        """The bytes after the length field (for SOS: the scan header only)."""
        if self.marker in STANDALONE_MARKERS:
            return b""
        (length,) = struct.unpack_from(">H", jpeg, self.start + 2)
        return jpeg[self.start + 4 : self.start + 2 + length]


@dataclass(frozen=True)
class JpegLayout:
    """The markers of one JPEG image, from its SOI to its EOI."""

    segments: tuple[Segment, ...]

    @property
    def end(self) -> int:
        """Offset one past the EOI: where a trailer or the next MPO image begins."""
        return self.segments[-1].end

    @property
    def scans(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.marker == SOS)

    def first(self, marker: int) -> Segment:
        return next(s for s in self.segments if s.marker == marker)

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


def walk_markers(jpeg: bytes, start: int = 0) -> JpegLayout:
    """List the segments of the JPEG image that begins at `start`, up to its EOI.

    A deliberately small walker for the test fixtures: it trusts lengths and raises
    ValueError on anything it does not understand.
    """
    if jpeg[start : start + 2] != SOI:
        raise ValueError(f"no SOI at offset {start}")
    segments = [Segment(0xD8, start, start + 2)]
    pos = start + 2
    while True:
        if pos >= len(jpeg) or jpeg[pos] != 0xFF:
            raise ValueError(f"expected a marker at offset {pos}")
        marker_start = pos
        while pos < len(jpeg) and jpeg[pos] == 0xFF:  # fill bytes (T.81 B.1.1.2)
            pos += 1
        if pos >= len(jpeg):
            raise ValueError("file ends inside a marker")
        marker = jpeg[pos]
        pos += 1
        if marker in STANDALONE_MARKERS:
            segments.append(Segment(marker, marker_start, pos))
            if marker == 0xD9:
                return JpegLayout(tuple(segments))
            continue
        (length,) = struct.unpack_from(">H", jpeg, pos)
        end = pos + length
        if marker == SOS:
            end = _entropy_coded_end(jpeg, end)
        segments.append(Segment(marker, marker_start, end))
        pos = end


def _entropy_coded_end(jpeg: bytes, pos: int) -> int:
    """Offset of the marker that ends the entropy-coded data starting at `pos`.

    Inside a scan a 0xFF data byte is followed by a stuffed 0x00 (T.81 B.1.1.5) and RSTn
    markers belong to the scan (T.81 F.1.2.3); any other marker ends it.
    """
    while True:
        ff = jpeg.find(b"\xff", pos)
        if ff < 0 or ff + 1 >= len(jpeg):
            raise ValueError("scan data runs to the end of the file without a marker")
        following = jpeg[ff + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = ff + 2
            continue
        return ff


def jpeg_end(jpeg: bytes, start: int = 0) -> int:
    """Offset one past the EOI of the image that begins at `start`."""
    return walk_markers(jpeg, start).end


# =========================================================================================
# Pixels and encoding
# =========================================================================================

Subsampling = Literal["4:4:4", "4:2:2", "4:2:0"]
ColourMode = Literal["RGB", "L", "CMYK"]

#: MCU size in pixels (width, height) for each chroma subsampling (T.81 A.2.4).
MCU_SIZE: Mapping[Subsampling, tuple[int, int]] = {
    "4:4:4": (8, 8),
    "4:2:2": (16, 8),
    "4:2:0": (16, 16),
}


@dataclass(frozen=True)
class Encoding:
    """How Pillow (libjpeg-turbo) encodes the pixels."""

    quality: int = 90
    subsampling: Subsampling = "4:2:0"
    progressive: bool = False
    #: DRI: a restart marker after every this many MCU rows (0 for none, T.81 B.2.4.4).
    restart_rows: int = 0
    #: DRI in MCUs instead of rows (libjpeg prefers `restart_rows` when both are set).
    restart_blocks: int = 0
    optimize: bool = False


def photo_image(
    width: int, height: int, *, seed: int = 0, mode: ColourMode = "RGB", noise: int = 10
) -> Image.Image:
    """A photo-like picture: soft gradients, shapes, an asymmetric "F" sign and sensor noise.

    The content compresses like a photograph (smooth areas, edges, grain), and no flip or
    rotation maps it onto itself, so a wrong orientation is visible in the pixels.
    Deterministic for a given seed (Python's `random`, not Pillow's unseeded noise).
    """
    rng = random.Random(seed)
    scene = _scene(max(1, (width + 3) // 4), max(1, (height + 3) // 4), rng)
    image = scene.resize((width, height), Image.Resampling.BICUBIC)
    if noise:
        image = _add_grain(image, rng, noise)
    return image if mode == "RGB" else image.convert(mode)


def _scene(width: int, height: int, rng: random.Random) -> Image.Image:
    """The low-resolution scene: gradient sky, random shapes, and an "F" in the top left."""
    ramp = Image.linear_gradient("L")  # 256x256, black at the top, white at the bottom
    red = ramp.rotate(90).resize((width, height)).point(_span(rng.randint(20, 90), 230))
    green = ramp.resize((width, height)).point(_span(rng.randint(30, 80), 200))
    blue = Image.radial_gradient("L").resize((width, height)).point(_span(240, 60))
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        box = (
            sorted(rng.uniform(0, width) for _ in range(2)),
            sorted(rng.uniform(0, height) for _ in range(2)),
        )
        xy = (box[0][0], box[1][0], box[0][1] + 1, box[1][1] + 1)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "ellipse":
            draw.ellipse(xy, fill=colour)
        elif shape == "rectangle":
            draw.rectangle(xy, fill=colour, outline=(20, 20, 20))
        else:
            draw.line(xy, fill=colour, width=max(1, width // 60))
    _draw_f(draw, width, height)
    return image


def _draw_f(draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    """A white "F" with a black outline in the top-left quadrant: asymmetric on both axes."""
    x0, y0 = width * 0.06, height * 0.06
    stroke_w, stroke_h = max(1.0, width * 0.06), max(1.0, height * 0.06)
    parts = (
        (x0, y0, x0 + stroke_w, y0 + height * 0.42),  # stem
        (x0, y0, x0 + width * 0.30, y0 + stroke_h),  # top bar
        (x0, y0 + height * 0.17, x0 + width * 0.20, y0 + height * 0.17 + stroke_h),
    )
    for part in parts:
        draw.rectangle(part, fill=(250, 250, 250), outline=(0, 0, 0))


def _span(low: int, high: int) -> list[int]:
    """A lookup table mapping 0..255 linearly onto low..high (either direction)."""
    return [low + (high - low) * v // 255 for v in range(256)]


def _add_grain(image: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    """Add luminance grain of +-amplitude, like a camera sensor (chroma stays smooth)."""
    width, height = image.size
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    grain = grain.point([128 + (v - 128) * amplitude // 128 for v in range(256)])
    return ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), offset=-128)


def encode_jpeg(image: Image.Image, encoding: Encoding = Encoding()) -> bytes:
    """Encode with Pillow; the result carries only what libjpeg writes itself.

    That is APP0 JFIF for RGB and grayscale, APP14 Adobe for CMYK, tables, frame and scans.
    """
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=encoding.quality,
        subsampling=encoding.subsampling,
        progressive=encoding.progressive,
        optimize=encoding.optimize,
        restart_marker_rows=encoding.restart_rows,
        restart_marker_blocks=encoding.restart_blocks,
    )
    return out.getvalue()


def base_jpeg(
    width: int = 64,
    height: int = 48,
    *,
    seed: int = 0,
    mode: ColourMode = "RGB",
    encoding: Encoding = Encoding(),
    noise: int = 10,
) -> bytes:
    """A photo-like JPEG without metadata (see `photo_image`, `encode_jpeg`)."""
    return encode_jpeg(photo_image(width, height, seed=seed, mode=mode, noise=noise), encoding)


def decode(jpeg: bytes) -> Image.Image:
    """Decode every pixel; raises if the data ends early.

    libjpeg's recoverable complaints (corrupt entropy data, a wrong RSTn) are warnings, not
    errors, so tests that must catch those compare pixels with a reference.
    """
    with Image.open(io.BytesIO(jpeg)) as image:
        image.load()
        return image.copy()


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio in dB between two same-size pictures (inf if identical)."""
    if a.size != b.size:
        raise ValueError(f"sizes differ: {a.size} and {b.size}")
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    squares = sum(ImageStat.Stat(diff).sum2)
    mse = squares / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
