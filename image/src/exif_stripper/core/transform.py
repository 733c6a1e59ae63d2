"""Pixel work: turning a picture upright, and re-encoding one that cannot be copied.

Two ways to turn, best first:

1. Lossless: libjpeg-turbo's transform (the engine behind `jpegtran`) rearranges the DCT
   coefficients without decoding them. We call the TurboJPEG library in-process through
   ctypes, which saves a process per file. It is exact only when the picture is a whole
   number of MCUs in the direction the transform mirrors (transupp.c,
   `jtransform_perfect_transform`); we ask for `TJXOPT_PERFECT` so it refuses otherwise.
   It also refuses sampling layouts it has no name for (a CMYK file whose C channel alone
   is 2x2): those are re-encoded.
2. Re-encode: decode, turn, encode again. On a picture that is not a whole number of
   blocks along a mirrored axis every 8x8 block of the output straddles blocks of the
   source, so the second generation cannot reuse the source's quantization; what it
   costs is chosen, not inherited:
   - Pixels stay in the source's colours as libjpeg delivers them (YCbCr stays YCbCr:
     no round trip through RGB).
   - A component whose 8x8 blocks still land on whole blocks after the turn keeps its
     own table: quantized again, it comes back to (almost) the same values.
   - The source's subsampling is kept where the turn maps its samples onto whole
     samples, Pillow can write it (4:2:0, 4:2:2, and CMYK's like), and a sample of the
     picture shows it holds: the encoder subsamples again what libjpeg upsampled, which
     blurs channels that carry grain. Otherwise components are written at full
     resolution: resampled into another layout, chroma loses more than full resolution
     costs in bytes (4:1:1 as 4:2:2: 34 dB where 4:4:4 gives 39 dB at the same size).
   - CMYK may be written as YCCK (Adobe transform 2, as Photoshop does), which puts what
     C, M and Y share (grain, detail) in one component, at a fraction of the bytes.
   - Every other component gets a flat table (one step for all 64 coefficients): for
     squared error that is the best shape at a given size, far better than scaling the
     source's perceptual table (on a quality-90 photo: 43 dB at 1.25x where the scaled
     table gives 41 dB at 1.34x). The step is the coarsest that keeps 43.5 dB PSNR (weighted as RGB
     sees it) on a sample of the picture, never coarser than the source's own median
     step (a fine source stays fine), and coarser still when the output would exceed
     1.55x the input's size; the full output is held to 1.6x.
   Over the mix of `make bench --only turns` (orientations 2-8, eight layouts, quality
   60-98, six sizes) the re-encoded photos reach a median of 44 dB against the upright
   source, camera quality (90-98) at least 40 dB, all within 1.6x; quality 60-75 sources
   with heavy grain fall to 33-35 dB, which no table reaches within the size limit.

The same re-encode is the fallback for damaged files (`reencode_from_pixels`): decoded as
a browser decodes (what is missing shows grey), turned if asked, and written with only the
pixels and the given ICC profile: the image handed to the encoder is a bare copy of the
pixels, without the source's metadata.

Every piece of work is first estimated (budget.py) and refused with `TooLarge` when it
exceeds the memory budget; threads share the budget. The input of `make_upright` is
already sanitized, and the caller sanitizes and verifies every output again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Final

from . import budget as budgets
from .errors import SanitizeError, Undecodable
from .headers import (
    parse_conditioning,
    parse_huffman_tables,
    parse_quantization_tables,
    parse_restart_interval,
)
from .jpeg import DAC, DHT, DQT, DRI, Frame, Segment

if TYPE_CHECKING:
    from PIL import Image, JpegImagePlugin

log = logging.getLogger(__name__)


class Method(StrEnum):
    """How the pixels were made upright."""

    LOSSLESS = "lossless"
    REENCODE = "reencode"


@dataclass(frozen=True, slots=True)
class Upright:
    jpeg: bytes
    method: Method


def make_upright(
    jpeg: bytes, orientation: int, frame: Frame, *, budget: int | None = None
) -> Upright:
    """Return `jpeg` (already sanitized) with its pixels turned as EXIF `orientation` says.

    `budget`: bytes of memory the work may take (None: `budget.default_pixel_budget()`);
    raises `TooLarge` before any work when the estimate exceeds it, and `Undecodable`
    when the data cannot be decoded.
    """
    limit = budgets.default_pixel_budget() if budget is None else budget
    library = turbojpeg()
    if library is not None and is_perfect(orientation, frame):
        cost = budgets.lossless_work_bytes(frame, orientation, len(jpeg))
        with budgets.reserve(cost, limit):
            try:
                turned = library.transform(jpeg, orientation, frame.progressive)
                return Upright(turned, Method.LOSSLESS)
            except TransformFailed as error:
                log.info("libjpeg-turbo cannot turn this picture losslessly (%s)", error)
    source = _Source.open(jpeg)
    icc_profile = source.header.info.get("icc_profile")
    turned = _reencode(source, orientation, icc_profile, limit)
    return Upright(turned, Method.REENCODE)


def reencode_from_pixels(
    data: bytes, *, orientation: int | None, icc_profile: bytes | None, budget: int
) -> bytes:
    """A new JPEG of the pixels a browser shows for `data`, upright, with `icc_profile`.

    The fallback for a damaged JPEG: libjpeg-turbo decodes what it can (a picture that
    ends early shows grey where data is missing), the pixels are turned when
    `orientation` is 2-8, and encoded at the source's quality (its own tables where they
    still fit, see the module's docstring). The output carries the pixels, the profile
    (sanitized by the caller) and what libjpeg writes for colour (JFIF, or Adobe for
    CMYK), nothing else. Raises `TooLarge` from the declared size before decoding, and
    `Undecodable` when libjpeg cannot decode the picture at all.
    """
    turn = orientation if orientation in _MIRRORED else 1  # other values: no turn (as browsers)
    return _reencode(_Source.open(data), turn, icc_profile, budget)


def is_perfect(orientation: int, frame: Frame) -> bool:
    """True when the lossless transform for `orientation` leaves no partial MCU behind.

    Mirrors transupp.c: a horizontal flip needs whole MCUs across, a vertical flip whole
    MCUs down; the rotations combine a transpose (always exact) with one flip.
    """
    mcu_width, mcu_height = frame.mcu_size
    whole_across = frame.width % mcu_width == 0
    whole_down = frame.height % mcu_height == 0
    needs = {
        2: whole_across,  # mirror horizontal
        3: whole_across and whole_down,  # rotate 180
        4: whole_down,  # mirror vertical
        5: True,  # transpose
        6: whole_down,  # rotate 90 clockwise
        7: whole_across and whole_down,  # transverse
        8: whole_across,  # rotate 270 clockwise
    }
    return needs[orientation]


# --- re-encode: what the source is ------------------------------------------------------------

# Which axes of the stored picture an orientation mirrors (CIPA DC-008 4.6.4, tag 0x0112;
# 5-8 also transpose). A mirrored axis moves the block grid unless the picture is a whole
# number of blocks along it.
_MIRRORED: Final = {1: "", 2: "x", 3: "xy", 4: "y", 5: "", 6: "y", 7: "xy", 8: "x"}
_EOI: Final = b"\xff\xd9"
# libjpeg's guess of a 3-component JPEG's colours without JFIF or Adobe marker: component
# ids "R", "G", "B" mean RGB, anything else YCbCr (jdapimin.c, default_decompress_parms).
_RGB_IDS: Final = (0x52, 0x47, 0x42)
# What goes wrong when Pillow reads a JPEG that libjpeg refuses, header or data.
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, IndexError, TypeError, struct.error)


@dataclass(frozen=True, slots=True)
class _Component:
    """One component of the source: its subsampling and its quantization table."""

    across: int  # the picture's width over the component's (1, 2, 4, or 0: not whole)
    down: int
    table: tuple[int, ...] | None  # None when libjpeg has it but Pillow could not read it


@dataclass(frozen=True, slots=True)
class _Source:
    """A JPEG to re-encode, its headers read (by Pillow) but its pixels not yet decoded."""

    data: bytes
    header: JpegImagePlugin.JpegImageFile
    colours: str  # "L", "YCbCr", "RGB", "CMYK" or "YCCK": what the components are
    components: tuple[_Component, ...]

    @classmethod
    def open(cls, data: bytes) -> _Source:
        header = _open(data)
        layers = header.layer  # (id, h, v, table id) per component
        if any(not (1 <= h <= 4 and 1 <= v <= 4) for _, h, v, _ in layers):
            # libjpeg refuses these before it decodes anything (jdinput.c, initial_setup:
            # JERR_BAD_SAMPLING); Pillow reads them without a word.
            raise Undecodable("a component's sampling factors are outside 1-4", 0)
        h_max = max(h for _, h, _, _ in layers)
        v_max = max(v for _, _, v, _ in layers)
        components = []
        for _, h, v, table in layers:
            if len(layers) == 1:  # one component is never subsampled (T.81 A.2.1)
                across = down = 1
            else:
                across = h_max // h if h_max % h == 0 else 0
                down = v_max // v if v_max % v == 0 else 0
            stored = header.quantization.get(table)
            components.append(_Component(across, down, None if stored is None else tuple(stored)))
        return cls(data, header, _colours(header), tuple(components))

    @property
    def size(self) -> tuple[int, int]:
        return self.header.size

    @property
    def progressive(self) -> bool:
        return bool(self.header.info.get("progressive"))

    @property
    def samples_per_pixel(self) -> float:
        return sum(1 / max(1, c.across * c.down) for c in self.components)

    def decode(self) -> Image.Image:
        """Every pixel, as libjpeg delivers them to a browser (YCbCr left as YCbCr)."""
        failure: Exception | None = None
        for candidate in self._candidates():
            image = _open(candidate)
            if self.colours == "YCbCr":
                image.draft("YCbCr", None)
            try:
                image.load()
                return image
            except _DECODE_ERRORS as error:
                failure = error
        raise Undecodable(f"libjpeg cannot decode the picture: {failure}", 0)

    def _candidates(self) -> Iterator[bytes]:
        # libjpeg's own memory source ends data that stops early with an EOI, and fills
        # what is missing with grey; Pillow's waits for more instead, so we add the EOI.
        yield self.data + _EOI
        # Where libjpeg stops at a marker it refuses, or in a segment cut short, the data
        # is cut there.
        cut = _cut_for_libjpeg(self.data)
        if cut is not None:
            yield cut


def _open(data: bytes) -> JpegImagePlugin.JpegImageFile:
    # Pillow is imported here, not at the top: the lossless path and the CLI's start-up
    # (measured by `make bench` against `cp -r`) do without its ~50 ms import. The plugin
    # class is called directly, not Image.open: that skips Pillow's process-wide
    # decompression-bomb limit (our budget is checked instead) and its MPO handling (the
    # primary image is the picture).
    from PIL import JpegImagePlugin

    try:
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    except _DECODE_ERRORS as error:
        raise Undecodable(f"libjpeg cannot read the picture's headers: {error}", 0) from None


def _colours(header: JpegImagePlugin.JpegImageFile) -> str:
    """What the components are, as libjpeg decides it (jdapimin.c, default_decompress_parms)."""
    if header.mode == "CMYK":
        return "YCCK" if header.info.get("adobe_transform") == 2 else "CMYK"
    if header.mode != "RGB":
        return header.mode
    if "jfif" in header.info:
        return "YCbCr"
    if "adobe_transform" in header.info:
        return "RGB" if header.info["adobe_transform"] == 0 else "YCbCr"
    return "RGB" if tuple(ident for ident, *_ in header.layer) == _RGB_IDS else "YCbCr"


def _cut_for_libjpeg(data: bytes) -> bytes | None:
    """`data` cut where libjpeg stops for good, with an EOI; None if it does not.

    Walks the markers as libjpeg reads them (T.81 B.1.1: segments by their length, scans
    up to the first marker that is not RSTn or a stuffed 0xFF00). After the first scan, a
    segment that runs past the end or a marker that may not follow a scan (reserved, a
    second SOI or frame header: fatal in libjpeg's jdmarker.c) ends the usable data.
    """
    pos, end, scans = 2, len(data), 0
    while pos < end - 1:
        marker = data[pos + 1]
        if data[pos] != 0xFF or marker == 0xFF:  # junk (libjpeg skips it) or fill bytes
            pos += 1
        elif marker == 0xD9:
            return None
        elif 0xD0 <= marker <= 0xD8 or marker == 0x01:  # RSTn, SOI, TEM: no length
            if scans and marker == 0xD8:
                return data[:pos] + _EOI
            pos += 2
        elif scans and marker not in _BETWEEN_SCANS:
            return data[:pos] + _EOI
        else:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if pos + 2 + length > end:
                return data[:pos] + _EOI if scans else None
            if scans and not _table_is_readable(marker, data[pos + 4 : pos + 2 + length]):
                return data[:pos] + _EOI
            pos += 2 + length
            if marker == 0xDA:
                scans += 1
                pos = _scan_end(data, pos)
    return None


_TABLE_PARSERS: Final[dict[int, Callable[[Segment], object]]] = {
    DHT: parse_huffman_tables,
    DQT: parse_quantization_tables,
    DAC: parse_conditioning,
    DRI: parse_restart_interval,
}


def _table_is_readable(marker: int, payload: bytes) -> bool:
    """False for a table segment libjpeg stops at when it reads it (jdmarker.c: get_dht,
    get_dqt, get_dac, get_dri); what came before it has been shown by then."""
    parse = _TABLE_PARSERS.get(marker)
    if parse is None:
        return True
    try:
        parse(Segment(marker, 0, payload))
    except SanitizeError:
        return False
    return True


# DHT, DAC, DQT, DRI, SOS, DNL, APP0-15, COM: the segments libjpeg reads between scans.
_BETWEEN_SCANS: Final = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xDA, 0xDC, *range(0xE0, 0xF0), 0xFE})


def _scan_end(data: bytes, pos: int) -> int:
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        if data[pos + 1] != 0x00 and not 0xD0 <= data[pos + 1] <= 0xD7:
            return pos
        pos += 2


# --- re-encode: the plan ------------------------------------------------------------------------

#: PSNR the re-encode aims for on its sample (weighted as in RGB): it lands the mix of
#: `make bench --only turns` at a median above 42 dB.
TARGET_PSNR_DB: Final = 43.5
#: Most the output may weigh against the input; the sample aims a little lower.
MAX_GROWTH: Final = 1.6
SAMPLE_GROWTH: Final = 1.55
#: Flat quantization steps to choose from, finest first.
STEPS: Final = (*range(1, 9), 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96, 128, 160, 255)
# The subsampling Pillow writes, as (across, down) factors of the components after the
# first (Cb and Cr, or M, Y and K): its codes, and back.
_PILLOW_SUBSAMPLING: Final = {(1, 1): 0, (2, 1): 1, (2, 2): 2}
_FACTORS: Final = {code: factors for factors, code in _PILLOW_SUBSAMPLING.items()}


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to write the turned picture: tables kept or chosen, and the subsampling."""

    written: str  # the colours written: the source's, or YCCK for CMYK and back
    kept: tuple[tuple[int, ...] | None, ...]  # per component: the source's table, or None
    subsampling: int  # Pillow's code; -1 for grayscale
    ceiling: int  # the coarsest step worth trying: the source's own median step

    def tables(self, step: int) -> list[list[int]]:
        return [list(table) if table else [step] * 64 for table in self.kept]

    @property
    def keeps_all(self) -> bool:
        return all(self.kept)


@dataclass(frozen=True, slots=True)
class _Turn:
    """Where an orientation moves the source's grids of samples and blocks."""

    width: int
    height: int
    orientation: int

    def lines_up(self, across: int, down: int) -> bool:
        """The grid of `across` x `down` pixels maps onto itself."""
        return bool(across and down) and all(
            (self.width % across == 0) if axis == "x" else (self.height % down == 0)
            for axis in _MIRRORED[self.orientation]
        )

    def written_as(self, component: _Component) -> tuple[int, int]:
        """The component's subsampling in the turned picture."""
        transposes = self.orientation >= 5
        return (
            (component.down, component.across) if transposes else (component.across, component.down)
        )


def _plans(source: _Source, orientation: int) -> list[_Plan]:
    """The ways worth trying, in order (the first that meets the target on the sample wins).

    Pillow writes the first component at full resolution and the others at one shared
    subsampling (4:2:0, 4:2:2 or none, for CMYK too): the source's subsampling comes first
    when it has that form and the turn keeps its samples whole, then full resolution. A
    CMYK source may be written as YCCK before CMYK at full resolution; a YCCK source as
    YCCK, else as CMYK.
    """
    turn = _Turn(*source.size, orientation)
    first, others = source.components[0], source.components[1:]
    codes = [-1 if source.colours == "L" else 0]
    if source.colours in ("YCbCr", "CMYK") and turn.written_as(first) == (1, 1):
        shared = {turn.written_as(c) for c in others}
        if len(shared) == 1 and all(turn.lines_up(c.across, c.down) for c in others):
            code = _PILLOW_SUBSAMPLING.get(shared.pop(), 0)
            if code > 0:
                codes.insert(0, code)
    plans = [_plan(source, turn, code, source.colours) for code in codes]
    if source.colours == "CMYK":
        plans.insert(-1, _plan(source, turn, 0, "YCCK"))
    elif source.colours == "YCCK":
        plans.append(_plan(source, turn, 0, "CMYK"))
    return plans


def _plan(source: _Source, turn: _Turn, subsampling: int, written: str) -> _Plan:
    factors = [(1, 1)] + [_FACTORS[max(subsampling, 0)]] * (len(source.components) - 1)
    # libjpeg decodes YCCK into CMYK: written as the other, the components are new ones.
    converted = (source.colours == "YCCK") != (written == "YCCK")
    kept = []
    for component, factor in zip(source.components, factors, strict=True):
        # Same subsampling, and its 8x8 blocks land on whole blocks after the turn.
        blocks = 8 * component.across, 8 * component.down
        keep = turn.written_as(component) == factor and turn.lines_up(*blocks)
        kept.append(None if converted or not keep else component.table)
    tables = [c.table for c in source.components if c.table]
    return _Plan(
        written=written,
        kept=tuple(kept),
        subsampling=subsampling,
        ceiling=sorted(tables[0])[32] if tables else STEPS[-1],
    )


# --- re-encode: the work ---------------------------------------------------------------------


def _reencode(source: _Source, orientation: int, icc_profile: bytes | None, limit: int) -> bytes:
    plans = _plans(source, orientation)
    width, height = source.size
    cost = budgets.reencode_work_bytes(
        width,
        height,
        len(source.components),
        source_samples=source.samples_per_pixel,
        progressive=source.progressive,
        compressed=len(source.data),
    )
    with budgets.reserve(cost, limit):
        turned = _bare_turned(source.decode(), orientation)
        plan, step = _choose(turned, plans, SAMPLE_GROWTH * len(source.data))
        if plan.written == "YCCK":
            turned = _as_ycck(turned)
        largest = MAX_GROWTH * len(source.data)
        while True:
            out = _encode(turned, plan, step, icc_profile)
            if len(out) <= largest or plan.keeps_all or step == STEPS[-1]:
                return out
            step = STEPS[STEPS.index(step) + 1]


def upright_transposition(orientation: int) -> Image.Transpose:
    """Pillow's transposition that shows a picture stored with EXIF `orientation` (2-8)
    upright: the table of ImageOps.exif_transpose (CIPA DC-008 4.6.4)."""
    from PIL import Image

    return {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]


def _bare_turned(decoded: Image.Image, orientation: int) -> Image.Image:
    """The turned pixels in a new image that carries nothing of the source but pixels."""

    operation = upright_transposition(orientation) if orientation != 1 else None
    turned = decoded.copy() if operation is None else decoded.transpose(operation)
    turned.info = {}  # the source's comment, EXIF, ... would otherwise reach the encoder
    return turned


def _encode(image: Image.Image, plan: _Plan, step: int, icc_profile: bytes | None) -> bytes:
    """`image` as `plan` says (for YCCK: the planes `_as_ycck` makes), baseline.

    Not progressive and without optimized Huffman tables, though they save 5-8%: libjpeg
    then writes everything at the end, where it cannot pause, so the whole output must
    fit the buffer Pillow gives it (one byte a pixel), which fine steps on a grainy
    picture exceed. Baseline streams, and needs no copy of all the coefficients.
    """
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        qtables=plan.tables(step),
        quality=50,  # with qtables: scale them by 100%, i.e. use them as they are
        subsampling=plan.subsampling,
        icc_profile=icc_profile,
        keep_rgb=plan.written == "RGB",
    )
    return _marked_ycck(out.getvalue()) if plan.written == "YCCK" else out.getvalue()


