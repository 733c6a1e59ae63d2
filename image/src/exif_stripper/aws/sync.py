"""`exif-stripper sync`: plan the web bucket from the listings of A and B, then act on the plan.

For the first deployment over a bucket that already holds years of photos, after a
dead-letter queue was discarded, after an outage. The plan is a merge of two sorted
streams, so it holds one listing page of each bucket at a time, whatever their size:

    list_bucket(A) or inventory.entries(manifest) --+
                                                    +-- plan() --> Action, key by key
    list_bucket(B) ---------------------------------+
        --> enqueue.Enqueuer   S3-shaped events on the function's queue (`--enqueue`)
        --> process_locally    the same Pipeline steps, on this machine

Each key of either bucket is decided from the listings alone, with no request per key:
    missing    an image key of A (.jpg, .jpeg, .png, .webp) that B does not have
    stale      B's copy is older than A's object: A was written again after the copy was made
    reprocess  B's copy is not older, but `--reprocess-all` asks for every copy to be made
               again (a new sanitizer version, a changed orientation policy)
    orphaned   an image key of B that A does not have
    current    B's copy is not older than A's object
    ignored    not an image key (`formats.is_image_key`): the function skips those too

Dates, not provenance: B's copies carry the source's ETag and the sanitizer's version as
metadata, but only a HEAD per key reads them (hours at 10 million keys), so the plan
compares `LastModified`, which the listing carries. Both sides are compared in whole
seconds, the precision S3's listing gives; a copy made within the second its source was
written again counts as current (that upload's own event makes the copy), and so does a
copy made while a multipart upload was still running, because S3 dates such an object
when the upload started. `--reprocess-all` covers both, and provenance of any kind.

Order: S3 lists keys in UTF-8 binary order. Python compares strings by code point, which
is the same order (UTF-8 was designed so: RFC 3629 §1), where UTF-16, as Java and
JavaScript compare, is not. A listing that is not strictly increasing would make the
merge wrong without a sound, so it is checked and refused (`ListingOrderError`).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

from ..core.formats import is_image_key
from .pipeline import Outcome, Pipeline

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef

THREADS: Final = 16  # S3 calls are I/O; the sanitizer releases the GIL in its scanner
FAILED: Final = "failed"  # a local step raised (after the client's retries): B unchanged


class Kind(enum.StrEnum):
    MISSING = "missing"
    STALE = "stale"
    REPROCESS = "reprocess"
    ORPHANED = "orphaned"
    CURRENT = "current"
    IGNORED = "ignored"

    @property
    def is_work(self) -> bool:
        """Whether B must change for this key (an event, or a local step)."""
        return self in _WORK


_WORK: Final = frozenset({Kind.MISSING, Kind.STALE, Kind.REPROCESS, Kind.ORPHANED})


@dataclass(frozen=True, slots=True)
class Entry:
    """One object of a listing (or of an inventory report)."""

    key: str
    modified: int  # LastModified, in whole seconds since the epoch (the listing's precision)
    size: int = 0
    etag: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """What the plan decided for one key, with the entry it decided from (A's, or B's for
    an orphan)."""

    kind: Kind
    entry: Entry

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass(slots=True)
class Tally:
    """How many keys of each kind the plan has produced so far."""

    counts: dict[Kind, int] = field(default_factory=lambda: dict.fromkeys(Kind, 0))

    def add(self, action: Action) -> None:
        self.counts[action.kind] += 1

    @property
    def work(self) -> int:
        return sum(count for kind, count in self.counts.items() if kind.is_work)

    def __str__(self) -> str:
        return ", ".join(f"{count:,} {kind}" for kind, count in self.counts.items())


class ListingOrderError(RuntimeError):
    """A listing was not in strictly increasing key order, so it cannot be merged."""


# --- the listings ------------------------------------------------------------------------------


def list_bucket(
    s3: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    start_after: str = "",
    page_size: int | None = None,
) -> Iterator[Entry]:
    """Every object of `bucket` under `prefix` after `start_after`, in S3's order, a page
    (1,000 keys unless `page_size` says fewer) at a time."""
    paginator = s3.get_paginator("list_objects_v2")
    config: PaginatorConfigTypeDef = {"PageSize": page_size} if page_size else {}
    pages = (
        paginator.paginate(
            Bucket=bucket, Prefix=prefix, StartAfter=start_after, PaginationConfig=config
        )
        if start_after
        else paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig=config)
    )
    for page in pages:
        for item in page.get("Contents", []):
            yield Entry(
                item["Key"],
                epoch_seconds(item["LastModified"]),
                item.get("Size", 0),
                item.get("ETag", "").strip('"'),
            )


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, truncated: the precision of S3's listings."""
    return int(moment.timestamp())


