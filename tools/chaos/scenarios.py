"""`make chaos`: faults injected, nothing lost (issue 14).

    python -m tools.chaos.scenarios [--photos 2000] [--scenarios a,b,c] [--workers 3]

One stack on the embedded AWS (the real modules applied, IAM enforced from then on, the
workers signing as the function's execution role), then each scenario from empty buckets
and queues:

    a  5% throttling (503 SlowDown) and 1% 5xx (500 InternalError) on every S3 operation
       the function makes; 1% errors on SQS's ReceiveMessage and DeleteMessage
    b  1% connection resets and read timeouts on every S3 operation, bodies of GetObject
       cut halfway, 10% on the parts and completions of multipart uploads; SQS resets and
       timeouts, and an SQS outage longer than botocore's retries
    c  the web bucket missing for a while (deleted, then made again as Terraform made it), so
       events end in the dead-letter queue; then `exif-stripper redrive` moves them back

In every scenario, while User A uploads the mix of photos (tools/chaos/mix.py) and
then overwrites and deletes some of them, workers are SIGKILLed and restarted at random
moments and once while a multipart upload is open in B; duplicates of S3's events, late
copies (older events after newer ones) and poison messages go into the queue directly. Once
the queue is empty the invariants are checked (tools/chaos/checks.py); a table of
what was injected, retried and checked is printed, and the exit status is 1 if any
invariant was violated.

Faults come from the fault layer (tools/chaos/faults.py), installed only in the worker
processes started here: `python -m tools.chaos.faults ... worker ...`.
"""

from __future__ import annotations

import argparse
import heapq
import io
import json
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

from exif_stripper.aws.settings import Settings
from tools.chaos import faults
from tools.chaos.checks import (
    Check,
    WorkerRun,
    fault_accounting,
    mirror_checks,
    queue_checks,
    queue_depth,
    record_failures,
    upload_check,
    worker_check,
)
from tools.chaos.mix import Change, Mix, photo_mix
from tools.embedded_aws.local_stack import EnforcementGap, Stack, Worker, deployed_stack, wait_until
from tools.terraform.stack import REPO_ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Messages no handler can ever process: they must end in the dead-letter queue and stay.
POISON: Final = (
    "{not an S3 event",
    json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
    json.dumps(["an", "array"]),
)
MAX_RECEIVE_COUNT: Final = 5  # the exif-lambda module's default
CONVERGE_TIMEOUT: Final = 300.0


@dataclass(frozen=True)
class Options:
    photos: int = 2000
    workers: int = 3
    seed: int = 1
    # Seconds a received message stays hidden: well above a batch's time here, as the module
    # sets 6 x the function's timeout on AWS, and short enough that a killed worker's batch
    # comes back soon (and that a message failing every time is dead-lettered in ~30 s).
    visibility: int = 6
    # Records the fleet handles between two random SIGKILLs (drawn anew each time). Counted
    # in records, not seconds, so each record's chance of being killed is the same on a fast
    # machine and a loaded one: by the clock, a loaded machine lost so many batches that
    # events reached the dead-letter queue (5 receives) from kills alone.
    kill_every: tuple[int, int] = (40, 120)
    duplicate_rate: float = 0.10  # events sent again (now or later)
    late_rate: float = 0.30  # on a change, the key's previous event sent again, late


# --- the scenarios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    rates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    sqs_outage: float = 0.0  # seconds of failing ReceiveMessage and DeleteMessageBatch
    bucket_outage: bool = False  # the web bucket missing until events reach the dead-letter queue


_S3 = faults.S3_OPERATIONS
_SQS = faults.SQS_OPERATIONS
SCENARIOS: Final = {
    "a": Scenario(
        "a",
        "5% throttling and 1% 5xx on every S3 operation",
        {
            **faults.same_rates(_S3, throttle=0.05, error=0.01),
            **faults.same_rates(_SQS, throttle=0.01, error=0.01),
        },
    ),
    "b": Scenario(
        "b",
        "1% connection resets and timeouts, mid-body and mid-multipart; an SQS outage",
        {
            **faults.same_rates(_S3, reset=0.005, timeout=0.005),
            "s3.GetObject": faults.same_rates(
                ["s3.GetObject"], reset=0.005, timeout=0.005, body_reset=0.005, body_timeout=0.005
            )["s3.GetObject"],
            **faults.same_rates(
                ("s3.UploadPart", "s3.CompleteMultipartUpload"), reset=0.05, timeout=0.05
            ),
            **faults.same_rates(_SQS, reset=0.005, timeout=0.005),
        },
        sqs_outage=25.0,
    ),
    "c": Scenario("c", "the web bucket missing for a while, then a redrive", bucket_outage=True),
}


