"""`exif-stripper inspect FILE`: what an image holds, and what `strip` would remove.

Needs the core alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import SanitizeError
from . import files
from .common import IO_ERROR, OK, REJECTED, Commands, add_sanitizer_options, sanitizer_options, say

# Every command's module is imported to build the parser, so what only `inspect` needs is
# imported when it runs: `strip` on a folder of photos is measured against `cp -r` (make
# bench), and Python's start-up is most of a small run.
if TYPE_CHECKING:
    from ..core.inspection import Inspection


def add_parser(commands: Commands) -> None:
    inspect = commands.add_parser("inspect", help="show what an image holds and what strip removes")
    inspect.add_argument("file", metavar="FILE", help="a JPEG, PNG or WebP file, or - for stdin")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    add_sanitizer_options(inspect, orientation=False)
    inspect.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..core.inspection import inspect_stream

    options = sanitizer_options(args)
    try:
        with files.open_input(None if args.file == "-" else Path(args.file)) as handle:
            files.refuse_oversized(handle, options.max_bytes)
            with files.seekable(handle, options.max_bytes) as src:
                result = inspect_stream(src, options)
    except SanitizeError as error:
        say(f"{args.file}: {error}")
        return REJECTED
    except OSError as error:
        say(f"{args.file}: {error.strerror or error}")
        return IO_ERROR
    if args.json:
        print(json.dumps({"file": args.file, **result.as_json()}, indent=2))
    else:
        print(render_inspection(args.file, result))
    if result.rejected:
        say(f"{args.file}: {result.rejected}")
        return REJECTED
    return OK


def render_inspection(name: str, result: Inspection) -> str:
    """The human-readable form of `inspect`: segments, then identifying findings."""
    kind = f"{result.format.upper()}, " if result.format else ""
    lines = [
        f"{name}: {kind}{result.width}x{result.height}, {result.size:,} bytes, "
        f"orientation {result.orientation or 'not set'}",
        f"  {'offset':>10}  {'segment':<10} {'bytes':>11}  {'action':<7} what",
    ]
    lines += [
        f"  {s.offset:>10}  {s.marker:<10} {s.size:>11,}  {s.action:<7} {s.what}"
        for s in result.segments
    ]
    if result.findings:
        lines.append("  identifying data (strip removes all of it):")
        width = max(len(f.category) for f in result.findings)
        lines += [f"    {f.category:<{width}}  {f.detail}  [{f.source}]" for f in result.findings]
    else:
        lines.append("  no identifying data found")
    lines.append(f"  strip would remove {result.removed_bytes:,} bytes")
    if result.reencoded:
        lines.append(f"  strip would re-encode it from its pixels: {result.reencoded}")
    return "\n".join(lines)
