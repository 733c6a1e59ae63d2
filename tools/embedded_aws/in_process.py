"""moto in this process, for unit tests that need S3 buckets or an SQS queue.

    with in_process_aws(monkeypatch) as aws:
        aws.s3.put_object(Bucket=aws.uploads, ...)

Nothing leaves the process (`AWS_ENDPOINT_URL` is removed, so clients reach moto's
in-process mock, never a server or AWS).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from moto import mock_aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

REGION: Final = "eu-west-1"
UPLOADS, WEB = "uploads-a", "web-b"


@dataclass
class InProcessAws:
    s3: S3Client
    sqs: SQSClient
    uploads: str = UPLOADS
    web: str = WEB

    def put(self, bucket: str, key: str, body: bytes = b"x") -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def keys(self, bucket: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@contextmanager
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessAws]:
    """The uploads and web buckets (versioned, as the modules make them) in moto's in-process
    mock."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (UPLOADS, WEB):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield InProcessAws(s3, boto3.client("sqs"))
