"""The Lambda handler and the pipeline, record by record, on moto's in-process S3.

The queue-level behaviour (redelivery, dead-letter queue, the worker) is tested through
the real stack in tests/integration; here are the fine-grained cases: what lands in
the web bucket and with which headers, how keys are decoded, what happens on duplicates,
reordering, deletes, rejections and transient errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError
from moto import mock_aws

from exif_stripper import __version__
from exif_stripper.aws import handler
from exif_stripper.aws.pipeline import MAX_ROUNDS, Pipeline
from exif_stripper.aws.settings import DEFAULT_BATCH_THREADS, ConfigError, Settings
from exif_stripper.core.sanitize import DamagedPolicy
from tools.oracle import exiftool_reports, findings
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp
from tools.samples.composition import compose, reference_strip
from tools.samples.corpora import write_large_jpeg
from tools.samples.exif import exif_segment
from tools.samples.jpeg import EOI, SOF0, SOF2, base_jpeg, walk_markers
from tools.samples.ready_made import kitchen_sink, motion_photo_sample, mpo_sample

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

UPLOADS, WEB = "uploads-a", "web-b"
PHOTO = kitchen_sink(width=160, height=120)
PHOTO_BASELINE = compose(base_jpeg(160, 120, seed=5), [exif_segment()])
# A second frame header after the image data: refused losslessly, shown by libjpeg.
DAMAGED = (
    PHOTO_BASELINE[:-2]
    + PHOTO_BASELINE[walk_markers(PHOTO_BASELINE).first(SOF0).start :][:19]
    + EOI
)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        for bucket in (UPLOADS, WEB):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        # Powertools keeps one metric set for every Metrics in the process: start empty.
        handler.metrics.clear_metrics()
        yield client
        handler.metrics.clear_metrics()


@pytest.fixture
def pipeline(s3: S3Client) -> Pipeline:
    return Pipeline(s3, Settings(UPLOADS, WEB))


@pytest.fixture
def handle(pipeline: Pipeline) -> handler.Handler:
    """The Lambda's entry bound to `pipeline`, as the image's CMD binds its own."""
    return handler.make_handler(pipeline)


# --- events as S3 and SQS deliver them -------------------------------------------------------


def s3_record(key: str, event: str = "ObjectCreated:Put", bucket: str = UPLOADS) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-11-27T12:00:00.000Z",
        "eventName": event,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            # S3 URL-encodes keys in notifications, with '+' for a space
            "object": {"key": quote_plus(key, safe="/"), "size": 1, "sequencer": "0A"},
        },
    }


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:events",
                "awsRegion": "eu-west-1",
            }
            for body in bodies
        ]
    }


def created(key: str) -> dict[str, Any]:
    return {"Records": [s3_record(key)]}


def removed(key: str) -> dict[str, Any]:
    return {"Records": [s3_record(key, "ObjectRemoved:Delete")]}


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def counted(name: str) -> float:
    metric = handler.metrics.metric_set.get(name)
    return sum(metric["Value"]) if metric else 0


def keys(s3: S3Client, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def copy_in_b(s3: S3Client, key: str) -> bytes:
    return s3.get_object(Bucket=WEB, Key=key)["Body"].read()


def after_each(
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Client,
    operation: str,
    key: str,
    actions: list[Any],
    bucket: str = UPLOADS,
) -> None:
    """Run the next of `actions` right after each `operation` (a client method) on `key`
    returns: another user's upload or delete landing at exactly that moment."""
    real = getattr(s3, operation)
    pending = list(actions)

    def wrapped(**kwargs: Any) -> Any:
        result = real(**kwargs)
        if kwargs.get("Bucket") == bucket and kwargs.get("Key") == key and pending:
            pending.pop(0)()
        return result

    monkeypatch.setattr(s3, operation, wrapped)


def upload(s3: S3Client, key: str, body: bytes, log: list[dict[str, Any]]) -> Any:
    """An upload to A to run later; its response is appended to `log`."""
    return lambda: log.append(dict(s3.put_object(Bucket=UPLOADS, Key=key, Body=body)))


# --- created -------------------------------------------------------------------------------------