def in_order(entries: Iterable[Entry], name: str) -> Iterator[Entry]:
    """`entries`, checked to be in strictly increasing key order."""
    previous: str | None = None
    for entry in entries:
        if previous is not None and entry.key <= previous:
            raise ListingOrderError(
                f"{name} lists {entry.key!r} after {previous!r}: not in S3's key order"
            )
        previous = entry.key
        yield entry


# --- the plan ------------------------------------------------------------------------------------


def plan(
    source: Iterable[Entry], copies: Iterable[Entry], *, reprocess: bool = False
) -> Iterator[Action]:
    """Merge A's entries with B's (both in key order) into one action per key."""
    sources = in_order(source, "the uploads bucket")
    made = in_order(copies, "the web bucket")
    a, b = next(sources, None), next(made, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.key < b.key):
            assert a is not None
            yield Action(Kind.MISSING if is_image_key(a.key) else Kind.IGNORED, a)
            a = next(sources, None)
        elif a is None or b.key < a.key:
            yield Action(Kind.ORPHANED if is_image_key(b.key) else Kind.IGNORED, b)
            b = next(made, None)
        else:
            yield Action(_compare(a, b, reprocess), a)
            a, b = next(sources, None), next(made, None)


def _compare(source: Entry, copy: Entry, reprocess: bool) -> Kind:
    if not is_image_key(source.key):
        return Kind.IGNORED
    if copy.modified < source.modified:
        return Kind.STALE
    return Kind.REPROCESS if reprocess else Kind.CURRENT


# --- acting on it here ----------------------------------------------------------------------------


def process_locally(
    pipeline: Pipeline,
    actions: Iterable[Action],
    on_outcome: Callable[[Outcome], None],
    *,
    threads: int = THREADS,
) -> None:
    """Run the function's own steps for every action that is work, a few at a time.

    `Pipeline.created` for missing, stale and reprocessed keys; `Pipeline.removed` for
    orphans (it keeps a copy whose source came back since the listing). A step that
    raises is reported as a `failed` outcome and the others go on. At most twice
    `threads` steps are waiting at any moment, so memory stays flat however long the plan.
    """
    slots = threading.BoundedSemaphore(threads * 2)

    def step(action: Action) -> Outcome:
        try:
            if action.kind is Kind.ORPHANED:
                return pipeline.removed(action.key)
            return pipeline.created(action.key)
        except Exception as error:  # one key's failure is reported; the others go on
            return Outcome(action.key, FAILED, reason=f"{type(error).__name__}: {error}")
        finally:
            slots.release()

    with ThreadPoolExecutor(threads) as pool:
        pending: list[Future[Outcome]] = []
        for action in actions:
            if not action.kind.is_work:
                continue
            slots.acquire()
            pending.append(pool.submit(step, action))
            pending = _report_done(pending, on_outcome)
        for future in pending:
            on_outcome(future.result())


def _report_done(
    pending: list[Future[Outcome]], on_outcome: Callable[[Outcome], None]
) -> list[Future[Outcome]]:
    waiting = []
    for future in pending:
        if future.done():
            on_outcome(future.result())
        else:
            waiting.append(future)
    return waiting
