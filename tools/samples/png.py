"""Sample PNGs and APNGs built in code, carrying real metadata, for the tests, demo and bench.

Pixels come from Pillow (the photo-like scene of jpeg.py) or are written here cell by
cell; every chunk is written byte by byte with `struct` and `zlib.crc32` following the
PNG specification, third edition (5.3 chunk layout, 8.2 Adam7, 9 filtering, 11 chunks).
The metadata is what cameras, phones and editors put there: eXIf with GPS and serials
(CIPA DC-008), XMP in iTXt (XMP Specification Part 3, 1.1.5), tEXt/zTXt/iTXt text an
editor writes ("Author", "Comment", ImageMagick's hex-encoded "Raw profile type exif"),
tIME, a C2PA manifest (caBX), a private chunk, an ICC profile naming its owner, and bytes
after IEND.

The chunk reader, the encoder and the reference decoder here are deliberately separate
from the product's png.py: the tests must not share a bug with the code they check.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

from tools.samples import icc_profiles
from tools.samples.exif import EIFFEL_TOWER, CameraExif, exif_tiff
from tools.samples.jpeg import EXIF_HEADER, photo_image
from tools.samples.metadata import xmp_packet

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: What the sanitizer writes for every ICC profile's name.
NEUTRAL_PROFILE_NAME = b"ICC profile"
#: Text that must not survive, in any chunk.
CANARIES = (
    b"Jane Photographer",
    b"12 Rue Example",
    b"6012345",
    b"contentauth",
    b"Private serial 4711",
    *(c.encode() for c in icc_profiles.CANARIES),
)

# =========================================================================================
# Chunks (5.3)
# =========================================================================================


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """Length, type, payload, and the CRC-32 of type and payload."""
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


@dataclass(frozen=True)
class Chunk:
    kind: bytes
    offset: int
    payload: bytes

    @property
    def end(self) -> int:
        return self.offset + 12 + len(self.payload)


def walk(png: bytes) -> list[Chunk]:
    """Every chunk up to and including IEND (whatever follows is not a chunk)."""
    if not png.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    chunks = []
    pos = len(SIGNATURE)
    while pos + 12 <= len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        chunks.append(Chunk(kind, pos, png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def chunk_types(png: bytes) -> list[bytes]:
    return [c.kind for c in walk(png)]


def insert_after(png: bytes, kind: bytes, new: Iterable[bytes]) -> bytes:
    """`new` chunks right after the first chunk of type `kind`."""
    found = next(c for c in walk(png) if c.kind == kind)
    return png[: found.end] + b"".join(new) + png[found.end :]


def insert_before(png: bytes, kind: bytes, new: Iterable[bytes]) -> bytes:
    """`new` chunks right before the first chunk of type `kind`."""
    found = next(c for c in walk(png) if c.kind == kind)
    return png[: found.offset] + b"".join(new) + png[found.offset :]


def without(png: bytes, kinds: Iterable[bytes]) -> bytes:
    """The PNG with every chunk of these types removed."""
    drop = set(kinds)
    chunks = walk(png)
    kept = [png[c.offset : c.end] for c in chunks if c.kind not in drop]
    return SIGNATURE + b"".join(kept) + png[chunks[-1].end :]


def replace_payload(png: bytes, kind: bytes, payload: bytes, *, crc: bool = True) -> bytes:
    """The first chunk of type `kind` with a new payload (and a wrong CRC if not `crc`)."""
    found = next(c for c in walk(png) if c.kind == kind)
    new = png_chunk(kind, payload)
    if not crc:
        new = new[:-4] + bytes(b ^ 0xFF for b in new[-4:])
    return png[: found.offset] + new + png[found.end :]


# =========================================================================================
# Metadata chunks
# =========================================================================================


def exif_chunk(orientation: int | None = 1, *, gps: bool = True) -> bytes:
    """eXIf (11.3.4.4): the camera's EXIF with GPS, serials and the owner, as a bare TIFF."""
    camera = CameraExif(orientation=orientation, gps=EIFFEL_TOWER if gps else None)
    return png_chunk(b"eXIf", exif_tiff(camera))


def text_chunk(keyword: str, text: str) -> bytes:
    return png_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))


def ztxt_chunk(keyword: str, text: str) -> bytes:
    return png_chunk(
        b"zTXt", keyword.encode("latin-1") + b"\x00\x00" + zlib.compress(text.encode("latin-1"))
    )


def itxt_chunk(keyword: str, text: str, *, compressed: bool = False, language: str = "") -> bytes:
    body = text.encode()
    if compressed:
        body = zlib.compress(body)
    head = keyword.encode("latin-1") + b"\x00" + bytes((int(compressed), 0))
    return png_chunk(b"iTXt", head + language.encode() + b"\x00" + b"\x00" + body)