def test_an_upload_appears_in_b_sanitized_with_its_provenance(
    s3: S3Client, handle: handler.Handler
) -> None:
    put = s3.put_object(
        Bucket=UPLOADS, Key="a.jpg", Body=PHOTO, Metadata={"owner-name": "Jane Doe"}
    )
    response = handle(sqs_event(created("a.jpg")))
    assert failures(response) == []
    copy = s3.get_object(Bucket=WEB, Key="a.jpg")
    body = copy["Body"].read()
    assert findings(exiftool_reports([body])[0]) == []
    assert body == reference_strip(PHOTO)
    assert copy["ContentType"] == "image/jpeg"
    assert copy["Metadata"] == {
        "source-etag": put["ETag"].strip('"'),
        "source-version-id": put["VersionId"],
        "sanitizer-version": __version__,
        "orientation-policy": "apply",
    }  # and nothing of the source's own metadata
    assert counted("ObjectsWritten") == 1
    assert counted("BytesIn") == len(PHOTO)


@pytest.mark.parametrize(
    "key",
    ["with space.jpg", "plus+sign.jpg", "unicodé/フォト.JPG", "a/b/c/deep.jpeg", "100%.Jpg"],
)
def test_keys_are_decoded_once_exactly(s3: S3Client, handle: handler.Handler, key: str) -> None:
    s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    assert failures(handle(sqs_event(created(key)))) == []
    assert keys(s3, WEB) == [key]


def test_keys_that_are_not_images_are_skipped(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=UPLOADS, Key="notes.txt", Body=b"hello")
    assert failures(handle(sqs_event(created("notes.txt")))) == []
    assert keys(s3, WEB) == []
    assert counted("ObjectsSkipped") == 1


def test_the_s3_test_event_is_skipped(s3: S3Client, handle: handler.Handler) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": UPLOADS}
    assert failures(handle(sqs_event(test_event))) == []
    assert keys(s3, WEB) == []


def test_an_event_from_another_bucket_is_skipped(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=WEB, Key="x.jpg", Body=PHOTO)
    event = {"Records": [s3_record("x.jpg", bucket=WEB)]}
    assert failures(handle(sqs_event(event))) == []
    assert counted("ObjectsWritten") == 0


def test_a_duplicate_event_writes_the_same_bytes_again(
    s3: S3Client, handle: handler.Handler
) -> None:
    # The function may not read the web bucket (docs/design.md "Access: the function's role"), so it
    # cannot tell a duplicate from a
    # first delivery: it writes again, and B converges all the same.
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    handle(sqs_event(created("a.jpg")))
    versions = s3.list_object_versions(Bucket=WEB, Prefix="a.jpg")["Versions"]
    bodies = {
        s3.get_object(Bucket=WEB, Key="a.jpg", VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert bodies == {reference_strip(PHOTO)}
    assert counted("ObjectsWritten") == 2


def test_an_overwrite_updates_b(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    newer = motion_photo_sample()
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=newer)
    handle(sqs_event(created("a.jpg")))
    body = s3.get_object(Bucket=WEB, Key="a.jpg")["Body"].read()
    assert body == reference_strip(newer)


def test_a_large_photo_goes_up_in_parts(
    s3: S3Client, handle: handler.Handler, tmp_path: Any
) -> None:
    large = write_large_jpeg(tmp_path / "large.jpg", 20 * 1024 * 1024, width=1024)
    s3.upload_file(str(large.path), UPLOADS, "large.jpg")
    assert failures(handle(sqs_event(created("large.jpg")))) == []
    head = s3.head_object(Bucket=WEB, Key="large.jpg")
    assert head["ContentLength"] == len(reference_strip(large.path.read_bytes()))
    assert "-" in head["ETag"]  # a multipart ETag: "<md5 of part md5s>-<parts>"


def test_the_function_never_reads_bucket_b(s3: S3Client, handle: handler.Handler) -> None:
    # Its role may only write and delete there (docs/design.md "Access: the function's role"); a
    # read would be AccessDenied.
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("Bucket", "")))

    s3.meta.events.register("provide-client-params.s3.*", record)
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    s3.put_object(Bucket=UPLOADS, Key="bad.jpg", Body=b"not a jpeg")
    calls.clear()
    handle(sqs_event(created("a.jpg"), created("a.jpg"), created("bad.jpg")))
    s3.delete_object(Bucket=UPLOADS, Key="a.jpg")
    handle(sqs_event(removed("a.jpg"), created("a.jpg")))
    on_b = {name for name, bucket in calls if bucket == WEB}
    assert on_b <= {
        "PutObject",
        "DeleteObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    }
    assert "PutObject" in on_b
    assert "DeleteObject" in on_b


# --- rejected and failing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"GIF89a" + bytes(100), "unsupported-format"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), "unsupported-format"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "bad-chunk"),
    ],
    ids=["a GIF", "a HEIC", "a broken PNG"],
)
def test_content_we_cannot_vouch_for_is_rejected_not_retried_and_nothing_is_written(
    s3: S3Client, handle: handler.Handler, pipeline: Pipeline, body: bytes, code: str
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="fake.jpg", Body=body)
    response = handle(sqs_event(created("fake.jpg")))
    assert failures(response) == []  # not retried: it would fail the same way forever
    assert keys(s3, WEB) == []
    assert counted("ObjectsRejected") == 1
    assert pipeline.created("fake.jpg").reason.startswith(f"{code}: ")