def _as_ycck(cmyk: Image.Image) -> Image.Image:
    """The planes Pillow's CMYK encoder must write for libjpeg to decode YCCK as `cmyk`.

    libjpeg turns Y, Cb, Cr into R, G, B and takes C, M, Y as their complements, K as
    stored (jdcolor.c, ycck_cmyk_convert); Pillow inverts Adobe CMYK both when it reads
    and when it writes. So C, M, Y read as R, G, B are converted to YCbCr (T.871) and
    handed over inverted; K as it is.
    """
    from PIL import Image, ImageChops

    *cmy, black = cmyk.split()
    ycc = Image.merge("RGB", cmy).convert("YCbCr")
    del cmy
    return Image.merge("CMYK", (*ImageChops.invert(ycc).split(), black))


# APP14 "Adobe": version, two flag words, then the colour transform (0 CMYK, 2 YCCK).
_ADOBE: Final = b"\xff\xee\x00\x0eAdobe"
_ADOBE_TRANSFORM: Final = len(_ADOBE) + 6
_YCCK: Final = 2


def _marked_ycck(jpeg: bytes) -> bytes:
    """Pillow marks what it writes from CMYK as transform 0 (CMYK); these planes are YCCK."""
    at = jpeg.find(_ADOBE)
    if at < 0:
        raise RuntimeError("Pillow wrote CMYK without an Adobe marker")
    marked = bytearray(jpeg)
    marked[at + _ADOBE_TRANSFORM] = _YCCK
    return bytes(marked)


