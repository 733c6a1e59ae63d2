"""`sync --enqueue`: the plan as S3 events on the queue, on moto's in-process SQS.

What is checked is what the function will see: the messages are S3's notifications
(the handler takes them and makes the web bucket from them), ten to a SendMessageBatch,
entries SQS reports as failed are sent again, a refused one stops the run, and the
resume key never skips a message that was not sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest

from exif_stripper.aws import handler
from exif_stripper.aws.enqueue import DEPTH_POLL, Enqueuer, Sent, s3_event
from exif_stripper.aws.pipeline import Pipeline
from exif_stripper.aws.settings import Settings
from exif_stripper.aws.sync import Action, Entry, Kind, ListingOrderError, list_bucket, plan
from tools.embedded_aws.in_process import REGION, InProcessAws, in_process_aws
from tools.samples.composition import reference_strip
from tools.samples.ready_made import kitchen_sink

PHOTO = kitchen_sink(width=64, height=48)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessAws]:
    with in_process_aws(monkeypatch) as aws:
        yield aws


@pytest.fixture
def queue(aws: InProcessAws) -> str:
    return aws.sqs.create_queue(QueueName="events")["QueueUrl"]


def missing(*keys: str) -> list[Action]:
    return [Action(Kind.MISSING, Entry(key, 1_700_000_000, 10, "e" * 32)) for key in keys]


def numbered(count: int) -> list[str]:
    return [f"{i:03d}.jpg" for i in range(count)]


def drain(aws: InProcessAws, url: str) -> list[dict[str, Any]]:
    """Every message on the queue, taken off it, in Lambda's SQS record shape."""
    records = []
    while messages := aws.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:events",
                    "awsRegion": REGION,
                }
            )
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return records


def sent_keys(records: list[dict[str, Any]]) -> list[str]:
    keys = [json.loads(r["body"])["Records"][0]["s3"]["object"]["key"] for r in records]
    return sorted(keys)


class Sqs:
    """moto's SQS client, with each SendMessageBatch seen (and, if asked, answered) here."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.batches: list[list[str]] = []  # the keys of each call, in the order of the calls
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, **request: Any) -> Any:
        keys = [
            json.loads(e["MessageBody"])["Records"][0]["s3"]["object"]["key"]
            for e in request["Entries"]
        ]
        with self._lock:
            self.batches.append(keys)
        return self.answer(request, keys)

    def answer(self, request: dict[str, Any], keys: list[str]) -> Any:
        return self._sqs.send_message_batch(**request)

    def all_but(self, request: dict[str, Any], index: int, *, fault: bool, code: str) -> Any:
        """SQS's answer when it takes every entry but the `index`th, for `code`."""
        bad = request["Entries"][index]
        good = [entry for entry in request["Entries"] if entry is not bad]
        result = (
            self._sqs.send_message_batch(QueueUrl=request["QueueUrl"], Entries=good)
            if good
            else {"Successful": []}
        )
        result["Failed"] = [{"Id": bad["Id"], "SenderFault": fault, "Code": code, "Message": "-"}]
        return result


# --- what the function receives ----------------------------------------------------------------


def test_the_events_are_s3s_and_the_function_makes_b_from_them(
    aws: InProcessAws, queue: str
) -> None:
    names = ["with space.jpg", "plus+sign.jpg", "unicodé/フォト.JPG", "100%.Jpg", "stale.jpg"]
    for key in names:
        aws.put(aws.uploads, key, PHOTO)
    aws.put(aws.web, "orphan.jpg", reference_strip(PHOTO))
    actions = plan(list_bucket(aws.s3, aws.uploads), list_bucket(aws.s3, aws.web))
    sent = Enqueuer(aws.sqs, queue, aws.uploads).run(actions)
    assert sent == Sent(messages=6, retried=0, seconds=sent.seconds, resume_after="with space.jpg")

    records = drain(aws, queue)
    events = {
        json.loads(r["body"])["Records"][0]["s3"]["object"]["key"]: json.loads(r["body"])
        for r in records
    }
    assert set(events) == {quote_plus(key, safe="/") for key in [*names, "orphan.jpg"]}
    assert events["with+space.jpg"]["Records"][0]["eventName"] == "ObjectCreated:Put"
    assert events["plus%2Bsign.jpg"]["Records"][0]["s3"]["object"]["size"] == len(PHOTO)
    assert events["orphan.jpg"]["Records"][0]["eventName"] == "ObjectRemoved:Delete"

    handle = handler.make_handler(Pipeline(aws.s3, Settings(aws.uploads, aws.web)))
    response = handle({"Records": records})
    assert response == {"batchItemFailures": []}
    for key in names:
        copy = aws.s3.get_object(Bucket=aws.web, Key=key)["Body"].read()
        assert copy == reference_strip(PHOTO), key
    assert sorted(aws.keys(aws.web)) == sorted(names)  # the orphan is gone


