"""An independent oracle: what exiftool finds in an image, and which of it identifies someone.

The sanitizer's tests must not judge its output with its own parser, so they ask exiftool
(Phil Harvey's reader, Debian package `libimage-exiftool-perl`), which knows thousands of
vendor formats the sanitizer never heard of. One long-running `exiftool -stay_open`
process serves every call, and a call may carry many files, so the ~150 ms Perl start-up
is paid once per test session.

The options (`EXIFTOOL_ARGS`) are chosen so that nothing hides:

- `-ee` makes exiftool read past the first SOS (otherwise it stops there and never sees
  APPn/COM between progressive scans), report a video appended after EOI
  (`EmbeddedVideo`), and parse MPF images as embedded documents (`Doc1`, `Doc2`, ...);
- `-Trailer` (besides `-All`) reports any bytes after EOI, even padding, as `File:Trailer`;
- `-u` turns each APPn segment exiftool does not know into a warning;
- `-a -G3:4:1` keeps duplicates apart: keys read `[DocN:][CopyN:]Group:Tag`. Without the
  family-4 `CopyN` exiftool's JSON keeps only one of two COM segments or two XMP packets;
- `-n` gives numbers (decimal degrees, not "48 deg 51' 29.60\" N").
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

TagValue: TypeAlias = str | int | float | bool | list[object] | dict[str, object] | None
#: What the oracle accepts: the bytes of an image (JPEG, PNG, WebP), or a path to one.
Item: TypeAlias = bytes | Path

EXIFTOOL_ARGS = ("-json", "-a", "-G3:4:1", "-u", "-ee", "-n", "-All", "-Trailer")

#: Tags a sanitized JPEG may still show, per family-1 group (None: every tag of the group).
#: Everything else in the file itself, and everything at all in an embedded document, is a
#: finding. The list is deliberately explicit: a tag exiftool learns tomorrow is a finding
#: until someone decides it is harmless.
HARMLESS_TAGS: Mapping[str, frozenset[str] | None] = {
    # exiftool's own version. Not Warning or Error: a warning about an unknown APPn segment
    # or an unreadable trailer means bytes were left that nobody can vouch for.
    "ExifTool": frozenset({"ExifToolVersion"}),
    # facts about the file on disk (name, directory, size, dates, permissions)
    "System": None,
    # the file type and what SOF says: dimensions, coding process, components, sampling.
    # Not Comment (COM), ExifByteOrder (EXIF), CurrentIPTCDigest (IPTC), Trailer or
    # EmbeddedVideo (bytes after EOI).
    "File": frozenset(
        {
            "FileType",
            "FileTypeExtension",
            "MIMEType",
            "ImageWidth",
            "ImageHeight",
            "EncodingProcess",
            "BitsPerSample",
            "ColorComponents",
            "YCbCrSubSampling",
        }
    ),
    # the JFIF header the sanitizer keeps; ThumbnailWidth/Height/TIFF would be a thumbnail
    "JFIF": frozenset({"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}),
    # APP14 Adobe, kept because CMYK and YCCK do not decode correctly without it
    "Adobe": frozenset({"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"}),
    # exiftool's arithmetic on the harmless tags above (GPSPosition, LensID... are not)
    "Composite": frozenset({"ImageSize", "Megapixels"}),
    # PNG: IHDR, and the colour and layout chunks the sanitizer keeps (gAMA, cHRM, sRGB,
    # sBIT, bKGD, tRNS, PLTE, acTL). Not Author, Comment, Description..., (text chunks),
    # ModifyDate (tIME), or ProfileName unless it is the neutral one (HARMLESS_VALUES).
    "PNG": frozenset(
        {
            "ImageWidth",
            "ImageHeight",
            "BitDepth",
            "ColorType",
            "Compression",
            "Filter",
            "Interlace",
            "Gamma",
            "WhitePointX",
            "WhitePointY",
            "RedX",
            "RedY",
            "GreenX",
            "GreenY",
            "BlueX",
            "BlueY",
            "SRGBRendering",
            "SignificantBits",
            "BackgroundColor",
            "Transparency",
            "Palette",
            "AnimationFrames",
            "AnimationPlays",
            "ProfileName",
        }
    ),
    "PNG-pHYs": None,  # pixels per unit, and the unit
    "PNG-cICP": None,  # the colour space as four code points (ITU-T H.273)
    # WebP: VP8X's flags and canvas, ANIM, the VP8 and ALPH headers. Not anything from
    # EXIF or XMP (their own groups).
    "RIFF": frozenset(
        {
            "WebP_Flags",
            "ImageWidth",
            "ImageHeight",
            "BackgroundColor",
            "AnimationLoopCount",
            "Duration",
            "AlphaPreprocessing",
            "AlphaFiltering",
            "AlphaCompression",
            "VP8Version",
            "HorizontalScale",
            "VerticalScale",
        }
    ),
}
#: Tags that are harmless only with these values: the ICC profile's name in a PNG is
#: free text, and the sanitizer writes a neutral one.
HARMLESS_VALUES: Mapping[str, frozenset[str]] = {"PNG:ProfileName": frozenset({"ICC profile"})}
#: The ICC profile's groups (ICC_Profile, ICC-header, ICC-chrm, ICC-meas, ICC-view): the
#: profile describes colours, not people, and design.md, "Sanitizer: ICC profiles", keeps it
#: byte-identical.
HARMLESS_GROUP_PREFIXES = ("ICC",)
#: What the `keep-tag` orientation policy adds: a minimal EXIF with Orientation only.
KEEP_TAG_ALLOWED = frozenset({"IFD0:Orientation", "File:ExifByteOrder"})


@dataclass(frozen=True)
class Tag:
    """One tag as exiftool reports it."""

    group: str  # family-1 group: IFD0, GPS, XMP-exif, IPTC, MPF0, File, Samsung, ...
    name: str
    value: TagValue
    #: "" for the file itself; "Doc1", "Doc2-1", ... for an embedded document (an MPF image)
    document: str = ""
    #: 0 for the first occurrence of the name; n for exiftool's duplicate "Copy n"
    copy: int = 0

    @property
    def key(self) -> str:
        """`Group:Tag`, prefixed with `DocN:` for an embedded document."""
        prefix = f"{self.document}:" if self.document else ""
        return f"{prefix}{self.group}:{self.name}"


@dataclass(frozen=True)
class ExiftoolReport:
    """Everything exiftool reports for one file."""

    source: str
    tags: tuple[Tag, ...]

    def values(self, group: str, name: str, *, document: str = "") -> list[TagValue]:
        """Every value of a tag (duplicates included), in file order."""
        return [
            t.value
            for t in self.tags
            if t.group == group and t.name == name and t.document == document
        ]

    def has(self, group: str, name: str, *, document: str = "") -> bool:
        return bool(self.values(group, name, document=document))

    def groups(self, *, document: str = "") -> frozenset[str]:
        return frozenset(t.group for t in self.tags if t.document == document)

    def documents(self) -> frozenset[str]:
        """The embedded documents exiftool opened (MPF images), e.g. {"Doc2"}."""
        return frozenset(t.document for t in self.tags if t.document)

    @property
    def warnings(self) -> list[str]:
        return [str(v) for v in self.values("ExifTool", "Warning")]

    @property
    def errors(self) -> list[str]:
        return [str(v) for v in self.values("ExifTool", "Error")]


class ExiftoolError(RuntimeError):
    """exiftool is missing, died, or answered something that is not its JSON."""


# ------------------------------------------------------------------------------------------
# Running exiftool
# ------------------------------------------------------------------------------------------


class Exiftool:
    """One `exiftool -stay_open True -@ -` process: arguments in on stdin, JSON out.

    Each request is the argument lines followed by `-execute<n>`; exiftool answers on
    stdout and ends with `{ready<n>}`. stderr goes to a temporary file so it can never
    fill a pipe and stall the process.
    """

    def __init__(self, executable: str = "exiftool") -> None:
        path = shutil.which(executable)
        if path is None:
            raise ExiftoolError(
                "exiftool is not installed (Debian: apt-get install libimage-exiftool-perl;"
                " `make system-deps` does it)"
            )
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives with self
        self._process = subprocess.Popen(
            [path, "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()
        self._requests = 0

    def run(self, paths: Sequence[Path], args: Sequence[str] = EXIFTOOL_ARGS) -> list[object]:
        """exiftool's JSON records for the files, in the order given."""
        if not paths:
            return []
        with self._lock:
            self._requests += 1
            ready = f"{{ready{self._requests}}}"
            lines = [*args, "-charset", "filename=utf8", *(str(p) for p in paths)]
            stdin, stdout = self._process.stdin, self._process.stdout
            if stdin is None or stdout is None or self._process.poll() is not None:
                raise ExiftoolError(f"exiftool is not running{self._stderr_tail()}")
            stdin.write("\n".join(lines) + f"\n-execute{self._requests}\n")
            stdin.flush()
            output = []
            for line in stdout:
                if line.rstrip("\n") == ready:
                    break
                output.append(line)
            else:
                raise ExiftoolError(f"exiftool stopped mid-answer{self._stderr_tail()}")
        text = "".join(output).strip()
        if not text:
            raise ExiftoolError(f"exiftool printed nothing{self._stderr_tail()}")
        records = json.loads(text, object_pairs_hook=list)
        if not isinstance(records, list) or len(records) != len(paths):
            raise ExiftoolError(
                f"expected {len(paths)} JSON records, got {text[:200]}{self._stderr_tail()}"
            )
        return records

    def close(self) -> None:
        """Ask exiftool to leave, and wait for it."""
        if self._process.poll() is None and self._process.stdin is not None:
            try:
                self._process.stdin.write("-stay_open\nFalse\n")
                self._process.stdin.flush()
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._stderr.close()

    def __enter__(self) -> Exiftool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace").strip()
        return f": {tail}" if tail else ""


