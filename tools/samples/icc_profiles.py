"""ICC profiles built in code, carrying the identity that calibration tools write into them.

Every profile here is one lcms opens and converts colours through (Pillow's ImageCms), and
every one carries text a user would not want published: an owner's name and a monitor's
serial in `desc`, `cprt`, `dmnd` and `dmdd`, a DisplayCAL-style `meta` dictionary with
EDID serials, private tags, a bogus creation date and vendor fields in the header.

The bytes are written with `struct` from ICC.1:2022 (header 7.2, tag table 7.3, tag types
section 10) and ICC.1:2001-04 for the v2 text types, independently of the product's
`exif_stripper.core.icc`, so the tests do not share a bug with the code they check.

Top-down: the identity canaries; ready-made profiles; the tag-type builders; assembly.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# =========================================================================================
# What must not survive
# =========================================================================================

OWNER = "Alice Example"
SERIAL = "SN-21304117"
EDID_SERIAL = "EDID-7F3A91C2"
MODEL = "ColorEdge CG277 #4711"
#: Strings that identify; none may appear in a sanitized profile, in any encoding.
CANARIES = (OWNER, SERIAL, EDID_SERIAL, MODEL, "Private tag payload")


def canary_hits(data: bytes) -> list[str]:
    """The canaries found in `data`, as ASCII/Latin-1 or UTF-16BE (mluc, dict) text."""
    return [
        canary
        for canary in CANARIES
        if canary.encode("latin-1") in data or canary.encode("utf-16-be") in data
    ]


# =========================================================================================
# Ready-made profiles
# =========================================================================================


@dataclass(frozen=True)
class Header:
    """The header fields a test sets (ICC.1:2022 7.2); identity fields filled by default."""

    device_class: bytes = b"mntr"
    colour_space: bytes = b"RGB "
    pcs: bytes = b"XYZ "
    version: int = 0x04300000
    intent: int = 0
    cmm: bytes = b"ADBE"
    platform: bytes = b"APPL"
    flags: int = 0x00010001  # embedded, plus a CMM-vendor bit
    manufacturer: bytes = b"ENC "
    model: bytes = b"CG27"
    attributes: int = 0x00000000_7A7A0001  # vendor bits and "transparency"
    creator: bytes = b"dcal"
    #: Year 9999, month 13, day 45: the bogus date some tools write.
    created: tuple[int, int, int, int, int, int] = (9999, 13, 45, 25, 61, 61)
    with_profile_id: bool = True


def identity_tags(version: int) -> list[tuple[bytes, bytes]]:
    """The text and identity tags a calibration tool writes, in the version's types."""
    v4 = version >= 0x04000000
    description = f"{OWNER}'s {MODEL} ({SERIAL})"
    return [
        (b"desc", mluc(description) if v4 else text_description(description)),
        (b"cprt", mluc(f"Copyright {OWNER}") if v4 else text(f"Copyright {OWNER}")),
        (b"dmnd", mluc("EIZO") if v4 else text_description("EIZO")),
        (b"dmdd", mluc(f"{MODEL} {SERIAL}") if v4 else text_description(f"{MODEL} {SERIAL}")),
        (b"vued", mluc(f"{OWNER}'s office") if v4 else text_description(f"{OWNER}'s office")),
        (b"view", view()),
        (b"targ", text(f"CTI3 ORIGINATOR {OWNER} SERIAL {SERIAL}")),
        (b"ciis", signature(b"scoe")),
        (b"calt", date_time((2024, 3, 1, 12, 0, 0))),
        (b"tech", signature(b"AMD ")),
        (
            b"meta",
            dictionary(
                {
                    "prefix": "EDID_",
                    "EDID_serial": EDID_SERIAL,
                    "EDID_model": MODEL,
                    "OWNER": OWNER,
                }
            ),
        ),
        (b"DevD", text(f"Private tag payload: {SERIAL}")),  # DisplayCAL-style private
        (b"mmod", b"mmod" + bytes(4) + SERIAL.encode() + bytes(8)),  # Apple's make/model
        (b"vcgt", b"vcgt" + bytes(4) + random.Random(1).randbytes(40)),  # video card gamma
    ]


