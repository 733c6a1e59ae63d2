"""The embedded AWS's patch of moto's SQS (tools/embedded_aws/moto_scaling.py) changes how
long requests take, never what they answer: checked against moto's own models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tools.embedded_aws import moto_scaling
from tools.embedded_aws.in_process import in_process_aws

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SQSClient]:
    with in_process_aws(monkeypatch) as aws:
        yield aws.sqs


def queues(sqs: SQSClient) -> list[str]:
    """A plain queue, one with a dead-letter queue and a policy, a FIFO queue with
    content-based deduplication, and one encrypted with a KMS key."""
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 5}
    policy = {"Version": "2012-10-17", "Statement": []}
    attributes: list[dict[str, str]] = [
        {"RedrivePolicy": json.dumps(redrive), "Policy": json.dumps(policy)},
        {"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        {"KmsMasterKeyId": "alias/aws/sqs"},
    ]
    names = ["events", "events.fifo", "secret"]
    urls = [
        sqs.create_queue(QueueName=n, Attributes=a)["QueueUrl"]
        for n, a in zip(names, attributes, strict=True)
    ]
    for url in urls:
        extra: dict[str, Any] = {"MessageGroupId": "g"} if url.endswith(".fifo") else {}
        for body in ("one", "two", "three"):
            sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
    sqs.receive_message(QueueUrl=urls[0], MaxNumberOfMessages=1)  # one in flight
    return [dlq, *urls]


def everything(sqs: SQSClient, urls: list[str]) -> list[dict[str, str]]:
    return [
        {
            name: value
            for name, value in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ].items()
            if name != "LastModifiedTimestamp"
        }
        for url in urls
    ]


def test_queue_attributes_are_the_same_with_the_patch(
    sqs: SQSClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = queues(sqs)
    before = everything(sqs, urls)
    moto_scaling.apply(monkeypatch.setattr)
    assert everything(sqs, urls) == before
    assert [list(attributes) for attributes in everything(sqs, urls)] == [
        list(attributes) for attributes in before
    ]  # same names, in the same order


def test_receive_and_delete_behave_as_before_with_the_patch(
    sqs: SQSClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_scaling.apply(monkeypatch.setattr)
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in first] == ["a", "b"]
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["c"]  # "a" and "b" are in flight, "later" delayed
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])  # twice is fine
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt-handle")
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "2"  # "a" and "c"
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