def plan_for(scenario: Scenario, seed: int, outage_at: float) -> faults.FaultPlan:
    outages: tuple[faults.Outage, ...] = ()
    if scenario.sqs_outage:
        end = outage_at + scenario.sqs_outage
        outages = tuple(
            faults.Outage(operation, faults.ERROR, outage_at, end)
            for operation in ("sqs.ReceiveMessage", "sqs.DeleteMessageBatch")
        )
    return faults.FaultPlan(scenario.rates, outages, seed)


# --- a scenario's result -------------------------------------------------------------------


@dataclass
class Result:
    scenario: Scenario
    numbers: dict[str, object] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


# --- the workers -----------------------------------------------------------------------------


class Fleet:
    """`size` faulty workers; any of them can be SIGKILLed and is then started again."""

    def __init__(self, stack: Stack, size: int, folder: Path, plan: Path, record: Path,
                 options: Options) -> None:  # fmt: skip
        self._stack = stack
        self._folder = folder
        self._command = [
            sys.executable, "-m", "tools.chaos.faults", "--plan", str(plan),
            "--record", str(record), "worker", "--queue-url", stack.queue_url,
            "--wait-seconds", "1", "--visibility-timeout", str(options.visibility),
        ]  # fmt: skip
        self._env = stack.worker_environment()
        self._slots: list[Worker | None] = [None] * size
        self._lock = threading.Lock()
        self.runs: list[WorkerRun] = []
        self.started = 0
        self.kills = 0
        self._reported: dict[Path, tuple[int, int]] = {}  # log: (bytes read, records in them)

    def __enter__(self) -> Fleet:
        for slot in range(len(self._slots)):
            self._start(slot)
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            for slot, worker in enumerate(self._slots):
                if worker is not None:
                    self._end(worker, worker.stop(timeout=30), killed=False, stopped=True)
                    self._slots[slot] = None

    def _start(self, slot: int) -> None:
        log = self._folder / f"worker-{self.started:03d}.log"
        self.started += 1
        log_file = log.open("ab")
        process = subprocess.Popen(
            self._command, env=self._env, cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT
        )
        self._slots[slot] = Worker(process, log, log_file)

    def _end(self, worker: Worker, returncode: int, *, killed: bool, stopped: bool = False) -> None:
        at = time.time() if killed else None
        self.runs.append(WorkerRun(worker.process.pid, worker.log, at, returncode, stopped))

    def kill(self, slots: Sequence[int] | None = None) -> None:
        """SIGKILL these workers (all by default) and start new ones in their place."""
        with self._lock:
            for slot in range(len(self._slots)) if slots is None else slots:
                worker = self._slots[slot]
                if worker is not None:
                    worker.kill()
                    self.kills += 1
                    self._end(worker, worker.process.returncode, killed=True)
                self._start(slot)

    def handled(self) -> int:
        """Records the fleet's workers have handled so far: the JSON line each one logs,
        read from the logs as they grow (only from the kill thread)."""
        with self._lock:
            logs = {run.log for run in self.runs}
            logs |= {worker.log for worker in self._slots if worker is not None}
        for log in logs:
            offset, count = self._reported.get(log, (0, 0))
            with log.open("rb") as handle:
                handle.seek(offset)
                new = handle.read()
            whole = new[: new.rfind(b"\n") + 1]
            self._reported[log] = (offset + len(whole), count + whole.count(b'"location":"report'))
        return sum(count for _, count in self._reported.values())

    def polling(self) -> list[int]:
        """The slots whose worker is up: it printed its first line, so it polls (or is about
        to). Only those are killed at random: killing one still importing tests nothing, and
        on a loaded machine (start-up takes seconds) would leave the fleet mostly starting."""
        with self._lock:
            return [
                slot
                for slot, worker in enumerate(self._slots)
                if worker is not None and worker.log.stat().st_size > 0
            ]

    def replace_ended(self) -> None:
        """A worker that ended by itself is recorded as such and replaced, as Lambda would."""
        with self._lock:
            for slot, worker in enumerate(self._slots):
                if worker is not None and worker.process.poll() is not None:
                    worker.stop()
                    self._end(worker, worker.process.returncode, killed=False)
                    self._start(slot)

    @property
    def size(self) -> int:
        return len(self._slots)


