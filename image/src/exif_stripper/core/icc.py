"""ICC profiles without identity: keep what renders colour, drop what names a person or device.

A photo's ICC profile is the one piece of metadata a web-safe copy must keep: without it
the colours change. But profiles carry text too: display-calibration tools write the
owner's name and the monitor's serial into `desc`, `cprt`, `dmnd` and `dmdd`, DisplayCAL
writes EDID serials into the `meta` dictionary, and vendors add private tags. This module
parses a profile (ICC.1:2022 section 7: header and tag table) and writes it again from
its parts:

- every tag that affects colour is copied byte for byte (cut to the length its type
  defines, so nothing rides along after a curve or a matrix);
- `desc` gets a neutral text, `cprt` an empty one, each in the type the profile's version
  expects; `pseq` is emptied and the colorant names of `clrt`/`clot` blanked;
- every other tag is removed: the text and identity tags of the registry, and every tag
  the registry does not define;
- the header's creator, device, platform and date fields are neutralised, and the profile
  ID (an MD5 of the profile, ICC.1 7.2.18) recomputed when the profile had one.

Widely used standard profiles (sRGB, recognised by a published digest of their bytes) pass
byte-identical: they identify nobody, and keeping them lets every reader recognise them.

The JPEG embedding (ICC.1 Annex B.4: APP2 `ICC_PROFILE\\0` chunks) is here too, so the
sanitizer and later the PNG (`iCCP`) and WebP (`ICCP`) paths share one profile cleaner.

Hostile input is a typed `IccError`, never a crash or a hang: every count is bounded by
the bytes that would hold it, and the work is linear in the profile's size.

This module is pure: the standard library only, no Pillow, no AWS.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import Final


class IccError(ValueError):
    """Not a valid ICC profile (or not a valid set of JPEG chunks); the message says why."""


@dataclass(frozen=True, slots=True)
class CleanProfile:
    """A profile that carries colour and nothing that identifies.

    `standard` is True when a well-known profile passed byte-identical. `removed` names,
    for the sanitizer's report, what was dropped or neutralised: tag signatures (`desc`,
    `dmnd`, `meta`, a private `vcgt`, ...) and `header` when header fields changed.
    """

    data: bytes
    standard: bool
    removed: tuple[str, ...]


# =========================================================================================
# The JPEG embedding (ICC.1:2022 Annex B.4)
# =========================================================================================

ICC_APP2_PREFIX: Final = b"ICC_PROFILE\x00"
#: A marker segment's payload is at most 65,533 bytes (the length field counts itself);
#: each APP2 chunk spends 12 on the prefix and 2 on its sequence number and the count.
MAX_JPEG_CHUNK_DATA: Final = 65_533 - len(ICC_APP2_PREFIX) - 2
#: Sequence numbers and the count are one byte each.
MAX_JPEG_CHUNKS: Final = 255


def reassemble_jpeg_chunks(chunks: Sequence[bytes]) -> bytes:
    """The profile carried by APP2 payloads (prefix, 1-based sequence number, count, data).

    Chunks come in file order and may be out of sequence; they are ordered by sequence
    number. Every chunk must name the same count, and the numbers must be exactly 1..count:
    a gap, a duplicate or a number past the count is an `IccError`, because the bytes
    would not be the profile that was written.
    """
    if not chunks:
        raise IccError("no ICC_PROFILE chunks")
    header = len(ICC_APP2_PREFIX) + 2
    by_number: dict[int, bytes] = {}
    counts = set()
    for index, chunk in enumerate(chunks):
        if not chunk.startswith(ICC_APP2_PREFIX) or len(chunk) < header:
            raise IccError(f"chunk {index + 1} is not an ICC_PROFILE chunk")
        number, count = chunk[header - 2], chunk[header - 1]
        if count == 0:
            raise IccError(f"chunk {index + 1} declares a chunk count of 0")
        if not 1 <= number <= count:
            raise IccError(f"chunk {index + 1} has sequence number {number} of {count}")
        if number in by_number:
            raise IccError(f"sequence number {number} appears twice")
        counts.add(count)
        by_number[number] = chunk[header:]
    if len(counts) > 1:
        raise IccError(f"chunks disagree on the chunk count: {sorted(counts)}")
    (count,) = counts
    if len(by_number) != count:
        missing = sorted(set(range(1, count + 1)) - by_number.keys())
        raise IccError(f"chunks {missing} of {count} are missing")
    return b"".join(by_number[number] for number in range(1, count + 1))


def jpeg_chunks(profile: bytes) -> list[bytes]:
    """The APP2 payloads that embed `profile` in a JPEG, in order (prefix included)."""
    if not profile:
        raise IccError("an empty profile cannot be embedded")
    pieces = range(0, len(profile), MAX_JPEG_CHUNK_DATA)
    if len(pieces) > MAX_JPEG_CHUNKS:
        raise IccError(
            f"a {len(profile)}-byte profile needs {len(pieces)} chunks; "
            f"a JPEG holds at most {MAX_JPEG_CHUNKS}"
        )
    return [
        ICC_APP2_PREFIX + bytes((number, len(pieces))) + profile[at : at + MAX_JPEG_CHUNK_DATA]
        for number, at in enumerate(pieces, start=1)
    ]


# =========================================================================================
# Well-known profiles that pass byte-identical
# =========================================================================================


@dataclass(frozen=True, slots=True)
class _KnownProfile:
    """A published profile, recognised by its length and checksums of all its bytes.

    `profile_id`, where the source lists one, is the MD5 that ICC.1 7.2.18 defines (the
    whole profile with flags, intent and ID zeroed); with it the match is cryptographic.
    The others are matched by CRC-32 (and Adler-32) of every byte, as libpng does: enough
    to recognise the profile, though a deliberately forged collision could carry a few
    chosen bytes, which only the uploader could have put there.
    """

    name: str
    length: int
    crc32: int
    adler32: int | None = None
    profile_id: bytes | None = None


_KNOWN_PROFILES: Final = (
    # libpng 1.6, png.c, png_sRGB_checks[] ("contrib/tools/checksum-icc run on downloads
    # of all four ICC sRGB profiles from www.color.org", plus the HP/Microsoft profiles):
    # adler32, crc32, MD5 profile ID, length.
    _KnownProfile(
        "sRGB IEC61966-2.1 (ICC v2, black scaled)",
        3048,
        0x3B8772B9,
        0x0A3FD9F6,
        bytes.fromhex("29f83ddeaff255ae7842fae4ca83390d"),
    ),
    _KnownProfile(
        "sRGB IEC61966-2.1 (ICC v2, no black scaling)",
        3052,
        0x427EBB21,
        0x4909E5E1,
        bytes.fromhex("c95bd637e95d8a3b0df38f99c1320389"),
    ),
    _KnownProfile(
        "sRGB v4 ICC preference (display class)",
        60988,
        0x306FD8AE,
        0xFD2144A1,
        bytes.fromhex("fc66337837e2886bfd72e9838228f1b8"),
    ),
    _KnownProfile(
        "sRGB v4 ICC preference",
        60960,
        0xBBEF7812,
        0x209C35D2,
        bytes.fromhex("34562abf994ccd066d2c5721d0d68c5d"),
    ),
    _KnownProfile("sRGB IEC61966-2.1 (v2, no BPC)", 3024, 0x5D5129CE, 0xA054D762),
    _KnownProfile("sRGB IEC61966-2.1 (HP/Microsoft, perceptual)", 3144, 0x182EA552, 0xF784F3FB),
    _KnownProfile("sRGB IEC61966-2.1 (HP/Microsoft, relative)", 3144, 0xF29E526D, 0x0398F3FC),
    # ImageMagick, coders/png.c, sRGB_info[] (length and CRC-32): the tiny sRGB profile
    # Facebook embeds in the photos it serves, and Argyll's sRGB.
    _KnownProfile("sRGB (Facebook TINYsRGB)", 524, 0xD4938C39),
    _KnownProfile("sRGB (Argyll)", 3212, 0x034AF5A1),
)
_KNOWN_LENGTHS: Final = frozenset(known.length for known in _KNOWN_PROFILES)


def _standard_profile(profile: bytes) -> _KnownProfile | None:
    """The well-known profile these bytes are, if any."""
    if len(profile) not in _KNOWN_LENGTHS:  # the common case costs one set lookup
        return None
    crc = zlib.crc32(profile)
    for known in _KNOWN_PROFILES:
        if known.length != len(profile) or known.crc32 != crc:
            continue
        if known.adler32 is not None and zlib.adler32(profile) != known.adler32:
            continue
        if known.profile_id is not None and _profile_id(profile) != known.profile_id:
            continue
        return known
    return None


# =========================================================================================
# The header (ICC.1:2022 7.2)
# =========================================================================================

HEADER_SIZE: Final = 128
_TAG_TABLE: Final = HEADER_SIZE + 4  # the tag count, then 12 bytes per tag (7.3)
#: Real profiles hold a few dozen tags (the registry defines about 60); lcms reads at
#: most 100. A larger count is hostile or broken, and bounding it bounds the work.
MAX_TAGS: Final = 1024

_DEVICE_CLASSES: Final = frozenset(
    {b"scnr", b"mntr", b"prtr", b"link", b"spac", b"abst", b"nmcl"}
)  # 7.2.5, Table 18
_COLOUR_SPACES: Final = frozenset(
    {b"XYZ ", b"Lab ", b"Luv ", b"YCbr", b"Yxy ", b"RGB ", b"GRAY", b"HSV ", b"HLS "}
    | {b"CMYK", b"CMY "}
    | {f"{n:X}CLR".encode() for n in range(2, 16)}
)  # 7.2.6, Table 19
_PCS: Final = frozenset({b"XYZ ", b"Lab "})  # 7.2.7; a DeviceLink names a colour space
#: ICC.1 flags (7.2.11): bit 0 embedded, bit 1 "use only embedded"; bits 16..31 belong
#: to the CMM vendor and are dropped with the rest of the vendor's fields.
_ICC_FLAGS: Final = 0x0000FFFF


@dataclass(frozen=True, slots=True)
class _Tag:
    signature: bytes
    offset: int
    size: int

    @property
    def name(self) -> str:
        return _signature_name(self.signature)


@dataclass(frozen=True, slots=True)
class _Profile:
    data: bytes
    major_version: int
    colour_space: bytes
    tags: tuple[_Tag, ...]


def _parse(profile: bytes) -> _Profile:
    """Validate the header and the tag table; every tag's data lies inside the profile."""
    if len(profile) < _TAG_TABLE:
        raise IccError(f"{len(profile)} bytes is shorter than the header and tag count")
    (size,) = struct.unpack_from(">I", profile, 0)
    if size != len(profile):
        raise IccError(f"the header says {size} bytes, the profile has {len(profile)}")
    if profile[36:40] != b"acsp":
        raise IccError("no 'acsp' profile signature")
    major = profile[8]
    if major == 5:
        # ICC.2 (iccMAX) profiles: browsers' colour engines implement ICC.1 only (lcms
        # refuses versions past 5.0), and ICC.2's structured tag types can nest text
        # anywhere; the sanitizer drops the profile rather than vouch for what it hides.
        raise IccError("an ICC v5 (ICC.2, iccMAX) profile, which browsers do not use")
    if major not in (2, 3, 4):
        raise IccError(f"unknown profile version {major}.{profile[9] >> 4}")
    device_class, colour_space, pcs = profile[12:16], profile[16:20], profile[20:24]
    if device_class not in _DEVICE_CLASSES:
        raise IccError(f"unknown device class {_signature_name(device_class)!r}")
    if colour_space not in _COLOUR_SPACES:
        raise IccError(f"unknown colour space {_signature_name(colour_space)!r}")
    if pcs not in (_COLOUR_SPACES if device_class == b"link" else _PCS):
        raise IccError(f"unknown connection space {_signature_name(pcs)!r}")
    return _Profile(profile, major, colour_space, _parse_tag_table(profile))


