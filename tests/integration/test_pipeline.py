"""The pipeline through the real queue: upload to bucket A, the worker, bucket B.

One stack (tests/terraform/exif_stack, applied to the embedded AWS) for the module; each
test starts its own `exif-stripper worker` process, so a test can stop, kill, restart
or misconfigure it, and uses keys of its own. Users upload and read with their own
access keys, as they would in AWS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import samples
from tests.harness.local_stack import Stack, deployed_stack, wait_until
from tests.harness.oracle import exiftool_reports, findings
from tests.harness.smoke import read_object, run_smoke

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

PHOTO = samples.kitchen_sink(width=320, height=240)
CLEAN = samples.reference_strip(PHOTO)
SETTLE = 30.0  # seconds a test waits for the pipeline before it calls it a failure
MAX_RECEIVE_COUNT = 5  # the exif-lambda module's default


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # No destroy: the emulator goes away with its state, and test_exif_stack.py checks
    # that `terraform destroy` of this very composition leaves nothing behind.
    work = tmp_path_factory.mktemp("pipeline")
    with deployed_stack(work, name_prefix="exif-pipe", destroy=False, quiet=True) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def user_a(stack: Stack) -> S3Client:
    return stack.s3_as(stack.user_a)


@pytest.fixture(scope="module")
def user_b(stack: Stack) -> S3Client:
    return stack.s3_as(stack.user_b)


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}/"


def copy_of(reader: S3Client, stack: Stack, key: str) -> bytes | None:
    return read_object(reader, stack.dest, key)


def wait_for_copy(reader: S3Client, stack: Stack, key: str, expected: bytes) -> bytes | None:
    """The copy in B once it equals `expected`; None if it does not within SETTLE seconds."""
    copy: bytes | None = wait_until(
        lambda: (copy_of(reader, stack, key) == expected) and expected, SETTLE
    )
    return copy


def wait_for_absence(reader: S3Client, stack: Stack, key: str) -> bool:
    return bool(wait_until(lambda: copy_of(reader, stack, key) is None, SETTLE))


def queue_depth(stack: Stack, url: str) -> int:
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def dlq_url(stack: Stack) -> str:
    return stack.sqs().get_queue_url(QueueName=stack.outputs["dlq_name"])["QueueUrl"]


def drain(stack: Stack) -> list[str]:
    """Take every waiting message off the event queue (worker stopped); return the bodies."""
    sqs, bodies = stack.sqs(), []
    while messages := sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def written_count(log: list[str], key: str) -> int:
    return sum(
        1 for line in log if '"action":"written"' in line and f'"key":{json.dumps(key)}' in line
    )


# --- the happy path ------------------------------------------------------------------------------


def test_an_upload_by_user_a_appears_sanitized_for_user_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    with stack.worker() as worker:
        user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
        copy = wait_for_copy(user_b, stack, key, CLEAN)
    assert worker.process.returncode == 0  # SIGTERM: it finished its batch and stopped
    assert re.search(r"worker: stopped; [1-9]\d* handled, 0 failed", worker.lines()[-1])
    assert copy is not None, "no sanitized copy in bucket B"
    assert findings(exiftool_reports([copy])[0]) == []
    head = user_b.head_object(Bucket=stack.dest, Key=key)
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"]["source-etag"] == user_a.head_object(Bucket=stack.source, Key=key)[
        "ETag"
    ].strip('"')


@pytest.mark.parametrize(
    "name",
    [
        "with space.jpg",
        "plus+sign.jpg",
        "ünïcødé フォト.jpg",
        "a/b/c/nested.jpg",
        "UPPER.JPG",
        "long.jpeg",
        "percent%20literal.Jpeg",
    ],
)
def test_keys_arrive_in_b_exactly_as_uploaded(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str, name: str
) -> None:
    key = prefix + name
    with stack.worker():
        user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
    listed = user_b.list_objects_v2(Bucket=stack.dest, Prefix=prefix)["Contents"]
    assert [item["Key"] for item in listed] == [key]


def test_an_overwrite_updates_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    newer = samples.motion_photo_sample()
    with stack.worker():
        user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
        user_a.put_object(Bucket=stack.source, Key=key, Body=newer)
        assert wait_for_copy(user_b, stack, key, samples.reference_strip(newer)) is not None


def test_a_delete_by_user_a_removes_the_copy(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    with stack.worker():
        user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
        stack.delete_as(user_a, key)
        assert wait_for_absence(user_b, stack, key)


# --- bad input, failures, the dead-letter queue ------------------------------------------------


def test_a_png_named_jpg_is_rejected_once_and_nothing_reaches_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key, good = f"{prefix}fake.jpg", f"{prefix}after.jpg"
    with stack.worker(log_name=f"{prefix[:-1]}.log") as worker:
        user_a.put_object(Bucket=stack.source, Key=key, Body=b"\x89PNG\r\n\x1a\n" + bytes(256))
        user_a.put_object(Bucket=stack.source, Key=good, Body=PHOTO)
        assert wait_for_copy(user_b, stack, good, CLEAN) is not None
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    rejected = [line for line in worker.lines() if '"action":"rejected"' in line and key in line]
    assert len(rejected) == 1  # logged once: not retried
    assert "not-a-jpeg" in rejected[0]
    assert copy_of(user_b, stack, key) is None
    assert queue_depth(stack, dlq_url(stack)) == 0


def test_a_failing_record_is_retried_alone_and_then_dead_lettered(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    keys = [f"{prefix}one.jpg", f"{prefix}two.jpg"]
    dlq = dlq_url(stack)
    drain(stack)
    before = queue_depth(stack, dlq)
    for key in keys:  # worker stopped: both events wait in the queue with the bad one
        user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
    stack.sqs().send_message(QueueUrl=stack.queue_url, MessageBody="{not an S3 event")
    with stack.worker(visibility_timeout=1, log_name=f"{prefix[:-1]}.log") as worker:
        assert wait_until(lambda: queue_depth(stack, dlq) == before + 1, SETTLE)
    for key in keys:
        assert copy_of(user_b, stack, key) == CLEAN
        assert written_count(worker.lines(), key) == 1  # the good records ran once
    failed = [line for line in worker.lines() if "record failed" in line]
    assert len(failed) == MAX_RECEIVE_COUNT
    moved = stack.sqs().receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in moved if m["Body"] == "{not an S3 event"]


def test_a_persistent_failure_ends_in_the_dead_letter_queue_with_nothing_written(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    # A worker whose bucket B does not exist fails every try of every record, as a
    # misconfigured or deleted destination would.
    key = f"{prefix}photo.jpg"
    dlq = dlq_url(stack)
    drain(stack)
    before = queue_depth(stack, dlq)
    user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
    done = subprocess.run(
        [*stack.worker_command(), "--visibility-timeout", "1", "--exit-when-idle", "3"],
        env=stack.worker_environment(dest="no-such-bucket-b"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert queue_depth(stack, dlq) == before + 1
    assert queue_depth(stack, stack.queue_url) == 0
    assert copy_of(user_b, stack, key) is None
    assert done.stdout.count('"record failed') == MAX_RECEIVE_COUNT


# --- at least once, in any order ---------------------------------------------------------------


def redeliver(stack: Stack, bodies: list[str]) -> None:
    for body in bodies:
        stack.sqs().send_message(QueueUrl=stack.queue_url, MessageBody=body)


def test_duplicate_deliveries_converge(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    drain(stack)
    user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
    (body,) = wait_until(lambda: drain(stack), SETTLE)
    redeliver(stack, [body, body, body])
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) == CLEAN


def test_delete_then_recreate_delivered_backwards_ends_with_the_new_photo(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    newer = samples.mpo_sample()
    drain(stack)
    user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
    stack.delete_as(user_a, key)
    user_a.put_object(Bucket=stack.source, Key=key, Body=newer)
    bodies = wait_until(lambda: (b := drain(stack)) and len(b) == 3 and b, SETTLE)
    redeliver(stack, list(reversed(bodies)))  # created(v2), removed, created(v1)
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) == samples.reference_strip(newer)


def test_upload_then_delete_delivered_backwards_leaves_nothing(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    drain(stack)
    user_a.put_object(Bucket=stack.source, Key=key, Body=PHOTO)
    stack.delete_as(user_a, key)
    bodies = wait_until(lambda: (b := drain(stack)) and len(b) == 2 and b, SETTLE)
    redeliver(stack, list(reversed(bodies)))  # removed, then created
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) is None


def test_a_worker_killed_mid_batch_loses_nothing(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = {f"{prefix}{i:02d}.jpg": samples.kitchen_sink(seed=i) for i in range(24)}
    drain(stack)
    for key, data in photos.items():
        user_a.put_object(Bucket=stack.source, Key=key, Body=data)
    with stack.worker(visibility_timeout=2) as first:
        some = wait_until(
            lambda: user_b.list_objects_v2(Bucket=stack.dest, Prefix=prefix).get("KeyCount"),
            SETTLE,
            0.01,
        )
        first.kill()  # SIGKILL: the batch in hand is neither finished nor acknowledged
    done_before = user_b.list_objects_v2(Bucket=stack.dest, Prefix=prefix).get("KeyCount", 0)
    assert some
    assert done_before < len(photos), "the first worker finished everything: no mid-batch kill"
    with stack.worker(visibility_timeout=2):
        for key, data in photos.items():
            assert wait_for_copy(user_b, stack, key, samples.reference_strip(data)) is not None
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)


# --- size ---------------------------------------------------------------------------------------


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def test_a_100_mb_photo_goes_through_with_flat_memory(
    stack: Stack,
    user_a: S3Client,
    user_b: S3Client,
    prefix: str,
    tmp_path: Path,
    report_lines: list[str],
) -> None:
    large = samples.write_large_jpeg(tmp_path / "large.jpg", 110 * 1024 * 1024)
    small = f"{prefix}warm-up.jpg"
    key = f"{prefix}large.jpg"
    with stack.worker() as worker:
        user_a.put_object(Bucket=stack.source, Key=small, Body=PHOTO)
        assert wait_for_copy(user_b, stack, small, CLEAN) is not None
        warm = _peak_rss_mib(worker.process.pid)
        user_a.upload_file(str(large.path), stack.source, key)
        head = wait_until(lambda: _head(user_b, stack, key), 120)
        peak = _peak_rss_mib(worker.process.pid)
    assert head is not None, "the large photo never arrived in bucket B"
    assert head["ContentLength"] == large.size  # it had nothing to remove
    mib = large.size / 2**20
    line = f"worker peak RSS {warm:.0f} MiB after a small photo, {peak:.0f} MiB after {mib:.0f} MiB"
    print(line)
    report_lines.append(line)
    assert peak - warm < 64


def _head(reader: S3Client, stack: Stack, key: str) -> dict[str, Any] | None:
    try:
        return dict(reader.head_object(Bucket=stack.dest, Key=key))
    except ClientError:
        return None


# --- repair and the smoke test -------------------------------------------------------------------


def run_sync(stack: Stack, *flags: str) -> subprocess.CompletedProcess[str]:
    """`exif-stripper sync` as an operator runs it: a command of its own, with an operator's
    credentials (the emulator's admin), not the function's."""
    env = {**os.environ, **stack.aws.environment()}
    command = [sys.executable, "-m", "exif_stripper.cli", "sync",
               "--source", stack.source, "--dest", stack.dest, *flags]  # fmt: skip
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_sync_repairs_an_emptied_bucket_b_here(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = {f"{prefix}{i}.jpg": samples.kitchen_sink(seed=40 + i) for i in range(3)}
    for key, data in photos.items():
        user_a.put_object(Bucket=stack.source, Key=key, Body=data)
    drain(stack)  # the events are lost: B never hears of these uploads
    stack.admin("s3").put_object(Bucket=stack.dest, Key=f"{prefix}orphan.jpg", Body=CLEAN)
    plan = run_sync(stack, "--prefix", prefix, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert (
        plan.stdout == "plan: 3 missing, 0 stale, 0 reprocess, 1 orphaned, 0 current, 0 ignored\n"
    )
    assert copy_of(user_b, stack, f"{prefix}0.jpg") is None  # a dry run changes nothing

    done = run_sync(stack, "--prefix", prefix)
    assert done.returncode == 0, done.stderr
    *outcomes, plan_line, done_line = done.stdout.splitlines()  # stdout is sync's own, only
    assert sorted(outcomes) == sorted(
        [f"written   {key}" for key in photos] + [f"deleted   {prefix}orphan.jpg"]
    )
    assert plan_line == "plan: 3 missing, 0 stale, 0 reprocess, 1 orphaned, 0 current, 0 ignored"
    assert done_line == "done: 1 deleted, 3 written"
    for key, data in photos.items():
        assert copy_of(user_b, stack, key) == samples.reference_strip(data)
    assert copy_of(user_b, stack, f"{prefix}orphan.jpg") is None
    again = run_sync(stack, "--prefix", prefix, "--dry-run")
    assert again.stdout.startswith("plan: 0 missing, 0 stale, 0 reprocess, 0 orphaned, 3 current")


def test_a_backfill_through_the_queue_makes_b_equal_sanitize_a(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = [samples.kitchen_sink(width=160, height=120, seed=60 + i) for i in range(4)]
    uploads = {f"{prefix}{i:02d} {name}.jpg": photos[i % 4] for i, name in enumerate(
        ["a", "b+c", "ü", "フォト", "d"] * 5
    )}  # fmt: skip
    live, old = list(uploads)[:8], list(uploads)[8:]
    stale, orphan = live[0], f"{prefix}orphan.jpg"
    # Before the backfill: 8 photos (and one since deleted) went through the live
    # pipeline; 17 older ones never did, their events long gone.
    first = {**{key: uploads[key] for key in live}, orphan: photos[0]}
    with stack.worker(log_name=f"{prefix[:-1]}-live.log"):
        for key, data in first.items():
            user_a.put_object(Bucket=stack.source, Key=key, Body=data)
        for key, data in first.items():
            assert wait_for_copy(user_b, stack, key, samples.reference_strip(data))
    drain(stack)
    time.sleep(1.1)  # LastModified has whole seconds: the overwrite must be a second later
    uploads[stale] = samples.mpo_sample()
    for key in [stale, *old]:
        user_a.put_object(Bucket=stack.source, Key=key, Body=uploads[key])
    user_a.delete_object(Bucket=stack.source, Key=orphan)
    drain(stack)

    dead_before = queue_depth(stack, dlq_url(stack))  # other tests' messages
    sent = run_sync(stack, "--prefix", prefix, "--enqueue", stack.queue_url)
    assert sent.returncode == 0, sent.stderr
    plan_line, sent_line = sent.stdout.splitlines()
    assert plan_line == "plan: 17 missing, 1 stale, 0 reprocess, 1 orphaned, 7 current, 0 ignored"
    assert sent_line.startswith(f"sent: 19 messages to {stack.queue_url} in ")
    assert all(copy_of(user_b, stack, key) is None for key in old)  # the queue does the work

    with stack.worker(log_name=f"{prefix[:-1]}-backfill.log") as worker:
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, 120)
    for key, data in uploads.items():
        assert copy_of(user_b, stack, key) == samples.reference_strip(data), key
    assert copy_of(user_b, stack, orphan) is None
    written = Counter(
        line["key"]
        for line in map(json.loads, filter(lambda text: text.startswith("{"), worker.lines()))
        if line.get("action") == "written"
    )
    assert [written[key] for key in [stale, *old]] == [1] * 18  # once each
    assert [written[key] for key in live[1:]] == [0] * 7  # current: untouched
    assert queue_depth(stack, dlq_url(stack)) == dead_before  # nothing failed
    again = run_sync(stack, "--prefix", prefix, "--dry-run")
    assert again.stdout.startswith("plan: 0 missing, 0 stale, 0 reprocess, 0 orphaned, 25 current")


def test_the_smoke_test_passes_on_the_embedded_aws(
    stack: Stack, user_a: S3Client, user_b: S3Client
) -> None:
    with stack.worker():
        result = run_smoke(
            user_a,
            user_b,
            stack.source,
            stack.dest,
            timeout=SETTLE,
            delete=lambda key: stack.delete_as(user_a, key),  # moto's delete-marker gap
        )
    assert len(result.checks) == 3