@contextmanager
def background(work: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Run `work(stop)` in a thread until the block ends."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join()


def random_kills(
    fleet: Fleet, rng: random.Random, every: tuple[int, int]
) -> Callable[[threading.Event], None]:
    """SIGKILL a worker that is up each time the fleet has handled `every` more records
    (a number drawn in that range), and replace workers that ended by themselves."""

    def work(stop: threading.Event) -> None:
        due = rng.randint(*every)
        while not stop.wait(0.5):
            fleet.replace_ended()
            handled = fleet.handled()
            if handled >= due and (up := fleet.polling()):
                fleet.kill([rng.choice(up)])
                due = handled + rng.randint(*every)

    return work


class MultipartKill:
    """Kills every worker the first time a multipart upload is open in B: a function killed
    at its timeout halfway through a large photo."""

    def __init__(self, fleet: Fleet, admin: S3Client, dest: str) -> None:
        self._fleet, self._admin, self._dest = fleet, admin, dest
        self.done = 0

    def __call__(self, stop: threading.Event) -> None:
        while not self.done and not stop.wait(0.2):
            try:
                uploads = self._admin.list_multipart_uploads(Bucket=self._dest).get("Uploads")
            except ClientError:  # the web bucket is away (scenario c)
                continue
            if uploads:
                self._fleet.kill()
                self.done += 1


# --- events into the queue directly ----------------------------------------------------------


@dataclass(frozen=True)
class S3Event:
    """What S3 would have sent for one action of User A
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""

    name: str  # ObjectCreated:Put, ObjectCreated:CompleteMultipartUpload, ObjectRemoved:...
    key: str
    version: str
    etag: str = ""
    size: int = 0

    def body(self, bucket: str, region: str) -> str:
        obj: dict[str, object] = {"key": quote_plus(self.key), "versionId": self.version,
                                  "sequencer": f"{time.time_ns():X}"}  # fmt: skip
        if self.name.startswith("ObjectCreated"):
            obj |= {"size": self.size, "eTag": self.etag}
        record = {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "eventName": self.name,
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "chaos-injected",
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": obj,
            },
        }
        return json.dumps({"Records": [record]})


class Injector:
    """Duplicates of S3's events, sent now or later, and on each change the key's previous
    event again, later (an older event after a newer one): at least once, in any order."""

    def __init__(self, sqs: SQSClient, stack: Stack, rng: random.Random, options: Options) -> None:
        self._sqs, self._url = sqs, stack.queue_url
        self._bucket, self._region = stack.uploads, stack.aws.region
        self._rng, self._options = rng, options
        self._events: queue.Queue[S3Event | None] = queue.Queue()
        self._last: dict[str, S3Event] = {}
        self.counts: Counter[str] = Counter()

    def observe(self, event: S3Event) -> None:
        """Called for each action of User A, with what S3 sends for it."""
        self._events.put(event)

    def poison(self) -> None:
        self._send([(body, 0) for body in POISON])
        self.counts["poison"] += len(POISON)

    def __call__(self, stop: threading.Event) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            out: list[tuple[str, int]] = []
            body = event.body(self._bucket, self._region)
            if self._rng.random() < self._options.duplicate_rate:
                for _ in range(self._rng.choice((1, 1, 2))):
                    delay = self._rng.choice((0, 0, self._rng.randint(1, 10)))
                    out.append((body, delay))
                    self.counts["late duplicates" if delay else "duplicates"] += 1
            previous = self._last.get(event.key)
            if previous is not None and self._rng.random() < self._options.late_rate:
                out.append((previous.body(self._bucket, self._region), self._rng.randint(1, 10)))
                self.counts["older events after newer"] += 1
            self._last[event.key] = event
            self._send(out)

    def finish(self) -> None:
        self._events.put(None)

    def _send(self, messages: list[tuple[str, int]]) -> None:
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "MessageBody": body, "DelaySeconds": delay}
                for i, (body, delay) in enumerate(messages[start : start + 10])
            ]
            self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]


# --- User A ----------------------------------------------------------------------------------


class UserA:
    """Uploads the mix with a few threads and, from a second or so after each key's first
    upload, makes that key's changes, in order, while the uploads go on."""

    def __init__(self, s3: S3Client, bucket: str, mix: Mix, rng: random.Random,
                 observe: Callable[[S3Event], None]) -> None:  # fmt: skip
        self._s3, self._bucket, self._mix, self._rng = s3, bucket, mix, rng
        self._observe = observe
        self._changes_of: dict[str, list[int]] = {}
        for index, change in enumerate(mix.changes):
            self._changes_of.setdefault(change.key, []).append(index)
        self._due: list[tuple[float, int]] = []  # (when, index into mix.changes), a heap
        self._lock = threading.Lock()
        self._uploaded = threading.Event()

    def run(self) -> None:
        keys = list(self._mix.uploads)
        self._rng.shuffle(keys)
        changer = threading.Thread(target=self._make_changes)
        changer.start()
        try:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(self._upload, keys))
        finally:
            self._uploaded.set()
            changer.join()

    def _upload(self, key: str) -> None:
        self._put(key, self._mix.uploads[key])
        with self._lock:
            when = time.monotonic() + self._rng.uniform(1, 20)
            for index in self._changes_of.get(key, []):
                heapq.heappush(self._due, (when, index))
                when += self._rng.uniform(0.1, 3)

    def _make_changes(self) -> None:
        while True:
            with self._lock:
                ready = bool(self._due) and self._due[0][0] <= time.monotonic()
                index = heapq.heappop(self._due)[1] if ready else None
                finished = not self._due and self._uploaded.is_set()
            if index is not None:
                self._change(self._mix.changes[index])
            elif finished:
                return
            else:
                time.sleep(0.05)

    def _change(self, change: Change) -> None:
        if change.data is not None:
            self._put(change.key, change.data)
            return
        deleted = self._s3.delete_object(Bucket=self._bucket, Key=change.key)
        version = deleted.get("VersionId", "")
        self._observe(S3Event("ObjectRemoved:DeleteMarkerCreated", change.key, version))

    def _put(self, key: str, data: bytes) -> None:
        if len(data) > 8 * 2**20:  # as the AWS CLI and boto3 do: a multipart upload
            self._s3.upload_fileobj(io.BytesIO(data), self._bucket, key)
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
            name, etag, version = "CompleteMultipartUpload", head["ETag"], head.get("VersionId")
        else:
            put = self._s3.put_object(Bucket=self._bucket, Key=key, Body=data)
            name, etag, version = "Put", put["ETag"], put.get("VersionId")
        event = S3Event(f"ObjectCreated:{name}", key, version or "", etag.strip('"'), len(data))
        self._observe(event)


