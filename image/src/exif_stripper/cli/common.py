"""What every command shares: exit codes, usage errors, messages on stderr, and the flags
of the sanitizer and of the buckets.

Exit codes, which scripts depend on: 0 ok, 1 an I/O error, 2 usage, 3 at least one input
rejected.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import TYPE_CHECKING, Final, TypeAlias

from ..core.sanitize import DEFAULT_MAX_BYTES, DamagedPolicy, Options, OrientationPolicy

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..aws.settings import Settings

OK: Final = 0
IO_ERROR: Final = 1
USAGE: Final = 2
REJECTED: Final = 3


# What `add_parser` of each command's module registers itself with (generic for the type
# checker only, hence the string).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(Exception):
    """A command line that cannot work: argparse's message and exit code 2."""


# --- messages ----------------------------------------------------------------------------------


class _Messages:
    """stderr: one whole line per message whatever the threads do, above the progress bar
    when one is drawn (a message written into the bar's line would garble both)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bar: type[tqdm[int]] | None = None

    def say(self, line: str) -> None:
        line = printable(line)
        with self._lock:
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()


MESSAGES: Final = _Messages()


def printable(line: str) -> str:
    """`line` with what is not printable escaped: a file name or an S3 key may hold a
    newline or a terminal's control codes, and shown escaped it can neither split a line
    of output nor forge one."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


def say(*parts: object) -> None:
    MESSAGES.say(" ".join(map(str, ("exif-stripper:", *parts))))


# --- the sanitizer's flags ---------------------------------------------------------------------


def add_sanitizer_options(
    parser: argparse.ArgumentParser, *, orientation: bool = True, from_env: bool = False
) -> None:
    """The sanitizer's settings; with `from_env`, unset flags defer to the environment."""
    if orientation:
        parser.add_argument(
            "--orientation",
            choices=[policy.value for policy in OrientationPolicy],
            default=None if from_env else OrientationPolicy.APPLY.value,
            help="apply: turn the pixels upright (default); keep-tag: keep only the "
            "Orientation tag; drop: ignore orientation",
        )
    parser.add_argument(
        "--damaged",
        choices=[policy.value for policy in DamagedPolicy],
        default=None if from_env else DamagedPolicy.REENCODE.value,
        help="reencode: a JPEG that cannot be passed on losslessly is decoded and encoded "
        "again from its pixels (default); reject: it is refused",
    )
    parser.add_argument(
        "--max-bytes",
        type=positive,
        default=None if from_env else DEFAULT_MAX_BYTES,
        help=f"largest input accepted (default {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--pixel-budget-mb",
        type=positive,
        default=None,
        help="memory that turning or re-encoding one picture may take (default: from "
        "PIXEL_BUDGET_MB, else from the machine)",
    )


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def sanitizer_options(args: argparse.Namespace) -> Options:
    policy = OrientationPolicy(getattr(args, "orientation", OrientationPolicy.DROP.value))
    budget = args.pixel_budget_mb
    return Options(
        policy,
        damaged=DamagedPolicy(args.damaged),
        max_bytes=args.max_bytes,
        pixel_budget=None if budget is None else budget * 1024 * 1024,
    )


# --- the buckets' flags (worker, sync) ----------------------------------------------------------


def add_bucket_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uploads", help="the uploads bucket (default: $UPLOADS_BUCKET)")
    parser.add_argument("--web", help="the web bucket (default: $WEB_BUCKET)")
    add_sanitizer_options(parser, from_env=True)


def bucket_settings(args: argparse.Namespace) -> Settings:
    """Settings as the Lambda reads them (the environment), with the flags given on top."""
    from ..aws.settings import ConfigError, Settings

    flags = {
        "UPLOADS_BUCKET": args.uploads,
        "WEB_BUCKET": args.web,
        "ORIENTATION_POLICY": args.orientation,
        "DAMAGED_POLICY": args.damaged,
        "MAX_BYTES": args.max_bytes,
        "PIXEL_BUDGET_MB": args.pixel_budget_mb,
    }
    env = {**os.environ, **{name: str(value) for name, value in flags.items() if value}}
    try:
        return Settings.from_env(env)
    except ConfigError as error:
        raise UsageError(str(error)) from None
