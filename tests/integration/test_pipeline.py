"""The pipeline through the real queue: upload to the uploads bucket, the worker, the web bucket.

One stack (tools/terraform/exif_stack, applied to the embedded AWS) for the module, with
IAM enforcement on from the end of the apply to the end of the module (local_stack.py):
users upload and read with their own access keys, the worker and every test that acts as
the function sign with sessions of the function's execution role, and the harness's own
checks run as its admin IAM user. Each test starts its own `exif-stripper worker`
process, so a test can stop, kill, restart or misconfigure it, and uses keys of its own.
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
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from exif_stripper.aws.pipeline import Pipeline
from exif_stripper.aws.settings import Settings
from tools.embedded_aws import access
from tools.embedded_aws.local_stack import Stack, Worker, deployed_stack, wait_until
from tools.oracle import exiftool_reports, findings
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp
from tools.samples.composition import reference_strip
from tools.samples.corpora import write_large_jpeg
from tools.samples.ready_made import kitchen_sink, motion_photo_sample, mpo_sample
from tools.smoke import read_object
from tools.terraform.stack import REPO_ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

PHOTO = kitchen_sink(width=320, height=240)
CLEAN = reference_strip(PHOTO)
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
    return read_object(reader, stack.web, key)


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


def written_to_b(stack: Stack, key: str) -> tuple[list[str], list[str]]:
    """The versions of `key` in the web bucket that hold data (delete markers hold none) and its
    open multipart uploads, as the harness's admin sees them: ([], []) when nothing was
    ever written."""
    s3 = stack.admin("s3")
    versions = s3.list_object_versions(Bucket=stack.web, Prefix=key).get("Versions", [])
    uploads = s3.list_multipart_uploads(Bucket=stack.web, Prefix=key).get("Uploads", [])
    return [v["VersionId"] for v in versions], [u["UploadId"] for u in uploads]


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
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        copy = wait_for_copy(user_b, stack, key, CLEAN)
    assert worker.process.returncode == 0  # SIGTERM: it finished its batch and stopped
    assert re.search(r"worker: stopped; [1-9]\d* handled, 0 failed", worker.lines()[-1])
    assert copy is not None, "no sanitized copy in the web bucket"
    assert findings(exiftool_reports([copy])[0]) == []
    head = user_b.head_object(Bucket=stack.web, Key=key)
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"]["source-etag"] == user_a.head_object(Bucket=stack.uploads, Key=key)[
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
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
    listed = user_b.list_objects_v2(Bucket=stack.web, Prefix=prefix)["Contents"]
    assert [item["Key"] for item in listed] == [key]


def test_an_overwrite_updates_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    newer = motion_photo_sample()
    with stack.worker():
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=newer)
        assert wait_for_copy(user_b, stack, key, reference_strip(newer)) is not None


def test_a_delete_by_user_a_removes_the_copy(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    with stack.worker():
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
        user_a.delete_object(Bucket=stack.uploads, Key=key)
        assert wait_for_absence(user_b, stack, key)


# --- bad input, failures, the dead-letter queue ------------------------------------------------


def test_a_gif_named_jpg_is_rejected_once_and_nothing_reaches_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key, good = f"{prefix}fake.jpg", f"{prefix}after.jpg"
    with stack.worker(log_name=f"{prefix[:-1]}.log") as worker:
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=b"GIF89a" + bytes(256))
        user_a.put_object(Bucket=stack.uploads, Key=good, Body=PHOTO)
        assert wait_for_copy(user_b, stack, good, CLEAN) is not None
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    rejected = [line for line in worker.lines() if '"action":"rejected"' in line and key in line]
    assert len(rejected) == 1  # logged once: not retried
    assert "unsupported-format" in rejected[0]
    assert written_to_b(stack, key) == ([], [])
    assert queue_depth(stack, stack.dlq_url) == 0


def test_a_png_and_a_webp_reach_b_with_their_content_types(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    uploads = {
        f"{prefix}screenshot.png": (samples_png.photo_png(), "image/png"),
        f"{prefix}phone.webp": (samples_webp.photo_webp(), "image/webp"),
        f"{prefix}named-wrong.jpg": (samples_png.apng(), "image/png"),
    }
    with stack.worker():
        for key, (body, _) in uploads.items():
            user_a.put_object(Bucket=stack.uploads, Key=key, Body=body, ContentType="image/jpeg")
        copies = {
            key: wait_until(lambda k=key: read_object(user_b, stack.web, k), SETTLE)
            for key in uploads
        }
    assert all(copies.values()), "a copy did not arrive"
    assert [findings(r) for r in exiftool_reports(list(copies.values()))] == [[]] * len(uploads)
    for key, (_, content_type) in uploads.items():
        assert user_b.head_object(Bucket=stack.web, Key=key)["ContentType"] == content_type


def test_a_failing_record_is_retried_alone_and_then_dead_lettered(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    keys = [f"{prefix}one.jpg", f"{prefix}two.jpg"]
    dlq = stack.dlq_url
    drain(stack)
    before = queue_depth(stack, dlq)
    for key in keys:  # worker stopped: both events wait in the queue with the bad one
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
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
    # A worker pointed at a web bucket that does not exist fails every try of every record,
    # as a misconfigured or deleted destination would (under the function's role the
    # write is refused before the bucket is looked up: the role may write only to B).
    key = f"{prefix}photo.jpg"
    dlq = stack.dlq_url
    drain(stack)
    before = queue_depth(stack, dlq)
    user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
    done = subprocess.run(
        [*stack.worker_command(), "--visibility-timeout", "1", "--exit-when-idle", "3"],
        env=stack.worker_environment(web="no-such-bucket-b"),
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
    user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
    (body,) = wait_until(lambda: drain(stack), SETTLE)
    redeliver(stack, [body, body, body])
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) == CLEAN


def test_delete_then_recreate_delivered_backwards_ends_with_the_new_photo(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    newer = mpo_sample()
    drain(stack)
    user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
    user_a.delete_object(Bucket=stack.uploads, Key=key)
    user_a.put_object(Bucket=stack.uploads, Key=key, Body=newer)
    bodies = wait_until(lambda: (b := drain(stack)) and len(b) == 3 and b, SETTLE)
    redeliver(stack, list(reversed(bodies)))  # created(v2), removed, created(v1)
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) == reference_strip(newer)


def test_upload_then_delete_delivered_backwards_leaves_nothing(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    drain(stack)
    user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
    user_a.delete_object(Bucket=stack.uploads, Key=key)
    bodies = wait_until(lambda: (b := drain(stack)) and len(b) == 2 and b, SETTLE)
    redeliver(stack, list(reversed(bodies)))  # removed, then created
    with stack.worker():
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) is None


def test_a_worker_killed_mid_batch_loses_nothing(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = {f"{prefix}{i:02d}.jpg": kitchen_sink(seed=i) for i in range(24)}
    drain(stack)
    for key, data in photos.items():
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=data)
    with stack.worker(visibility_timeout=2) as first:
        some = wait_until(
            lambda: user_b.list_objects_v2(Bucket=stack.web, Prefix=prefix).get("KeyCount"),
            SETTLE,
            0.01,
        )
        first.kill()  # SIGKILL: the batch in hand is neither finished nor acknowledged
    done_before = user_b.list_objects_v2(Bucket=stack.web, Prefix=prefix).get("KeyCount", 0)
    assert some
    assert done_before < len(photos), "the first worker finished everything: no mid-batch kill"
    with stack.worker(visibility_timeout=2):
        for key, data in photos.items():
            assert wait_for_copy(user_b, stack, key, reference_strip(data)) is not None
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)


# --- races: A changes while a copy is being made -------------------------------------------------
# Two workers, so the newer events can run while the older one is still in hand. The first
# photo is large (slow to copy); the overwrites land once a worker has started to read it,
# so that worker finds A changed after its write and must go again (the unit tests inject
# the same at exact points; this is the same on the real queue, with real concurrency).


def being_read(stack: Stack, key: str) -> bool:
    """True once the emulator has started to answer a GetObject of `key` in the uploads bucket."""
    request = f'"GET /{stack.uploads}/{quote(key)} HTTP/1.1"'
    return request in stack.aws.log_path.read_text(errors="replace")


def rounds_logged(workers: list[Worker], key: str) -> list[int]:
    lines = [json.loads(line) for w in workers for line in w.lines() if line.startswith("{")]
    return [line["rounds"] for line in lines if line.get("key") == key and "rounds" in line]


@pytest.fixture(scope="module")
def slow_photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("race") / "slow.jpg"
    return write_large_jpeg(path, 20 * 1024 * 1024, width=1024).path.read_bytes()


def test_two_quick_overwrites_end_with_the_last_photo_in_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str, slow_photo: bytes
) -> None:
    key = f"{prefix}photo.jpg"
    second, third = motion_photo_sample(), mpo_sample()
    with (
        stack.worker(log_name=f"{prefix[:-1]}-1.log") as one,
        stack.worker(log_name=f"{prefix[:-1]}-2.log") as two,
    ):
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=slow_photo)
        assert wait_until(lambda: being_read(stack, key), SETTLE, 0.01)
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=second)
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=third)
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    # every event has run and both workers have stopped: what B holds now, it keeps
    assert copy_of(user_b, stack, key) == reference_strip(third)
    assert max(rounds_logged([one, two], key)) >= 2  # the slow copy saw A change, went again


def test_an_overwrite_and_a_delete_during_a_copy_leave_nothing_in_b(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str, slow_photo: bytes
) -> None:
    key = f"{prefix}photo.jpg"
    with (
        stack.worker(log_name=f"{prefix[:-1]}-1.log") as one,
        stack.worker(log_name=f"{prefix[:-1]}-2.log") as two,
    ):
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=slow_photo)
        assert wait_until(lambda: being_read(stack, key), SETTLE, 0.01)
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=motion_photo_sample())
        user_a.delete_object(Bucket=stack.uploads, Key=key)
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, SETTLE)
    assert copy_of(user_b, stack, key) is None
    assert max(rounds_logged([one, two], key)) >= 2


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
    large = write_large_jpeg(tmp_path / "large.jpg", 110 * 1024 * 1024)
    small = f"{prefix}warm-up.jpg"
    key = f"{prefix}large.jpg"
    with stack.worker() as worker:
        user_a.put_object(Bucket=stack.uploads, Key=small, Body=PHOTO)
        assert wait_for_copy(user_b, stack, small, CLEAN) is not None
        warm = _peak_rss_mib(worker.process.pid)
        user_a.upload_file(str(large.path), stack.uploads, key)
        head = wait_until(lambda: _head(user_b, stack, key), 120)
        peak = _peak_rss_mib(worker.process.pid)
    assert head is not None, "the large photo never arrived in the web bucket"
    # Nothing to remove: only its tables, one segment each, are written in one DQT and one
    # DHT (as for the strip its rows repeat, which has the same header).
    merged = len(large.strip) - len(reference_strip(large.strip))
    assert head["ContentLength"] == large.size - merged
    mib = large.size / 2**20
    line = f"worker peak RSS {warm:.0f} MiB after a small photo, {peak:.0f} MiB after {mib:.0f} MiB"
    print(line)
    report_lines.append(line)
    assert peak - warm < 64


def _head(reader: S3Client, stack: Stack, key: str) -> dict[str, Any] | None:
    try:
        return dict(reader.head_object(Bucket=stack.web, Key=key))
    except ClientError:
        return None


# --- repair and the smoke test -------------------------------------------------------------------


def run_sync(stack: Stack, *flags: str) -> subprocess.CompletedProcess[str]:
    """`exif-stripper sync` as an operator runs it: a command of its own, with an operator's
    credentials (sync reads B: an operator's job, not the function's)."""
    env = stack.operator_environment()
    command = [sys.executable, "-m", "exif_stripper.cli", "sync",
               "--uploads", stack.uploads, "--web", stack.web, *flags]  # fmt: skip
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_sync_repairs_an_emptied_bucket_b_here(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = {f"{prefix}{i}.jpg": kitchen_sink(seed=40 + i) for i in range(3)}
    for key, data in photos.items():
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=data)
    drain(stack)  # the events are lost: B never hears of these uploads
    stack.admin("s3").put_object(Bucket=stack.web, Key=f"{prefix}orphan.jpg", Body=CLEAN)
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
        assert copy_of(user_b, stack, key) == reference_strip(data)
    assert copy_of(user_b, stack, f"{prefix}orphan.jpg") is None
    again = run_sync(stack, "--prefix", prefix, "--dry-run")
    assert again.stdout.startswith("plan: 0 missing, 0 stale, 0 reprocess, 0 orphaned, 3 current")


def test_a_backfill_through_the_queue_makes_b_equal_sanitize_a(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    photos = [kitchen_sink(width=160, height=120, seed=60 + i) for i in range(4)]
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
            user_a.put_object(Bucket=stack.uploads, Key=key, Body=data)
        for key, data in first.items():
            assert wait_for_copy(user_b, stack, key, reference_strip(data))
    drain(stack)
    time.sleep(1.1)  # LastModified has whole seconds: the overwrite must be a second later
    uploads[stale] = mpo_sample()
    for key in [stale, *old]:
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=uploads[key])
    user_a.delete_object(Bucket=stack.uploads, Key=orphan)
    drain(stack)

    dead_before = queue_depth(stack, stack.dlq_url)  # other tests' messages
    sent = run_sync(stack, "--prefix", prefix, "--enqueue", stack.queue_url)
    assert sent.returncode == 0, sent.stderr
    plan_line, sent_line = sent.stdout.splitlines()
    assert plan_line == "plan: 17 missing, 1 stale, 0 reprocess, 1 orphaned, 7 current, 0 ignored"
    assert sent_line.startswith(f"sent: 19 messages to {stack.queue_url} in ")
    assert all(copy_of(user_b, stack, key) is None for key in old)  # the queue does the work

    with stack.worker(log_name=f"{prefix[:-1]}-backfill.log") as worker:
        assert wait_until(lambda: queue_depth(stack, stack.queue_url) == 0, 120)
    for key, data in uploads.items():
        assert copy_of(user_b, stack, key) == reference_strip(data), key
    assert copy_of(user_b, stack, orphan) is None
    written = Counter(
        line["key"]
        for line in map(json.loads, filter(lambda text: text.startswith("{"), worker.lines()))
        if line.get("action") == "written"
    )
    assert [written[key] for key in [stale, *old]] == [1] * 18  # once each
    assert [written[key] for key in live[1:]] == [0] * 7  # current: untouched
    assert queue_depth(stack, stack.dlq_url) == dead_before  # nothing failed
    again = run_sync(stack, "--prefix", prefix, "--dry-run")
    assert again.stdout.startswith("plan: 0 missing, 0 stale, 0 reprocess, 0 orphaned, 25 current")


# --- the function's identity ---------------------------------------------------------------------


def test_the_worker_acts_as_the_functions_execution_role(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    key = f"{prefix}photo.jpg"
    before = stack.aws.request_audit()
    with stack.worker():
        user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        assert wait_for_copy(user_b, stack, key, CLEAN) is not None
    during = stack.aws.request_audit().since(before)
    role = f"assumed-role/{stack.role_name}"
    assert during.count("s3", principal=role) >= 2  # GetObject on A, PutObject on B
    assert during.count("sqs", principal=role) >= 2  # ReceiveMessage, DeleteMessageBatch
    assert during.count(principal="root") == 0
    assert during.role_sessions == {stack.role_name: 1}  # one session lasts the whole run
    identity = stack.role("sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::123456789012:{role}/{stack.function_name}"


def test_the_worker_renews_its_role_session_before_it_expires(
    stack: Stack, user_a: S3Client, user_b: S3Client, prefix: str
) -> None:
    # 900 s is the shortest session AWS grants, and inside botocore's 15-minute refresh
    # window from the start: the worker must fetch a new session each time it signs. moto
    # never rejects an expired session (moto_server.py), so this shows renewal working
    # under enforcement, not expiry being enforced.
    keys = [f"{prefix}{i}.jpg" for i in range(2)]
    before = stack.aws.request_audit()
    with stack.worker(session_seconds=900):
        for key in keys:
            user_a.put_object(Bucket=stack.uploads, Key=key, Body=PHOTO)
        for key in keys:
            assert wait_for_copy(user_b, stack, key, CLEAN) is not None
    during = stack.aws.request_audit().since(before)
    assert during.role_sessions.get(stack.role_name, 0) > 1
    assert during.count(checked=False) == 0


@pytest.fixture(scope="module")
def large_upload(stack: Stack, user_a: S3Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 20 MiB photo in the uploads bucket (its copy needs a multipart upload of three parts), its
    event taken off the queue: the tests below run the function's steps themselves."""
    large = write_large_jpeg(tmp_path_factory.mktemp("large") / "l.jpg", 20 * 2**20)
    key = f"large-{uuid.uuid4().hex[:8]}.jpg"
    user_a.upload_file(str(large.path), stack.uploads, key)
    drain(stack)
    return key