# --- the web bucket away and back ---------------------------------------------------------


class BucketOutage:
    """Deletes the web bucket and makes it again with the configuration Terraform gave it."""

    def __init__(self, admin: S3Client, bucket: str) -> None:
        self._s3, self._bucket = admin, bucket
        self._saved: dict[str, Any] = {}
        self.back = threading.Event()

    def take_away(self) -> None:
        s3, bucket = self._s3, self._bucket
        self._saved = {
            "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
            "encryption": s3.get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"
            ],
            "public_access": s3.get_public_access_block(Bucket=bucket)[
                "PublicAccessBlockConfiguration"
            ],
            "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"],
            "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
            "tags": s3.get_bucket_tagging(Bucket=bucket)["TagSet"],
        }
        s3.delete_bucket(Bucket=bucket)

    def bring_back(self) -> None:
        s3, bucket, saved = self._s3, self._bucket, self._saved
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": saved["versioning"]}
        )
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration=saved["encryption"]
        )
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=saved["public_access"]
        )
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=saved["ownership"])
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": saved["lifecycle"]}
        )
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": saved["tags"]})
        self.back.set()

    def bring_back_when(
        self, sqs: SQSClient, dlq_url: str, dead: int, latest: float
    ) -> Callable[[threading.Event], None]:
        """B comes back once `dead` messages have reached the dead-letter queue, or at
        `latest` (time.monotonic())."""

        def work(stop: threading.Event) -> None:
            while not stop.wait(0.5):
                if queue_depth(sqs, dlq_url) >= dead or time.monotonic() >= latest:
                    break
            self.bring_back()

        return work


# --- one scenario --------------------------------------------------------------------------


