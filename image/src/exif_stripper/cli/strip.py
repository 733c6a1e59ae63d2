"""`exif-stripper strip IN OUT`: sanitized copies of images, written safely.

IN and OUT are files, `-` (stdin, stdout) or directories (recursive, relative paths
kept); what else they may be (FIFOs, devices, links) and how OUT is written is in
`files.py`. A rejected input leaves no output behind (output goes to a temporary file that
is renamed only once it is complete and verified); the input is never written. A `strip`
stopped by SIGTERM, SIGINT or SIGHUP ends by that signal. Needs the core alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..core.errors import SanitizeError
from ..core.formats import IMAGE_SUFFIXES
from ..core.sanitize import Options
from . import files
from .common import (
    IO_ERROR,
    MESSAGES,
    OK,
    REJECTED,
    Commands,
    UsageError,
    add_sanitizer_options,
    sanitizer_options,
    say,
)


def add_parser(commands: Commands) -> None:
    strip = commands.add_parser("strip", help="write sanitized copies of images")
    strip.add_argument("input", metavar="IN", help="a file, a directory, or - for stdin")
    strip.add_argument("output", metavar="OUT", help="a file, a directory, or - for stdout")
    add_sanitizer_options(strip)
    strip.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    options = sanitizer_options(args)
    with files.interrupted_by_signals():
        if args.input == "-":
            return _strip_stdin(args.output, options)
        source = Path(args.input)
        if source.is_dir():
            if args.output == "-":
                raise UsageError("IN is a directory, so OUT must be one too (- is one file)")
            return _strip_tree(source, Path(args.output), options)
        problem = files.unusable_input(source)
        if problem:
            raise UsageError(f"{source}: {problem}")
        if args.output == "-":
            return _strip_one(source, None, options)
        return _strip_one(source, _file_target(source, args.output), options)


def _file_target(source: Path, output: str) -> Path:
    """OUT for one input: OUT itself, or OUT/<name> when OUT is a directory (or ends in /)."""
    target = Path(output)
    if target.is_dir() or output.endswith("/"):
        target /= source.name
    if target.exists() and target.samefile(source):
        raise UsageError(f"{target}: OUT is IN (the same file); the input is never modified")
    return target


def _strip_stdin(output: str, options: Options) -> int:
    if output == "-":
        return _strip_one(None, None, options)
    if Path(output).is_dir() or output.endswith("/"):
        raise UsageError("with IN as -, OUT must be a file or -")
    return _strip_one(None, Path(output), options)


def _strip_one(
    source: Path | None, target: Path | None, options: Options, protect: Path | None = None
) -> int:
    """One input (None: stdin) to one output (None: stdout); returns the exit code."""
    name = str(source) if source else "<stdin>"
    if protect is None and source is not None:
        protect = source.resolve()
    try:
        with files.open_input(source) as handle:
            files.refuse_oversized(handle, options.max_bytes)
            src = files.Source(handle, name, options.max_bytes)
            try:
                files.write_output(src, target, options, protect)
            finally:
                src.close()
    except SanitizeError as error:
        say(f"{name}: {error}")
        return REJECTED
    except (files.ReadFailed, files.WriteFailed) as error:
        say(error)
        return IO_ERROR
    except OSError as error:  # opening IN
        say(f"{name}: {error.strerror or error}")
        return IO_ERROR
    return OK


# --- directory mode --------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    written: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0

    def count(self, outcome: int) -> None:
        if outcome == OK:
            self.written += 1
        elif outcome == REJECTED:
            self.rejected += 1
        else:
            self.failed += 1

    @property
    def exit_code(self) -> int:
        if self.rejected:
            return REJECTED
        return IO_ERROR if self.failed else OK


# Reading, scanning and writing release the GIL, so a few threads keep both the disk and
# the cores busy; more than that only adds contention.
_THREADS: Final = min(4, os.cpu_count() or 1)


def _strip_tree(source: Path, target: Path, options: Options) -> int:
    _refuse_overlap(source, target)
    photos, skipped, unreadable = _image_files(source)
    tally = _Tally(skipped=skipped, failed=len(unreadable))
    for error in unreadable:
        say(f"{error.filename}: {error.strerror}")
    protect = source.resolve()

    def strip(path: Path) -> int:
        return _strip_one(path, target / path.relative_to(source), options, protect)

    outcomes = _in_threads(strip, photos)
    try:
        for outcome in _progress(outcomes, len(photos)):
            tally.count(outcome)
    finally:
        outcomes.close()
    say(
        f"{tally.written} written, {tally.rejected} rejected, {tally.failed} failed, "
        f"{tally.skipped} skipped (not .jpg, .jpeg, .png or .webp, or not a regular file)"
    )
    return tally.exit_code


def _refuse_overlap(source: Path, target: Path) -> None:
    src, dst = source.resolve(), target.resolve()
    if dst.exists() and not dst.is_dir():
        raise UsageError(f"{target}: IN is a directory, so OUT must be one too")
    if src == dst or src in dst.parents or dst in src.parents:
        raise UsageError("IN and OUT directories must not contain each other")


def _image_files(root: Path) -> tuple[list[Path], int, list[OSError]]:
    """Regular files named *.jpg, *.jpeg, *.png, *.webp (any case) below `root`, in a
    stable order (their content decides how each is sanitized); the
    number of other entries skipped; the folders that could not be listed.

    Links are not followed (a link to a folder above would loop), nor are special files
    read: a FIFO would block the walk.
    """
    found: list[Path] = []
    skipped = 0
    unreadable: list[OSError] = []
    for folder, dirs, names in os.walk(root, onerror=unreadable.append):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if name.lower().endswith(IMAGE_SUFFIXES) and path.is_file() and not path.is_symlink():
                found.append(path)
            else:
                skipped += 1
    return found, skipped, unreadable


def _in_threads(work: Callable[[Path], int], paths: list[Path]) -> Generator[int, None, None]:
    """`work` on every path, a few at a time; outcomes in the order they finish.

    Closing the generator early (a signal) cancels what has not started; what is running
    stops at its next read (files.Source) and deletes its temporary file.
    """
    if len(paths) < 2:
        yield from map(work, paths)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(_THREADS)
    try:
        pending = {pool.submit(work, path) for path in paths}
        while pending:
            # In short waits: a signal that arrives just before a wait begins is only
            # handled when the wait ends, and a file may take long (files.Source).
            done, pending = wait(pending, files.SIGNAL_LATENCY, FIRST_COMPLETED)
            for future in done:
                yield future.result()
    except BaseException:
        # Not waiting: a thread may be blocked opening a FIFO that no one reads, and the
        # temporary files are deleted without the threads (files.end_by_signal).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _progress(outcomes: Iterable[int], total: int) -> Iterable[int]:
    """A progress bar on stderr while it is a terminal, when tqdm is installed (it comes
    with `exif-stripper[aws]`; `strip` runs without it)."""
    try:
        from tqdm import tqdm  # only for people watching a terminal
    except ImportError:
        tqdm = None  # type: ignore[assignment,misc]
    if tqdm is None or not sys.stderr.isatty():
        yield from outcomes
        return
    MESSAGES.bar = tqdm
    try:
        yield from tqdm(outcomes, total=total, unit="photo", file=sys.stderr, leave=False)
    finally:
        MESSAGES.bar = None