def _parse_tag_table(profile: bytes) -> tuple[_Tag, ...]:
    (count,) = struct.unpack_from(">I", profile, HEADER_SIZE)
    if count > MAX_TAGS:
        raise IccError(f"{count} tags; real profiles have at most a few dozen")
    table_end = _TAG_TABLE + 12 * count
    if table_end > len(profile):
        raise IccError(f"a table of {count} tags runs past the profile's end")
    tags = tuple(
        _Tag(signature, offset, size)
        for signature, offset, size in struct.iter_unpack(">4sII", profile[_TAG_TABLE:table_end])
    )
    for tag in tags:
        # Tag data "shall" start on a 4-byte boundary (7.3.1), but real profiles do not
        # all honour it (libpng notes CNHP730S.icc, shipped with Windows); readers do not
        # care, so a misaligned tag is accepted and written aligned.
        if tag.offset < table_end or tag.offset + tag.size > len(profile):
            raise IccError(
                f"tag {tag.name!r} at {tag.offset} ({tag.size} bytes) lies outside the "
                f"tag data ({table_end}..{len(profile)})"
            )
    return tags


def _signature_name(signature: bytes) -> str:
    """A four-character signature as text: 'desc', 'A2B0', or hex when not printable."""
    text = signature.decode("latin-1")
    return text if signature.isascii() and text.isprintable() else "0x" + signature.hex()


