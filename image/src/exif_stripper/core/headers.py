"""The segments a decoder reads, field by field: parsed, checked by libjpeg's rules, written again.

ITU T.81 B.2 defines the fields of the frame header (SOFn), the scan header (SOS) and the
table segments (DQT, DHT, DAC, DRI). Which values a decoder accepts is libjpeg-turbo's
choice, because that is what browsers run: jdmarker.c reads the segments, jdinput.c
checks the frame and latches quantization tables, jdhuff.c / jdphuff.c / jdarith.c check
the scan parameters and the tables a scan uses. A header libjpeg would refuse raises
`BadSegment` here (or `Unsupported` for a flavour no browser shows), so it is never
passed on.

Every kept segment is written again from these fields (`encode`), never copied: bytes a
decoder does not read (a table no scan uses, a DAC segment in a Huffman-coded image,
whatever follows the 12 defined bytes of an Adobe segment) have nowhere to go.

`TableWriter` follows the tables as a decoder does and decides, before each scan, which
definitions the output must carry so that a decoder of the output uses exactly the
tables a decoder of the input used.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from .errors import BadSegment, TooLarge, Undecodable, Unsupported
from .icc import CleanProfile, sanitize_profile
from .jpeg import APP0, APP14, DAC, DHT, DQT, DRI, SOS, Frame, Segment, marker_name

# --- frames (T.81 B.2.2) ----------------------------------------------------------------------

SEQUENTIAL_FRAMES: Final = frozenset({0xC0, 0xC1, 0xC9})
PROGRESSIVE_FRAMES: Final = frozenset({0xC2, 0xCA})
ARITHMETIC_FRAMES: Final = frozenset({0xC9, 0xCA, 0xCB})
LOSSLESS_FRAMES: Final = frozenset({0xC3, 0xCB})

# jmorecfg.h JPEG_MAX_DIMENSION: libjpeg refuses anything larger (JERR_IMAGE_TOO_BIG).
MAX_DIMENSION: Final = 65500
# jpeglib.h D_MAX_BLOCKS_IN_MCU: the most 8x8 blocks one MCU of an interleaved scan holds.
MAX_BLOCKS_IN_MCU: Final = 10
# Successive approximation shifts a coefficient by at most 13 bits (jdphuff.c).
MAX_AL: Final = 13


@dataclass(frozen=True, slots=True)
class Component:
    id: int
    h: int
    v: int
    quant: int  # the quantization table slot (Tq)


@dataclass(frozen=True, slots=True)
class FrameHeader:
    marker: int
    precision: int
    height: int
    width: int
    components: tuple[Component, ...]

    @property
    def progressive(self) -> bool:
        return self.marker in PROGRESSIVE_FRAMES

    @property
    def arithmetic(self) -> bool:
        return self.marker in ARITHMETIC_FRAMES

    @property
    def frame(self) -> Frame:
        """The geometry the transform needs."""
        return Frame(
            self.marker, self.width, self.height, tuple((c.id, c.h, c.v) for c in self.components)
        )

    def component(self, ident: int) -> Component:
        return next(c for c in self.components if c.id == ident)

    def encode(self) -> bytes:
        body = struct.pack(">BHHB", self.precision, self.height, self.width, len(self.components))
        body += b"".join(bytes((c.id, c.h << 4 | c.v, c.quant)) for c in self.components)
        return Segment(self.marker, 0, body).encode()


def parse_frame(segment: Segment) -> FrameHeader:
    """SOFn, checked as jdmarker.c get_sof and jdinput.c initial_setup check it.

    A frame header libjpeg refuses leaves nothing to decode, so the fault is `Undecodable`
    (no re-encode is tried); `Unsupported` flavours and a repeated component id (which
    libjpeg decodes) are `BadSegment`-like refusals the pixel fallback may still answer.
    """
    payload, at, marker = segment.payload, segment.offset, segment.marker
    name = marker_name(marker)
    if len(payload) < 6:
        raise Undecodable(f"{name} frame header too short", at)
    precision, height, width, count = struct.unpack_from(">BHHB", payload)
    if len(payload) != 6 + 3 * count:
        raise Undecodable(f"frame header length does not match its {count} components", at)
    if marker in LOSSLESS_FRAMES:
        raise Unsupported(f"lossless JPEG ({name}) is not shown by browsers", at)
    if precision != 8:
        raise Unsupported(f"{precision}-bit samples (browsers show 8-bit JPEG only)", at)
    if count not in (1, 3, 4):
        # Grey, YCbCr/RGB, CMYK/YCCK: the colour spaces libjpeg converts (jdapimin.c).
        raise Unsupported(f"{count} colour components (1, 3 or 4 are shown)", at)
    if height == 0:
        raise Unsupported("a height defined by DNL is not supported", at)
    if width == 0:
        raise Undecodable("frame width is 0", at)
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise TooLarge(f"{width}x{height} pixels: decoders stop at {MAX_DIMENSION} a side", at)
    components: list[Component] = []
    for i in range(count):
        ident, sampling, quant = payload[6 + 3 * i : 9 + 3 * i]
        h, v = sampling >> 4, sampling & 0x0F
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise Undecodable(f"component {ident} has sampling factors {h}x{v}", at)
        if quant > 3:
            raise Undecodable(f"component {ident} names quantization table {quant}", at)
        if any(c.id == ident for c in components):
            raise BadSegment(f"component id {ident} appears twice in the frame", at)
        components.append(Component(ident, h, v, quant))
    frame = FrameHeader(marker, precision, height, width, tuple(components))
    _check_upsampling(frame, at)
    return frame


def _check_upsampling(frame: FrameHeader, at: int) -> None:
    # jdsample.c upsamples by whole factors only (JERR_FRACT_SAMPLE_NOTIMPL): a component
    # sampled 2x when another is 3x cannot be decoded.
    max_h = max(c.h for c in frame.components)
    max_v = max(c.v for c in frame.components)
    for c in frame.components:
        if max_h % c.h or max_v % c.v:
            raise Undecodable(
                f"component {c.id} sampled {c.h}x{c.v} against {max_h}x{max_v}: "
                "a fractional ratio no decoder upsamples",
                at,
            )


# --- scans (T.81 B.2.3) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanComponent:
    id: int
    dc: int  # Td: DC entropy table selector
    ac: int  # Ta: AC entropy table selector


@dataclass(frozen=True, slots=True)
class ScanHeader:
    components: tuple[ScanComponent, ...]
    ss: int
    se: int
    ah: int
    al: int

    def encode(self) -> bytes:
        body = bytes((len(self.components),))
        body += b"".join(bytes((c.id, c.dc << 4 | c.ac)) for c in self.components)
        body += bytes((self.ss, self.se, self.ah << 4 | self.al))
        return Segment(SOS, 0, body).encode()

    def uses_dc(self, frame: FrameHeader) -> bool:
        """Whether the scan decodes DC coefficients with an entropy table (jdphuff.c)."""
        return not frame.progressive or (self.ss == 0 and self.ah == 0)

    def uses_ac(self, frame: FrameHeader) -> bool:
        return not frame.progressive or self.ss > 0


def parse_scan(segment: Segment, frame: FrameHeader | None) -> ScanHeader:
    """SOS, checked as get_sos, per_scan_setup and the entropy decoders' start_pass do.

    The result is canonical: a sequential scan says Ss=0, Se=63, Ah=Al=0 (libjpeg only
    warns about other values and ignores them), and a table selector the scan does not
    use is written as 0.
    """
    payload, at = segment.payload, segment.offset
    if frame is None:
        raise BadSegment("scan (SOS) before the frame header (SOFn)", at)
    count = payload[0] if payload else 0
    if len(payload) != 4 + 2 * count or not 1 <= count <= 4:
        raise BadSegment("scan header length does not match its component count", at)
    ss, se, approximation = payload[1 + 2 * count : 4 + 2 * count]
    ah, al = approximation >> 4, approximation & 0x0F
    if frame.progressive:
        _check_progression(ss, se, ah, al, count, at)
    else:
        ss, se, ah, al = 0, 63, 0, 0
    in_frame = {c.id: c for c in frame.components}
    dc = not frame.progressive or (ss == 0 and ah == 0)  # as ScanHeader.uses_dc
    ac = not frame.progressive or ss > 0
    components: list[ScanComponent] = []
    blocks = 0
    for i in range(count):
        ident, selectors = payload[1 + 2 * i], payload[2 + 2 * i]
        component = in_frame.pop(ident, None)
        if component is None:
            raise BadSegment(f"scan names component {ident}, not in the frame or twice", at)
        blocks += component.h * component.v
        selected = ScanComponent(ident, selectors >> 4 if dc else 0, selectors & 0x0F if ac else 0)
        components.append(selected)
    if count > 1 and blocks > MAX_BLOCKS_IN_MCU:
        raise BadSegment(f"an MCU of {blocks} blocks (decoders take {MAX_BLOCKS_IN_MCU})", at)
    return ScanHeader(tuple(components), ss, se, ah, al)


def _check_progression(ss: int, se: int, ah: int, al: int, count: int, at: int) -> None:
    # jdphuff.c start_pass_phuff_decoder (jdarith.c checks the same): JERR_BAD_PROGRESSION.
    # A DC scan holds the DC band only; an AC band holds one component.
    band = se == 0 if ss == 0 else ss <= se <= 63 and count == 1
    legal = band and (ah == 0 or al == ah - 1) and al <= MAX_AL
    if not legal:
        raise BadSegment(f"progressive scan parameters Ss={ss} Se={se} Ah={ah} Al={al}", at)


# --- tables (T.81 B.2.4) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuantTable:
    id: int
    precision: int  # 0: 8-bit values, 1: 16-bit values
    values: bytes  # 64 values in zigzag order, as stored

    def encode(self) -> bytes:
        return bytes((self.precision << 4 | self.id,)) + self.values


@dataclass(frozen=True, slots=True)
class HuffmanTable:
    kind: int  # 0: DC, 1: AC
    id: int
    counts: bytes  # codes of each length 1..16
    symbols: bytes

    def encode(self) -> bytes:
        return bytes((self.kind << 4 | self.id,)) + self.counts + self.symbols


@dataclass(frozen=True, slots=True)
class Conditioning:
    """An arithmetic-coding conditioning value (DAC): L and U for DC, Kx for AC."""

    kind: int
    id: int
    value: int

    def encode(self) -> bytes:
        return bytes((self.kind << 4 | self.id, self.value))


Table = QuantTable | HuffmanTable | Conditioning


def parse_quantization_tables(segment: Segment) -> list[QuantTable]:
    """DQT, as get_dqt reads it: any non-zero precision means 16-bit values."""
    payload, at = segment.payload, segment.offset
    tables = []
    pos = 0
    while pos < len(payload):
        precision, ident = payload[pos] >> 4, payload[pos] & 0x0F
        if ident > 3:
            raise BadSegment(f"quantization table id {ident}", at)
        size = 128 if precision else 64
        if pos + 1 + size > len(payload):
            raise BadSegment("DQT length does not match its tables", at)
        tables.append(QuantTable(ident, 1 if precision else 0, payload[pos + 1 : pos + 1 + size]))
        pos += 1 + size
    return tables


def parse_huffman_tables(segment: Segment) -> list[HuffmanTable]:
    """DHT, as get_dht reads it (the code itself is checked when a scan uses the table)."""
    payload, at = segment.payload, segment.offset
    tables = []
    pos = 0
    while len(payload) - pos > 16:
        index = payload[pos]
        counts = payload[pos + 1 : pos + 17]
        count = sum(counts)
        if count > 256 or pos + 17 + count > len(payload):
            raise BadSegment("DHT counts more codes than its length holds", at)
        kind, ident = (1, index - 0x10) if index & 0x10 else (0, index)
        if ident > 3:
            raise BadSegment(f"Huffman table index 0x{index:02X}", at)
        tables.append(HuffmanTable(kind, ident, counts, payload[pos + 17 : pos + 17 + count]))
        pos += 17 + count
    if pos != len(payload):
        raise BadSegment("DHT length does not match its tables", at)
    return tables


def check_huffman_code(table: HuffmanTable, at: int) -> None:
    """Raise unless the table is one libjpeg builds a decoder from (jdhuff.c
    jpeg_make_d_derived_tbl): the counts form a prefix code (T.81 C), and a DC table's
    symbols are at most 15."""
    fault = _huffman_fault(table.kind, table.counts, max(table.symbols, default=0))
    if fault:
        raise BadSegment(f"Huffman table {_table_name(table)} {fault}", at)


@lru_cache(maxsize=256)  # cameras write the same few tables into every photo
def _huffman_fault(kind: int, counts: bytes, largest_symbol: int) -> str:
    code = 0
    for length, count in enumerate(counts, start=1):
        code += count
        # After the codes of this length, the next code must still fit in `length` bits:
        # no code may be all ones.
        if count and code >= 1 << length:
            return "is not a valid code"
        code <<= 1
    if kind == 0 and largest_symbol > 15:
        return "has a DC symbol above 15"
    return ""


def _table_name(table: HuffmanTable) -> str:
    return f"{'AC' if table.kind else 'DC'}{table.id}"


def parse_conditioning(segment: Segment) -> list[Conditioning]:
    """DAC, as get_dac reads it."""
    payload, at = segment.payload, segment.offset
    if len(payload) % 2:
        raise BadSegment("DAC segment has an odd payload length", at)
    tables = []
    for pos in range(0, len(payload), 2):
        index, value = payload[pos], payload[pos + 1]
        if index >= 32:
            raise BadSegment(f"arithmetic conditioning table index {index}", at)
        kind, ident = divmod(index, 16)
        if kind == 0 and value & 0x0F > value >> 4:
            raise BadSegment(f"arithmetic DC conditioning L > U (0x{value:02X})", at)
        tables.append(Conditioning(kind, ident, value))
    return tables


def parse_restart_interval(segment: Segment) -> int:
    if len(segment.payload) != 2:
        length = len(segment.payload) + 2
        raise BadSegment(f"DRI segment has length {length}, expected 4", segment.offset)
    return int.from_bytes(segment.payload, "big")


# libjpeg-turbo's jstdhuff.c: T.81 K.3, the tables Motion-JPEG frames leave out.
_STANDARD_HUFFMAN: Final = {
    (0, 0): (
        bytes((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)),
        bytes(range(12)),
    ),
    (0, 1): (
        bytes((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)),
        bytes(range(12)),
    ),
    (1, 0): (
        bytes((0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D)),
        bytes.fromhex(
            "01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
            "2433627282090a161718191a25262728292a3435363738393a43444546474849"
            "4a535455565758595a636465666768696a737475767778797a83848586878889"
            "8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5"
            "c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
            "f9fa"
        ),
    ),
    (1, 1): (
        bytes((0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77)),
        bytes.fromhex(
            "000102031104052131061241510761711322328108144291a1b1c109233352f0"
            "156272d10a162434e125f11718191a262728292a35363738393a434445464748"
            "494a535455565758595a636465666768696a737475767778797a828384858687"
            "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
            "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8"
            "f9fa"
        ),
    ),
}


def standard_huffman_table(kind: int, ident: int) -> HuffmanTable:
    counts, symbols = _STANDARD_HUFFMAN[(kind, ident)]
    return HuffmanTable(kind, ident, counts, symbols)


# --- what a decoder holds, and what each scan needs ------------------------------------------

TableKey = tuple[str, int, int]  # ("q" | "h" | "c", kind, id)


@dataclass(slots=True)
class DecoderTables:
    """The table slots of a decoder, as T.81 B.2.4 and jdmarker.c get_soi define them."""

    slots: dict[TableKey, Table] = field(default_factory=dict)
    restart_interval: int = 0

    def define(self, segment: Segment) -> list[Table]:
        """Apply one DQT, DHT, DAC or DRI segment; returns the tables it defined."""
        tables: list[Table]
        if segment.marker == DQT:
            tables = list(parse_quantization_tables(segment))
        elif segment.marker == DHT:
            tables = list(parse_huffman_tables(segment))
        elif segment.marker == DAC:
            tables = list(parse_conditioning(segment))
        else:
            assert segment.marker == DRI
            self.restart_interval = parse_restart_interval(segment)
            return []
        for table in tables:
            self.slots[key_of(table)] = table
        return tables

    def get(self, key: TableKey) -> Table | None:
        found = self.slots.get(key)
        if found is None and key[0] == "c":
            # Conditioning values a decoder starts with (get_soi; T.81 F.1.4.4.1.4, F.1.4.4.2.1).
            return Conditioning(key[1], key[2], 0x10 if key[1] == 0 else 5)
        return found


def key_of(table: Table) -> TableKey:
    if isinstance(table, QuantTable):
        return ("q", 0, table.id)
    if isinstance(table, HuffmanTable):
        return ("h", table.kind, table.id)
    return ("c", table.kind, table.id)


def tables_needed(frame: FrameHeader, scan: ScanHeader, latched: set[int]) -> list[TableKey]:
    """The tables a decoder reads for this scan, in the order the output writes them.

    Quantization tables latch at a component's first scan (jdinput.c latch_quant_tables);
    entropy tables are whatever is current when the scan starts.
    """
    needed: set[TableKey] = set()
    kind = "c" if frame.arithmetic else "h"
    dc, ac = scan.uses_dc(frame), scan.uses_ac(frame)
    for component in scan.components:
        if component.id not in latched:
            needed.add(("q", 0, frame.component(component.id).quant))
        if dc:
            needed.add((kind, 0, component.dc))
        if ac:
            needed.add((kind, 1, component.ac))
    return sorted(needed)


def check_selectors(needed: Iterable[TableKey], at: int) -> None:
    # Huffman tables live in 4 slots per class (jdhuff.c: JERR_NO_HUFF_TABLE); arithmetic
    # conditioning in 16 (jdarith.c NUM_ARITH_TBLS), which a 4-bit selector cannot exceed.
    for kind, table_class, ident in needed:
        if kind == "h" and ident > 3:
            name = "AC" if table_class else "DC"
            raise BadSegment(f"scan selects Huffman table {name}{ident}, which cannot exist", at)


def encode_tables(marker: int, tables: Iterable[Table]) -> bytes:
    """One DQT, DHT or DAC segment holding the given tables."""
    return Segment(marker, 0, b"".join(table.encode() for table in tables)).encode()


_MARKER_OF_KIND: Final = {"q": DQT, "h": DHT, "c": DAC}


class TableWriter:
    """Emits, before each scan, the definitions a decoder of the output needs for it.

    Two decoders are followed side by side: one reading the input, one reading the
    output. Before a scan, every table the scan uses is compared between the two; where
    they differ (or the output has none yet) the input's table is written. So the output
    carries exactly the tables its scans use, each once per change, placed where the
    decoder needs it; a table no scan uses is never written.
    """

    def __init__(self) -> None:
        self.input = DecoderTables()
        self.output = DecoderTables()
        self.latched: set[int] = set()
        self.scans = 0
        self._checked: set[HuffmanTable] = set()
        # Definitions of the input that no scan has used yet, for the report.
        self._unused: dict[TableKey, Table] = {}
        self.unused_count = 0
        self.unused_bytes = 0

    def define(self, segment: Segment) -> None:
        """Read one DQT, DHT, DAC or DRI segment of the input."""
        for table in self.input.define(segment):
            self._forget(self._unused.pop(key_of(table), None))
            self._unused[key_of(table)] = table

    def finish(self) -> None:
        """Count the definitions no scan ever used (they were not written)."""
        for table in self._unused.values():
            self._forget(table)
        self._unused.clear()

    def _forget(self, table: Table | None) -> None:
        if table is not None:
            self.unused_count += 1
            self.unused_bytes += len(table.encode())

    def before_scan(self, frame: FrameHeader, scan: ScanHeader, at: int) -> list[bytes]:
        """The segments (DQT, DHT, DAC, DRI) to write right before this scan's SOS."""
        needed = tables_needed(frame, scan, self.latched)
        check_selectors(needed, at)
        if self.scans == 0 and frame.marker in SEQUENTIAL_FRAMES and not frame.arithmetic:
            self._fill_standard_tables()
        changed: dict[str, list[Table]] = {"q": [], "h": [], "c": []}
        for key in needed:
            table = self.input.get(key)
            if table is None:
                raise BadSegment(f"the scan uses {describe_key(key)}, which is not defined", at)
            if isinstance(table, HuffmanTable) and table not in self._checked:
                check_huffman_code(table, at)
                self._checked.add(table)
            self._unused.pop(key, None)
            if self.output.get(key) != table:
                changed[key[0]].append(table)
                self.output.slots[key] = table
        segments = [
            encode_tables(_MARKER_OF_KIND[kind], tables)
            for kind, tables in changed.items()
            if tables
        ]
        if self.input.restart_interval != self.output.restart_interval:
            self.output.restart_interval = self.input.restart_interval
            interval = self.input.restart_interval.to_bytes(2, "big")
            segments.append(Segment(DRI, 0, interval).encode())
        self.latched.update(c.id for c in scan.components)
        self.scans += 1
        return segments

    def _fill_standard_tables(self) -> None:
        # jdhuff.c jinit_huff_decoder: a sequential Huffman frame that defines no DC0/AC0/
        # DC1/AC1 table by its first scan (Motion-JPEG) gets the standard ones (T.81 K.3).
        for kind, ident in _STANDARD_HUFFMAN:
            self.input.slots.setdefault(("h", kind, ident), standard_huffman_table(kind, ident))