def test_an_event_has_the_fields_s3_writes() -> None:
    record = s3_event("bucket-a", missing("a b/c.jpg")[0], region="eu-west-1")["Records"][0]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "eu-west-1"
    assert time.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert record["s3"]["s3SchemaVersion"] == "1.0"
    assert record["s3"]["bucket"] == {"name": "bucket-a", "arn": "arn:aws:s3:::bucket-a"}
    obj = record["s3"]["object"]
    assert obj["key"] == "a+b/c.jpg"
    assert (obj["size"], obj["eTag"]) == (10, "e" * 32)
    assert int(obj["sequencer"], 16) > 0


# --- batches, retries, stops ----------------------------------------------------------------------


def test_messages_go_ten_to_a_batch_and_only_the_work(aws: InProcessAws, queue: str) -> None:
    sqs = Sqs(aws.sqs)
    current = [Action(Kind.CURRENT, Entry(f"{i:03d}.jpg~", 1)) for i in range(7)]
    actions = sorted([*missing(*numbered(25)), *current], key=lambda a: a.key)
    sent = Enqueuer(sqs, queue, aws.uploads, threads=4).run(actions)
    assert sent.messages == 25
    assert sorted(len(batch) for batch in sqs.batches) == [5, 10, 10]
    assert sent_keys(drain(aws, queue)) == numbered(25)


class FailsEachEntryOnce(Sqs):
    """Reports the first entry of every batch as failed the first time, as SQS does under
    throttling or an internal error (SenderFault false)."""

    def __init__(self, sqs: Any) -> None:
        super().__init__(sqs)
        self.failed: set[str] = set()

    def answer(self, request: dict[str, Any], keys: list[str]) -> Any:
        if keys[0] in self.failed:
            return self._sqs.send_message_batch(**request)
        self.failed.add(keys[0])
        return self.all_but(request, 0, fault=False, code="InternalError")


def test_entries_sqs_reports_failed_are_sent_again_until_taken(
    aws: InProcessAws, queue: str
) -> None:
    sqs = FailsEachEntryOnce(aws.sqs)
    pauses: list[float] = []
    enqueuer = Enqueuer(sqs, queue, aws.uploads, threads=2, sleep=pauses.append)
    sent = enqueuer.run(missing(*numbered(25)))
    assert sent.complete
    assert (sent.messages, sent.retried) == (25, 3)  # one entry of each of the 3 batches
    assert sorted(sqs.failed) == ["000.jpg", "010.jpg", "020.jpg"]
    assert len(pauses) == 3
    assert all(0 <= pause <= 5 for pause in pauses)
    assert sent_keys(drain(aws, queue)) == numbered(25)  # each once


class Refuses(Sqs):
    """Refuses the entry for one key as malformed (SenderFault true); may hold a batch."""

    def __init__(self, sqs: Any, refused: str, slow: str = "") -> None:
        super().__init__(sqs)
        self.refused, self.slow = refused, slow

    def answer(self, request: dict[str, Any], keys: list[str]) -> Any:
        if self.slow in keys:
            time.sleep(0.3)  # this batch finishes after the ones sent after it
        if self.refused not in keys:
            return self._sqs.send_message_batch(**request)
        return self.all_but(
            request, keys.index(self.refused), fault=True, code="InvalidMessageContents"
        )


