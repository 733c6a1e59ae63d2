"""The `exif-stripper` command: a thin shell over the sanitizer.

    exif-stripper strip [--orientation {apply,keep-tag,drop}] IN OUT
    exif-stripper inspect FILE [--json]
    exif-stripper worker --queue-url URL [--source A --dest B]
    exif-stripper sync [--source A --dest B] [--prefix P] [--dry-run]
    exif-stripper redrive --from DLQ_URL --to QUEUE_URL

IN and OUT are files, `-` (stdin, stdout) or directories (recursive, relative paths
kept); what else they may be (FIFOs, devices, links) and how OUT is written is in
`files.py`. Exit codes, which scripts depend on: 0 ok, 1 an I/O error, 2 usage, 3 at least
one input rejected; a `strip` stopped by SIGTERM, SIGINT or SIGHUP ends by that signal. A
rejected input leaves no output behind (output goes to a temporary file that is renamed
only once it is complete and verified); the input is never written.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from . import __version__, files
from .errors import SanitizeError
from .sanitize import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    Options,
    OrientationPolicy,
)

# Modules only some commands need are imported inside them: `strip` on a folder of photos
# is measured against `cp -r` (make bench), and Python's start-up is most of a small run.
if TYPE_CHECKING:
    from tqdm import tqdm

    from .config import Settings
    from .inspection import Inspection

OK: Final = 0
IO_ERROR: Final = 1
USAGE: Final = 2
REJECTED: Final = 3
JPEG_SUFFIXES: Final = (".jpg", ".jpeg")

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Command = args.command
    try:
        return command(args)
    except _UsageError as error:
        parser.error(str(error))
    except KeyboardInterrupt:
        return 130
    except files.Interrupted as interrupted:  # strip: SIGTERM, SIGINT or SIGHUP
        return files.end_by_signal(interrupted.signum)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exif-stripper",
        description="Remove identifying metadata from JPEGs without touching the pixels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    strip = commands.add_parser("strip", help="write sanitized copies of JPEGs")
    strip.add_argument("input", metavar="IN", help="a file, a directory, or - for stdin")
    strip.add_argument("output", metavar="OUT", help="a file, a directory, or - for stdout")
    _add_sanitizer_options(strip)
    strip.set_defaults(command=_strip)

    inspect = commands.add_parser("inspect", help="show what a JPEG holds and what strip removes")
    inspect.add_argument("file", metavar="FILE", help="a JPEG file, or - for stdin")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    _add_sanitizer_options(inspect, orientation=False)
    inspect.set_defaults(command=_inspect)

    worker = commands.add_parser("worker", help="process the S3 event queue on this machine")
    worker.add_argument("--queue-url", required=True, help="the SQS queue bucket A notifies")
    worker.add_argument("--wait-seconds", type=int, default=10, help="long-poll wait (<= 20)")
    worker.add_argument(
        "--visibility-timeout", type=int, help="seconds a received message stays hidden"
    )
    worker.add_argument(
        "--exit-when-idle", type=int, metavar="POLLS", help="stop after POLLS empty polls"
    )
    _add_bucket_options(worker)
    worker.set_defaults(command=_worker)

    sync = commands.add_parser("sync", help="make bucket B match bucket A (backfill, repair)")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    sync.add_argument("--prefix", default="", help="only keys that start with this")
    _add_bucket_options(sync)
    sync.set_defaults(command=_sync)

    redrive = commands.add_parser(
        "redrive", help="move the dead-letter queue's messages back to the event queue"
    )
    redrive.add_argument("--from", dest="dead_letters", required=True, metavar="DLQ_URL")
    redrive.add_argument("--to", dest="queue", required=True, metavar="QUEUE_URL")
    redrive.set_defaults(command=_redrive)
    return parser


def _add_bucket_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="bucket A (default: $SOURCE_BUCKET)")
    parser.add_argument("--dest", help="bucket B (default: $DEST_BUCKET)")
    _add_sanitizer_options(parser, from_env=True)


def _add_sanitizer_options(
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
        "--max-bytes", type=_positive, default=None if from_env else DEFAULT_MAX_BYTES
    )
    parser.add_argument(
        "--max-pixels", type=_positive, default=None if from_env else DEFAULT_MAX_PIXELS
    )


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _options(args: argparse.Namespace) -> Options:
    policy = OrientationPolicy(getattr(args, "orientation", OrientationPolicy.DROP.value))
    return Options(policy, max_bytes=args.max_bytes, max_pixels=args.max_pixels)


class _Messages:
    """stderr: one whole line per message whatever the threads do, above the progress bar
    when one is drawn (a message written into the bar's line would garble both)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bar: type[tqdm[int]] | None = None

    def say(self, line: str) -> None:
        # A file name may hold a newline or a terminal's control codes: shown escaped, it
        # can neither split a message nor forge one.
        line = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)
        with self._lock:
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()