def describe_key(key: TableKey) -> str:
    kind, table_class, ident = key
    if kind == "q":
        return f"quantization table {ident}"
    if kind == "h":
        return f"Huffman table {'AC' if table_class else 'DC'}{ident}"
    return f"arithmetic conditioning table {'AC' if table_class else 'DC'}{ident}"


# --- JFIF and Adobe: the two APPn segments a decoder reads -----------------------------------


@dataclass(frozen=True, slots=True)
class Jfif:
    """JFIF 1.02 APP0: version, density units and densities; never a thumbnail."""

    major: int
    minor: int
    units: int
    x_density: int
    y_density: int

    def encode(self) -> bytes:
        body = b"JFIF\x00" + bytes((self.major, self.minor, self.units))
        body += struct.pack(">HH", self.x_density, self.y_density) + b"\x00\x00"
        return Segment(APP0, 0, body).encode()


def parse_jfif(payload: bytes) -> Jfif | None:
    """The fields libjpeg reads from an APP0 `JFIF` (jdmarker.c examine_app0), or None."""
    if len(payload) < 14 or not payload.startswith(b"JFIF\x00"):
        return None
    major, minor, units, x_density, y_density = struct.unpack_from(">BBBHH", payload, 5)
    return Jfif(major, minor, units, x_density, y_density)


