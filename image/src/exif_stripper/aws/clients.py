"""boto3 clients with the retry and timeout behaviour the pipeline relies on.

`standard` retry mode retries throttling, 5xx and connection errors with backoff
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); what still
fails after that fails the record, and the queue retries it later. Timeouts are short
enough that a stuck connection fails the record long before the function times out.
`AWS_ENDPOINT_URL` (honoured by botocore) points every client at the embedded AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from .settings import MAX_BATCH_THREADS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    # A batch's threads share the client; each may stream the source while it uploads.
    max_pool_connections=2 * MAX_BATCH_THREADS,
)


def s3_client() -> S3Client:
    return boto3.client("s3", config=CLIENT_CONFIG)


def sqs_client() -> SQSClient:
    # Long polls wait up to 20 s, so the read timeout must exceed that.
    return boto3.client("sqs", config=CLIENT_CONFIG)