def xmp_chunk() -> bytes:
    """XMP as Adobe writes it into a PNG: an uncompressed iTXt `XML:com.adobe.xmp`."""
    return itxt_chunk("XML:com.adobe.xmp", xmp_packet().decode())


def raw_profile_chunk() -> bytes:
    """ImageMagick's legacy EXIF: zTXt "Raw profile type exif", the APP1 payload in hex."""
    exif = EXIF_HEADER + exif_tiff(CameraExif())
    hexed = exif.hex()
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return ztxt_chunk("Raw profile type exif", f"\nexif\n{len(exif):8d}\n{lines}\n")


def time_chunk() -> bytes:
    return png_chunk(b"tIME", struct.pack(">HBBBBB", 2024, 6, 1, 10, 15, 30))


def c2pa_chunk() -> bytes:
    """caBX: a C2PA manifest store, a JUMBF superbox (ISO/IEC 19566-5) whose description
    box says "c2pa" and whose JSON names who made the picture and with what."""
    claim = (
        b'{"claim_generator":"Phone Camera 4.2","author":"Jane Photographer",'
        b'"url":"https://contentauth.example"}'
    )
    c2pa_uuid = bytes.fromhex("6332706100110010800000aa00389b71")
    description = _box(b"jumd", c2pa_uuid + b"\x03" + b"c2pa\x00")
    return png_chunk(b"caBX", _box(b"jumb", description + _box(b"json", claim)))


