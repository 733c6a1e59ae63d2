"""The local worker keeps polling through SQS failures that outlast botocore's retries.

Found by `make chaos` (scenario b, an SQS outage): the worker died on the first
ReceiveMessage or DeleteMessageBatch that still failed after botocore's retries, and took
the batch in hand with it. Lambda's event source mapping keeps polling; so must the worker.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from exif_stripper.aws.worker import Worker
from tools.embedded_aws.in_process import in_process_aws

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def outage(operation: str) -> ClientError:
    error = {"Error": {"Code": "InternalFailure", "Message": "SQS is having a bad day"}}
    return ClientError(error, operation)  # type: ignore[arg-type]


class FlakySqs:
    """An SQS client whose named operations fail the first `failures` times."""

    def __init__(self, sqs: SQSClient, operation: str, failures: int) -> None:
        self._sqs = sqs
        self._operation = operation
        self.failures_left = failures

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._sqs, name)
        if name != self._operation:
            return call

        def failing(**kwargs: Any) -> Any:
            if self.failures_left > 0:
                self.failures_left -= 1
                raise outage(name)
            return call(**kwargs)

        return failing


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SQSClient, str]]:
    with in_process_aws(monkeypatch) as aws:
        url = aws.sqs.create_queue(QueueName="events")["QueueUrl"]
        yield aws.sqs, url


def handled_bodies() -> tuple[list[str], Any]:
    bodies: list[str] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        bodies.extend(record["body"] for record in event["Records"])
        return {"batchItemFailures": []}

    return bodies, handler


def test_a_receive_that_keeps_failing_is_tried_again_until_sqs_answers(
    queue: tuple[SQSClient, str],
) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    bodies, handler = handled_bodies()
    flaky = FlakySqs(sqs, "receive_message", failures=3)
    worker = Worker(flaky, url, handler, wait_seconds=0, max_backoff=0.01)  # type: ignore[arg-type]
    tally = worker.run(threading.Event(), idle_polls=5)
    assert flaky.failures_left == 0
    assert bodies == [json.dumps({"n": 1})]
    assert tally.succeeded == 1


def test_a_delete_that_fails_leaves_the_message_to_come_back_and_the_worker_polling(
    queue: tuple[SQSClient, str],
) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody="once")
    bodies, handler = handled_bodies()
    flaky = FlakySqs(sqs, "delete_message_batch", failures=1)
    worker = Worker(flaky, url, handler, wait_seconds=0, visibility_timeout=0, max_backoff=0.01)  # type: ignore[arg-type]
    worker.run(threading.Event(), idle_polls=3)
    # Handled, not deleted, so received and handled again (the handler is idempotent);
    # the second delete went through and the queue is empty.
    assert bodies == ["once", "once"]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages") is None


def test_the_worker_still_stops_when_idle_while_sqs_is_down(
    queue: tuple[SQSClient, str],
) -> None:
    sqs, url = queue
    _, handler = handled_bodies()
    flaky = FlakySqs(sqs, "receive_message", failures=1000)
    worker = Worker(flaky, url, handler, wait_seconds=0, max_backoff=0.01)  # type: ignore[arg-type]
    tally = worker.run(threading.Event(), idle_polls=4)
    assert flaky.failures_left == 1000 - 4
    assert tally.received == 0