# =========================================================================================
# What happens to each tag (ICC.1:2022 section 9, and ICC.1:2001-04 for v2-only tags)
# =========================================================================================


class _Action(Enum):
    KEEP = auto()  # affects colour: copied byte for byte (cut to its type's length)
    DESCRIPTION = auto()  # written again with a neutral text
    COPYRIGHT = auto()  # written again empty
    EMPTY_SEQUENCE = auto()  # pseq: written again with no entries
    BLANK_NAMES = auto()  # clrt/clot: colorants kept, their names blanked
    REMOVE = auto()


@dataclass(frozen=True, slots=True)
class _Rule:
    action: _Action
    types: frozenset[bytes] = frozenset()  # the types the registry allows for a kept tag


def _keep(*types: str) -> _Rule:
    return _Rule(_Action.KEEP, frozenset(t.encode("ascii") for t in types))


_LUT_A2B: Final = ("mft1", "mft2", "mAB ")
_LUT_B2A: Final = ("mft1", "mft2", "mBA ")
_REMOVE: Final = _Rule(_Action.REMOVE)

_RULES: Final[dict[bytes, _Rule]] = {
    # --- transforms: the colour itself --------------------------------------------------
    **{f"A2B{n}".encode(): _keep(*_LUT_A2B) for n in range(3)},  # device -> PCS per intent
    **{f"B2A{n}".encode(): _keep(*_LUT_B2A) for n in range(3)},  # PCS -> device per intent
    # floating-point transforms (multiProcessElements), which override A2B/B2A when present
    **{f"D2B{n}".encode(): _keep("mpet") for n in range(4)},
    **{f"B2D{n}".encode(): _keep("mpet") for n in range(4)},
    b"gamt": _keep(*_LUT_B2A),  # out-of-gamut test: used when proofing
    # preview transforms (PCS -> PCS through the device's gamut): used when proofing
    **{f"pre{n}".encode(): _keep("mft1", "mft2", "mAB ", "mBA ") for n in range(3)},
    # --- matrix/TRC model ------------------------------------------------------------------
    b"rXYZ": _keep("XYZ "),
    b"gXYZ": _keep("XYZ "),
    b"bXYZ": _keep("XYZ "),
    b"rTRC": _keep("curv", "para"),
    b"gTRC": _keep("curv", "para"),
    b"bTRC": _keep("curv", "para"),
    b"kTRC": _keep("curv", "para"),  # gray
    # --- white, black, adaptation: absolute colorimetric and black point compensation -----
    b"wtpt": _keep("XYZ "),
    b"bkpt": _keep("XYZ "),  # v2 (and v4.0-4.2); lcms reads it for black point compensation
    b"chad": _keep("sf32"),
    b"lumi": _keep("XYZ "),  # emissive luminance (cd/m2): absolute rendering, HDR
    b"chrm": _keep("chrm"),  # phosphor/colorant chromaticities: derived colour, no identity
    b"cicp": _keep("cicp"),  # coding-independent code points (ICC.1:2022): HDR transfer
    b"meas": _keep("meas"),  # measurement observer, geometry, flare, illuminant
    b"resp": _keep("rcs2"),  # output response: the measured device behaviour
    b"rig0": _keep("sig "),  # perceptual intent's reference medium gamut
    b"rig2": _keep("sig "),  # saturation intent's reference medium gamut
    # --- colorants and named colours ------------------------------------------------------
    b"clro": _keep("clro"),  # which channel prints first: numbers only
    # colorant tables name the channels of n-colour spaces; the names are free text and
    # no CMM converts by them, so the PCS values stay and the names go
    b"clrt": _Rule(_Action.BLANK_NAMES, frozenset({b"clrt"})),
    b"clot": _Rule(_Action.BLANK_NAMES, frozenset({b"clrt"})),
    # named colour profiles: each colour is defined by its name (a spot colour), so the
    # names are the colour; they are never an image's source profile in a browser
    b"ncl2": _keep("ncl2"),
    # --- text: neutral or empty -----------------------------------------------------------
    b"desc": _Rule(_Action.DESCRIPTION),  # calibration tools write "Alice's EIZO #1234"
    b"cprt": _Rule(_Action.COPYRIGHT),  # the owner's name
    # required in DeviceLinks, but only a record of which devices were linked, with
    # their manufacturer and model descriptions: no CMM converts by it
    b"pseq": _Rule(_Action.EMPTY_SEQUENCE),
    # --- removed: text, identity and dates that no CMM converts by ------------------------
    b"dmnd": _REMOVE,  # device manufacturer description
    b"dmdd": _REMOVE,  # device model description: monitor names and serials
    b"meta": _REMOVE,  # metadata dictionary: EDID serials, calibration settings
    b"vued": _REMOVE,  # viewing conditions description (text)
    b"view": _REMOVE,  # viewing conditions of the measurement
    b"targ": _REMOVE,  # characterisation target: raw measurement text
    b"ciis": _REMOVE,  # colorimetric intent image state: a label
    b"calt": _REMOVE,  # calibration date and time
    b"tech": _REMOVE,  # device technology: describes the device, converts nothing
    b"psid": _REMOVE,  # profile sequence identifier: IDs of (maybe personal) profiles
    # v2 only: PostScript CRDs/CSAs and printing parameters, which no image decoder uses
    # and which carry free text (product names, PostScript comments)
    b"crdi": _REMOVE,
    b"devs": _REMOVE,
    b"ps2s": _REMOVE,
    b"ps2i": _REMOVE,
    **{f"psd{n}".encode(): _REMOVE for n in range(4)},
    b"scrd": _REMOVE,  # screening description (text)
    b"scrn": _REMOVE,  # halftone screening
    b"bfd ": _REMOVE,  # under-colour removal and black generation, with a text
    b"ncol": _REMOVE,  # obsolete v2 named colour, superseded by ncl2
    # Every signature not listed here (private tags such as Apple's vcgt and mmod,
    # DisplayCAL's, Microsoft's MS00) is removed: the registry does not define it.
}


