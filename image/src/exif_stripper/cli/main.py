"""The `exif-stripper` command's entry: the parser of every subcommand, and the exit code.

Each subcommand is a module of this package with `add_parser` and `run`. `strip` and
`inspect` need the core alone (`pip install exif-stripper`); `worker`, `sync` and `redrive`
import the AWS layer when they run, and without its libraries they say in one line what to
install (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Final

from .. import __version__
from . import files, inspect, redrive, strip, sync, worker
from .common import USAGE, UsageError, say

Command = Callable[[argparse.Namespace], int]

# What `exif-stripper[aws]` adds to the base install (image/pyproject.toml).
_AWS_LIBRARIES: Final = frozenset({"boto3", "botocore", "aws_lambda_powertools", "tqdm"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Command = args.command
    try:
        return command(args)
    except UsageError as error:
        parser.error(str(error))
    except KeyboardInterrupt:
        return 130
    except files.Interrupted as interrupted:  # strip: SIGTERM, SIGINT or SIGHUP
        return files.end_by_signal(interrupted.signum)
    except ModuleNotFoundError as missing:
        library = (missing.name or "").partition(".")[0]
        if library not in _AWS_LIBRARIES:
            raise
        say(
            f"{args.name} needs the AWS libraries ({library} is missing): "
            "pip install 'exif-stripper[aws]'"
        )
        return USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exif-stripper",
        description="Remove identifying metadata from JPEG, PNG and WebP images without "
        "touching the pixels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="name")
    for command in (strip, inspect, worker, sync, redrive):
        command.add_parser(commands)
    return parser
