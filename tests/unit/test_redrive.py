"""`exif-stripper redrive`: the dead-letter queue's messages go back to the event queue,
bodies and attributes whole, none lost when a send fails (the operator's tool of `make chaos`
scenario c, since moto has no StartMessageMoveTask)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from exif_stripper import cli
from exif_stripper.aws.redrive import redrive
from tools.embedded_aws.in_process import in_process_aws

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType


@pytest.fixture
def queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SQSClient, str, str]]:
    with in_process_aws(monkeypatch) as aws:
        dead = aws.sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
        live = aws.sqs.create_queue(QueueName="events")["QueueUrl"]
        yield aws.sqs, dead, live


def drain(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    found: list[Any] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages"):
        found += messages
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_every_message_moves_with_its_body_and_attributes(
    queues: tuple[SQSClient, str, str],
) -> None:
    sqs, dead, live = queues
    bodies = {json.dumps({"Records": [{"n": n}]}) for n in range(23)}  # three batches
    for body in bodies:
        sqs.send_message(
            QueueUrl=dead,
            MessageBody=body,
            MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}},
        )
    result = redrive(sqs, dead, live)
    assert (result.moved, result.failed) == (23, 0)
    moved = drain(sqs, live)
    assert {m["Body"] for m in moved} == bodies
    assert {m["MessageAttributes"]["origin"]["StringValue"] for m in moved} == {"test"}
    assert drain(sqs, dead) == []


def depth(sqs: SQSClient, url: str) -> int:
    """Messages in `url`, visible or held by a receive."""
    names: list[QueueAttributeNameType] = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def refusing(sqs: SQSClient, body: str) -> None:
    """Make SendMessageBatch refuse the entries whose body is `body`, as SQS answers a
    partial failure (the others are sent)."""
    real_send = sqs.send_message_batch

    def send(**kwargs: Any) -> Any:
        entries = kwargs["Entries"]
        accepted = [entry for entry in entries if entry["MessageBody"] != body]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if accepted:
            answer = dict(real_send(QueueUrl=kwargs["QueueUrl"], Entries=accepted))
        answer["Failed"] = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}
            for entry in entries
            if entry["MessageBody"] == body
        ]
        return answer

    sqs.send_message_batch = send  # type: ignore[method-assign]


def test_a_message_whose_send_fails_stays_in_the_dead_letter_queue(
    queues: tuple[SQSClient, str, str],
) -> None:
    sqs, dead, live = queues
    for body in ("kept", "moved"):
        sqs.send_message(QueueUrl=dead, MessageBody=body)
    refusing(sqs, "kept")
    result = redrive(sqs, dead, live)
    assert (result.moved, result.failed) == (1, 1)
    assert [m["Body"] for m in drain(sqs, live)] == ["moved"]
    assert depth(sqs, dead) == 1  # "kept", held until the redrive's receive times out


def test_the_command_prints_what_it_moved(
    queues: tuple[SQSClient, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs, dead, live = queues
    sqs.send_message(QueueUrl=dead, MessageBody="event")
    assert cli.main(["redrive", "--from", dead, "--to", live]) == 0
    assert capsys.readouterr().out == f"moved 1 messages from {dead} to {live}\n"
    assert [m["Body"] for m in drain(sqs, live)] == ["event"]


def test_the_command_fails_when_a_message_could_not_be_sent(
    queues: tuple[SQSClient, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs, dead, live = queues
    sqs.send_message(QueueUrl=dead, MessageBody="event")
    refusing(sqs, "event")
    monkeypatch.setattr("exif_stripper.aws.clients.sqs_client", lambda: sqs)
    assert cli.main(["redrive", "--from", dead, "--to", live]) == cli.IO_ERROR
    assert "1 messages could not be sent" in capsys.readouterr().err
    assert depth(sqs, dead) == 1