_MESSAGES: Final = _Messages()


def _say(*parts: object) -> None:
    _MESSAGES.say(" ".join(map(str, ("exif-stripper:", *parts))))


# --- strip ---------------------------------------------------------------------------------


def _strip(args: argparse.Namespace) -> int:
    options = _options(args)
    with files.interrupted_by_signals():
        if args.input == "-":
            return _strip_stdin(args.output, options)
        source = Path(args.input)
        if source.is_dir():
            if args.output == "-":
                raise _UsageError("IN is a directory, so OUT must be one too (- is one file)")
            return _strip_tree(source, Path(args.output), options)
        problem = files.unusable_input(source)
        if problem:
            raise _UsageError(f"{source}: {problem}")
        if args.output == "-":
            return _strip_one(source, None, options)
        return _strip_one(source, _file_target(source, args.output), options)


def _file_target(source: Path, output: str) -> Path:
    """OUT for one input: OUT itself, or OUT/<name> when OUT is a directory (or ends in /)."""
    target = Path(output)
    if target.is_dir() or output.endswith("/"):
        target /= source.name
    if target.exists() and target.samefile(source):
        raise _UsageError(f"{target}: OUT is IN (the same file); the input is never modified")
    return target


def _strip_stdin(output: str, options: Options) -> int:
    if output == "-":
        return _strip_one(None, None, options)
    if Path(output).is_dir() or output.endswith("/"):
        raise _UsageError("with IN as -, OUT must be a file or -")
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
            files.write_output(files.Source(handle, name), target, options, protect)
    except SanitizeError as error:
        _say(f"{name}: {error}")
        return REJECTED
    except (files.ReadFailed, files.WriteFailed) as error:
        _say(error)
        return IO_ERROR
    except OSError as error:  # opening IN
        _say(f"{name}: {error.strerror or error}")
        return IO_ERROR
    return OK


# --- strip, directory mode --------------------------------------------------------------------


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
    photos, skipped, unreadable = _jpeg_files(source)
    tally = _Tally(skipped=skipped, failed=len(unreadable))
    for error in unreadable:
        _say(f"{error.filename}: {error.strerror}")
    protect = source.resolve()

    def strip(path: Path) -> int:
        return _strip_one(path, target / path.relative_to(source), options, protect)

    outcomes = _in_threads(strip, photos)
    try:
        for outcome in _progress(outcomes, len(photos)):
            tally.count(outcome)
    finally:
        outcomes.close()
    _say(
        f"{tally.written} written, {tally.rejected} rejected, {tally.failed} failed, "
        f"{tally.skipped} skipped (not .jpg/.jpeg, or not a regular file)"
    )
    return tally.exit_code


def _refuse_overlap(source: Path, target: Path) -> None:
    src, dst = source.resolve(), target.resolve()
    if dst.exists() and not dst.is_dir():
        raise _UsageError(f"{target}: IN is a directory, so OUT must be one too")
    if src == dst or src in dst.parents or dst in src.parents:
        raise _UsageError("IN and OUT directories must not contain each other")