def _choose(image: Image.Image, plans: list[_Plan], largest: float) -> tuple[_Plan, int]:
    """The first plan, with its step, that meets the target within the size; else the best."""
    sample = _sample(image)
    largest_sample = largest * sample.width * sample.height / (image.width * image.height)
    best: tuple[tuple[bool, float], _Plan, int] | None = None
    for plan in plans:
        step, decibels, size = _tune(sample, plan, largest_sample)
        fits = size <= largest_sample
        if fits and decibels >= TARGET_PSNR_DB:
            return plan, step
        if best is None or (fits, decibels) > best[0]:
            best = (fits, decibels), plan, step
    assert best is not None
    return best[1], best[2]


def _tune(sample: Image.Image, plan: _Plan, largest: float) -> tuple[int, float, int]:
    """The flat step for `plan` on `sample` (see the module's docstring): step, PSNR, bytes."""
    trials: dict[int, tuple[float, int]] = {}
    planes = _as_ycck(sample) if plan.written == "YCCK" else sample

    def trial(index: int) -> tuple[float, int]:
        if index not in trials:
            data = _encode(planes, plan, STEPS[index], None)
            trials[index] = (_psnr(_decode_like(data, sample), sample), len(data))
        return trials[index]

    chosen = 0
    if not plan.keeps_all:
        # PSNR falls as the step grows: the coarsest step that still meets the target.
        low, high = 0, max(i for i, step in enumerate(STEPS) if step <= max(plan.ceiling, 1))
        while low <= high:
            middle = (low + high) // 2
            if trial(middle)[0] >= TARGET_PSNR_DB:
                chosen, low = middle, middle + 1
            else:
                high = middle - 1
        while chosen + 1 < len(STEPS) and trial(chosen)[1] > largest:
            chosen += 1
    return STEPS[chosen], *trial(chosen)