# =========================================================================================
# Tag types: how long each really is (ICC.1:2022 section 10)
# =========================================================================================


def _u8(data: bytes, at: int) -> int:
    return data[at]


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def _bounded_power(base: int, exponent: int, limit: int) -> int | None:
    """base**exponent, or None as soon as it exceeds `limit` (a CLUT's grid points)."""
    result = 1
    for _ in range(exponent):
        result *= base
        if result > limit:
            return None
    return result


def _lut8_length(data: bytes, at: int, size: int) -> int | None:
    inputs, outputs, grid = _u8(data, at + 8), _u8(data, at + 9), _u8(data, at + 10)
    points = _bounded_power(grid, inputs, size)
    return None if points is None else 48 + 256 * inputs + points * outputs + 256 * outputs


def _lut16_length(data: bytes, at: int, size: int) -> int | None:
    if size < 52:
        return None
    inputs, outputs, grid = _u8(data, at + 8), _u8(data, at + 9), _u8(data, at + 10)
    in_entries, out_entries = _u16(data, at + 48), _u16(data, at + 50)
    points = _bounded_power(grid, inputs, size)
    if points is None:
        return None
    return 52 + 2 * (in_entries * inputs + points * outputs + out_entries * outputs)


_PARA_PARAMETERS: Final = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}  # 10.18, Table 68