class ConnectionLost(ConnectionError):
    """What the network does to an upload now and then."""


def function_pipeline(stack: Stack, **settings: str) -> Pipeline:
    """The function's pipeline in this process, signing as its execution role."""
    environment = {"UPLOADS_BUCKET": stack.uploads, "WEB_BUCKET": stack.web, **settings}
    return Pipeline(stack.role("s3"), Settings.from_env(environment))


def test_a_large_output_that_fails_partway_is_aborted_under_the_functions_role(
    stack: Stack, large_upload: str
) -> None:
    pipeline = function_pipeline(stack)
    parts: list[int] = []

    def lose_the_second_part(params: dict[str, Any], **_: Any) -> None:
        parts.append(params["PartNumber"])
        if len(parts) == 2:
            raise ConnectionLost("connection reset while sending part 2")

    pipeline.s3.meta.events.register("provide-client-params.s3.UploadPart", lose_the_second_part)
    with pytest.raises(ConnectionLost):  # not AccessDenied: the role may abort (issue 9)
        pipeline.created(large_upload)
    assert parts == [1, 2]  # it failed partway, after a part was stored
    assert written_to_b(stack, large_upload) == ([], [])  # no copy, no open upload


def test_a_photo_rejected_for_its_size_writes_nothing_under_the_functions_role(
    stack: Stack, large_upload: str
) -> None:
    # The byte limit is found while streaming: after 12 MiB, when the first part of the
    # copy has been sent, so the rejection must abort the upload as well as write nothing.
    outcome = function_pipeline(stack, MAX_BYTES=str(12 * 2**20)).created(large_upload)
    assert outcome.action == "rejected"
    assert outcome.reason.startswith("too-large")
    assert written_to_b(stack, large_upload) == ([], [])