def reset(stack: Stack) -> None:
    """Empty buckets and queues: each scenario starts from nothing."""
    s3, sqs = stack.admin("s3"), stack.sqs()
    for bucket in (stack.uploads, stack.web):
        _empty(s3, bucket)
    for url in (stack.queue_url, stack.dlq_url):
        sqs.purge_queue(QueueUrl=url)
    wait_until(lambda: queue_depth(sqs, stack.queue_url) + queue_depth(sqs, stack.dlq_url) == 0, 30)


def _empty(s3: S3Client, bucket: str) -> None:
    """Every version, delete marker and open upload of `bucket`, gone.

    One DeleteObject per version (moto refuses the harness's DeleteObjects key by key,
    AccessDenied, though its policy allows DeleteObject and DeleteObjectVersion), keys in
    parallel but each key's versions one after another: moto's version list of a key is
    not safe against two deletes at once, and loses one.
    """
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    versions: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            versions.setdefault(entry["Key"], []).append(entry["VersionId"])

    def delete(key: str) -> None:
        for version in versions[key]:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(delete, versions))
    left = s3.list_object_versions(Bucket=bucket)
    if left.get("Versions") or left.get("DeleteMarkers"):
        raise RuntimeError(f"{bucket} is not empty after emptying it: {left}")


def settled(sqs: SQSClient, url: str, timeout: float = CONVERGE_TIMEOUT) -> float | None:
    """Seconds until `url` held nothing (visible, in flight or delayed) for 3 s; None if not
    within `timeout`."""
    started = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - started < timeout:
        if queue_depth(sqs, url) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 3:
                return quiet_since - started
        else:
            quiet_since = None
        time.sleep(0.5)
    return None