def _para_length(data: bytes, at: int, size: int) -> int | None:
    parameters = _PARA_PARAMETERS.get(_u16(data, at + 8))
    return None if parameters is None else 12 + 4 * parameters


def _ncl2_length(data: bytes, at: int, size: int) -> int | None:
    if size < 84:
        return None
    count, coordinates = _u32(data, at + 12), _u32(data, at + 16)
    return 84 + count * (32 + 6 + 2 * coordinates)


#: The length each type defines, from its own fields, where that is simple to know; the
#: bytes after it (inside the tag's declared size) are not read by any CMM and are cut.
#: Types not listed (mAB, mBA, mpet, rcs2) keep their declared size.
_TYPE_LENGTH: Final[dict[bytes, Callable[[bytes, int, int], int | None]]] = {
    b"XYZ ": lambda data, at, size: 20,  # every kept XYZ tag holds one XYZ value
    b"sf32": lambda data, at, size: 44,  # chad: a 3x3 matrix
    b"curv": lambda data, at, size: 12 + 2 * _u32(data, at + 8),
    b"para": _para_length,
    b"chrm": lambda data, at, size: 12 + 8 * _u16(data, at + 8),
    b"sig ": lambda data, at, size: 12,
    b"meas": lambda data, at, size: 36,
    b"cicp": lambda data, at, size: 12,
    b"clro": lambda data, at, size: 12 + _u32(data, at + 8),
    b"clrt": lambda data, at, size: 12 + 38 * _u32(data, at + 8),
    b"mft1": _lut8_length,
    b"mft2": _lut16_length,
    b"ncl2": _ncl2_length,
}


def _lut_ab_inside(data: bytes, at: int, size: int) -> bool:
    """lutAtoB/lutBtoA (10.12, 10.13): the five element offsets lie inside the tag."""
    offsets = struct.unpack_from(">5I", data, at + 12) if size >= 32 else (size,)
    return all(offset == 0 or 32 <= offset < size for offset in offsets)


def _mpet_inside(data: bytes, at: int, size: int) -> bool:
    """multiProcessElementsType (10.16): the position table and its elements inside the tag."""
    count = _u32(data, at + 12) if size >= 16 else size
    if 16 + 8 * count > size:
        return False
    positions = struct.unpack_from(f">{2 * count}I", data, at + 16)
    return all(
        offset + length <= size
        for offset, length in zip(positions[::2], positions[1::2], strict=True)
    )


