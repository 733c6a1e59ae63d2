"""The invariants a chaos scenario must end with (issue 14), each checked from the outside.

Nothing here trusts the pipeline's own account of what it did: the buckets are read as
the harness's admin, the uploads bucket's objects are sanitized again here, every version in
the web bucket is checked by the project's verifier and by exiftool, and the faults the fault layer
injected are matched against what the workers logged.

    mirror        for every key of A, B holds exactly sanitize(current A), byte for byte,
                  made from A's current version; B holds nothing else
    clean         every version ever written to B passes the verifier and the oracle
    uploads       no multipart upload is left open in B
    queue         the event queue is empty
    dead letters  the dead-letter queue holds exactly the poison messages meant to stay
    faults        every injected fault was retried by botocore, or surfaced in the log
                  of the worker that met it (which then failed the record), or was cut
                  short by a SIGKILL of that worker
    workers       no worker ended by itself: each was SIGKILLed or stopped when asked
"""

from __future__ import annotations

import hashlib
import json
import signal
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from exif_stripper.aws.pipeline import META_ETAG
from exif_stripper.aws.settings import Settings
from exif_stripper.core.errors import SanitizeError
from exif_stripper.core.formats import is_image_key
from exif_stripper.core.sanitize import OrientationPolicy, sanitize_bytes
from exif_stripper.core.verify import verify_jpeg
from tools.chaos.faults import fault_tag
from tools.oracle import exiftool_reports, findings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

SHOWN: Final = 8  # problems listed per check; the count says how many there are
# A fault in a worker that was SIGKILLed this long after it counts as cut short by the kill:
# botocore's longest backoff (20 s) plus a request's connect and read timeouts.
KILL_WINDOW: Final = 90.0
THREADS: Final = 8


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    summary: str
    problems: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        mark = "ok  " if self.ok else "FAIL"
        shown = [f"       {p}" for p in self.problems[:SHOWN]]
        more = len(self.problems) - SHOWN
        return [f"  {mark} {self.name}: {self.summary}", *shown] + (
            [f"       ... and {more} more"] if more > 0 else []
        )


def _check(name: str, problems: Sequence[str], summary: str) -> Check:
    return Check(name, not problems, summary, tuple(problems))


# --- the web bucket mirrors sanitize(the uploads bucket) -------------------------------------


@dataclass
class MirrorStats:
    keys: int = 0  # in A now
    copies: int = 0  # in B now
    rejected: int = 0  # JPEG keys of A the sanitizer refuses: no copy
    skipped: int = 0  # keys of A that are not .jpg/.jpeg: no copy
    versions: int = 0  # every version ever written to B
    contents: int = 0  # distinct contents among them, each verified


def mirror_checks(
    admin: S3Client, source: str, dest: str, settings: Settings
) -> tuple[list[Check], MirrorStats]:
    """mirror, clean: the web bucket against the uploads bucket sanitized here."""
    stats = MirrorStats()
    originals = _read_current(admin, source)
    stats.keys = len(originals)
    expected: dict[str, bytes] = {}
    for key, original in originals.items():
        if not is_image_key(key):
            stats.skipped += 1
            continue
        try:
            expected[key] = sanitize_bytes(original.data, settings.sanitizer).jpeg
        except SanitizeError:
            stats.rejected += 1
    copies = _read_current(admin, dest)
    stats.copies = len(copies)
    history = _read_history(admin, dest, {copy.etag for copy in copies.values()})
    stats.versions = history.versions
    everything = [*copies.values(), *history.contents]
    stats.contents = len({_digest(item.data) for item in everything})

    diverged = []
    for key in sorted(expected.keys() | copies.keys()):
        want, copy = expected.get(key), copies.get(key)
        if copy is None and want is None:
            continue
        if copy is None:
            problem = "missing in B"
        elif key not in originals:
            problem = "in B, but no longer in A"
        elif want is None:
            problem = "in B, but A's object is rejected or not a .jpg/.jpeg key"
        elif copy.data != want:
            problem = f"B holds other bytes (sha256 {_digest(copy.data)}, want {_digest(want)})"
        elif copy.source_etag != originals[key].etag:
            problem = f"made from another version of A (ETag {copy.source_etag})"
        else:
            continue
        diverged.append(f"{key!r}: {problem}")
    mirror = _check(
        "B = sanitize(current A)",
        diverged,
        f"{len(expected)} copies expected, {stats.copies} in B, {len(diverged)} diverged "
        f"({stats.rejected} rejected and {stats.skipped} other keys of A must have none)",
    )
    clean = _check(
        "every version in B clean",
        _unclean(everything, settings),
        f"{stats.versions} versions written to B, {stats.contents} distinct, each passed "
        "the verifier and exiftool",
    )
    return [mirror, clean], stats