# --- who may do what: docs/design.md "Access" on the enforcing emulator -------------------------


@pytest.fixture(scope="module")
def access_results(
    stack: Stack, user_a: S3Client, user_b: S3Client, report_lines: list[str]
) -> dict[access.Cell, str]:
    """Every cell, tried with User A's and User B's own keys and a session of the role."""
    results = access.try_access(
        {"User A": user_a, "User B": user_b, "function role": stack.role("s3")},
        {"uploads bucket": stack.uploads, "web bucket": stack.web},
        stack.admin("s3"),
        prefix=f"access-{uuid.uuid4().hex[:8]}/",
    )
    drain(stack)  # the events of User A's writes: nothing to do with the tests after
    report_lines.append(
        'access (docs/design.md "Access") on the embedded AWS, IAM enforced; ! = differs:'
    )
    report_lines.extend(access.format_table(results))
    return results


@pytest.mark.parametrize(
    "cell",
    access.all_cells(),
    ids=lambda c: f"{c.principal}-{c.bucket}-{c.operation}".replace(" ", "_"),
)
def test_each_identity_may_do_exactly_what_the_design_allows(
    cell: access.Cell, access_results: dict[access.Cell, str]
) -> None:
    assert access_results[cell] == cell.expected


# --- the smoke test, as `docker compose run test` runs it ----------------------------------------