def run_scenario(
    stack: Stack, scenario: Scenario, mix: Mix, options: Options, work: Path
) -> Result:
    folder = work / f"scenario-{scenario.name}"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{options.seed}-{scenario.name}")
    result = Result(scenario)
    numbers = result.numbers
    reset(stack)
    admin, sqs = stack.admin("s3"), stack.sqs()
    plan_path, record = folder / "plan.json", folder / "faults.jsonl"
    plan_path.write_text(plan_for(scenario, options.seed, time.time() + 20).to_json())
    outage = BucketOutage(admin, stack.web) if scenario.bucket_outage else None
    if outage is not None:
        outage.take_away()
    audit_before = stack.aws.request_audit()
    injector = Injector(sqs, stack, rng, options)
    injector.poison()
    user = UserA(stack.s3_as(stack.user_a), stack.uploads, mix, rng, injector.observe)
    started = time.monotonic()
    fleet = Fleet(stack, options.workers, folder, plan_path, record, options)
    multipart_kill = MultipartKill(fleet, admin, stack.web)
    with (
        fleet,
        background(random_kills(fleet, rng, options.kill_every)),
        background(multipart_kill),
    ):
        with background(injector):
            if outage is not None:
                dead = max(10, options.photos // 20)
                bring_back = outage.bring_back_when(sqs, stack.dlq_url, dead, started + 120)
                with background(bring_back):
                    user.run()
                    outage.back.wait(CONVERGE_TIMEOUT)
            else:
                user.run()
            injector.finish()
        numbers["User A's uploads and changes (s)"] = round(time.monotonic() - started)
        converged = settled(sqs, stack.queue_url)
        numbers["time to converge after User A (s)"] = _seconds(converged)
        if outage is not None and converged is not None:
            numbers["dead-lettered while B was away"] = queue_depth(sqs, stack.dlq_url) - len(
                POISON
            )
            numbers["redriven (exif-stripper redrive)"] = redrive(stack)
            converged = settled(sqs, stack.queue_url)
            numbers["time to converge after the redrive (s)"] = _seconds(converged)
    _count(result, mix, injector, fleet, multipart_kill)
    result.checks += _checks(stack, result, fleet, record, audit_before, converged)
    return result


def _seconds(value: float | None) -> object:
    return "never" if value is None else round(value, 1)


def redrive(stack: Stack) -> int:
    """`exif-stripper redrive`, run by an operator (the harness's admin); messages moved."""
    done = subprocess.run(
        [sys.executable, "-m", "exif_stripper.cli", "redrive",
         "--from", stack.dlq_url, "--to", stack.queue_url],
        env=stack.operator_environment(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.split()[1])


def _count(result: Result, mix: Mix, injector: Injector, fleet: Fleet, kill: MultipartKill) -> None:
    numbers = result.numbers
    numbers["keys uploaded"] = len(mix.uploads)
    for kind in ("large", "not-a-jpeg", "damaged", "turned", "other-name"):
        numbers[f"  of which {kind}"] = mix.count(kind)
    numbers["User A's overwrites and deletes"] = len(mix.changes)
    for what, count in sorted(injector.counts.items()):
        numbers[f"injected: {what}"] = count
    numbers["workers SIGKILLed (while a multipart upload was open)"] = (
        f"{fleet.kills} ({kill.done})"
    )


def _checks(stack: Stack, result: Result, fleet: Fleet, record: Path, audit_before: Any,
            converged: float | None) -> list[Check]:  # fmt: skip
    numbers = result.numbers
    events = faults.read_record(record)
    fault_check, stats = fault_accounting(events, fleet.runs)
    for kind in faults.KINDS:
        numbers[f"faults: {kind}"] = stats.injected.get(kind, 0)
    numbers["retries by botocore"] = stats.retries
    numbers["records failed (logged, back to the queue)"] = record_failures(fleet.runs)
    audit = stack.aws.request_audit().since(audit_before)
    role = f"assumed-role/{stack.role_name}"
    numbers["requests by the function's role: S3, SQS"] = (
        f"{audit.count('s3', principal=role)}, {audit.count('sqs', principal=role)}"
    )
    settings = Settings.from_env(stack.worker_environment())
    mirror, mirror_stats = mirror_checks(stack.admin("s3"), stack.uploads, stack.web, settings)
    numbers["versions written to B"] = mirror_stats.versions
    converge = Check(
        "converged",
        converged is not None,
        "the event queue emptied"
        if converged is not None
        else f"the queue did not empty within {CONVERGE_TIMEOUT:.0f} s",
    )
    return [
        converge,
        *mirror,
        upload_check(stack.admin("s3"), stack.web),
        *queue_checks(stack.sqs(), stack.queue_url, stack.dlq_url, POISON),
        fault_check,
        worker_check(fleet.runs),
    ]


# --- the table -------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> list[str]:
    rows: list[str] = []
    for result in results:
        for name in result.numbers:
            if name not in rows:
                rows.append(name)
    width = max(len(row) for row in rows)
    head = f"{'':<{width}}  " + "  ".join(f"{r.scenario.name:>10}" for r in results)
    lines = [head]
    for row in rows:
        values = "  ".join(f"{r.numbers.get(row, '')!s:>10}" for r in results)
        lines.append(f"{row:<{width}}  {values}")
    checks = [c.name for c in results[0].checks]
    for name in checks:
        values = "  ".join(
            f"{next(('ok' if c.ok else 'FAIL') for c in r.checks if c.name == name):>10}"
            for r in results
        )
        lines.append(f"{'check: ' + name:<{width}}  {values}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=Options.photos)
    parser.add_argument("--workers", type=int, default=Options.workers)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--work-dir", type=Path, help="keep logs and records here")
    args = parser.parse_args(argv)
    options = Options(photos=args.photos, workers=args.workers, seed=args.seed)
    names = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    started = time.monotonic()
    mix = photo_mix(options.photos, seed=options.seed)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as scratch:
        work = args.work_dir or Path(scratch)
        try:
            with deployed_stack(
                work / "stack", name_prefix="exif-chaos", destroy=False, quiet=True
            ) as stack:
                print(f"chaos: stack applied in {time.monotonic() - started:.0f} s", flush=True)
                for name in names:
                    scenario = SCENARIOS[name]
                    print(f"chaos: scenario {name}: {scenario.title}", flush=True)
                    began = time.monotonic()
                    results.append(run_scenario(stack, scenario, mix, options, work))
                    took = round(time.monotonic() - began)
                    results[-1].numbers["scenario's whole time (s)"] = took
                    print(f"chaos: scenario {name} took {took} s", flush=True)
                    for check in results[-1].checks:
                        print("\n".join(check.lines()), flush=True)
        except EnforcementGap as gap:
            print(f"chaos: FAIL: a request escaped IAM enforcement: {gap}")
            return 1
    print()
    print("\n".join(table(results)))
    print(f"\nchaos: {len(results)} scenarios in {time.monotonic() - started:.0f} s")
    failed = [r.scenario.name for r in results if not r.ok]
    print("chaos: every invariant held" if not failed else f"chaos: FAIL in {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
