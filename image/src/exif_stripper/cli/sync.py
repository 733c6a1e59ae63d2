"""`exif-stripper sync`: make the web bucket match the uploads bucket (backfill, repair).

Plan, then act: on the queue (--enqueue) or here. stdout carries only the plan's counts
and the outcomes, one line per key acted on here; the progress bars and errors go to
stderr. The planning is `aws.sync`'s; the outcomes are the pipeline's, and no log line or
metric of the Lambda's is written. Needs `exif-stripper[aws]`, imported when the command
runs (`pyarrow` too for a Parquet inventory: `exif-stripper[parquet]`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Never

from .common import (
    IO_ERROR,
    OK,
    REJECTED,
    Commands,
    UsageError,
    add_bucket_options,
    bucket_settings,
    positive,
    printable,
    say,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from tqdm import tqdm

    from ..aws.settings import Settings
    from ..aws.sync import Action, Entry, Tally


def add_parser(commands: Commands) -> None:
    sync = commands.add_parser(
        "sync",
        help="make the web bucket match the uploads bucket (backfill, repair)",
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
        help="the uploads bucket's keys from this S3 Inventory manifest.json (a path or "
        "s3://bucket/key) instead of listing A",
    )
    sync.add_argument(
        "--enqueue",
        metavar="QUEUE_URL",
        help="send the plan to the function's queue as S3 events; without it, process here",
    )
    sync.add_argument(
        "--max-queue-depth",
        type=positive,
        metavar="N",
        help="with --enqueue: wait while the queue holds N messages or more",
    )
    sync.add_argument(
        "--threads", type=positive, help="concurrent sends (default 8) or local steps (16)"
    )
    sync.add_argument("--dry-run", action="store_true", help="print the plan's counts only")
    add_bucket_options(sync)
    sync.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..aws import sync
    from ..aws.clients import s3_client
    from ..aws.inventory import InventoryError

    if args.max_queue_depth and not args.enqueue:
        raise UsageError("--max-queue-depth needs --enqueue")
    chosen = bucket_settings(args)
    s3 = s3_client()
    progress = _SyncProgress(*(("sent", " messages") if args.enqueue else ("done", " keys")))
    tally = sync.Tally()

    def counted(actions: Iterable[sync.Action]) -> Iterator[sync.Action]:
        for action in actions:
            tally.add(action)
            progress.planned()
            yield action

    try:
        source = _sync_source(args, chosen, s3)
        copies = sync.list_bucket(
            s3, chosen.web_bucket, prefix=args.prefix, start_after=args.start_after
        )
        actions = counted(sync.plan(source, copies, reprocess=args.reprocess_all))
        if args.dry_run:
            for _ in actions:
                pass
            progress.close()
            print(f"plan: {tally}")
            return OK
        if args.enqueue:
            return _sync_enqueue(args, chosen, actions, tally, progress)
        return _sync_locally(args, chosen, s3, actions, tally, progress)
    except (sync.ListingOrderError, InventoryError, BotoCoreError, ClientError) as error:
        progress.close()
        say(f"sync: {error}")
        return IO_ERROR
    finally:
        progress.close()  # also on Ctrl-C, so the terminal is left clean


def _sync_source(args: argparse.Namespace, settings: Settings, s3: S3Client) -> Iterable[Entry]:
    """The uploads bucket's entries: its listing, or the inventory report named by --inventory."""
    from ..aws import inventory, sync

    if not args.inventory:
        return sync.list_bucket(
            s3, settings.uploads_bucket, prefix=args.prefix, start_after=args.start_after
        )
    manifest = inventory.read_manifest(args.inventory, s3)
    manifest.require_source(settings.uploads_bucket)
    return inventory.entries(manifest, s3, prefix=args.prefix, start_after=args.start_after)


def _sync_enqueue(
    args: argparse.Namespace,
    settings: Settings,
    actions: Iterable[Action],
    tally: Tally,
    progress: _SyncProgress,
) -> int:
    import shlex

    from ..aws.clients import sqs_client
    from ..aws.enqueue import THREADS, Enqueuer

    enqueuer = Enqueuer(
        sqs_client(),
        args.enqueue,
        settings.uploads_bucket,
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
    say(f"sync: stopped ({sent.stopped}); to resume: exif-stripper sync ... {resume}".rstrip())
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

    from ..aws.pipeline import Outcome, Pipeline
    from ..aws.sync import FAILED, THREADS, process_locally

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
