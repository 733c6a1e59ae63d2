"""`exif-stripper redrive`: move the dead-letter queue's messages back to the event queue.

What SQS's own message-move task does (`aws sqs start-message-move-task`), with the three
calls every SQS implementation has, so it also works where that task does not exist (the
embedded AWS: moto 5.2 has no StartMessageMoveTask). Run it once the cause is fixed; the
function then handles each event again, and being idempotent, converges.

Each message is sent to the event queue before it is deleted from the dead-letter queue,
so a failure between the two leaves a duplicate, never a loss. It moves at most as many
messages as the dead-letter queue held when it started: a message that fails again and
comes back meanwhile is not moved round and round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

BATCH: Final = 10  # SQS's most per ReceiveMessage, SendMessageBatch and DeleteMessageBatch
# Long enough to send a batch on and delete it; a message not deleted by then (its send
# failed) shows up in the dead-letter queue again, for the next redrive.
HOLD_SECONDS: Final = 60


@dataclass(slots=True)
class Moved:
    moved: int = 0
    failed: int = 0  # could not be sent: left in the dead-letter queue


def redrive(sqs: SQSClient, dead_letter_url: str, queue_url: str) -> Moved:
    """Move what `dead_letter_url` holds now to `queue_url`, body and attributes."""
    result = Moved()
    waiting = int(
        sqs.get_queue_attributes(
            QueueUrl=dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )
    while result.moved + result.failed < waiting:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_url,
            MaxNumberOfMessages=min(BATCH, waiting - result.moved - result.failed),
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break  # the rest are in flight elsewhere, or the count was approximate
        sent = _send(sqs, queue_url, messages)
        _delete(sqs, dead_letter_url, [m for m in messages if m["MessageId"] in sent])
        result.moved += len(sent)
        result.failed += len(messages) - len(sent)
    return result


def _send(sqs: SQSClient, queue_url: str, messages: list[MessageTypeDef]) -> set[str]:
    """Send copies of the messages; the ids of those that were accepted."""
    entries: list[SendMessageBatchRequestEntryTypeDef] = []
    for message in messages:
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": message["MessageId"],
            "MessageBody": message["Body"],
        }
        if attributes := message.get("MessageAttributes"):
            entry["MessageAttributes"] = attributes
        entries.append(entry)
    answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    return {ok["Id"] for ok in answer.get("Successful", [])}


def _delete(sqs: SQSClient, dead_letter_url: str, messages: list[MessageTypeDef]) -> None:
    if not messages:
        return
    entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
    ]
    sqs.delete_message_batch(QueueUrl=dead_letter_url, Entries=entries)