def test_a_refused_message_stops_the_run_and_says_where_to_resume(
    aws: InProcessAws, queue: str
) -> None:
    keys = numbered(50)  # five batches; the second holds the refused key
    sqs = Refuses(aws.sqs, refused=keys[14])
    sent = Enqueuer(sqs, queue, aws.uploads, threads=1).run(missing(*keys))
    assert not sent.complete
    assert "'014.jpg'" in sent.stopped
    assert "InvalidMessageContents" in sent.stopped
    assert sent.resume_after == keys[9]  # the first batch's last key
    on_queue = sent_keys(drain(aws, queue))
    assert set(keys[:10]) <= set(on_queue)  # everything before the resume key was sent
    assert keys[14] not in on_queue


def test_the_resume_key_waits_for_a_slow_batch_sent_before_a_failed_one(
    aws: InProcessAws, queue: str
) -> None:
    keys = numbered(50)
    sqs = Refuses(aws.sqs, refused=keys[14], slow=keys[0])  # batch 0 slow, batch 1 refused
    sent = Enqueuer(sqs, queue, aws.uploads, threads=4).run(missing(*keys))
    assert sent.resume_after == keys[9]  # not past batch 1, though later batches were sent
    assert set(keys[:10]) <= set(sent_keys(drain(aws, queue)))


def test_an_interrupted_run_says_where_to_resume(aws: InProcessAws, queue: str) -> None:
    def interrupted() -> Iterator[Action]:
        yield from missing(*numbered(25))
        raise KeyboardInterrupt

    sent = Enqueuer(aws.sqs, queue, aws.uploads, threads=2).run(interrupted(), start_after="!")
    assert sent.stopped == "interrupted"
    assert sent.resume_after == "019.jpg"  # two whole batches; the last five were not sent
    assert sent_keys(drain(aws, queue)) == numbered(20)


def test_a_plan_that_fails_midway_stops_the_run_with_where_to_resume(
    aws: InProcessAws, queue: str
) -> None:
    def failing() -> Iterator[Action]:
        yield from missing(*numbered(25))
        raise ListingOrderError("the web bucket lists 'a' after 'b'")

    sent = Enqueuer(aws.sqs, queue, aws.uploads, threads=2).run(failing())
    assert sent.stopped == "ListingOrderError: the web bucket lists 'a' after 'b'"
    assert sent.resume_after == "019.jpg"
    assert sent_keys(drain(aws, queue)) == numbered(20)


def test_nothing_sent_resumes_where_the_run_started(aws: InProcessAws, queue: str) -> None:
    sqs = Refuses(aws.sqs, refused="000.jpg")
    sent = Enqueuer(sqs, queue, aws.uploads, threads=1).run(missing(*numbered(5)), start_after="-")
    assert (sent.complete, sent.resume_after) == (False, "-")


# --- back-pressure -------------------------------------------------------------------------------


class Deep(Sqs):
    """A queue that reports the depths it is given, then its real one."""

    def __init__(self, sqs: Any, depths: list[int]) -> None:
        super().__init__(sqs)
        self.depths = depths

    def get_queue_attributes(self, **request: Any) -> Any:
        if self.depths:
            return {"Attributes": {"ApproximateNumberOfMessages": str(self.depths.pop(0))}}
        return self._sqs.get_queue_attributes(**request)


def test_max_queue_depth_waits_until_the_queue_has_room(aws: InProcessAws, queue: str) -> None:
    sqs = Deep(aws.sqs, depths=[500, 120, 99])
    pauses: list[float] = []
    enqueuer = Enqueuer(sqs, queue, aws.uploads, max_depth=100, sleep=pauses.append)
    sent = enqueuer.run(missing(*numbered(30)))
    assert sent.messages == 30
    assert pauses == [DEPTH_POLL, DEPTH_POLL]  # waited while 500 and 120 were waiting
    assert sqs.depths == []
