"""What User A does during a chaos scenario: a real mix of photos, then overwrites and deletes.

    mix = photo_mix(2000, seed=1)
    mix.uploads        # key -> bytes, the first upload of every key
    mix.changes        # later puts and deletes of keys already uploaded

Every photo is distinct after sanitizing too (its JFIF density, which the sanitizer keeps,
is its own), so a copy in the web bucket made from the wrong key or from an older version of a
key never compares equal to the right one. The mix, per 2,000 keys:

    photos            ~1,780  camera photos with EXIF/GPS, XMP, IPTC, comments; some
                              progressive, some CMYK, MPO stereo pairs, motion photos with
                              the video after EOI, the kitchen sink of every kind at once
    turned               ~60  EXIF Orientation 2-8, MCU-aligned (lossless turn) or not
                              (re-encoded)
    large                  5  12 MiB: the copy needs a multipart upload, as does User A's
    not a JPEG           ~60  PNG, GIF, PDF, text, random bytes, an empty file
    damaged              ~60  truncated mid-scan, junk between segments, a lying segment
                              length, no EOI, a scan cut short (the sanitizer repairs or
                              re-encodes what libjpeg tolerates; the rest is rejected)
    other names          ~40  keys not ending in .jpg/.jpeg: skipped, never copied

Keys have spaces, '+', non-ASCII letters, nested folders and upper-case suffixes. Then,
while the pipeline works, about one key in eight changes: overwritten by another photo
(sometimes by a damaged one or by a file that is not a JPEG at all, sometimes twice in
a row), deleted, or deleted and uploaded again.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory

from tools.samples.composition import compose
from tools.samples.corpora import write_large_jpeg
from tools.samples.exif import exif_segment
from tools.samples.icc import icc_segments, srgb_profile
from tools.samples.jpeg import ColourMode, Encoding, base_jpeg, jpeg_end, walk_markers
from tools.samples.metadata import (
    XmpFields,
    comment_segment,
    flashpix_segments,
    iptc_segment,
    jfif_segment,
    xmp_segment,
)
from tools.samples.orientation import oriented_jpeg
from tools.samples.ready_made import (
    camera_exif_with_thumbnail,
    kitchen_sink,
    motion_photo_sample,
    mpo_sample,
)

LARGE_BYTES = 12 * 2**20  # > 8 MiB, the pipeline's part size: its copy is a multipart upload
NAMES = (
    "IMG_{n:05d}.jpg",
    "holiday photo {n}.jpg",
    "a+b/c+{n}.JPG",
    "fête/été-{n}.jpeg",
    "{n}.JPEG",
)


@dataclass(frozen=True)
class Change:
    """A later action of User A on a key it uploaded: a new version, or a delete (None)."""

    key: str
    data: bytes | None
    what: str


@dataclass
class Mix:
    uploads: dict[str, bytes] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # key -> what its first upload is
    changes: list[Change] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for k in self.kinds.values() if k == kind)


def photo_mix(count: int, *, seed: int = 1, prefix: str = "") -> Mix:
    """`count` keys (at least 50): the first upload of each, and the changes after."""
    if count < 50:
        raise ValueError("a mix needs at least 50 photos")
    rng = random.Random(seed)
    factory = _Factory(rng)
    mix = Mix()
    shares: list[tuple[str, float, Callable[[], bytes]]] = [
        ("turned", 0.03, factory.turned),
        ("not-a-jpeg", 0.03, factory.not_a_jpeg),
        ("damaged", 0.03, factory.damaged),
        ("other-name", 0.02, factory.photo),
    ]
    plan = ["large"] * max(2, count // 400)
    for kind, share, _ in shares:
        plan += [kind] * max(2, round(count * share))
    plan += ["photo"] * (count - len(plan))
    rng.shuffle(plan)
    makers = {kind: make for kind, _, make in shares} | {
        "photo": factory.photo,
        "large": factory.large,
    }
    for n, kind in enumerate(plan):
        name = rng.choice(NAMES).format(n=n)
        if kind == "other-name":
            name = name.rsplit(".", 1)[0] + rng.choice((".png", ".txt", ".heic", ".jpg.bak"))
        key = f"{prefix}{n % 16:x}/{name}"
        mix.uploads[key] = makers[kind]()
        mix.kinds[key] = kind
    mix.changes = _changes(mix, rng, factory)
    return mix


def _changes(mix: Mix, rng: random.Random, factory: _Factory) -> list[Change]:
    keys = [k for k, kind in mix.kinds.items() if kind != "large"]
    picked = rng.sample(keys, len(keys) // 8)
    changes = []
    for key in picked:
        roll = rng.random()
        if roll < 0.40:
            changes.append(Change(key, factory.photo(), "overwrite"))
        elif roll < 0.50:
            changes.append(Change(key, factory.photo(), "overwrite"))
            changes.append(Change(key, factory.photo(), "overwrite again"))
        elif roll < 0.60:
            bad = factory.damaged() if rng.random() < 0.5 else factory.not_a_jpeg()
            changes.append(Change(key, bad, "overwrite with a bad file"))
        elif roll < 0.85:
            changes.append(Change(key, None, "delete"))
        else:
            changes.append(Change(key, None, "delete"))
            changes.append(Change(key, factory.photo(), "upload again"))
    return changes


class _Factory:
    """Makes each kind of input; every photo gets a density of its own."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._density = 0

    def _jfif(self) -> bytes:
        self._density += 1
        return jfif_segment(dpi=self._density)

    def photo(self) -> bytes:
        base, extra = self._rng.choice(_photo_bases())
        return compose(base, [self._jfif(), *extra])

    def turned(self) -> bytes:
        return compose(self._rng.choice(_turned_bases()), [self._jfif()])

    def large(self) -> bytes:
        strip_seed = self._rng.randrange(1 << 16)
        with TemporaryDirectory(prefix="chaos-large-") as scratch:
            large = write_large_jpeg(
                Path(scratch) / "large.jpg", LARGE_BYTES, width=2048, seed=strip_seed
            )
            data = large.path.read_bytes()
        return compose(data, [self._jfif(), *_metadata()[0]])

    def not_a_jpeg(self) -> bytes:
        return self._rng.choice(_not_jpegs())

    def damaged(self) -> bytes:
        good = self.photo()
        return self._rng.choice(_DAMAGE)(good, self._rng)