#: Pixels of the sample the step is tuned on, and its tiles: whole MCUs of any layout
#: Pillow writes (16 x 16 at most), so each tile is encoded on the output's block grid.
_SAMPLE_PIXELS: Final = 1 << 19
_TILE: Final = (64, 32)


def _sample(image: Image.Image) -> Image.Image:
    """Tiles spread evenly over the picture, pasted into one image."""
    from PIL import Image

    tile_w, tile_h = _TILE
    columns, rows = image.width // tile_w, image.height // tile_h
    if image.width * image.height <= _SAMPLE_PIXELS or not (columns and rows):
        return image
    # As many tiles as fit in the sample, in the picture's proportions.
    scale = math.sqrt(_SAMPLE_PIXELS / (tile_w * tile_h) / (columns * rows))
    across = max(1, min(columns, round(columns * scale)))
    down = max(1, min(rows, round(rows * scale)))
    sample = Image.new(image.mode, (across * tile_w, down * tile_h))
    for j in range(down):
        y = (rows - 1) * j // max(1, down - 1) * tile_h
        for i in range(across):
            x = (columns - 1) * i // max(1, across - 1) * tile_w
            sample.paste(image.crop((x, y, x + tile_w, y + tile_h)), (i * tile_w, j * tile_h))
    return sample