_shared: Exiftool | None = None
_shared_lock = threading.Lock()


def shared_exiftool() -> Exiftool:
    """The process every helper below uses; started on first use, stopped at exit."""
    global _shared  # one process per interpreter, by design
    with _shared_lock:
        if _shared is None:
            _shared = Exiftool()
            atexit.register(_shared.close)
        return _shared


def exiftool_available() -> bool:
    return shutil.which("exiftool") is not None


def exiftool_reports(items: Sequence[Item]) -> list[ExiftoolReport]:
    """Reports for many JPEGs (bytes or paths) from one exiftool request."""
    with tempfile.TemporaryDirectory(prefix="oracle-") as scratch:
        paths = []
        for index, item in enumerate(items):
            if isinstance(item, Path):
                paths.append(item)
            else:
                path = Path(scratch) / f"sample-{index}.{_extension(item)}"
                path.write_bytes(item)
                paths.append(path)
        records = shared_exiftool().run(paths)
    return [parse_record(r) for r in records]


def _extension(data: bytes) -> str:
    """exiftool reads by content; the name only makes a failing test's file readable."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "jpg"


def exiftool_report(item: Item) -> ExiftoolReport:
    """The report for one JPEG (bytes or a path)."""
    return exiftool_reports([item])[0]


# ------------------------------------------------------------------------------------------
# Reading exiftool's JSON
# ------------------------------------------------------------------------------------------


def parse_record(record: object) -> ExiftoolReport:
    """One JSON record (kept as a list of key/value pairs) as a report."""
    if not isinstance(record, list):
        raise ExiftoolError(f"unexpected JSON record: {record!r:.200}")
    source = ""
    tags = []
    for key, value in record:
        if key == "SourceFile":
            source = str(value)
            continue
        tags.append(parse_key(str(key), _tag_value(value)))
    return ExiftoolReport(source, tuple(tags))


def parse_key(key: str, value: TagValue) -> Tag:
    """`[DocN:][CopyN:]Group:Tag` (from `-G3:4:1`) as a Tag."""
    *prefixes, group, name = key.split(":")
    document, copy = "", 0
    for prefix in prefixes:
        if prefix.startswith("Doc"):
            document = prefix
        elif prefix.startswith("Copy"):
            copy = int(prefix[4:])
        elif prefix != "Main":
            raise ExiftoolError(f"unexpected group prefix {prefix!r} in {key!r}")
    return Tag(group, name, value, document, copy)


def _tag_value(value: object) -> TagValue:
    """JSON objects arrive as lists of (key, value) tuples (object_pairs_hook); make dicts."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return {str(k): v for k, v in value}
    if value is None or isinstance(value, str | int | float | bool | list):
        return value
    raise ExiftoolError(f"unexpected JSON value {value!r:.100}")


