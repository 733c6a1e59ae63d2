"""Reading a chunked file forward in blocks, and writing what is kept as few large pieces.

PNG and WebP are both sequences of chunks whose payloads may be large (image data) or
small (headers, metadata). `Input` pulls the file in blocks (a whole `bytes` object, or
1 MiB reads of a stream) and hands out exactly the bytes asked for, as memoryviews into
the blocks where it can, so image data is never copied on its way through. `Output`
collects what is kept as spans of those blocks and merges spans that follow each other
in one block, so a run of kept chunks leaves as one piece, not three per chunk.

Both are shared by png.py and webp.py; the verifiers read the output with their own
parsers (png_verify.py, webp_verify.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from .errors import TooLarge, Truncated

Piece = bytes | memoryview


class Input:
    """A forward-only reader over blocks of the input, with the input's byte limit."""

    def __init__(self, blocks: Iterable[Piece], *, max_bytes: int, what: str) -> None:
        self._blocks = iter(blocks)
        self._block = memoryview(b"")
        self._pos = 0
        self._block_start = 0  # absolute offset of the block's first byte
        self._max_bytes = max_bytes
        self._what = what  # "PNG" or "WebP", for messages

    @property
    def offset(self) -> int:
        """Absolute offset of the next byte to be read."""
        return self._block_start + self._pos

    def _advance(self) -> bool:
        """Move to the next non-empty block; False at the end of the input."""
        for block in self._blocks:
            if not block:
                continue
            self._block_start += len(self._block)
            self._block = memoryview(block).cast("B")
            self._pos = 0
            end = self._block_start + len(self._block)
            if end > self._max_bytes:
                raise TooLarge(f"file exceeds the limit of {self._max_bytes} bytes", end)
            return True
        return False

    def at_end(self) -> bool:
        """True when no byte is left (reads ahead one block if it must)."""
        return self._pos >= len(self._block) and not self._advance()

    def read(self, size: int, what: str) -> memoryview:
        """Exactly `size` bytes (a view into one block, or joined when they straddle two).

        Raises `Truncated`, naming `what` was being read, when the input ends first.
        """
        end = self._pos + size
        if end <= len(self._block):
            view = self._block[self._pos : end]
            self._pos = end
            return view
        return memoryview(b"".join(self.spans(size, what)))

    def spans(self, size: int, what: str) -> Iterator[memoryview]:
        """`size` bytes as views into the blocks that hold them, in order."""
        while size:
            if self._pos >= len(self._block) and not self._advance():
                raise Truncated(f"the {self._what} file ends inside {what}", self.offset)
            take = min(size, len(self._block) - self._pos)
            yield self._block[self._pos : self._pos + take]
            self._pos += take
            size -= take

    def block_spans(self, size: int, what: str) -> Iterator[tuple[memoryview, int, int]]:
        """Like `spans`, as (block, start, end) so `Output` can merge neighbouring spans."""
        while size:
            if self._pos >= len(self._block) and not self._advance():
                raise Truncated(f"the {self._what} file ends inside {what}", self.offset)
            take = min(size, len(self._block) - self._pos)
            yield self._block, self._pos, self._pos + take
            self._pos += take
            size -= take

    def window(self) -> tuple[memoryview, int]:
        """The current block and the position of the next byte in it, for a caller that
        walks many small chunks of one block at once (then `advance_to`)."""
        return self._block, self._pos

    def advance_to(self, pos: int) -> None:
        """Mark the current block as read up to `pos` (from `window`)."""
        assert self._pos <= pos <= len(self._block)
        self._pos = pos

    def skip_rest(self) -> int:
        """Consume everything that is left; returns how many bytes that was."""
        skipped = len(self._block) - self._pos
        self._pos = len(self._block)
        while self._advance():
            skipped += len(self._block)
            self._pos = len(self._block)
        return skipped


class Output:
    """Kept bytes, as spans of input blocks (merged when adjacent) and new bytes."""

    def __init__(self) -> None:
        self._pieces: list[Piece] = []
        self._block: memoryview | None = None  # the open span: block[start:end]
        self._start = 0
        self._end = 0
        self.size = 0  # every byte kept so far
        self.pending = 0  # bytes kept since the last `take`

    def span(self, block: memoryview, start: int, end: int) -> None:
        """Keep block[start:end]."""
        self.size += end - start
        self.pending += end - start
        if block is self._block and start == self._end:
            self._end = end
            return
        self._close_span()
        self._block, self._start, self._end = block, start, end

    def spans(self, spans: Iterable[tuple[memoryview, int, int]]) -> None:
        for block, start, end in spans:
            self.span(block, start, end)

    def new(self, data: bytes) -> None:
        """Keep bytes that were made here (a rewritten chunk)."""
        self._close_span()
        self._pieces.append(data)
        self.size += len(data)
        self.pending += len(data)

    def take(self) -> list[Piece]:
        """Everything kept since the last `take`, in order."""
        self._close_span()
        pieces, self._pieces = self._pieces, []
        self.pending = 0
        return pieces

    def _close_span(self) -> None:
        if self._block is not None:
            self._pieces.append(self._block[self._start : self._end])
            self._block = None


#: Largest held payload of one chunk before the image data, and the most an ICC profile
#: may inflate to: a JPEG carries at most 255 chunks of 65,519 bytes (~16 MiB), so twice
#: that is no real photo's, and bounds what a hostile file can make us hold.
MAX_HELD_BYTES: Final = 32 * 1024 * 1024


@dataclass(slots=True)
class Facts:
    """What the sanitizer learnt about one PNG or WebP, for its report."""

    width: int = 0
    height: int = 0
    orientation: int | None = None  # the EXIF Orientation found, if any
    rotation: str = "none"  # "none", "lossless", "reencode" or "tag-kept"
    frames: int = 1  # an animation's frames
    bytes_in: int = 0
    repairs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """One chunk as `inspect` lists it, with the readable content of metadata chunks."""

    offset: int
    kind: str  # the chunk type, e.g. "tEXt", "EXIF"; "IDAT" for a run of image data
    size: int  # bytes in the file, headers, CRC and padding included
    what: str  # what it holds, in the words of the report: "text", "EXIF", "image data"
    keyword: str = ""  # a PNG text chunk's keyword
    #: The content a person could be identified by, bounded (`MAX_READ`): text (inflated
    #: and decoded to UTF-8), EXIF as a TIFF, an XMP packet, an ICC profile; else empty.
    content: bytes = b""


#: Most bytes of one chunk's content that `inspect` reads (an ICC profile: MAX_HELD_BYTES).
MAX_READ: Final = 1024 * 1024