@dataclass(frozen=True, slots=True)
class Adobe:
    """Adobe APP14 (Adobe TN 5116): only its colour transform matters to a decoder."""

    transform: int

    def encode(self) -> bytes:
        # "Adobe", DCTEncodeVersion 100, flags0 and flags1 zero, then the transform.
        body = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, self.transform)
        return Segment(APP14, 0, body).encode()

    def for_components(self, count: int) -> Adobe:
        """The transform as libjpeg reads it (jdapimin.c default_decompress_parms).

        For 3 components anything but 0 (RGB) means YCbCr (1); for 4 components
        anything but 0 (CMYK) means YCCK (2); grey ignores it.
        """
        if self.transform == 0 or count == 1:
            return Adobe(0 if count == 1 else self.transform)
        return Adobe(1 if count == 3 else 2)


def parse_adobe(payload: bytes) -> Adobe | None:
    if len(payload) < 12 or not payload.startswith(b"Adobe"):
        return None
    return Adobe(payload[11])


# --- the ICC profile, as the sanitizer and the verifier both clean it ------------------------

_SMALL_PROFILE: Final = 64 * 1024
_clean_small_profile = lru_cache(maxsize=64)(sanitize_profile)


def clean_profile(profile: bytes) -> CleanProfile:
    """`icc.sanitize_profile`, remembered for the small profiles cameras put in every photo
    (the sanitizer cleans a profile and the verifier checks it is clean: once each)."""
    if len(profile) <= _SMALL_PROFILE:
        return _clean_small_profile(profile)
    return sanitize_profile(profile)