@pytest.mark.parametrize(
    ("key", "body", "content_type"),
    [
        ("shot.png", samples_png.photo_png(), "image/png"),
        ("anim.PNG", samples_png.apng(), "image/png"),
        ("phone.webp", samples_webp.photo_webp(), "image/webp"),
        ("screenshot-named.jpg", samples_png.photo_png(), "image/png"),
        ("webp-named.jpeg", samples_webp.photo_webp(lossless=True), "image/webp"),
    ],
)
def test_png_and_webp_uploads_appear_sanitized_with_their_content_type(
    s3: S3Client, handle: handler.Handler, key: str, body: bytes, content_type: str
) -> None:
    s3.put_object(Bucket=UPLOADS, Key=key, Body=body)
    assert failures(handle(sqs_event(created(key)))) == []
    copy = s3.get_object(Bucket=WEB, Key=key)
    data = copy["Body"].read()
    assert copy["ContentType"] == content_type
    assert findings(exiftool_reports([data])[0]) == []
    assert counted("ObjectsWritten") == 1


def test_a_rejected_overwrite_removes_the_older_copy_from_b(
    s3: S3Client, handle: handler.Handler
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    frame = walk_markers(PHOTO).first(SOF2)
    cut = PHOTO[: frame.start + 6]  # no image data: nothing to keep, nothing to decode
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=cut)
    handle(sqs_event(created("a.jpg")))
    assert keys(s3, WEB) == []


def test_a_damaged_photo_is_read_again_and_re_encoded(
    s3: S3Client, handle: handler.Handler
) -> None:
    put = s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=DAMAGED)
    reads: list[dict[str, Any]] = []
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: reads.append(dict(params))
    )
    assert failures(handle(sqs_event(created("a.jpg")))) == []
    assert len(reads) == 2
    assert reads[1]["IfMatch"] == put["ETag"]  # the same bytes as the first read
    copy = s3.get_object(Bucket=WEB, Key="a.jpg")
    assert copy["Metadata"]["source-version-id"] == put["VersionId"]
    assert findings(exiftool_reports([copy["Body"].read()])[0]) == []
    assert s3.list_multipart_uploads(Bucket=WEB).get("Uploads", []) == []


def test_a_damaged_photo_replaced_while_it_is_read_again_goes_back_to_the_queue(
    s3: S3Client,
    handle: handler.Handler,
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=DAMAGED)
    reads: list[int] = []

    def replace_after_the_first_read(**_: Any) -> None:
        reads.append(1)
        if len(reads) == 1:  # the upload is replaced while the function works
            s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)

    s3.meta.events.register("after-call.s3.GetObject", replace_after_the_first_read)
    with pytest.raises(BatchProcessingError):  # its one record failed: the queue retries it
        handle(sqs_event(created("a.jpg")))
    assert keys(s3, WEB) == []
    assert failures(handle(sqs_event(created("a.jpg")))) == []  # redelivered
    body = s3.get_object(Bucket=WEB, Key="a.jpg")["Body"].read()
    assert body == reference_strip(PHOTO)


def test_a_re_encoded_photo_is_counted(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=DAMAGED)
    assert failures(handle(sqs_event(created("a.jpg")))) == []
    assert counted("ObjectsWritten") == 1
    assert counted("ObjectsReencoded") == 1