# ------------------------------------------------------------------------------------------
# Findings
# ------------------------------------------------------------------------------------------


def is_harmless(tag: Tag, extra_allowed: Iterable[str] = ()) -> bool:
    """Whether a tag may remain in a sanitized JPEG (see HARMLESS_TAGS)."""
    if tag.document:
        return False  # an embedded document is a second image: it should not exist at all
    if tag.key in set(extra_allowed):
        return True
    if tag.key in HARMLESS_VALUES and str(tag.value) not in HARMLESS_VALUES[tag.key]:
        return False
    if tag.group.startswith(HARMLESS_GROUP_PREFIXES):
        return True
    if tag.group not in HARMLESS_TAGS:
        return False
    allowed = HARMLESS_TAGS[tag.group]
    return allowed is None or tag.name in allowed


def findings(report: ExiftoolReport, extra_allowed: Iterable[str] = ()) -> list[str]:
    """Every tag of a report that is not harmless, as `[DocN:]Group:Tag = value`.

    Identical lines are listed once: with `-ee`, exiftool re-reads a trailer at every SOS
    of a progressive JPEG and reports its tags once per scan.
    """
    allowed = frozenset(extra_allowed)
    described = (_describe(t) for t in report.tags if not is_harmless(t, allowed))
    return list(dict.fromkeys(described))


def identifying_findings(item: Item, extra_allowed: Iterable[str] = ()) -> list[str]:
    """What exiftool finds in an image beyond the harmless file, JFIF, Adobe, PNG, WebP
    and ICC facts.

    EXIF (IFD0, ExifIFD, GPS, IFD1 thumbnail), maker notes, XMP (extended included), IPTC,
    Photoshop, MPF and its images, FlashPix, comments, trailers, embedded video, unknown
    APPn segments (as warnings): an empty list means exiftool sees nothing that identifies.
    `extra_allowed` permits more `Group:Tag` keys (e.g. KEEP_TAG_ALLOWED).
    """
    return findings(exiftool_report(item), extra_allowed)


def identifying_findings_many(
    items: Sequence[Item], extra_allowed: Iterable[str] = ()
) -> list[list[str]]:
    """`identifying_findings` for many JPEGs with one exiftool request."""
    allowed = frozenset(extra_allowed)
    return [findings(r, allowed) for r in exiftool_reports(items)]


def _describe(tag: Tag, width: int = 72) -> str:
    text = (
        json.dumps(tag.value, ensure_ascii=False) if not isinstance(tag.value, str) else tag.value
    )
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f"{tag.key} = {text}"