def _box(kind: bytes, payload: bytes) -> bytes:
    """An ISO BMFF box: 32-bit size (itself included), type, payload."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def private_chunk() -> bytes:
    """An ancillary, private, safe-to-copy chunk a vendor app writes (5.4)."""
    return png_chunk(b"prVt", b"Private serial 4711 \x00\x01\x02")


def iccp_chunk(profile: bytes | None = None, *, name: bytes = b"Alice's ColorEdge CG277") -> bytes:
    """iCCP (11.3.3.3) with a profile full of identity and a name that identifies too."""
    profile = icc_profiles.matrix_rgb() if profile is None else profile
    return png_chunk(b"iCCP", name + b"\x00\x00" + zlib.compress(profile))


def metadata_chunks(orientation: int | None = 1) -> list[bytes]:
    """Everything a PNG may carry that identifies someone, before the image data."""
    return [
        exif_chunk(orientation),
        text_chunk("Author", "Jane Photographer"),
        text_chunk("Comment", "Taken at 12 Rue Example, Paris"),
        ztxt_chunk("Description", "Jane Photographer at home, 12 Rue Example"),
        itxt_chunk("Title", "Jane Photographer, chez elle", compressed=True, language="fr"),
        xmp_chunk(),
        raw_profile_chunk(),
        time_chunk(),
        c2pa_chunk(),
        private_chunk(),
    ]


#: Bytes after IEND: what some apps append (a second image, a vendor block).
TRAILER = b"vendor trailer: Jane Photographer 6012345" + bytes(64)


# =========================================================================================
# Pictures
# =========================================================================================


def pillow_png(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **options)
    return out.getvalue()


def photo_png(
    width: int = 96,
    height: int = 64,
    *,
    orientation: int | None = 1,
    mode: str = "RGB",
    seed: int = 5,
    metadata: bool = True,
    icc: bytes | None = None,
    trailer: bool = True,
) -> bytes:
    """A photo-like PNG (photo_image) with every kind of metadata and a trailer.

    The ICC profile names its owner; the metadata chunks sit between IHDR and IDAT, and a
    second text chunk and a private chunk come after IDAT, where editors append them.
    """
    image = photo_image(width, height, seed=seed, noise=6)
    image = image.convert(mode) if mode != "RGB" else image
    png = pillow_png(image)
    before = [iccp_chunk(icc), *(metadata_chunks(orientation) if metadata else ())]
    png = insert_after(png, b"IHDR", before)
    if metadata:
        png = insert_before(
            png, b"IEND", [text_chunk("Comment", "Jane Photographer, again"), private_chunk()]
        )
    return png + (TRAILER if trailer else b"")


def apng(
    width: int = 48,
    height: int = 32,
    *,
    frames: int = 3,
    orientation: int | None = 1,
    default_image_is_frame: bool = True,
    mode: str = "RGBA",
    seed: int = 9,
) -> bytes:
    """An APNG (Pillow's writer) whose frames cover parts of the canvas, dispose and blend
    in every way, with metadata between and around them."""
    base = photo_image(width, height, seed=seed, noise=4).convert(mode)
    pictures = []
    for index in range(frames):
        frame = base.rotate(90 * index).resize((width, height))
        if index % 2:  # a frame that changes only a region, with transparency around it
            frame = base.copy()
            frame.paste(
                (255, 0, 0, 128) if mode == "RGBA" else (255, 0, 0),
                (width // 4, height // 4, width // 2, height // 2),
            )
        pictures.append(frame)
    options: dict[str, object] = {
        "save_all": True,
        "append_images": pictures[1:],
        "duration": [80 + 10 * i for i in range(frames)],
        "loop": 2,
        "disposal": [i % 3 for i in range(frames)],
        "blend": [i % 2 for i in range(frames)],
        "default_image": not default_image_is_frame,
    }
    if not default_image_is_frame:
        options["append_images"] = pictures
        pictures = [base, *pictures]
    png = pillow_png(pictures[0], **options)
    png = insert_after(png, b"IHDR", [iccp_chunk(), exif_chunk(orientation)])
    between = [text_chunk("Comment", "frame by Jane Photographer"), private_chunk()]
    fdat = [c for c in walk(png) if c.kind == b"fcTL"]
    if len(fdat) > 1:  # text between the frames, where animation tools put it
        png = png[: fdat[1].offset] + b"".join(between) + png[fdat[1].offset :]
    return png


# =========================================================================================
# An encoder and a reference decoder of our own, for every bit depth and Adam7
# =========================================================================================

#: Samples per pixel per colour type (Table 11).
SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


@dataclass(frozen=True)
class Raster:
    """Pixels as cells: one byte per pixel below 8 bits (the value), else the pixel's bytes."""

    width: int
    height: int
    depth: int
    colour_type: int
    cells: bytes

    @property
    def cell_bytes(self) -> int:
        return max(1, self.depth * SAMPLES[self.colour_type] // 8)

    def cell(self, x: int, y: int) -> bytes:
        size = self.cell_bytes
        at = (y * self.width + x) * size
        return self.cells[at : at + size]


def random_raster(width: int, height: int, depth: int, colour_type: int, seed: int = 0) -> Raster:
    import random

    rng = random.Random(seed)
    cell_bytes = max(1, depth * SAMPLES[colour_type] // 8)
    if depth < 8:
        cells = bytes(rng.randrange(1 << depth) for _ in range(width * height))
    else:
        cells = rng.randbytes(width * height * cell_bytes)
    return Raster(width, height, depth, colour_type, cells)


def _pack_row(raster: Raster, xs: Sequence[int], y: int) -> bytes:
    if raster.depth >= 8:
        return b"".join(raster.cell(x, y) for x in xs)
    bits = 0
    count = 0
    out = bytearray()
    for x in xs:
        bits = (bits << raster.depth) | raster.cells[y * raster.width + x]
        count += raster.depth
        if count == 8:
            out.append(bits)
            bits = count = 0
    if count:
        out.append(bits << (8 - count))
    return bytes(out)


def encode_png(
    raster: Raster,
    *,
    interlaced: bool = False,
    palette: bytes | None = None,
    extra: Sequence[bytes] = (),
    idat_size: int = 8192,
) -> bytes:
    """A PNG of `raster`, every row filtered with None (or Up, every other row), Adam7 when
    `interlaced`, the data split into IDAT chunks of `idat_size` as libpng does."""
    rows = []
    passes = ADAM7 if interlaced else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        xs = range(x0, raster.width, dx)
        if not xs:
            continue
        prior = None
        for y in range(y0, raster.height, dy):
            row = _pack_row(raster, xs, y)
            if prior is not None and y % 2:
                rows.append(
                    b"\x02" + bytes((a - b) & 0xFF for a, b in zip(row, prior, strict=True))
                )
            else:
                rows.append(b"\x00" + row)
            prior = row
    data = zlib.compress(b"".join(rows))
    ihdr = struct.pack(
        ">IIBBBBB",
        raster.width,
        raster.height,
        raster.depth,
        raster.colour_type,
        0,
        0,
        int(interlaced),
    )
    chunks = [png_chunk(b"IHDR", ihdr), *extra]
    if palette is not None:
        chunks.append(png_chunk(b"PLTE", palette))
    chunks += [png_chunk(b"IDAT", data[i : i + idat_size]) for i in range(0, len(data), idat_size)]
    return SIGNATURE + b"".join(chunks) + png_chunk(b"IEND", b"")


def reference_decode(png: bytes) -> Raster:
    """The PNG's pixels as cells, decoded here in pure Python (small pictures only)."""
    chunks = walk(png)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0].payload)
    data = zlib.decompress(b"".join(c.payload for c in chunks if c.kind == b"IDAT"))
    bits = depth * SAMPLES[colour]
    bpp = max(1, bits // 8)
    cell_bytes = bpp if depth >= 8 else 1
    cells = bytearray(width * height * cell_bytes)
    pos = 0
    for x0, y0, dx, dy in ADAM7 if interlace else ((0, 0, 1, 1),):
        xs = list(range(x0, width, dx))
        row_bytes = (len(xs) * bits + 7) // 8
        if not xs:
            continue
        prior = bytes(row_bytes)
        for y in range(y0, height, dy):
            kind, row = data[pos], bytearray(data[pos + 1 : pos + 1 + row_bytes])
            pos += 1 + row_bytes
            for i in range(row_bytes):
                a = row[i - bpp] if i >= bpp else 0
                b, c = prior[i], prior[i - bpp] if i >= bpp else 0
                p = a + b - c
                paeth = (
                    a
                    if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c)
                    else b
                    if abs(p - b) <= abs(p - c)
                    else c
                )
                row[i] = (row[i] + (0, a, b, (a + b) >> 1, paeth)[kind]) & 0xFF
            prior = bytes(row)
            for n, x in enumerate(xs):
                at = (y * width + x) * cell_bytes
                if depth >= 8:
                    cells[at : at + cell_bytes] = row[n * bpp : (n + 1) * bpp]
                else:
                    bit = n * depth
                    cells[at] = (row[bit // 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
    return Raster(width, height, depth, colour, bytes(cells))


def turned_raster(raster: Raster, orientation: int) -> Raster:
    """What `raster` looks like displayed with EXIF `orientation` (CIPA DC-008 4.6.4)."""
    width, height = raster.width, raster.height
    swap = orientation >= 5
    out_width, out_height = (height, width) if swap else (width, height)
    size = raster.cell_bytes
    cells = bytearray(len(raster.cells))
    for y in range(height):
        for x in range(width):
            tx, ty = {
                1: (x, y),
                2: (width - 1 - x, y),
                3: (width - 1 - x, height - 1 - y),
                4: (x, height - 1 - y),
                5: (y, x),
                6: (height - 1 - y, x),
                7: (height - 1 - y, width - 1 - x),
                8: (y, width - 1 - x),
            }[orientation]
            at = (ty * out_width + tx) * size
            cells[at : at + size] = raster.cell(x, y)
    return Raster(out_width, out_height, raster.depth, raster.colour_type, bytes(cells))


def pnginfo(**texts: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    return info


# =========================================================================================
# The benchmark's corpus
# =========================================================================================


def rechunked(png: bytes, idat_size: int) -> bytes:
    """The same PNG with its image data in IDAT chunks of `idat_size` bytes."""
    chunks = walk(png)
    runs = [i for i, c in enumerate(chunks) if c.kind == b"IDAT"]  # consecutive (5.6)
    data = b"".join(chunks[i].payload for i in runs)
    idat = [png_chunk(b"IDAT", data[i : i + idat_size]) for i in range(0, len(data), idat_size)]
    before = [png_chunk(c.kind, c.payload) for c in chunks[: runs[0]]]
    after = [png_chunk(c.kind, c.payload) for c in chunks[runs[-1] + 1 :]]
    return SIGNATURE + b"".join(before + idat + after)


def camera_png(width: int = 4000, height: int = 3000, *, seed: int = 0) -> bytes:
    """A photo saved as PNG by an editor: every kind of metadata, and the image data in
    8 KiB IDAT chunks as libpng writes them (the most chunks per megabyte)."""
    image = photo_image(width, height, seed=seed, noise=8)
    png = rechunked(pillow_png(image, compress_level=1), 8192)
    return insert_after(png, b"IHDR", [iccp_chunk(), *metadata_chunks(1)])


def demo_samples() -> dict[str, bytes]:
    """PNGs for `make demo`: an edited photo full of text chunks, a sideways one."""
    return {
        "edited-text-chunks.png": photo_png(480, 320, seed=51),
        "sideways-orientation-6.png": photo_png(320, 240, orientation=6, seed=52, trailer=False),
    }


def write_large_png(path: Path, size: int, *, seed: int = 0) -> None:
    """A PNG of about `size` bytes, written in 8 KiB IDAT chunks as libpng does, with a text
    chunk before them. Its image data is random: it is never inflated on the lossless path,
    which is what a memory measurement of that path needs (no decoder could show it)."""
    import random

    rng = random.Random(seed)
    block = rng.randbytes(8192)
    idat = png_chunk(b"IDAT", block)
    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    with path.open("wb") as out:
        out.write(SIGNATURE + png_chunk(b"IHDR", header) + text_chunk("Author", "Jane"))
        for _ in range(size // len(idat)):
            out.write(idat)
        out.write(png_chunk(b"IEND", b""))
