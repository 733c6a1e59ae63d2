"""Turning a WebP's pixels upright: exactly for lossless (VP8L), by a re-encode for lossy.

The input is a WebP the sanitizer has already stripped (webp.py), whose EXIF said the
picture is stored turned (orientation 2-8). Pillow (libwebp) decodes it, turns it and
encodes it again:

- VP8L, lossless: encoded lossless with `exact`, so every pixel keeps its value, the
  colour under fully transparent pixels included;
- VP8 (with ALPH): a lossy bitstream cannot be turned without decoding it, so it is
  encoded again at high quality (the report says "reencode"), its alpha losslessly;
- an animation: every frame as the browser composes it, turned, and encoded as a new
  animation with the same durations, loop count and background; losslessly when every
  frame was VP8L.

The ICC profile (already clean) goes along; the result is stripped and verified again.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageSequence

from .transform import upright_transposition

#: libwebp's quality for the lossy re-encode: visually lossless on photographs.
LOSSY_QUALITY: Final = 95


def turn_cost(width: int, height: int, frames: int, compressed: int) -> int:
    """Memory a turn takes: every frame as RGBA (an animation is encoded as a whole), two
    more pictures for the decoder and the turn, and the compressed data three times."""
    return 4 * width * height * (frames + 2) + 3 * compressed + (16 << 20)


def turn_webp(webp: bytes, orientation: int, *, lossless: bool, animated: bool) -> bytes:
    """`webp` with its pixels turned as EXIF `orientation` says."""
    operation = upright_transposition(orientation)
    # For lossless, quality is the effort spent on compression: libwebp's defaults (75,
    # method 4) write a file about as large as the source (make bench: a 4 MP picture
    # in about 5 s on this machine; effort 25, method 1 would take a third of that and
    # weigh a quarter more).
    options: dict[str, object] = {"lossless": lossless, "exact": True, "method": 4}
    if lossless:
        options["quality"] = 75
    else:
        options |= {"quality": LOSSY_QUALITY, "alpha_quality": 100}
    saved = Image.MAX_IMAGE_PIXELS
    out = io.BytesIO()
    try:
        # The pixel budget was checked by the caller; Pillow's own bomb limit would
        # refuse large pictures the budget allows.
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(io.BytesIO(webp), formats=["WEBP"]) as image:
            icc = image.info.get("icc_profile")
            if icc:
                options["icc_profile"] = icc
            if not animated:
                image.transpose(operation).save(out, "WEBP", **options)
                return out.getvalue()
            frames = [frame.transpose(operation) for frame in ImageSequence.Iterator(image)]
            durations = [frame.info.get("duration", 0) for frame in ImageSequence.Iterator(image)]
            options |= {"loop": image.info.get("loop", 0), "duration": durations}
            if "background" in image.info:
                options["background"] = image.info["background"]
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], **options)
    return out.getvalue()