#: Types whose elements are found through offsets from the tag's start. Readers follow
#: them without regard to the tag's size, so an offset past it would read other tags'
#: bytes, which the rewrite moves or removes: such a tag is dropped, not copied.
_REFERENCES_INSIDE: Final[dict[bytes, Callable[[bytes, int, int], bool]]] = {
    b"mAB ": _lut_ab_inside,
    b"mBA ": _lut_ab_inside,
    b"mpet": _mpet_inside,
}


def _self_contained(data: bytes, tag: _Tag) -> bool:
    check = _REFERENCES_INSIDE.get(data[tag.offset : tag.offset + 4])
    return check is None or check(data, tag.offset, tag.size)


def _kept_length(data: bytes, tag: _Tag) -> int:
    """The tag's size cut to what its type defines (never grown: a short tag stays short)."""
    measure = _TYPE_LENGTH.get(data[tag.offset : tag.offset + 4])
    if measure is None or tag.size < 12:
        return tag.size
    length = measure(data, tag.offset, tag.size)
    return tag.size if length is None else min(length, tag.size)


# --- text types written fresh ------------------------------------------------------------


def _text_description(text: str, major_version: int) -> bytes:
    """A `desc` tag: textDescriptionType for v2 (ICC.1:2001-04 6.5.17), mluc for v4."""
    if major_version >= 4:
        return _mluc(text)
    ascii_text = text.encode("ascii") + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)  # no Unicode description
        + struct.pack(">HB", 0, 0)  # no ScriptCode description...
        + bytes(67)  # ...in its fixed 67-byte field
    )


def _text(text: str, major_version: int) -> bytes:
    """A `cprt` tag: textType for v2 (ICC.1:2001-04 6.5.18), mluc for v4."""
    if major_version >= 4:
        return _mluc(text)
    return b"text\x00\x00\x00\x00" + text.encode("ascii") + b"\x00"


def _mluc(text: str) -> bytes:
    """multiLocalizedUnicodeType (10.15) with one en-US record."""
    encoded = text.encode("utf-16-be")
    return (
        b"mluc\x00\x00\x00\x00"
        + struct.pack(">II", 1, 12)  # one record of 12 bytes
        + b"enUS"
        + struct.pack(">II", len(encoded), 28)  # the string follows the record
        + encoded
    )


def _neutral_description(colour_space: bytes) -> str:
    """Says only what the header already says: 'RGB profile', 'CMYK profile', ..."""
    return f"{colour_space.decode('latin-1').strip()} profile"


#: A profileSequenceDescType (10.22) with no entries.
_EMPTY_SEQUENCE: Final = b"pseq\x00\x00\x00\x00" + struct.pack(">I", 0)


def _blank_colorant_names(element: bytes) -> bytes:
    """A colorantTableType (10.4) with every 32-byte name zeroed, the PCS values kept."""
    blanked = bytearray(element)
    for at in range(12, len(element) - 37, 38):
        blanked[at : at + 32] = bytes(32)
    return bytes(blanked)


# =========================================================================================
# Sanitizing
# =========================================================================================


def sanitize_profile(profile: bytes) -> CleanProfile:
    """The profile written again with its colour and without identity.

    Raises `IccError` when the bytes are not a profile this module can vouch for (see
    the module docstring); the caller then drops the profile and reports it.
    """
    if _standard_profile(profile) is not None:
        return CleanProfile(profile, standard=True, removed=())
    parsed = _parse(profile)
    pieces, removed = _clean_tags(parsed)
    header = _neutral_header(profile)
    if _header_fields_changed(profile, header):
        removed.append("header")
    data = _assemble(header, pieces, profile)
    if any(profile[84:100]):  # it had a profile ID: give it the right one
        data[84:100] = _profile_id(data)
    return CleanProfile(bytes(data), standard=False, removed=tuple(removed))


@dataclass(frozen=True, slots=True)
class _Piece:
    """One kept tag: its signature and either a range of the input or new bytes."""

    signature: bytes
    start: int = 0
    end: int = 0
    new: bytes | None = None


