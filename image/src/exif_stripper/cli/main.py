"""The `exif-stripper` command: a thin shell over the sanitizer.

    exif-stripper strip [--orientation {apply,keep-tag,drop}] IN OUT
    exif-stripper inspect FILE [--json]
    exif-stripper worker --queue-url URL [--source A --dest B]
    exif-stripper sync [--source A --dest B] [--prefix P] [--start-after KEY]
                       [--inventory MANIFEST] [--reprocess-all] [--enqueue QUEUE_URL] [--dry-run]
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
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Never

from . import __version__, files
from .errors import SanitizeError
from .formats import IMAGE_SUFFIXES
from .sanitize import (
    DEFAULT_MAX_BYTES,
    DamagedPolicy,
    Options,
    OrientationPolicy,
)

# Modules only some commands need are imported inside them: `strip` on a folder of photos
# is measured against `cp -r` (make bench), and Python's start-up is most of a small run.
if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from tqdm import tqdm

    from .config import Settings
    from .inspection import Inspection
    from .sync import Action, Entry, Tally

OK: Final = 0
IO_ERROR: Final = 1
USAGE: Final = 2
REJECTED: Final = 3

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
        description="Remove identifying metadata from JPEG, PNG and WebP images without "
        "touching the pixels.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    strip = commands.add_parser("strip", help="write sanitized copies of images")
    strip.add_argument("input", metavar="IN", help="a file, a directory, or - for stdin")
    strip.add_argument("output", metavar="OUT", help="a file, a directory, or - for stdout")
    _add_sanitizer_options(strip)
    strip.set_defaults(command=_strip)

    inspect = commands.add_parser("inspect", help="show what an image holds and what strip removes")
    inspect.add_argument("file", metavar="FILE", help="a JPEG, PNG or WebP file, or - for stdin")
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

    sync = commands.add_parser(
        "sync",
        help="make bucket B match bucket A (backfill, repair)",
        description="Plan from the listings of A and B (missing, stale, orphaned copies), "
        "then send the plan to the function's queue (--enqueue) or process it here.",
    )
    sync.add_argument("--prefix", default="", help="only keys that start with this")
    sync.add_argument(
        "--start-after",
        default="",
        metavar="KEY",
        help="only keys after KEY (S3's order): resumes an interrupted run",
    )
    sync.add_argument(
        "--reprocess-all",
        action="store_true",
        help="make every copy again, current ones too (a new sanitizer, a changed policy)",
    )
    sync.add_argument(
        "--inventory",
        metavar="MANIFEST",
        help="bucket A's keys from this S3 Inventory manifest.json (a path or "
        "s3://bucket/key) instead of listing A",
    )
    sync.add_argument(
        "--enqueue",
        metavar="QUEUE_URL",
        help="send the plan to the function's queue as S3 events; without it, process here",
    )
    sync.add_argument(
        "--max-queue-depth",
        type=_positive,
        metavar="N",
        help="with --enqueue: wait while the queue holds N messages or more",
    )
    sync.add_argument(
        "--threads", type=_positive, help="concurrent sends (default 8) or local steps (16)"
    )
    sync.add_argument("--dry-run", action="store_true", help="print the plan's counts only")
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
        "--damaged",
        choices=[policy.value for policy in DamagedPolicy],
        default=None if from_env else DamagedPolicy.REENCODE.value,
        help="reencode: a JPEG that cannot be passed on losslessly is decoded and encoded "
        "again from its pixels (default); reject: it is refused",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive,
        default=None if from_env else DEFAULT_MAX_BYTES,
        help=f"largest input accepted (default {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--pixel-budget-mb",
        type=_positive,
        default=None,
        help="memory that turning or re-encoding one picture may take (default: from "
        "PIXEL_BUDGET_MB, else from the machine)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _options(args: argparse.Namespace) -> Options:
    policy = OrientationPolicy(getattr(args, "orientation", OrientationPolicy.DROP.value))
    budget = args.pixel_budget_mb
    return Options(
        policy,
        damaged=DamagedPolicy(args.damaged),
        max_bytes=args.max_bytes,
        pixel_budget=None if budget is None else budget * 1024 * 1024,
    )


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


_MESSAGES: Final = _Messages()


def printable(line: str) -> str:
    """`line` with what is not printable escaped: a file name or an S3 key may hold a
    newline or a terminal's control codes, and shown escaped it can neither split a line
    of output nor forge one."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)


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
            src = files.Source(handle, name, options.max_bytes)
            try:
                files.write_output(src, target, options, protect)
            finally:
                src.close()
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
    photos, skipped, unreadable = _image_files(source)
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
        f"{tally.skipped} skipped (not .jpg, .jpeg, .png or .webp, or not a regular file)"
    )
    return tally.exit_code