@dataclass(frozen=True)
class _Object:
    data: bytes
    etag: str
    where: str  # its key and version
    source_etag: str | None = None  # what a copy in B says it was made from


@dataclass(frozen=True)
class _History:
    versions: int
    contents: list[_Object]  # one per distinct ETag not among the current objects


def _read_current(s3: S3Client, bucket: str) -> dict[str, _Object]:
    """Every current object of the bucket, read."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]

    def read(key: str) -> _Object:
        answer = s3.get_object(Bucket=bucket, Key=key)
        where = f"{key!r} version {answer.get('VersionId')}"
        source = answer.get("Metadata", {}).get(META_ETAG)
        return _Object(answer["Body"].read(), answer["ETag"].strip('"'), where, source)

    with ThreadPoolExecutor(THREADS) as pool:
        return dict(zip(keys, pool.map(read, keys), strict=True))


def _read_history(s3: S3Client, bucket: str, seen: set[str]) -> _History:
    """Every version ever written to the bucket (delete markers hold no data), reading one
    per distinct ETag (the same ETag, the same bytes) not in `seen`."""
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    versions = [v for page in pages for v in page.get("Versions", [])]
    unread: dict[str, Any] = {}
    for version in versions:
        etag = version["ETag"].strip('"')
        if etag not in seen:
            unread.setdefault(etag, version)

    def read(version: Any) -> _Object:
        answer = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        where = f"{version['Key']!r} version {version['VersionId']}"
        return _Object(answer["Body"].read(), version["ETag"].strip('"'), where)

    with ThreadPoolExecutor(THREADS) as pool:
        return _History(len(versions), list(pool.map(read, unread.values())))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _unclean(items: Sequence[_Object], settings: Settings) -> list[str]:
    """What the verifier or exiftool finds in any of them."""
    problems = []
    keep_tag = settings.orientation is OrientationPolicy.KEEP_TAG
    for item in items:
        try:
            verify_jpeg(item.data, allow_orientation_tag=keep_tag)
        except SanitizeError as error:
            problems.append(f"{item.where}: the verifier refuses it: {error}")
    allowed = ("IFD0:Orientation", "File:ExifByteOrder") if keep_tag else ()
    for item, report in zip(items, exiftool_reports([i.data for i in items]), strict=True):
        if found := findings(report, allowed):
            problems.append(f"{item.where}: exiftool finds {'; '.join(found[:3])}")
    return problems


# --- multipart uploads, queues ---------------------------------------------------------------


def upload_check(admin: S3Client, dest: str) -> Check:
    uploads = admin.list_multipart_uploads(Bucket=dest).get("Uploads", [])
    problems = [f"{u['Key']!r} upload {u['UploadId']}" for u in uploads]
    return _check("no multipart upload open in B", problems, f"{len(uploads)} open")


def queue_depth(sqs: SQSClient, url: str) -> int:
    """Messages visible, in flight and delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)  # type: ignore[arg-type]
    return sum(int(value) for value in attributes["Attributes"].values())


def dead_letters(sqs: SQSClient, url: str) -> list[str]:
    """The bodies in the dead-letter queue, each read once and left there."""
    bodies: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120, WaitTimeSeconds=1
    ).get("Messages", []):
        bodies += [m["Body"] for m in messages]
    return bodies


