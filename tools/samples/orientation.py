"""Orientation (Exif 2.32 section 4.6.4, tag 0x0112): how cameras store an upright scene for
each value, how a viewer turns it back, and JPEGs of every orientation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from PIL import Image, ImageOps

from tools.samples.composition import compose
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.jpeg import Encoding, Subsampling, decode, encode_jpeg, photo_image

# =========================================================================================
# Orientation (Exif 2.32 section 4.6.4, tag 0x0112)
# =========================================================================================

#: What a viewer does to the stored pixels for each Orientation value: the same table as
#: Pillow's ImageOps.exif_transpose.
DISPLAY_TRANSFORM: Mapping[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

#: The inverse: how a camera stores an upright scene for each Orientation value.
_STORE_TRANSFORM: Mapping[int, Image.Transpose | None] = {
    **DISPLAY_TRANSFORM,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """The picture as a viewer shows it: the stored pixels turned per the Orientation tag."""
    transform = DISPLAY_TRANSFORM[orientation]
    return image.copy() if transform is None else image.transpose(transform)


def stored_pixels(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that `apply_orientation(result, orientation) == upright`."""
    transform = _STORE_TRANSFORM[orientation]
    return upright.copy() if transform is None else upright.transpose(transform)


def upright_image(jpeg: bytes) -> Image.Image:
    """Decode and turn upright with the file's own Orientation tag (ImageOps.exif_transpose)."""
    return ImageOps.exif_transpose(decode(jpeg))


def upright_size(stored_size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Orientations 5..8 swap width and height on display."""
    width, height = stored_size
    return (height, width) if orientation >= 5 else (width, height)


def oriented_jpeg(
    orientation: int,
    stored_size: tuple[int, int] = (64, 48),
    *,
    subsampling: Subsampling = "4:2:0",
    quality: int = 92,
    camera: CameraExif = CameraExif(),
    seed: int = 1,
) -> bytes:
    """A camera JPEG whose pixels are stored turned, with the Orientation that rights them.

    The upright scene (`upright_scene`) is the same for all eight values, so a test can
    compare any sanitized variant with the one reference. `stored_size` is the encoded
    size: (64, 48) is MCU-aligned for every subsampling, (61, 47) is not.
    """
    upright = upright_scene(orientation, stored_size, seed=seed)
    pixels = stored_pixels(upright, orientation)
    base = encode_jpeg(pixels, Encoding(quality=quality, subsampling=subsampling))
    return compose(base, [exif_segment(replace(camera, orientation=orientation))])


def upright_scene(orientation: int, stored_size: tuple[int, int], *, seed: int = 1) -> Image.Image:
    """The picture `oriented_jpeg` shows upright (before JPEG loss)."""
    width, height = upright_size(stored_size, orientation)
    return photo_image(width, height, seed=seed, noise=0)
