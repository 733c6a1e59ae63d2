"""The local worker: the Lambda's event source mapping, as a loop on this machine.

It long-polls the queue, hands each batch to the very handler the Lambda runs (as a
Lambda-shaped SQS event), deletes the messages that succeeded and leaves the failures to
the queue: they come back after the visibility timeout and, after `maxReceiveCount`
receives, go to the dead-letter queue, exactly as under Lambda. This is how the product
runs without Lambda, and how it runs on the embedded AWS, where moto cannot execute
Lambda functions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

log = logging.getLogger(__name__)

MAX_BATCH: Final = 10  # SQS ReceiveMessage returns at most 10 messages
# Seconds between polls while SQS keeps failing (after botocore's own retries): doubling
# from 1 up to this, as an event source mapping backs off.
MAX_BACKOFF: Final = 20.0
Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(slots=True)
class Tally:
    received: int = 0
    succeeded: int = 0
    failed: int = 0


class Worker:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        wait_seconds: int = 10,
        batch_size: int = MAX_BATCH,
        visibility_timeout: int | None = None,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.batch_size = min(batch_size, MAX_BATCH)
        self.visibility_timeout = visibility_timeout
        self.max_backoff = max_backoff
        self.tally = Tally()
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._region = self._queue_arn.split(":")[3]

    def run(self, stop: threading.Event, *, idle_polls: int | None = None) -> Tally:
        """Poll until `stop` is set (or after `idle_polls` empty polls in a row).

        A poll that SQS fails even after botocore's retries (an outage, throttling) is
        logged and tried again after a pause: Lambda's event source mapping does not stop
        either. Nothing is lost meanwhile; a failed poll counts as an empty one.
        """
        idle = failures = 0
        while not stop.is_set():
            try:
                handled = self.poll_once()
                failures = 0
            except (BotoCoreError, ClientError) as error:
                failures += 1
                pause = min(self.max_backoff, 2.0 ** (failures - 1))
                log.warning("could not receive from the queue (%s); again in %.0f s", error, pause)
                stop.wait(pause)
                handled = 0
            idle = 0 if handled else idle + 1
            if idle_polls is not None and idle >= idle_polls:
                break
        return self.tally

    def poll_once(self) -> int:
        """Receive one batch, handle it, delete what succeeded; returns messages received."""
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.batch_size,
            "WaitTimeSeconds": self.wait_seconds,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            request["VisibilityTimeout"] = self.visibility_timeout
        messages = self.sqs.receive_message(**request).get("Messages", [])
        if not messages:
            return 0
        failed = self._handle(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        self._delete(done)
        self.tally.received += len(messages)
        self.tally.succeeded += len(done)
        self.tally.failed += len(messages) - len(done)
        return len(messages)

    def _handle(self, messages: list[MessageTypeDef]) -> set[str]:
        """Run the handler; returns the ids of the messages that failed."""
        event = {"Records": [self._record(message) for message in messages]}
        try:
            response = self.handler(event)
        except BatchProcessingError:  # Powertools raises when every record failed
            return {message["MessageId"] for message in messages}
        return {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        """The shape Lambda's SQS event source gives a message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._region,
        }

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), MAX_BATCH):
            batch = messages[start : start + MAX_BATCH]
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ]
            # A message not deleted is received again and, being idempotent, handled again.
            try:
                result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                log.warning("could not delete %d handled messages: %s", len(entries), error)
                continue
            for failure in result.get("Failed", []):
                log.warning("could not delete a handled message: %s", failure.get("Message"))