def _jpeg_files(root: Path) -> tuple[list[Path], int, list[OSError]]:
    """Regular files named *.jpg / *.jpeg (any case) below `root`, in a stable order; the
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
            if name.lower().endswith(JPEG_SUFFIXES) and path.is_file() and not path.is_symlink():
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
    if not sys.stderr.isatty():
        yield from outcomes
        return
    from tqdm import tqdm  # only for people watching a terminal

    _MESSAGES.bar = tqdm
    try:
        yield from tqdm(outcomes, total=total, unit="photo", file=sys.stderr, leave=False)
    finally:
        _MESSAGES.bar = None


# --- worker and sync: the pipeline, outside Lambda ---------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    """Settings as the Lambda reads them (the environment), with the flags given on top."""
    from .config import ConfigError, Settings

    flags = {
        "SOURCE_BUCKET": args.source,
        "DEST_BUCKET": args.dest,
        "ORIENTATION_POLICY": args.orientation,
        "MAX_BYTES": args.max_bytes,
        "MAX_PIXELS": args.max_pixels,
    }
    env = {**os.environ, **{name: str(value) for name, value in flags.items() if value}}
    try:
        return Settings.from_env(env)
    except ConfigError as error:
        raise _UsageError(str(error)) from None


def _worker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from . import handler
    from .aws import s3_client, sqs_client
    from .pipeline import Pipeline
    from .worker import Worker

    settings = _settings(args)
    handler.use_pipeline(Pipeline(s3_client(), settings))
    worker = Worker(
        sqs_client(),
        args.queue_url,
        handler.handle,
        wait_seconds=args.wait_seconds,
        visibility_timeout=args.visibility_timeout,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Finish the batch in hand, then stop: what is not deleted comes back anyway.
        signal.signal(signum, lambda *_: stop.set())
    _say(f"worker: {settings.source_bucket} -> {settings.dest_bucket}, polling {args.queue_url}")
    tally = worker.run(stop, idle_polls=args.exit_when_idle)
    _say(f"worker: stopped; {tally.succeeded} handled, {tally.failed} failed (left to the queue)")
    return OK


def _sync(args: argparse.Namespace) -> int:
    from collections import Counter

    from . import handler, sync
    from .aws import s3_client
    from .pipeline import Pipeline

    pipeline = Pipeline(s3_client(), _settings(args))
    todo = sync.plan(pipeline, args.prefix)
    for label, keys in (
        ("missing", todo.missing),
        ("stale", todo.stale),
        ("orphaned", todo.orphaned),
    ):
        for key in keys:
            print(f"{label:<9} {key}")
    print(
        f"{len(todo.missing)} missing, {len(todo.stale)} stale, {len(todo.orphaned)} orphaned, "
        f"{todo.current} up to date"
    )
    if args.dry_run or todo.empty:
        return OK
    outcomes = sync.apply(pipeline, todo)
    for outcome in outcomes:
        handler.report(outcome, "sync")
    counts = Counter(outcome.action for outcome in outcomes)
    print(", ".join(f"{count} {action}" for action, count in sorted(counts.items())))
    return REJECTED if counts["rejected"] else OK


def _redrive(args: argparse.Namespace) -> int:
    from .aws import sqs_client
    from .redrive import redrive

    result = redrive(sqs_client(), args.dead_letters, args.queue)
    print(f"moved {result.moved} messages from {args.dead_letters} to {args.queue}")
    if result.failed:
        _say(
            f"redrive: {result.failed} messages could not be sent; they stay in {args.dead_letters}"
        )
        return IO_ERROR
    return OK


# --- inspect ---------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    import json

    from .inspection import inspect_stream  # only when inspecting

    options = _options(args)
    try:
        with files.open_input(None if args.file == "-" else Path(args.file)) as handle:
            files.refuse_oversized(handle, options.max_bytes)
            with files.seekable(handle, options.max_bytes) as src:
                result = inspect_stream(src, options)
    except SanitizeError as error:
        _say(f"{args.file}: {error}")
        return REJECTED
    except OSError as error:
        _say(f"{args.file}: {error.strerror or error}")
        return IO_ERROR
    if args.json:
        print(json.dumps({"file": args.file, **result.as_json()}, indent=2))
    else:
        print(render_inspection(args.file, result))
    if result.rejected:
        _say(f"{args.file}: {result.rejected}")
        return REJECTED
    return OK


def render_inspection(name: str, result: Inspection) -> str:
    """The human-readable form of `inspect`: segments, then identifying findings."""
    lines = [
        f"{name}: {result.width}x{result.height}, {result.size:,} bytes, "
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
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