@pytest.fixture
def smoke_command(stack: Stack, tmp_path: Path) -> list[str]:
    """`python -m tools.smoke --env dev` with a `terragrunt` on PATH that answers
    `output -json` with this stack's names, as the units of live/dev would."""
    outputs = {
        "buckets": {"uploads_bucket_name": stack.uploads, "web_bucket_name": stack.web},
        "iam-users": {"user_a_name": stack.user_a, "user_b_name": stack.user_b},
    }
    answers = tmp_path / "outputs.json"
    answers.write_text(
        json.dumps({unit: {k: {"value": v} for k, v in o.items()} for unit, o in outputs.items()})
    )
    fake = tmp_path / "bin" / "terragrunt"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "assert sys.argv[1:] == ['output', '-json'], sys.argv\n"
        f"print(json.dumps(json.load(open({str(answers)!r}))[os.path.basename(os.getcwd())]))\n"
    )
    fake.chmod(0o755)
    return [str(fake.parent), sys.executable, "-m", "tools.smoke", "--env", "dev"]


def run_smoke_command(
    stack: Stack, command: list[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: the caller is the harness's admin IAM user."""
    path, *argv = command
    env = {**stack.operator_environment(), "PATH": f"{path}:{os.environ['PATH']}"}
    return subprocess.run(
        [*argv, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def access_keys(stack: Stack, user: str) -> set[str]:
    listed = stack.admin("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"] for key in listed}


def test_the_smoke_test_passes_on_the_embedded_aws_with_keys_it_makes_and_deletes(
    stack: Stack,
    user_a: S3Client,
    user_b: S3Client,
    smoke_command: list[str],
    report_lines: list[str],
) -> None:
    keys_before = {user: access_keys(stack, user) for user in (stack.user_a, stack.user_b)}
    with stack.worker():
        done = run_smoke_command(stack, smoke_command, "--timeout", str(SETTLE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke test passed" in done.stdout
    for check in (
        "the copy is encrypted at rest (AES256)",
        "User B may not write to the web bucket",
        "User A may not read the web bucket",
    ):
        assert f"ok: {check}" in done.stdout
    assert "access keys deleted" in done.stdout
    assert {user: access_keys(stack, user) for user in keys_before} == keys_before
    report_lines.append("smoke test (--env) on the embedded AWS:")
    report_lines.extend(f"  {line}" for line in done.stdout.splitlines())


def test_the_smoke_test_deletes_its_keys_when_a_step_fails(
    stack: Stack, user_a: S3Client, user_b: S3Client, smoke_command: list[str]
) -> None:
    keys_before = {user: access_keys(stack, user) for user in (stack.user_a, stack.user_b)}
    done = run_smoke_command(stack, smoke_command, "--timeout", "2")  # no worker: no copy
    drain(stack)
    assert done.returncode == 1
    assert "timed out after 2 s waiting for the copy in B" in done.stderr
    assert "access keys deleted" in done.stdout
    assert {user: access_keys(stack, user) for user in keys_before} == keys_before


# --- last: nothing escaped IAM ------------------------------------------------------------------


def test_no_request_after_the_apply_escaped_iam(stack: Stack, report_lines: list[str]) -> None:
    audit = stack.enforcement_audit()
    report_lines.append(
        f"IAM enforcement after the apply: {audit.count('s3')} S3 and {audit.count('sqs')} SQS "
        f"requests, {audit.count(checked=False)} unchecked; "
        f"role sessions handed out {dict(audit.role_sessions)}"
    )
    assert audit.count("s3") > 0
    assert audit.count("sqs") > 0
    assert stack.enforcement_gaps() == []