def _decode_like(data: bytes, like: Image.Image) -> Image.Image:
    image = _open(data)
    if like.mode == "YCbCr":
        image.draft("YCbCr", None)
    image.load()
    return image


# The squared error one unit of error in each YCbCr channel adds to R, G and B together
# (ITU-T T.871 section 7: Y counts in all three, Cb mostly in B, Cr in R and G).
_RGB_WEIGHTS: Final = {"YCbCr": (3.0, 1.772**2 + 0.344136**2, 1.402**2 + 0.714136**2)}


def _psnr(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageChops, ImageStat

    sums = ImageStat.Stat(ImageChops.difference(a, b)).sum2
    weights = _RGB_WEIGHTS.get(a.mode, (1.0,) * len(sums))
    squared = sum(w * s for w, s in zip(weights, sums, strict=True))
    count = a.width * a.height * (3 if a.mode == "YCbCr" else len(sums))
    return math.inf if squared == 0 else 10 * math.log10(255**2 * count / squared)


# --- lossless with libjpeg-turbo ----------------------------------------------------------

# turbojpeg.h (libjpeg-turbo 2.x; the 2.x API is kept in 3.x)
_TJXOP: Final = {2: 1, 4: 2, 5: 3, 7: 4, 6: 5, 3: 6, 8: 7}  # EXIF orientation -> TJXOP_*
_TJXOPT_PERFECT: Final = 1
_TJXOPT_PROGRESSIVE: Final = 32
_TJERR_WARNING: Final = 0
_INT_MAX: Final = 2**31 - 1


class _Region(ctypes.Structure):
    _fields_ = (("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int))


class _Transform(ctypes.Structure):
    _fields_ = (
        ("r", _Region),
        ("op", ctypes.c_int),
        ("options", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("customFilter", ctypes.c_void_p),
    )


class TransformFailed(RuntimeError):
    """libjpeg-turbo refused the transform (its message says why)."""


class TurboJpeg:
    """The few TurboJPEG calls a lossless transform needs, bound with ctypes."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.tjInitTransform.restype = ctypes.c_void_p
        lib.tjInitTransform.argtypes = ()
        lib.tjDestroy.argtypes = (ctypes.c_void_p,)
        lib.tjAlloc.restype = ctypes.c_void_p
        lib.tjAlloc.argtypes = (ctypes.c_int,)
        lib.tjFree.argtypes = (ctypes.c_void_p,)
        lib.tjGetErrorStr2.restype = ctypes.c_char_p
        lib.tjGetErrorStr2.argtypes = (ctypes.c_void_p,)
        lib.tjGetErrorCode.argtypes = (ctypes.c_void_p,)
        lib.tjTransform.argtypes = (
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_ulong),
            ctypes.POINTER(_Transform),
            ctypes.c_int,
        )
        self._lib = lib
        self.path = path

    def transform(self, jpeg: bytes, orientation: int, progressive: bool) -> bytes:
        """Losslessly apply the transform for EXIF `orientation`; markers are copied."""
        options = _TJXOPT_PERFECT | (_TJXOPT_PROGRESSIVE if progressive else 0)
        spec = _Transform(op=_TJXOP[orientation], options=options)
        handle = self._lib.tjInitTransform()
        if not handle:
            raise TransformFailed("tjInitTransform failed")
        # Our own output buffer, twice the input: left to itself, TurboJPEG starts at 4 KiB
        # and doubles, holding old and new copies at each step. Pages it never writes cost
        # no memory, so the room to spare is free (it grows the buffer if it must).
        capacity = min(2 * len(jpeg) + 65536, _INT_MAX)
        buffer = self._lib.tjAlloc(capacity)
        if not buffer:
            self._lib.tjDestroy(handle)
            raise MemoryError("tjAlloc failed")
        out = ctypes.c_void_p(buffer)
        size = ctypes.c_ulong(capacity)
        try:
            status = self._lib.tjTransform(
                handle, jpeg, len(jpeg), 1, ctypes.byref(out), ctypes.byref(size), spec, 0
            )
            # A warning (corrupt data it decoded past) still gives a complete output.
            if status != 0 and self._lib.tjGetErrorCode(handle) != _TJERR_WARNING:
                message = self._lib.tjGetErrorStr2(handle) or b"unknown error"
                raise TransformFailed(message.decode(errors="replace"))
            if not out.value:
                raise TransformFailed("no output")
            return ctypes.string_at(out.value, size.value)
        finally:
            if out.value and out.value != buffer:  # it grew: the new buffer is ours too
                self._lib.tjFree(out)
            self._lib.tjFree(buffer)
            self._lib.tjDestroy(handle)


# find_library misses libraries without a development symlink on some systems (and in
# the Lambda image), so the runtime soname is tried too.
_LIBRARY_FALLBACK = "libturbojpeg.so.0"


@cache
def turbojpeg() -> TurboJpeg | None:
    """The TurboJPEG library if installed; said once, then re-encoding is the way."""
    path = ctypes.util.find_library("turbojpeg") or _LIBRARY_FALLBACK
    try:
        return TurboJpeg(path)
    except OSError:
        log.warning(
            "libjpeg-turbo's TurboJPEG library was not found: pictures that need turning "
            "will be re-encoded instead of transformed losslessly"
        )
        return None