def _clean_tags(parsed: _Profile) -> tuple[list[_Piece], list[str]]:
    """Decide every tag: the pieces to write (in table order) and what was removed."""
    data = parsed.data
    pieces: list[_Piece] = []
    removed: dict[bytes, None] = {}  # an ordered set of signatures
    seen: set[bytes] = set()
    for tag in parsed.tags:
        rule = _RULES.get(tag.signature, _REMOVE)
        if tag.signature in seen or rule.action is _Action.REMOVE:
            # (a duplicate signature: readers use the first, as lcms and skcms do)
            removed[tag.signature] = None
            continue
        seen.add(tag.signature)
        if rule.types and (tag.size < 12 or data[tag.offset : tag.offset + 4] not in rule.types):
            removed[tag.signature] = None  # not a type the registry allows: no CMM reads it
            continue
        if not _self_contained(data, tag):
            removed[tag.signature] = None
            continue
        if rule.action is _Action.KEEP:
            end = tag.offset + _kept_length(data, tag)
            pieces.append(_Piece(tag.signature, tag.offset, end))
            continue
        original = data[tag.offset : tag.offset + tag.size]
        new = _rewritten(rule.action, parsed, original)
        if new != original:
            removed[tag.signature] = None
        pieces.append(_Piece(tag.signature, new=new))
    return pieces, [_signature_name(signature) for signature in removed]


def _rewritten(action: _Action, parsed: _Profile, original: bytes) -> bytes:
    """The new bytes of a tag that is written again rather than copied."""
    if action is _Action.DESCRIPTION:
        text = _neutral_description(parsed.colour_space)
        return _text_description(text, parsed.major_version)
    if action is _Action.COPYRIGHT:
        return _text("", parsed.major_version)
    if action is _Action.EMPTY_SEQUENCE:
        return _EMPTY_SEQUENCE
    length = min(12 + 38 * _u32(original, 8), len(original))  # BLANK_NAMES
    return _blank_colorant_names(original[:length])


def _neutral_header(profile: bytes) -> bytearray:
    """The header with every field that names a maker, a device, a place or a time zeroed.

    Kept (they define the colour): version, device class, colour space, PCS, the ICC's
    own flags, rendering intent, PCS illuminant. Zeroed (ICC.1:2022 7.2): preferred CMM
    (4), date and time (24), primary platform (40), the CMM vendor's flag bits (44),
    device manufacturer (48), model (52), attributes (56), creator (80), and the
    reserved bytes (100). The size and the profile ID are set when the profile is written.
    """
    header = bytearray(profile[:HEADER_SIZE])
    for start, end in ((4, 8), (24, 36), (40, 44), (48, 64), (80, 84), (84, 128)):
        header[start:end] = bytes(end - start)
    (flags,) = struct.unpack_from(">I", header, 44)
    struct.pack_into(">I", header, 44, flags & _ICC_FLAGS)
    return header


def _header_fields_changed(profile: bytes, header: bytearray) -> bool:
    """Whether neutralising changed anything but the size and the profile ID."""
    return profile[4:84] != header[4:84] or profile[100:HEADER_SIZE] != header[100:]


def _assemble(header: bytearray, pieces: list[_Piece], source: bytes) -> bytearray:
    """Header, tag table and tag data, each element on a 4-byte boundary (7.3.1).

    Tags that shared or overlapped data in the input share it in the output: the input
    ranges of kept tags are merged into blocks and each block is written once, in the
    order of the tag table, so the output never grows past the input plus the new texts.
    """
    blocks = _merge_ranges([(piece.start, piece.end) for piece in pieces if piece.new is None])
    out = bytearray(header)
    out += struct.pack(">I", len(pieces))
    table_at = len(out)
    out += bytes(12 * len(pieces))
    placed: dict[int, int] = {}  # block start in the input -> its offset in the output
    view = memoryview(source)
    for index, piece in enumerate(pieces):
        if piece.new is not None:
            out += bytes(-len(out) % 4)
            offset, size = len(out), len(piece.new)
            out += piece.new
        else:
            block_start, block_end = blocks[bisect.bisect_right(blocks, (piece.start, _END)) - 1]
            if block_start not in placed:
                out += bytes(-len(out) % 4)
                placed[block_start] = len(out)
                out += view[block_start:block_end]
            offset = placed[block_start] + piece.start - block_start
            size = piece.end - piece.start
        struct.pack_into(">4sII", out, table_at + 12 * index, piece.signature, offset, size)
    out += bytes(-len(out) % 4)
    struct.pack_into(">I", out, 0, len(out))
    return out