def matrix_rgb(version: int = 0x04300000, *, trc: str = "para") -> bytes:
    """A display profile in the matrix/TRC model (Display P3-like primaries)."""
    curve = {
        "para": parametric(3, (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)),
        "gamma": gamma_curve(2.2),
        "table": sampled_curve([(i / 1023) ** 2.2 for i in range(1024)]),
    }[trc]
    tags = [
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"bkpt", xyz(0.0, 0.0, 0.0)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (
            b"chad",
            sf32([1.0479, 0.0229, -0.0502, 0.0296, 0.9904, -0.0171, -0.0092, 0.0151, 0.7519]),
        ),
        (b"chrm", chromaticity([(0.68, 0.32), (0.265, 0.69), (0.15, 0.06)])),
        (b"lumi", xyz(0.0, 160.0, 0.0)),
        (b"meas", measurement()),
    ]
    shared = [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]  # written once, shared
    return build(Header(version=version), [*identity_tags(version), *tags], shared=shared)


def gray(version: int = 0x02100000) -> bytes:
    """A gray display profile: one TRC and the white point."""
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"kTRC", gamma_curve(1.8))]
    header = Header(colour_space=b"GRAY", version=version)
    return build(header, [*identity_tags(version), *tags])


def lut_rgb(version: int = 0x02100000) -> bytes:
    """An input (camera) profile with LUTs: mft2 for v2, mAB/mBA for v4; PCS Lab."""
    rng = random.Random(version)
    if version >= 0x04000000:
        a2b, b2a = lut_a_to_b(3, 3, 9, rng), lut_b_to_a(3, 3, 9, rng)
    else:
        a2b, b2a = lut16(3, 3, 9, rng), lut16(3, 3, 9, rng)
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"A2B0", a2b), (b"B2A0", b2a)]
    header = Header(device_class=b"scnr", pcs=b"Lab ", version=version, intent=0)
    return build(header, [*identity_tags(version), *tags], shared=[(b"A2B1", a2b)])


def cmyk(version: int = 0x02100000, *, grid: int = 5) -> bytes:
    """A press profile: CMYK <-> Lab tables for three intents and a gamut tag.

    The CMYK -> Lab table has `grid` points per channel: 41 makes a 16 MiB profile.
    """
    rng = random.Random(version + 4)
    if version >= 0x04000000:
        a2b, b2a, gamut = lut_a_to_b(4, 3, grid, rng), lut_b_to_a(3, 4, 9, rng), None
    else:
        a2b, b2a, gamut = lut16(4, 3, grid, rng), lut16(3, 4, 9, rng), lut16(3, 1, 9, rng)
    tags = [(b"wtpt", xyz(0.8, 0.83, 0.7)), (b"bkpt", xyz(0.01, 0.01, 0.01))]
    tags += [(b"A2B0", a2b), (b"B2A0", b2a), (b"A2B1", a2b), (b"B2A1", b2a)]
    tags += [(b"A2B2", a2b), (b"B2A2", b2a)]
    if gamut is not None:
        tags.append((b"gamt", gamut))
    header = Header(
        device_class=b"prtr", colour_space=b"CMYK", pcs=b"Lab ", version=version, intent=1
    )
    return build(header, [*identity_tags(version), *tags])


# =========================================================================================
# Tag types (ICC.1:2022 section 10; v2 text types from ICC.1:2001-04 6.5)
# =========================================================================================


def s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)


def sf32(values: Sequence[float]) -> bytes:
    return b"sf32" + bytes(4) + b"".join(s15(v) for v in values)


def gamma_curve(gamma: float) -> bytes:
    """curveType with one entry: a u8Fixed8 gamma."""
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def sampled_curve(values: Sequence[float]) -> bytes:
    body = b"".join(struct.pack(">H", round(v * 65535)) for v in values)
    return b"curv" + bytes(4) + struct.pack(">I", len(values)) + body


def parametric(function: int, parameters: Sequence[float]) -> bytes:
    return b"para" + bytes(4) + struct.pack(">HH", function, 0) + b"".join(map(s15, parameters))


def chromaticity(xy: Sequence[tuple[float, float]]) -> bytes:
    pairs = b"".join(struct.pack(">II", round(x * 65536), round(y * 65536)) for x, y in xy)
    return b"chrm" + bytes(4) + struct.pack(">HH", len(xy), 0) + pairs