def test_a_large_rejected_photo_leaves_no_multipart_upload_behind(
    s3: S3Client, tmp_path: Any
) -> None:
    pipeline = Pipeline(s3, Settings(UPLOADS, WEB, damaged=DamagedPolicy.REJECT))
    handle = handler.make_handler(pipeline)
    large = write_large_jpeg(tmp_path / "large.jpg", 20 * 1024 * 1024, width=1024)
    # A malformed table after the image data: refused after several parts were sent.
    broken = large.path.read_bytes()[:-2] + b"\xff\xc4\x00\x03\x00" + EOI
    s3.put_object(Bucket=UPLOADS, Key="cut.jpg", Body=broken)
    handle(sqs_event(created("cut.jpg")))
    assert keys(s3, WEB) == []
    assert s3.list_multipart_uploads(Bucket=WEB).get("Uploads", []) == []


# --- what an attempt killed halfway leaves behind -------------------------------------------
# Found by `make chaos`: a worker SIGKILLed while a multipart upload of its copy was open left
# that upload in the web bucket for good; the retried event wrote the copy with a new upload.


def redelivered(event: dict[str, Any], receive_count: int = 2) -> dict[str, Any]:
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return event


def left_open(s3: S3Client, key: str) -> str:
    """A multipart upload of `key` in B with a part in it, as an attempt killed halfway
    through a large photo leaves it; its id."""
    upload_id = s3.create_multipart_upload(Bucket=WEB, Key=key)["UploadId"]
    s3.upload_part(Bucket=WEB, Key=key, UploadId=upload_id, PartNumber=1, Body=bytes(5 * 2**20))
    return upload_id


def open_uploads(s3: S3Client) -> list[tuple[str, str]]:
    uploads = s3.list_multipart_uploads(Bucket=WEB).get("Uploads", [])
    return [(upload["Key"], upload["UploadId"]) for upload in uploads]