def queue_checks(
    sqs: SQSClient, queue_url: str, dlq_url: str, poison: Sequence[str]
) -> list[Check]:
    depth = queue_depth(sqs, queue_url)
    queue = _check(
        "event queue empty", [f"{depth} messages left"] if depth else [], f"{depth} left"
    )
    stayed = Counter(dead_letters(sqs, dlq_url))
    unexpected = stayed - Counter(poison)
    missing = Counter(poison) - stayed
    problems = [f"not poison: {body[:160]}" for body in unexpected.elements()]
    problems += [f"poison message missing: {body[:80]}" for body in missing.elements()]
    listed = "; ".join(repr(body[:40]) for body in poison)
    dlq = _check(
        "dead-letter queue holds only the poison",
        problems,
        f"{sum(stayed.values())} messages, the {len(poison)} poison ones meant to stay: {listed}",
    )
    return [queue, dlq]


# --- faults and workers ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerRun:
    """One worker process of a scenario, from start to end."""

    pid: int
    log: Path
    killed_at: float | None  # time.time() of the harness's SIGKILL
    returncode: int | None
    stopped: bool = False  # the harness asked it to stop (SIGTERM)


@dataclass
class FaultStats:
    injected: Counter[str] = field(default_factory=Counter)  # per kind
    by_operation: Counter[str] = field(default_factory=Counter)
    retried: int = 0  # botocore tried the call again
    surfaced: int = 0  # not retried: the exception that named it is in the worker's log
    cut: int = 0  # the worker was SIGKILLed before botocore could retry it
    retries: int = 0  # every retry botocore made, after an injected fault or not


def fault_accounting(
    events: Sequence[Mapping[str, Any]], runs: Sequence[WorkerRun]
) -> tuple[Check, FaultStats]:
    stats = FaultStats()
    retried = {e["after"] for e in events if e["event"] == "retry" and e.get("after")}
    stats.retries = sum(1 for e in events if e["event"] == "retry")
    by_pid = {run.pid: run for run in runs}
    logs: dict[int, str] = {}
    problems = []
    for fault in (e for e in events if e["event"] == "fault"):
        stats.injected[fault["kind"]] += 1
        stats.by_operation[fault["op"]] += 1
        if fault["id"] in retried:
            stats.retried += 1
            continue
        run = by_pid.get(fault["pid"])
        if run is None:
            problems.append(f"fault {fault['id']} in an unknown process")
            continue
        if run.pid not in logs:
            logs[run.pid] = run.log.read_text(errors="replace")
        if fault_tag(fault["id"]) in logs[run.pid]:
            stats.surfaced += 1
        elif run.killed_at is not None and 0 <= run.killed_at - fault["time"] < KILL_WINDOW:
            stats.cut += 1
        else:
            problems.append(
                f"{fault['kind']} on {fault['op']} (fault {fault['id']}, attempt "
                f"{fault['attempt']}): neither retried nor in the worker's log"
            )
    total = sum(stats.injected.values())
    check = _check(
        "every fault accounted for",
        problems,
        f"{total} injected = {stats.retried} retried by botocore + {stats.surfaced} in the "
        f"workers' logs + {stats.cut} cut short by a SIGKILL",
    )
    return check, stats


def worker_check(runs: Sequence[WorkerRun]) -> Check:
    problems = []
    for run in runs:
        # A worker asked to stop before it set up its handler dies of the SIGTERM itself:
        # it held nothing yet, and ended because it was asked to.
        asked = run.stopped and run.returncode in (0, -signal.SIGTERM)
        if run.killed_at is None and not asked:
            tail = run.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            problems.append(f"worker {run.pid} ended with {run.returncode}: {tail[0][:200]}")
    killed = sum(1 for run in runs if run.killed_at is not None)
    return _check(
        "no worker ended by itself",
        problems,
        f"{len(runs)} worker processes, {killed} SIGKILLed, the others stopped when asked",
    )


def record_failures(runs: Sequence[WorkerRun]) -> int:
    """How many times a worker logged a failed record (the Errors metric's count)."""
    failed = 0
    for run in runs:
        for line in run.log.read_text(errors="replace").splitlines():
            if line.startswith("{") and "record failed" in line:
                try:
                    failed += json.loads(line).get("message", "").startswith("record failed")
                except json.JSONDecodeError:
                    continue
    return failed