def measurement() -> bytes:
    return b"meas" + bytes(4) + struct.pack(">I", 1) + bytes(12) + struct.pack(">III", 0, 0, 1)


def view() -> bytes:
    return b"view" + bytes(4) + xyz(20, 21, 17)[8:] + xyz(4, 4, 3)[8:] + struct.pack(">I", 1)


def signature(value: bytes) -> bytes:
    return b"sig " + bytes(4) + value


def date_time(when: tuple[int, int, int, int, int, int]) -> bytes:
    return b"dtim" + bytes(4) + struct.pack(">6H", *when)


def text(value: str) -> bytes:
    return b"text" + bytes(4) + value.encode("ascii") + b"\x00"


def text_description(value: str) -> bytes:
    """textDescriptionType with the ASCII and the Unicode description."""
    ascii_text = value.encode("ascii") + b"\x00"
    unicode_text = value.encode("utf-16-be")
    return (
        b"desc"
        + bytes(4)
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0x656E5553, len(value))
        + unicode_text
        + struct.pack(">HB", 0, 0)
        + bytes(67)
    )


def mluc(value: str, languages: Iterable[bytes] = (b"enUS", b"deDE")) -> bytes:
    """multiLocalizedUnicodeType with the same text under several languages."""
    codes = list(languages)
    encoded = value.encode("utf-16-be")
    first = 16 + 12 * len(codes)
    records = b"".join(
        code + struct.pack(">II", len(encoded), first + i * len(encoded))
        for i, code in enumerate(codes)
    )
    return b"mluc" + bytes(4) + struct.pack(">II", len(codes), 12) + records + encoded * len(codes)


def dictionary(entries: dict[str, str]) -> bytes:
    """dictType (10.7) with 16-byte records: name and value as UTF-16BE."""
    strings = bytearray()
    records = bytearray()
    start = 16 + 16 * len(entries)
    for name, value in entries.items():
        name_bytes, value_bytes = name.encode("utf-16-be"), value.encode("utf-16-be")
        name_at = start + len(strings)
        strings += name_bytes
        value_at = start + len(strings)
        strings += value_bytes
        records += struct.pack(">IIII", name_at, len(name_bytes), value_at, len(value_bytes))
    return b"dict" + bytes(4) + struct.pack(">II", len(entries), 16) + records + strings


def lut16(inputs: int, outputs: int, grid: int, rng: random.Random) -> bytes:
    """lut16Type (mft2): identity matrix, gamma-like input and output tables, a CLUT."""
    matrix = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    entries = 256
    in_tables = b"".join(
        struct.pack(
            f">{entries}H", *(round(65535 * (i / 255) ** (1 + 0.1 * c)) for i in range(entries))
        )
        for c in range(inputs)
    )
    clut = rng.randbytes(2 * grid**inputs * outputs)  # random 16-bit entries
    out_tables = b"".join(
        struct.pack(f">{entries}H", *(round(65535 * (i / 255) ** 0.9) for i in range(entries)))
        for _ in range(outputs)
    )
    head = b"mft2" + bytes(4) + bytes((inputs, outputs, grid, 0)) + matrix
    return head + struct.pack(">HH", entries, entries) + in_tables + clut + out_tables


def _curves(count: int, gamma: float) -> bytes:
    return b"".join(_padded(gamma_curve(gamma + 0.1 * i)) for i in range(count))


def _clut(inputs: int, outputs: int, grid: int, rng: random.Random) -> bytes:
    points = bytes([grid] * inputs + [0] * (16 - inputs))
    values = rng.randbytes(2 * grid**inputs * outputs)  # random 16-bit entries
    return _padded(points + bytes((2, 0, 0, 0)) + values)


def _lut_ab(kind: bytes, inputs: int, outputs: int, elements: list[tuple[int, bytes]]) -> bytes:
    """mAB/mBA: the 32-byte head with offsets (B, matrix, M, CLUT, A), then the elements."""
    offsets = [0] * 5
    body = bytearray()
    for slot, element in elements:
        offsets[slot] = 32 + len(body)
        body += element
    return kind + bytes(4) + bytes((inputs, outputs, 0, 0)) + struct.pack(">5I", *offsets) + body