def test_a_redelivered_event_aborts_the_upload_a_killed_attempt_left_open(
    s3: S3Client, handle: handler.Handler
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    left_open(s3, "a.jpg")
    assert failures(handle(redelivered(sqs_event(created("a.jpg"))))) == []
    assert open_uploads(s3) == []
    assert copy_in_b(s3, "a.jpg") == reference_strip(PHOTO)


def test_a_redelivered_delete_aborts_the_upload_too(s3: S3Client, handle: handler.Handler) -> None:
    left_open(s3, "gone.jpg")
    assert failures(handle(redelivered(sqs_event(removed("gone.jpg"))))) == []
    assert open_uploads(s3) == []


def test_only_the_uploads_of_the_events_own_key_are_aborted(
    s3: S3Client, handle: handler.Handler
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    others = {("a.jpg/b.jpg", left_open(s3, "a.jpg/b.jpg")), ("b.jpg", left_open(s3, "b.jpg"))}
    left_open(s3, "a.jpg")
    handle(redelivered(sqs_event(created("a.jpg"))))
    assert set(open_uploads(s3)) == others


def test_a_first_delivery_does_not_look_for_open_uploads(
    s3: S3Client, handle: handler.Handler
) -> None:
    calls: list[str] = []
    s3.meta.events.register(
        "provide-client-params.s3.ListMultipartUploads", lambda **_: calls.append("listed")
    )
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    assert calls == []
    handle(redelivered(sqs_event(created("a.jpg"))))
    assert calls == ["listed"]


def test_an_object_over_max_bytes_is_refused_by_its_size_before_its_body_is_read(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))  # an older copy, made under a larger limit
    limit = len(PHOTO) - 1
    pipeline = Pipeline(s3, Settings(UPLOADS, WEB, max_bytes=limit))
    handle = handler.make_handler(pipeline)
    real_get, reads = s3.get_object, []

    def spied(**kwargs: Any) -> Any:
        response = real_get(**kwargs)
        body = response["Body"]
        read = body.read
        body.read = lambda *args: reads.append(args) or read(*args)  # type: ignore[method-assign]
        return response

    monkeypatch.setattr(s3, "get_object", spied)
    response = handle(sqs_event(created("a.jpg")))
    assert failures(response) == []  # not retried: it would be refused the same way forever
    assert reads == []
    assert keys(s3, WEB) == []  # and the older copy is gone, as for any rejected overwrite
    assert counted("ObjectsRejected") == 1
    outcome = pipeline.created("a.jpg")
    assert outcome.reason.startswith(f"too-large: object of {len(PHOTO)} bytes exceeds the limit")


def test_one_failing_record_fails_alone(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    real_get = s3.get_object

    def throttled(**kwargs: Any) -> Any:
        if kwargs["Key"] == "b.jpg":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", throttled)
    event = sqs_event(created("a.jpg"), created("b.jpg"), created("c.jpg"))
    response = handle(event)
    assert failures(response) == [event["Records"][1]["messageId"]]
    assert sorted(keys(s3, WEB)) == ["a.jpg", "c.jpg"]
    assert counted("Errors") == 1


def test_a_message_that_is_not_an_s3_event_fails_to_the_queue(
    s3: S3Client, handle: handler.Handler
) -> None:
    event = sqs_event(created("a.jpg"))
    event["Records"][0]["body"] = "not json"
    good = sqs_event(created("b.jpg"))["Records"][0]
    s3.put_object(Bucket=UPLOADS, Key="b.jpg", Body=PHOTO)
    event["Records"].append(good)
    assert failures(handle(event)) == [event["Records"][0]["messageId"]]


# --- removed and reordering ---------------------------------------------------------------------


def test_a_delete_removes_the_copy(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    s3.delete_object(Bucket=UPLOADS, Key="a.jpg")
    assert failures(handle(sqs_event(removed("a.jpg")))) == []
    assert keys(s3, WEB) == []
    assert counted("ObjectsDeleted") == 1


def test_a_late_delete_event_does_not_remove_a_recreated_photo(
    s3: S3Client, handle: handler.Handler
) -> None:
    # Delivered out of order: delete v1, re-upload v2; the create arrives first.
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    s3.delete_object(Bucket=UPLOADS, Key="a.jpg")
    newer = mpo_sample()
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=newer)
    handle(sqs_event(created("a.jpg")))
    handle(sqs_event(removed("a.jpg")))
    body = s3.get_object(Bucket=WEB, Key="a.jpg")["Body"].read()
    assert body == reference_strip(newer)


def test_a_late_create_event_for_a_deleted_photo_clears_b(
    s3: S3Client, handle: handler.Handler
) -> None:
    # Delivered out of order: upload then delete; the delete arrives first.
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    s3.delete_object(Bucket=UPLOADS, Key="a.jpg")
    handle(sqs_event(removed("a.jpg")))
    handle(sqs_event(created("a.jpg")))
    assert keys(s3, WEB) == []


def test_a_direct_s3_event_is_processed(s3: S3Client, handle: handler.Handler) -> None:
    s3.put_object(Bucket=UPLOADS, Key="manual.jpg", Body=PHOTO)
    assert handle(created("manual.jpg")) == {"outcomes": ["written"]}
    assert keys(s3, WEB) == ["manual.jpg"]


# --- races: A changes between our read and the re-check after our write -------------------
# The newer event is never delivered in these tests: the step that raced must converge on
# its own, as it must when the newer event was processed before its stale write landed.


def test_an_overwrite_during_processing_ends_with_the_newer_photo_in_b(
    s3: S3Client, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    newer, uploads = motion_photo_sample(), []
    after_each(monkeypatch, s3, "get_object", "a.jpg", [upload(s3, "a.jpg", newer, uploads)])
    outcome = pipeline.created("a.jpg")
    assert (outcome.action, outcome.rounds) == ("written", 2)
    copy = s3.get_object(Bucket=WEB, Key="a.jpg")
    assert copy["Body"].read() == reference_strip(newer)
    # the recorded version is the one whose bytes were copied
    assert copy["Metadata"]["source-version-id"] == uploads[0]["VersionId"]
    assert copy["Metadata"]["source-etag"] == uploads[0]["ETag"].strip('"')


def test_two_quick_overwrites_end_with_the_last_photo_in_b(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    second, third, uploads = motion_photo_sample(), mpo_sample(), []
    overwrites = [upload(s3, "a.jpg", second, uploads), upload(s3, "a.jpg", third, uploads)]
    after_each(monkeypatch, s3, "get_object", "a.jpg", overwrites)
    assert failures(handle(sqs_event(created("a.jpg")))) == []
    assert copy_in_b(s3, "a.jpg") == reference_strip(third)
    assert len(uploads) == 2  # both overwrites landed while the record was in hand


def test_an_overwrite_then_a_delete_during_processing_leave_nothing_in_b(
    s3: S3Client, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    uploads: list[dict[str, Any]] = []

    def overwrite_then_delete() -> None:
        upload(s3, "a.jpg", mpo_sample(), uploads)()
        s3.delete_object(Bucket=UPLOADS, Key="a.jpg")

    after_each(monkeypatch, s3, "get_object", "a.jpg", [overwrite_then_delete])
    outcome = pipeline.created("a.jpg")
    assert (outcome.action, outcome.rounds) == ("deleted", 2)
    assert keys(s3, WEB) == []


def test_a_delete_during_processing_leaves_nothing_in_b(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    delete = [lambda: s3.delete_object(Bucket=UPLOADS, Key="a.jpg")]
    after_each(monkeypatch, s3, "get_object", "a.jpg", delete)
    assert failures(handle(sqs_event(created("a.jpg")))) == []
    assert keys(s3, WEB) == []


def test_a_good_photo_replacing_a_rejected_one_during_processing_reaches_b(
    s3: S3Client, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"\x89PNG\r\n\x1a\n" + bytes(100))
    after_each(monkeypatch, s3, "get_object", "a.jpg", [upload(s3, "a.jpg", PHOTO, [])])
    outcome = pipeline.created("a.jpg")
    assert (outcome.action, outcome.rounds) == ("written", 2)
    assert copy_in_b(s3, "a.jpg") == reference_strip(PHOTO)


def test_a_photo_recreated_while_its_delete_is_processed_stays_in_b(
    s3: S3Client, handle: handler.Handler, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The removal saw no key in A, then the upload landed (and its event may already have
    # run) just before the removal deleted the copy from B.
    s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=PHOTO)
    handle(sqs_event(created("a.jpg")))
    s3.delete_object(Bucket=UPLOADS, Key="a.jpg")
    newer = mpo_sample()
    recreate = [upload(s3, "a.jpg", newer, [])]
    after_each(monkeypatch, s3, "delete_object", "a.jpg", recreate, bucket=WEB)
    outcome = pipeline.removed("a.jpg")
    assert (outcome.action, outcome.rounds) == ("written", 2)
    assert copy_in_b(s3, "a.jpg") == reference_strip(newer)


def test_an_overwrite_is_noticed_on_an_unversioned_bucket_too(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = "uploads-unversioned"
    s3.create_bucket(Bucket=plain, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    pipeline = Pipeline(s3, Settings(plain, WEB))
    s3.put_object(Bucket=plain, Key="a.jpg", Body=PHOTO)
    newer = motion_photo_sample()
    overwrite = [lambda: s3.put_object(Bucket=plain, Key="a.jpg", Body=newer)]
    after_each(monkeypatch, s3, "get_object", "a.jpg", overwrite, bucket=plain)
    assert pipeline.created("a.jpg").rounds == 2
    copy = s3.get_object(Bucket=WEB, Key="a.jpg")
    assert copy["Body"].read() == reference_strip(newer)
    assert copy["Metadata"]["source-version-id"] == "null"


def test_a_key_that_never_holds_still_goes_back_to_the_queue(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("a.jpg", "b.jpg"):
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    overwrites = [upload(s3, "a.jpg", kitchen_sink(seed=i), []) for i in range(MAX_ROUNDS)]
    after_each(monkeypatch, s3, "get_object", "a.jpg", overwrites)
    event = sqs_event(created("a.jpg"), created("b.jpg"))
    response = handle(event)
    assert failures(response) == [event["Records"][0]["messageId"]]  # retried later
    assert copy_in_b(s3, "b.jpg") == reference_strip(PHOTO)
    assert counted("Errors") == 1


# --- a batch on threads ---------------------------------------------------------------------------


def test_records_of_a_batch_run_at_the_same_time(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each read waits until four reads are under way; one at a time, the first would wait
    # forever (here: 10 s, then the batch fails).
    threads = 4
    pipeline = Pipeline(s3, Settings(UPLOADS, WEB, batch_threads=threads))
    handle = handler.make_handler(pipeline)
    names = [f"{i}.jpg" for i in range(threads)]
    for key in names:
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    real_get, together = s3.get_object, threading.Barrier(threads, timeout=10)

    def meet(**kwargs: Any) -> Any:
        together.wait()
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", meet)
    assert failures(handle(sqs_event(*map(created, names)))) == []
    assert sorted(keys(s3, WEB)) == names


def test_one_batch_thread_runs_records_one_at_a_time(
    s3: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = Pipeline(s3, Settings(UPLOADS, WEB, batch_threads=1))
    handle = handler.make_handler(pipeline)
    names = [f"{i}.jpg" for i in range(4)]
    for key in names:
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    active, most = [0], [0]
    real_get = s3.get_object

    def counting(**kwargs: Any) -> Any:
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.02)
        active[0] -= 1
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", counting)
    assert failures(handle(sqs_event(*map(created, names)))) == []
    assert most[0] == 1


def test_events_of_one_key_run_in_batch_order_and_never_at_once(
    s3: S3Client, handle: handler.Handler, pipeline: Pipeline
) -> None:
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    steps: list[tuple[str, str, float, float]] = []

    def traced(kind: str, step: Any) -> Any:
        def run(key: str, **options: Any) -> Any:
            started = time.perf_counter()
            if key == "a.jpg" and not steps:
                time.sleep(0.2)  # the first step of a.jpg is slow: a chance to overtake it
            outcome = step(key, **options)
            steps.append((key, kind, started, time.perf_counter()))
            return outcome

        return run

    pipeline.created = traced("created", pipeline.created)  # type: ignore[method-assign]
    pipeline.removed = traced("removed", pipeline.removed)  # type: ignore[method-assign]
    batch = [created("a.jpg"), created("b.jpg"), removed("a.jpg"), created("c.jpg")]
    assert failures(handle(sqs_event(*batch, created("a.jpg")))) == []
    of_a = [step for step in steps if step[0] == "a.jpg"]
    assert [kind for _, kind, _, _ in of_a] == ["created", "removed", "created"]
    assert all(before[3] <= after[2] for before, after in pairwise(of_a))
    assert steps[0][0] != "a.jpg"  # the other keys did not wait for a.jpg


def test_partial_failures_stay_exact_when_records_run_at_once(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{i}.jpg" for i in range(10)]
    failing = {"2.jpg", "5.jpg", "9.jpg"}
    for key in names:
        s3.put_object(Bucket=UPLOADS, Key=key, Body=PHOTO)
    real_get = s3.get_object

    def throttled(**kwargs: Any) -> Any:
        if kwargs["Key"] in failing:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", throttled)
    event = sqs_event(*map(created, names))
    response = handle(event)
    ids = [record["messageId"] for record in event["Records"]]
    assert failures(response) == [ids[names.index(key)] for key in sorted(failing)]
    assert sorted(keys(s3, WEB)) == sorted(set(names) - failing)
    assert (counted("Errors"), counted("ObjectsWritten")) == (3, 7)
    assert counted("BytesIn") == 7 * len(PHOTO)


def test_a_batch_in_which_every_record_fails_fails_as_a_whole(
    s3: S3Client, handle: handler.Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Powertools raises then, so the Lambda invocation (and the worker) sees the failure.
    def unavailable(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "x"}}, "GetObject")

    monkeypatch.setattr(s3, "get_object", unavailable)
    with pytest.raises(BatchProcessingError):
        handle(sqs_event(*map(created, ["a.jpg", "b.jpg", "c.jpg"])))
    assert counted("Errors") == 3


def test_records_naming_one_key_form_one_chain_in_batch_order() -> None:
    space_as_plus = created("a b.jpg")
    space_as_percent = created("a b.jpg")
    space_as_percent["Records"][0]["s3"]["object"]["key"] = "a%20b.jpg"
    event = sqs_event(
        space_as_plus, created("x.jpg"), removed("a b.jpg"), {"Event": "s3:TestEvent"},
        created("x.jpg"), space_as_percent,
    )  # fmt: skip
    event["Records"].append({**event["Records"][0], "messageId": "m", "body": "not json"})
    assert handler.chains_by_key(event["Records"]) == [[0, 2, 5], [1, 4], [3], [6]]


# --- the Lambda's entry --------------------------------------------------------------------------

# What Lambda's Python runtime does, in a process of its own (the container): import the
# module the image's CMD names, then call its `lambda_handler` for each event. The S3 API
# is moto's, in that process.
LAMBDA_CONTAINER = """
import json, sys, types
import boto3
from moto import mock_aws

with mock_aws():
    s3 = boto3.client("s3")
    where = {"LocationConstraint": "eu-west-1"}
    for bucket in ("uploads-a", "web-b"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=where)
    s3.put_object(Bucket="uploads-a", Key="a.jpg", Body=sys.stdin.buffer.read())
    from exif_stripper.aws import handler

    context = types.SimpleNamespace(
        function_name="exif", memory_limit_in_mb=512, aws_request_id="r",
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:exif",
    )
    for _ in range(2):
        event = json.loads(sys.argv[1])
        print("response", json.dumps(handler.lambda_handler(event, context)))
    print("pipelines built", handler._from_environment.cache_info().misses)
    print("copies", [o["Key"] for o in s3.list_objects_v2(Bucket="web-b").get("Contents", [])])
"""


def test_the_lambda_entry_builds_its_pipeline_from_the_environment_once_per_container() -> None:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "UPLOADS_BUCKET": UPLOADS,
        "WEB_BUCKET": WEB,
        "POWERTOOLS_METRICS_NAMESPACE": "ExifStripper",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    run = subprocess.run(
        [sys.executable, "-c", LAMBDA_CONTAINER, json.dumps(sqs_event(created("a.jpg")))],
        input=PHOTO, capture_output=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    lines = run.stdout.decode().splitlines()
    assert lines.count('response {"batchItemFailures": []}') == 2
    assert "pipelines built 1" in lines
    assert "copies ['a.jpg']" in lines
    # The entry flushes the metrics after each invocation (EMF, on stdout for CloudWatch).
    emf = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
    assert [blob["ObjectsWritten"] for blob in emf] == [[1.0], [1.0]]


# --- configuration --------------------------------------------------------------------------------


def test_the_same_bucket_twice_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="same bucket"):
        Settings.from_env({"UPLOADS_BUCKET": "x", "WEB_BUCKET": "x"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "UPLOADS_BUCKET and WEB_BUCKET must both be set"),
        ({"ORIENTATION_POLICY": "sideways"}, "ORIENTATION_POLICY must be one of"),
        ({"MAX_BYTES": "lots"}, "MAX_BYTES must be a whole number"),
        ({"MAX_BYTES": "0"}, "must be positive"),
        ({"PIXEL_BUDGET_MB": "0"}, "PIXEL_BUDGET_MB must be a whole number of MiB above 0"),
        ({"DAMAGED_POLICY": "ignore"}, "DAMAGED_POLICY must be one of reencode, reject"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of"),
        ({"BATCH_THREADS": "0"}, "BATCH_THREADS must be between 1 and 64"),
        ({"BATCH_THREADS": "65"}, "BATCH_THREADS must be between 1 and 64"),
        ({"BATCH_THREADS": "many"}, "BATCH_THREADS must be a whole number"),
    ],
)
def test_bad_settings_fail_with_a_message_that_names_them(
    env: dict[str, str], message: str
) -> None:
    base = {"UPLOADS_BUCKET": "a", "WEB_BUCKET": "b"} if env else {}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**base, **env})


def test_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "UPLOADS_BUCKET": "a",
            "WEB_BUCKET": "b",
            "ORIENTATION_POLICY": "keep-tag",
            "DAMAGED_POLICY": "reject",
            "MAX_BYTES": "1000",
            "PIXEL_BUDGET_MB": "300",
            "LOG_LEVEL": "debug",
            "BATCH_THREADS": "3",
        }
    )
    options = settings.sanitizer
    assert (options.orientation.value, options.damaged.value) == ("keep-tag", "reject")
    assert (options.max_bytes, options.pixel_budget) == (1000, 300 * 1024 * 1024)
    assert settings.log_level == "DEBUG"
    assert settings.batch_threads == 3
    assert Settings.from_env({"UPLOADS_BUCKET": "a", "WEB_BUCKET": "b"}).batch_threads == (
        DEFAULT_BATCH_THREADS
    )
