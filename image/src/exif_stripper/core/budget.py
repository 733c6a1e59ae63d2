"""How much memory pixel work may take, and what turning or re-encoding a picture costs.

Copying a JPEG costs the same few MiB whatever its size; turning it or re-encoding it does
not: libjpeg holds every DCT coefficient of the picture (2 bytes a sample), Pillow every
pixel. A 1.4 MB file may declare 240 megapixels, so the cost is estimated from the frame
header before any of that is allocated, and the work is refused (`TooLarge`) when the
estimate exceeds the budget. In the Lambda the budget follows from the function's memory;
`PIXEL_BUDGET_MB` overrides it.

The cost model below was fitted to peaks measured with VmHWM in a fresh process for each
method, layout and orientation: per pixel it matches them closely (a lossless turn of
4:4:4 holds its two sets of coefficients and little else), the fixed part is generous.
tests/unit/test_budget.py holds it to real peaks at 4 MP; `make bench --only resources`
turns a 200 MP photo within the production function's budget.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from .errors import TooLarge
from .jpeg import Frame

MiB: Final = 1024 * 1024

# --- the budget -------------------------------------------------------------------------------

#: What the process needs besides pixel work, measured as VmRSS of a fresh Python 3.11 with
#: the handler module imported, Pillow and libturbojpeg loaded and the S3 and SQS clients
#: created: 61 MiB. Doubled for what this machine does not show: the Lambda runtime
#: interface client, the threads' stacks and malloc arenas.
RUNTIME_BYTES: Final = 128 * MiB
#: One record streaming through the lossless path beside the pixel work: the sanitizer's
#: chunk and verifier (~2 MiB, `make bench` memory section), the upload's 8 MiB part buffer
#: and the copy of it being sent (upload.py), and the S3 response stream's buffers.
RECORD_BYTES: Final = 32 * MiB
#: Records of one batch in flight at once when BATCH_THREADS is not set (aws/settings.py's default).
DEFAULT_RECORDS_IN_FLIGHT: Final = 10
#: Without a Lambda environment (the CLI, `sync`): the budget of the production function
#: (live/prod: 2048 MB), so a photo the CLI turns is one the function turns too.
CLI_MEMORY_MB: Final = 2048


class BudgetError(ValueError):
    """PIXEL_BUDGET_MB or the function's memory setting is not a usable number."""


