"""The Lambda handler and the pipeline, record by record, on moto's in-process S3.

The queue-level behaviour (redelivery, dead-letter queue, the worker) is tested through
the real stack in tests/integration; here are the fine-grained cases: what lands in
bucket B and with which headers, how keys are decoded, what happens on duplicates,
reordering, deletes, rejections and transient errors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from exif_stripper import __version__, handler
from exif_stripper.config import ConfigError, Settings
from exif_stripper.pipeline import Pipeline
from exif_stripper.sanitize import DamagedPolicy
from tests.harness import samples
from tests.harness.oracle import exiftool_reports, findings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SOURCE, DEST = "uploads-a", "web-b"
PHOTO = samples.kitchen_sink(width=160, height=120)
PHOTO_BASELINE = samples.compose(samples.base_jpeg(160, 120, seed=5), [samples.exif_segment()])
# A second frame header after the image data: refused losslessly, shown by libjpeg.
DAMAGED = (
    PHOTO_BASELINE[:-2]
    + PHOTO_BASELINE[samples.walk_markers(PHOTO_BASELINE).first(samples.SOF0).start :][:19]
    + samples.EOI
)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        for bucket in (SOURCE, DEST):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            client.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        handler.use_pipeline(Pipeline(client, Settings(SOURCE, DEST)))
        handler.metrics.clear_metrics()
        yield client
        handler.metrics.clear_metrics()


# --- events as S3 and SQS deliver them -------------------------------------------------------


def s3_record(key: str, event: str = "ObjectCreated:Put", bucket: str = SOURCE) -> dict[str, Any]:
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
                "attributes": {"ApproximateReceiveCount": "1"},
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


# --- created -------------------------------------------------------------------------------------


def test_an_upload_appears_in_b_sanitized_with_its_provenance(s3: S3Client) -> None:
    put = s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO, Metadata={"owner-name": "Jane Doe"})
    response = handler.handle(sqs_event(created("a.jpg")))
    assert failures(response) == []
    copy = s3.get_object(Bucket=DEST, Key="a.jpg")
    body = copy["Body"].read()
    assert findings(exiftool_reports([body])[0]) == []
    assert body == samples.reference_strip(PHOTO)
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
def test_keys_are_decoded_once_exactly(s3: S3Client, key: str) -> None:
    s3.put_object(Bucket=SOURCE, Key=key, Body=PHOTO)
    assert failures(handler.handle(sqs_event(created(key)))) == []
    assert keys(s3, DEST) == [key]


def test_keys_that_are_not_jpegs_are_skipped(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="notes.txt", Body=b"hello")
    assert failures(handler.handle(sqs_event(created("notes.txt")))) == []
    assert keys(s3, DEST) == []
    assert counted("ObjectsSkipped") == 1


def test_the_s3_test_event_is_skipped(s3: S3Client) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": SOURCE}
    assert failures(handler.handle(sqs_event(test_event))) == []
    assert keys(s3, DEST) == []


def test_an_event_from_another_bucket_is_skipped(s3: S3Client) -> None:
    s3.put_object(Bucket=DEST, Key="x.jpg", Body=PHOTO)
    event = {"Records": [s3_record("x.jpg", bucket=DEST)]}
    assert failures(handler.handle(sqs_event(event))) == []
    assert counted("ObjectsWritten") == 0


def test_a_duplicate_event_writes_the_same_bytes_again(s3: S3Client) -> None:
    # The function may not read bucket B (SPEC §3), so it cannot tell a duplicate from a
    # first delivery: it writes again, and B converges all the same.
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    handler.handle(sqs_event(created("a.jpg")))
    handler.handle(sqs_event(created("a.jpg")))
    versions = s3.list_object_versions(Bucket=DEST, Prefix="a.jpg")["Versions"]
    bodies = {
        s3.get_object(Bucket=DEST, Key="a.jpg", VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert bodies == {samples.reference_strip(PHOTO)}
    assert counted("ObjectsWritten") == 2


def test_an_overwrite_updates_b(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    handler.handle(sqs_event(created("a.jpg")))
    newer = samples.motion_photo_sample()
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=newer)
    handler.handle(sqs_event(created("a.jpg")))
    body = s3.get_object(Bucket=DEST, Key="a.jpg")["Body"].read()
    assert body == samples.reference_strip(newer)


def test_a_large_photo_goes_up_in_parts(s3: S3Client, tmp_path: Any) -> None:
    large = samples.write_large_jpeg(tmp_path / "large.jpg", 20 * 1024 * 1024, width=1024)
    s3.upload_file(str(large.path), SOURCE, "large.jpg")
    assert failures(handler.handle(sqs_event(created("large.jpg")))) == []
    head = s3.head_object(Bucket=DEST, Key="large.jpg")
    assert head["ContentLength"] == len(samples.reference_strip(large.path.read_bytes()))
    assert "-" in head["ETag"]  # a multipart ETag: "<md5 of part md5s>-<parts>"


def test_the_function_never_reads_bucket_b(s3: S3Client) -> None:
    # Its role may only write and delete there (SPEC §3); a read would be AccessDenied.
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params.get("Bucket", "")))

    s3.meta.events.register("provide-client-params.s3.*", record)
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    s3.put_object(Bucket=SOURCE, Key="bad.jpg", Body=b"not a jpeg")
    calls.clear()
    handler.handle(sqs_event(created("a.jpg"), created("a.jpg"), created("bad.jpg")))
    s3.delete_object(Bucket=SOURCE, Key="a.jpg")
    handler.handle(sqs_event(removed("a.jpg"), created("a.jpg")))
    on_b = {name for name, bucket in calls if bucket == DEST}
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


def test_a_png_named_jpg_is_rejected_not_retried_and_nothing_is_written(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="fake.jpg", Body=b"\x89PNG\r\n\x1a\n" + bytes(100))
    response = handler.handle(sqs_event(created("fake.jpg")))
    assert failures(response) == []  # not retried: it would fail the same way forever
    assert keys(s3, DEST) == []
    assert counted("ObjectsRejected") == 1


def test_a_rejected_overwrite_removes_the_older_copy_from_b(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    handler.handle(sqs_event(created("a.jpg")))
    frame = samples.walk_markers(PHOTO).first(samples.SOF2)
    cut = PHOTO[: frame.start + 6]  # no image data: nothing to keep, nothing to decode
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=cut)
    handler.handle(sqs_event(created("a.jpg")))
    assert keys(s3, DEST) == []


def test_a_damaged_photo_is_read_again_by_version_and_re_encoded(s3: S3Client) -> None:
    damaged = DAMAGED
    put = s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=damaged)
    reads: list[dict[str, Any]] = []

    def newer_version_after_the_first_read(**_: Any) -> None:
        if len(reads) == 1:  # the upload is replaced while the function works
            s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)

    s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: reads.append(dict(params))
    )
    s3.meta.events.register("after-call.s3.GetObject", newer_version_after_the_first_read)
    assert handler.handle(created("a.jpg")) == {"outcomes": ["written"]}
    assert len(reads) == 2
    assert reads[1]["VersionId"] == put["VersionId"]  # the version it started with
    assert counted("ObjectsReencoded") == 1
    copy = s3.get_object(Bucket=DEST, Key="a.jpg")
    assert copy["Metadata"]["source-version-id"] == put["VersionId"]
    assert findings(exiftool_reports([copy["Body"].read()])[0]) == []
    assert s3.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []


def test_a_re_encoded_photo_is_counted(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=DAMAGED)
    assert failures(handler.handle(sqs_event(created("a.jpg")))) == []
    assert counted("ObjectsWritten") == 1
    assert counted("ObjectsReencoded") == 1


def test_a_large_rejected_photo_leaves_no_multipart_upload_behind(
    s3: S3Client, tmp_path: Any
) -> None:
    handler.use_pipeline(Pipeline(s3, Settings(SOURCE, DEST, damaged=DamagedPolicy.REJECT)))
    large = samples.write_large_jpeg(tmp_path / "large.jpg", 20 * 1024 * 1024, width=1024)
    # A malformed table after the image data: refused after several parts were sent.
    broken = large.path.read_bytes()[:-2] + b"\xff\xc4\x00\x03\x00" + samples.EOI
    s3.put_object(Bucket=SOURCE, Key="cut.jpg", Body=broken)
    handler.handle(sqs_event(created("cut.jpg")))
    assert keys(s3, DEST) == []
    assert s3.list_multipart_uploads(Bucket=DEST).get("Uploads", []) == []


def test_one_failing_record_fails_alone(s3: S3Client, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        s3.put_object(Bucket=SOURCE, Key=key, Body=PHOTO)
    real_get = s3.get_object

    def throttled(**kwargs: Any) -> Any:
        if kwargs["Key"] == "b.jpg":
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", throttled)
    event = sqs_event(created("a.jpg"), created("b.jpg"), created("c.jpg"))
    response = handler.handle(event)
    assert failures(response) == [event["Records"][1]["messageId"]]
    assert sorted(keys(s3, DEST)) == ["a.jpg", "c.jpg"]
    assert counted("Errors") == 1


def test_a_message_that_is_not_an_s3_event_fails_to_the_queue(s3: S3Client) -> None:
    event = sqs_event(created("a.jpg"))
    event["Records"][0]["body"] = "not json"
    good = sqs_event(created("b.jpg"))["Records"][0]
    s3.put_object(Bucket=SOURCE, Key="b.jpg", Body=PHOTO)
    event["Records"].append(good)
    assert failures(handler.handle(event)) == [event["Records"][0]["messageId"]]


# --- removed and reordering ---------------------------------------------------------------------


def test_a_delete_removes_the_copy(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    handler.handle(sqs_event(created("a.jpg")))
    s3.delete_object(Bucket=SOURCE, Key="a.jpg")
    assert failures(handler.handle(sqs_event(removed("a.jpg")))) == []
    assert keys(s3, DEST) == []
    assert counted("ObjectsDeleted") == 1


def test_a_late_delete_event_does_not_remove_a_recreated_photo(s3: S3Client) -> None:
    # Delivered out of order: delete v1, re-upload v2; the create arrives first.
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    s3.delete_object(Bucket=SOURCE, Key="a.jpg")
    newer = samples.mpo_sample()
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=newer)
    handler.handle(sqs_event(created("a.jpg")))
    handler.handle(sqs_event(removed("a.jpg")))
    body = s3.get_object(Bucket=DEST, Key="a.jpg")["Body"].read()
    assert body == samples.reference_strip(newer)


def test_a_late_create_event_for_a_deleted_photo_clears_b(s3: S3Client) -> None:
    # Delivered out of order: upload then delete; the delete arrives first.
    s3.put_object(Bucket=SOURCE, Key="a.jpg", Body=PHOTO)
    s3.delete_object(Bucket=SOURCE, Key="a.jpg")
    handler.handle(sqs_event(removed("a.jpg")))
    handler.handle(sqs_event(created("a.jpg")))
    assert keys(s3, DEST) == []


def test_a_direct_s3_event_is_processed(s3: S3Client) -> None:
    s3.put_object(Bucket=SOURCE, Key="manual.jpg", Body=PHOTO)
    assert handler.handle(created("manual.jpg")) == {"outcomes": ["written"]}
    assert keys(s3, DEST) == ["manual.jpg"]


# --- configuration --------------------------------------------------------------------------------


def test_the_same_bucket_twice_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="same bucket"):
        Settings.from_env({"SOURCE_BUCKET": "x", "DEST_BUCKET": "x"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SOURCE_BUCKET and DEST_BUCKET must both be set"),
        ({"ORIENTATION_POLICY": "sideways"}, "ORIENTATION_POLICY must be one of"),
        ({"MAX_BYTES": "lots"}, "MAX_BYTES must be a whole number"),
        ({"MAX_BYTES": "0"}, "must be positive"),
        ({"PIXEL_BUDGET_MB": "0"}, "PIXEL_BUDGET_MB must be a whole number of MiB above 0"),
        ({"DAMAGED_POLICY": "ignore"}, "DAMAGED_POLICY must be one of reencode, reject"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL must be one of"),
    ],
)
def test_bad_settings_fail_with_a_message_that_names_them(
    env: dict[str, str], message: str
) -> None:
    base = {"SOURCE_BUCKET": "a", "DEST_BUCKET": "b"} if env else {}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**base, **env})


def test_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SOURCE_BUCKET": "a",
            "DEST_BUCKET": "b",
            "ORIENTATION_POLICY": "keep-tag",
            "DAMAGED_POLICY": "reject",
            "MAX_BYTES": "1000",
            "PIXEL_BUDGET_MB": "300",
            "LOG_LEVEL": "debug",
        }
    )
    options = settings.sanitizer
    assert (options.orientation.value, options.damaged.value) == ("keep-tag", "reject")
    assert (options.max_bytes, options.pixel_budget) == (1000, 300 * 1024 * 1024)
    assert settings.log_level == "DEBUG"