_B, _MATRIX, _M, _CLUT, _A = range(5)


def lut_a_to_b(inputs: int, outputs: int, grid: int, rng: random.Random) -> bytes:
    """lutAtoBType (mAB): A curves, CLUT, M curves, matrix, B curves."""
    matrix = b"".join(s15(v) for v in (0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0, 0.1, 0.9, 0, 0, 0))
    elements = [
        (_B, _curves(outputs, 1.0)),
        (_MATRIX, matrix),
        (_M, _curves(outputs, 1.1)),
        (_CLUT, _clut(inputs, outputs, grid, rng)),
        (_A, _curves(inputs, 1.8)),
    ]
    return _lut_ab(b"mAB ", inputs, outputs, elements)


def lut_b_to_a(inputs: int, outputs: int, grid: int, rng: random.Random) -> bytes:
    """lutBtoAType (mBA): B curves, CLUT, A curves."""
    elements = [
        (_B, _curves(inputs, 1.0)),
        (_CLUT, _clut(inputs, outputs, grid, rng)),
        (_A, _curves(outputs, 0.6)),
    ]
    return _lut_ab(b"mBA ", inputs, outputs, elements)


# =========================================================================================
# Assembly: header, tag table, tag data
# =========================================================================================


def _padded(element: bytes) -> bytes:
    return element + bytes(-len(element) % 4)


@dataclass
class _Layout:
    table: list[tuple[bytes, int, int]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


def build(
    header: Header,
    tags: Sequence[tuple[bytes, bytes]],
    *,
    shared: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """A profile: the header, the tag table, then each element on a 4-byte boundary.

    Tags in `shared` whose element equals one written before point at the same bytes, as
    real profiles do for three identical TRCs.
    """
    count = len(tags) + len(shared)
    data_start = 132 + 12 * count
    layout = _Layout()
    written: dict[bytes, int] = {}
    for sig, element in [*tags, *shared]:
        if element not in written:
            written[element] = data_start + len(layout.body)
            layout.body += _padded(element)
        layout.table.append((sig, written[element], len(element)))
    table = b"".join(struct.pack(">4sII", *entry) for entry in layout.table)
    profile = bytearray(header_bytes(header) + struct.pack(">I", count) + table + layout.body)
    struct.pack_into(">I", profile, 0, len(profile))
    if header.with_profile_id:
        profile[84:100] = profile_id(bytes(profile))
    return bytes(profile)


def header_bytes(header: Header) -> bytes:
    head = bytearray(128)
    struct.pack_into(
        ">4sI4s4s4s",
        head,
        4,
        header.cmm,
        header.version,
        header.device_class,
        header.colour_space,
        header.pcs,
    )
    struct.pack_into(">6H", head, 24, *header.created)
    head[36:40] = b"acsp"
    head[40:44] = header.platform
    struct.pack_into(
        ">I4s4sQI",
        head,
        44,
        header.flags,
        header.manufacturer,
        header.model,
        header.attributes,
        header.intent,
    )
    head[68:80] = s15(0.9642) + s15(1.0) + s15(0.8249)
    head[80:84] = header.creator
    head[100:108] = b"reserved"  # bytes the spec reserves (zero): a place to smuggle
    return bytes(head)


def profile_id(profile: bytes) -> bytes:
    """MD5 of the profile with flags, intent and profile ID zeroed (ICC.1:2022 7.2.18)."""
    scratch = bytearray(profile)
    scratch[44:48] = bytes(4)
    scratch[64:68] = bytes(4)
    scratch[84:100] = bytes(16)
    return hashlib.md5(scratch).digest()  # noqa: S324 - ICC specifies MD5


def shown_in_srgb(image_file: bytes) -> bytes:
    """An image file's pixels as a colour-managed viewer shows them: converted by lcms
    through the file's embedded profile into sRGB (every frame but the first ignored)."""
    from PIL import Image, ImageCms

    with Image.open(io.BytesIO(image_file)) as image:
        image.load()
        profile = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        rgb = image.convert("RGB")
        shown = ImageCms.profileToProfile(rgb, profile, ImageCms.createProfile("sRGB"))
        assert shown is not None  # None only when converting in place
        return shown.tobytes()