def default_pixel_budget(env: Mapping[str, str] = os.environ) -> int:
    """Bytes that pixel work may use in this process.

    `PIXEL_BUDGET_MB` (MiB) when set; else the Lambda's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
    which Lambda sets, in MB of 2^20 bytes) minus what the runtime and the records
    streaming beside the pixel work need; else the production function's budget.
    """
    override = env.get("PIXEL_BUDGET_MB", "")
    if override:
        return _positive(env, "PIXEL_BUDGET_MB") * MiB
    if env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"):
        memory_mb = _positive(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    else:
        memory_mb = CLI_MEMORY_MB
    return derived_budget(memory_mb, _records_in_flight(env))


def derived_budget(memory_mb: int, records_in_flight: int = DEFAULT_RECORDS_IN_FLIGHT) -> int:
    """The budget of a function with `memory_mb` of memory (0 when nothing is left)."""
    return max(0, memory_mb * MiB - RUNTIME_BYTES - records_in_flight * RECORD_BYTES)


def _positive(env: Mapping[str, str], name: str) -> int:
    text = env[name].strip()
    if not text.isdecimal() or int(text) <= 0:
        raise BudgetError(f"{name} must be a whole number of MiB above 0, not {env[name]!r}")
    return int(text)


def _records_in_flight(env: Mapping[str, str]) -> int:
    # config.py validates BATCH_THREADS and fails the cold start when it is wrong; here a
    # wrong value only means the default.
    text = env.get("BATCH_THREADS", "").strip()
    return int(text) if text.isdecimal() and int(text) > 0 else DEFAULT_RECORDS_IN_FLIGHT


# --- what a picture costs ---------------------------------------------------------------------

_BASELINE: Final = 0xC0  # SOF0: the frame marker of the picture that `pixel_work_bytes` imagines
#: libjpeg keeps each 8x8 block of coefficients as 64 shorts (JCOEF, jmorecfg.h).
BLOCK_BYTES: Final = 128
#: Allocations that do not grow with the picture: libjpeg's strip buffers and Huffman
#: state, Pillow's decoder and encoder state, the sample the re-encode tunes its tables on.
FIXED_BYTES: Final = 24 * MiB
#: Compressed bytes held during a lossless turn, per byte of input: the input, the output
#: buffer (mostly the input's size again; reserved larger but untouched pages cost nothing),
#: and its copy into a Python bytes object.
LOSSLESS_COMPRESSED_COPIES: Final = 3.5
#: ... and during a re-encode: the input and the copy of it handed to Pillow, and the
#: output (at most 1.6x the input's size, see transform.py) with its copy.
REENCODE_COMPRESSED_COPIES: Final = 2 + 2 * 1.6


def pixel_work_bytes(width: int, height: int, components: int) -> int:
    """Peak memory of turning or re-encoding a `width` x `height` picture, any sampling.

    An upper bound over both methods and every chroma subsampling, without the compressed
    data (`compressed_work_bytes` adds it, by its size): a lossless turn of a picture
    whose every component has full resolution holds two sets of coefficients, 4 bytes a
    sample, and the dearest re-encode (CMYK) costs as much. `lossless_work_bytes` and
    `reencode_work_bytes` are the sharper estimates the work itself is checked against.
    """
    full_resolution = tuple((ident, 1, 1) for ident in range(components))
    turning = 2 * coefficient_bytes(Frame(_BASELINE, width, height, full_resolution))
    reencoding = _reencode_pixel_bytes(width, height, components, components, progressive=True)
    return max(turning, reencoding) + FIXED_BYTES


def compressed_work_bytes(size: int) -> int:
    """What the compressed data of a `size`-byte JPEG adds to `pixel_work_bytes`."""
    return math.ceil(max(LOSSLESS_COMPRESSED_COPIES, REENCODE_COMPRESSED_COPIES) * size)


def coefficient_bytes(frame: Frame) -> int:
    """One set of the frame's DCT coefficients as libjpeg allocates them (jdcoefct.c).

    Each component's blocks, padded to whole MCUs: libjpeg rounds each virtual array up
    to a multiple of the component's sampling factors.
    """
    h_max = max(h for _, h, _ in frame.components)
    v_max = max(v for _, _, v in frame.components)
    total = 0
    for _, h, v in frame.components:
        if len(frame.components) == 1:
            h = v = h_max = v_max = 1
        across = math.ceil(math.ceil(frame.width * h / h_max) / 8)
        down = math.ceil(math.ceil(frame.height * v / v_max) / 8)
        total += _round_up(across, h) * _round_up(down, v) * BLOCK_BYTES
    return total


def lossless_work_bytes(frame: Frame, orientation: int, compressed: int) -> int:
    """Peak memory of libjpeg-turbo's lossless transform of a `compressed`-byte JPEG."""
    coefficients = _coefficient_sets(orientation) * coefficient_bytes(frame)
    return coefficients + math.ceil(LOSSLESS_COMPRESSED_COPIES * compressed) + FIXED_BYTES


def reencode_work_bytes(
    width: int,
    height: int,
    components: int,
    *,
    source_samples: float,
    progressive: bool,
    compressed: int,
) -> int:
    """Peak memory of decoding, turning and encoding a picture with Pillow.

    `source_samples`: samples per pixel of the input (3 for 4:4:4, 1.5 for 4:2:0, ...);
    `progressive`: whether it is.
    """
    pixels = _reencode_pixel_bytes(width, height, components, source_samples, progressive)
    return pixels + math.ceil(REENCODE_COMPRESSED_COPIES * compressed) + FIXED_BYTES


def _reencode_pixel_bytes(
    width: int, height: int, components: int, source_samples: float, progressive: bool
) -> int:
    pixels = width * height
    # Pillow stores a pixel of more than one band in 4 bytes (Imaging's image32).
    stored = pixels * (1 if components == 1 else 4)
    # libjpeg decodes a progressive JPEG into a whole-image coefficient buffer first, then
    # into pixels; the turn copies the picture. Writing CMYK as YCCK converts it plane by
    # plane: at most four pictures' worth. Encoding (baseline) streams.
    decoding = stored + (math.ceil(2 * source_samples * pixels) if progressive else 0)
    turning = 2 * stored
    converting = 4 * stored if components == 4 else 0
    return max(decoding, turning, converting)


def _coefficient_sets(orientation: int) -> int:
    # A horizontal flip rearranges blocks in place; every other turn writes into a second
    # set of arrays (transupp.c, jtransform_request_workspace).
    return 1 if orientation == 2 else 2


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


# --- sharing the budget between threads -------------------------------------------------------

_ledger = threading.Condition()
_reserved = 0


@contextmanager
def reserve(cost: int, budget: int) -> Iterator[None]:
    """Run pixel work that needs `cost` bytes, within `budget` for the whole process.

    Records of a batch run in threads (BATCH_THREADS, the CLI's directory mode), and each
    may need pixel work; the budget is for all of them together. Work that could never
    fit raises `TooLarge` at once; work that fits waits until the work before it has
    released enough.
    """
    global _reserved
    if cost > budget:
        raise TooLarge(
            f"turning or re-encoding this picture needs about {cost // MiB} MiB of memory, "
            f"more than the {budget // MiB} MiB budget for pixel work",
            0,
        )
    with _ledger:
        _ledger.wait_for(lambda: _reserved + cost <= budget)
        _reserved += cost
    try:
        yield
    finally:
        with _ledger:
            _reserved -= cost
            _ledger.notify_all()