_END: Final = 1 << 64  # sorts after every range end that starts at the same offset


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping ranges merged into sorted, disjoint blocks."""
    blocks: list[tuple[int, int]] = []
    for start, end in sorted(set(ranges)):
        if blocks and start < blocks[-1][1]:
            blocks[-1] = (blocks[-1][0], max(blocks[-1][1], end))
        else:
            blocks.append((start, end))
    return blocks


def _profile_id(profile: bytes | bytearray) -> bytes:
    """The profile ID: MD5 of the profile with flags, intent and ID zeroed (ICC.1 7.2.18)."""
    view = memoryview(profile)
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(view[:44])
    digest.update(bytes(4))  # profile flags
    digest.update(view[48:64])
    digest.update(bytes(4))  # rendering intent
    digest.update(view[68:84])
    digest.update(bytes(16))  # the profile ID itself
    digest.update(view[100:])
    return digest.digest()


# =========================================================================================
# The text a profile carries, for `inspect`
# =========================================================================================

_TEXT_TYPES: Final = frozenset({b"text", b"desc", b"mluc", b"dict"})


def identifying_text(profile: bytes) -> list[tuple[str, str]]:
    """(tag, text) pairs from every text-bearing tag: desc, cprt, dmnd, dmdd, `meta`
    dictionary entries (as "name=value"), private text tags, ...

    What identifies nobody is left out: a well-known standard profile's texts and the
    neutral description `sanitize_profile` writes, so a sanitized profile lists nothing.
    Never raises: on a broken profile it returns what could be read. The total text is
    bounded by the profile's size, however many tags point at the same string.
    """
    if _standard_profile(profile) is not None:
        return []
    neutral = {("desc", _neutral_description(profile[16:20]))} if len(profile) >= 20 else set()
    found: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set(neutral)
    budget = len(profile)
    for tag in _readable_tags(profile):
        element = profile[tag.offset : tag.offset + tag.size]
        if element[:4] not in _TEXT_TYPES:
            continue
        for text in _element_texts(element):
            text = text.replace("\x00", "").strip()
            if not text or (tag.name, text) in seen:
                continue
            budget -= len(text)
            if budget < 0:
                return found
            seen.add((tag.name, text))
            found.append((tag.name, text))
    return found


def _readable_tags(profile: bytes) -> Iterator[_Tag]:
    """The tag table's entries whose data lies inside the profile, without validation."""
    if len(profile) < _TAG_TABLE:
        return
    (count,) = struct.unpack_from(">I", profile, HEADER_SIZE)
    count = min(count, MAX_TAGS, (len(profile) - _TAG_TABLE) // 12)
    for index in range(count):
        tag = _Tag(*struct.unpack_from(">4sII", profile, _TAG_TABLE + 12 * index))
        if tag.offset + tag.size <= len(profile):
            yield tag


def _element_texts(element: bytes) -> list[str]:
    """The strings of one text element; what cannot be read is skipped."""
    kind = element[:4]
    if kind == b"text":
        return [_ascii(element[8:])]
    if kind == b"desc":
        return _description_texts(element)
    if kind == b"mluc":
        return _mluc_texts(element, 0)
    return _dictionary_texts(element)


def _ascii(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1")


def _utf16(raw: bytes) -> str:
    return raw[: len(raw) // 2 * 2].decode("utf-16-be", errors="replace")


def _description_texts(element: bytes) -> list[str]:
    """textDescriptionType (ICC.1:2001-04 6.5.17): ASCII, then Unicode, then ScriptCode."""
    if len(element) < 12:
        return []
    ascii_count = _u32(element, 8)
    texts = [_ascii(element[12 : 12 + ascii_count])]
    unicode_at = 12 + ascii_count
    if unicode_at + 8 <= len(element):
        unicode_count = _u32(element, unicode_at + 4)
        start = unicode_at + 8
        texts.append(_utf16(element[start : start + 2 * unicode_count]))
    return texts


def _mluc_texts(element: bytes, at: int) -> list[str]:
    """multiLocalizedUnicodeType (10.15) starting at `at`: every record's string."""
    if at + 16 > len(element) or element[at : at + 4] != b"mluc":
        return []
    count, record_size = _u32(element, at + 8), _u32(element, at + 12)
    if record_size < 12:
        return []
    count = min(count, (len(element) - at - 16) // record_size)
    texts = []
    for index in range(count):
        record = at + 16 + index * record_size
        length, offset = _u32(element, record + 4), _u32(element, record + 8)
        texts.append(_utf16(element[at + offset : at + offset + length]))
    return texts


def _dictionary_texts(element: bytes) -> list[str]:
    """dictType (10.7): each entry as "name=value", then its localised display texts."""
    if len(element) < 16:
        return []
    count, record_size = _u32(element, 8), _u32(element, 12)
    if record_size not in (16, 24, 32):
        return []
    count = min(count, (len(element) - 16) // record_size)
    texts = []
    for index in range(count):
        record = 16 + index * record_size
        fields = [_u32(element, record + 4 * n) for n in range(record_size // 4)]
        name = _utf16(element[fields[0] : fields[0] + fields[1]])
        value = _utf16(element[fields[2] : fields[2] + fields[3]])
        texts.append(f"{name}={value}")
        for offset in fields[4::2]:  # display name and display value: embedded mluc
            if offset:
                texts.extend(_mluc_texts(element, offset))
    return texts