# --- the pools (made once per process) -------------------------------------------------------


@cache
def _metadata() -> list[list[bytes]]:
    """Sets of identifying segments a photo may carry."""
    gps = exif_segment(camera_exif_with_thumbnail(3))
    return [
        [gps, xmp_segment(), comment_segment()],
        [exif_segment(), iptc_segment()],
        [gps, *icc_segments(srgb_profile())],
        [xmp_segment(XmpFields()), *flashpix_segments()],
    ]


@cache
def _photo_bases() -> list[tuple[bytes, list[bytes]]]:
    """(base JPEG, its metadata segments): plain, progressive, CMYK, greyscale, and whole
    samples that bring their own trailers (MPO, motion photo, kitchen sink)."""
    bases: list[tuple[bytes, list[bytes]]] = []
    metadata = _metadata()
    for seed in range(24):
        width, height = 96 + 16 * (seed % 5), 64 + 8 * (seed % 3)
        encoding = Encoding(quality=80 + seed % 15, progressive=seed % 4 == 0)
        mode: ColourMode = "CMYK" if seed % 11 == 5 else "L" if seed % 11 == 7 else "RGB"
        base = base_jpeg(width, height, seed=seed, encoding=encoding, mode=mode)
        bases.append((base, metadata[seed % len(metadata)]))
    for seed in range(3):
        bases.append((mpo_sample(width=96, height=64, seed=40 + seed), []))
        bases.append((motion_photo_sample(width=96, height=64, seed=50 + seed), []))
    bases.append((kitchen_sink(width=96, height=64, seed=60), []))
    return bases


@cache
def _turned_bases() -> list[bytes]:
    """Orientations 2-8, stored MCU-aligned (turned losslessly) or not (re-encoded)."""
    sizes = ((64, 48), (61, 47))
    return [
        oriented_jpeg(orientation, size, seed=orientation)
        for orientation in range(2, 9)
        for size in sizes
    ]


@cache
def _not_jpegs() -> list[bytes]:
    rng = random.Random(99)
    return [
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"GIF89a" + bytes(100),
        b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 10,
        b"a note, not a photo: 12 Rue Example, Paris\n",
        rng.randbytes(2048),
        b"",
    ]


def _truncated(jpeg: bytes, rng: random.Random) -> bytes:
    scan = walk_markers(jpeg).scans[-1]
    return jpeg[: rng.randint(scan.start + 20, max(scan.start + 21, scan.end - 4))]


def _junk_between_segments(jpeg: bytes, rng: random.Random) -> bytes:
    first = walk_markers(jpeg).segments[1]
    return jpeg[: first.end] + rng.randbytes(16).replace(b"\xff", b"\x00") + jpeg[first.end :]


def _lying_length(jpeg: bytes, rng: random.Random) -> bytes:
    """A COM segment whose length runs past its end into the next marker."""
    broken = comment_segment("damaged")
    broken = broken[:2] + struct.pack(">H", len(broken) + 6) + broken[4:]
    return compose(jpeg, [broken])


def _no_eoi(jpeg: bytes, rng: random.Random) -> bytes:
    end = jpeg_end(jpeg)
    return jpeg[: end - 2]


def _scan_cut_short(jpeg: bytes, rng: random.Random) -> bytes:
    """The entropy-coded data stops early, then EOI: what a camera writes when its card
    fills up."""
    scan = walk_markers(jpeg).scans[0]
    cut = (scan.start + scan.end) // 2
    return jpeg[:cut] + b"\xff\xd9"


_DAMAGE: list[Callable[[bytes, random.Random], bytes]] = [
    _truncated,
    _junk_between_segments,
    _lying_length,
    _no_eoi,
    _scan_cut_short,
]