def _refuse_overlap(source: Path, target: Path) -> None:
    src, dst = source.resolve(), target.resolve()
    if dst.exists() and not dst.is_dir():
        raise _UsageError(f"{target}: IN is a directory, so OUT must be one too")
    if src == dst or src in dst.parents or dst in src.parents:
        raise _UsageError("IN and OUT directories must not contain each other")


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
        "DAMAGED_POLICY": args.damaged,
        "MAX_BYTES": args.max_bytes,
        "PIXEL_BUDGET_MB": args.pixel_budget_mb,
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
    """Plan, then act: on the queue (--enqueue) or here. stdout carries only the plan's
    counts and the outcomes; the progress bar and errors go to stderr."""
    from botocore.exceptions import BotoCoreError, ClientError

    from . import sync
    from .aws import s3_client
    from .inventory import InventoryError

    if args.max_queue_depth and not args.enqueue:
        raise _UsageError("--max-queue-depth needs --enqueue")
    settings = _settings(args)
    s3 = s3_client()
    progress = _SyncProgress(*(("sent", " messages") if args.enqueue else ("done", " keys")))
    tally = sync.Tally()

    def counted(actions: Iterable[sync.Action]) -> Iterator[sync.Action]:
        for action in actions:
            tally.add(action)
            progress.planned()
            yield action

    try:
        source = _sync_source(args, settings, s3)
        copies = sync.list_bucket(
            s3, settings.dest_bucket, prefix=args.prefix, start_after=args.start_after
        )
        actions = counted(sync.plan(source, copies, reprocess=args.reprocess_all))
        if args.dry_run:
            for _ in actions:
                pass
            progress.close()
            print(f"plan: {tally}")
            return OK
        if args.enqueue:
            return _sync_enqueue(args, settings, actions, tally, progress)
        return _sync_locally(args, settings, s3, actions, tally, progress)
    except (sync.ListingOrderError, InventoryError, BotoCoreError, ClientError) as error:
        progress.close()
        _say(f"sync: {error}")
        return IO_ERROR
    finally:
        progress.close()  # also on Ctrl-C, so the terminal is left clean


def _sync_source(args: argparse.Namespace, settings: Settings, s3: S3Client) -> Iterable[Entry]:
    """Bucket A's entries: its listing, or the inventory report named by --inventory."""
    from . import inventory, sync

    if not args.inventory:
        return sync.list_bucket(
            s3, settings.source_bucket, prefix=args.prefix, start_after=args.start_after
        )
    manifest = inventory.read_manifest(args.inventory, s3)
    manifest.require_source(settings.source_bucket)
    return inventory.entries(manifest, s3, prefix=args.prefix, start_after=args.start_after)


def _sync_enqueue(
    args: argparse.Namespace,
    settings: Settings,
    actions: Iterable[Action],
    tally: Tally,
    progress: _SyncProgress,
) -> int:
    import shlex

    from .aws import sqs_client
    from .enqueue import THREADS, Enqueuer

    enqueuer = Enqueuer(
        sqs_client(),
        args.enqueue,
        settings.source_bucket,
        threads=args.threads or THREADS,
        max_depth=args.max_queue_depth,
    )
    sent = enqueuer.run(actions, start_after=args.start_after, on_sent=progress.done)
    progress.close()
    print(f"plan: {tally}")
    rate = sent.messages / sent.seconds if sent.seconds else 0.0
    print(
        f"sent: {sent.messages:,} messages to {args.enqueue} in {sent.seconds:.1f} s "
        f"({rate:,.0f} messages/s), {sent.retried:,} sent again"
    )
    if sent.complete:
        return OK
    resume = f"--start-after {shlex.quote(sent.resume_after)}" if sent.resume_after else ""
    _say(f"sync: stopped ({sent.stopped}); to resume: exif-stripper sync ... {resume}".rstrip())
    return 130 if sent.stopped == "interrupted" else IO_ERROR


def _sync_locally(
    args: argparse.Namespace,
    settings: Settings,
    s3: S3Client,
    actions: Iterable[Action],
    tally: Tally,
    progress: _SyncProgress,
) -> int:
    from collections import Counter

    from .pipeline import Outcome, Pipeline
    from .sync import FAILED, THREADS, process_locally

    counts: Counter[str] = Counter()

    def report(outcome: Outcome) -> None:
        counts[outcome.action] += 1
        progress.done(1)
        reason = f"  ({outcome.reason})" if outcome.action in ("rejected", FAILED) else ""
        progress.write(f"{outcome.action:<9} {outcome.key}{reason}")

    process_locally(Pipeline(s3, settings), actions, report, threads=args.threads or THREADS)
    progress.close()
    print(f"plan: {tally}")
    print("done: " + (", ".join(f"{n:,} {action}" for action, n in sorted(counts.items())) or "-"))
    if counts[FAILED]:
        return IO_ERROR
    return REJECTED if counts["rejected"] else OK


class _SyncProgress:
    """Two counters on stderr while it is a terminal (keys planned; messages sent or
    steps done), and the lines of stdout printed between them. Callbacks may come from
    any thread."""

    def __init__(self, second: str, unit: str) -> None:
        self._lock = threading.Lock()
        self._bars: list[tqdm[Never]] = []
        if sys.stderr.isatty():
            from tqdm import tqdm  # only for people watching a terminal

            self._bars = [
                tqdm(desc="planned", unit=" keys", file=sys.stderr, leave=False),
                tqdm(desc=second, unit=unit, file=sys.stderr, leave=False, position=1),
            ]

    def planned(self) -> None:
        if self._bars:
            with self._lock:
                self._bars[0].update(1)

    def done(self, count: int) -> None:
        if self._bars:
            with self._lock:
                self._bars[1].update(count)

    def write(self, line: str) -> None:
        line = printable(line)
        with self._lock:
            if self._bars:
                self._bars[0].write(line, file=sys.stdout)
            else:
                print(line)

    def close(self) -> None:
        with self._lock:
            for bar in self._bars:
                bar.close()
            self._bars = []


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


if __name__ == "__main__":
    sys.exit(main())
