"""The Lambda entry point: SQS batches of S3 events in, partial batch failures out.

    event in -> decode (Powertools data classes: SQS record, S3 event; the key URL-decoded)
             -> Pipeline.created / Pipeline.removed (fetch, sanitize, verify, write)
             -> report (one JSON log line and EMF metrics per object)

Each SQS record succeeds or fails on its own (Powertools' BatchProcessor reports
`batchItemFailures`), so a bad record is retried alone and never repeats its neighbours.
The records of a batch run concurrently on `BATCH_THREADS` threads, since the work is
mostly waiting on S3; records that name the same key run one after another, in batch
order. A rejected photo is a success here: it is logged and counted, not retried. A
direct S3 event (a manual invoke) is accepted too. The local worker calls `handle` with
the same Lambda-shaped events.

Thread safety: the threads share one boto3 client (clients are thread-safe, sessions and
resources are not), Python's logging takes a lock per handler, and every log line carries
its fields in `extra`, never in keys appended to the shared Logger (append_keys is not
thread-safe: powertools-lambda-python#2040). Powertools' Metrics is not thread-safe
(add_metric reads, then replaces, an entry of a shared dict: powertools-lambda-python#7467),
so every metric goes through one lock (`_count`), and the flush runs on the main thread
after the batch (`log_metrics`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import S3Event, SQSRecord
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from .aws import s3_client
from .config import Settings
from .pipeline import Outcome, Pipeline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE: Final = "exif-stripper"
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ExifStripper"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
)
_COUNTERS: Final = {
    "written": "ObjectsWritten",
    "unchanged": "ObjectsUnchanged",
    "deleted": "ObjectsDeleted",
    "kept": "ObjectsUnchanged",
    "rejected": "ObjectsRejected",
    "skipped": "ObjectsSkipped",
}
_pipeline: Pipeline | None = None
_metrics_lock = threading.Lock()


def use_pipeline(pipeline: Pipeline) -> None:
    """Run on this pipeline instead of one built from the environment (worker, tests)."""
    global _pipeline
    _pipeline = pipeline


def current_pipeline() -> Pipeline:
    """The pipeline, built on first use: a bad setting fails the cold start, loudly."""
    global _pipeline
    if _pipeline is None:
        settings = Settings.from_env()
        logger.setLevel(settings.log_level)
        _pipeline = Pipeline(s3_client(), settings)
    return _pipeline


# --- entry points --------------------------------------------------------------------------


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context)


def handle(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Process an SQS batch (partial failures reported) or a direct S3 event."""
    settings = current_pipeline().settings
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:s3":
        outcomes = [handle_s3_record(record) for record in S3Event(event).records]
        return {"outcomes": [outcome.action for outcome in outcomes]}
    processor = ConcurrentBatchProcessor(settings.batch_threads)
    return dict(process_partial_response(event, handle_sqs_record, processor, context))


def handle_sqs_record(record: SQSRecord) -> None:
    """One queue message: an S3 event notification (or S3's test event) in its body."""
    try:
        body = json.loads(record.body)
        if body.get("Event") == "s3:TestEvent":
            logger.info("skipped S3 test event", extra={"bucket": body.get("Bucket")})
            return
        queued = _seconds_queued(record)
        # Received before: an earlier attempt may have died halfway (Pipeline._first_tidy).
        redelivered = int(record.attributes.get("ApproximateReceiveCount") or 1) > 1
        for s3_record in S3Event(body).records:
            handle_s3_record(s3_record, queued_seconds=queued, redelivered=redelivered)
    except Exception:
        _count("Errors", MetricUnit.Count, 1)
        logger.exception("record failed; the queue will retry it", extra={"id": record.message_id})
        raise


def handle_s3_record(
    record: S3EventRecord, *, queued_seconds: float | None = None, redelivered: bool = False
) -> Outcome:
    pipeline = current_pipeline()
    bucket = record.s3.bucket.name
    # S3 URL-encodes keys in notifications ('+' for a space). Powertools decodes only
    # S3Event.object_key (the first record), not each record's key: decode here, once.
    key = unquote_plus(record.s3.get_object.key)
    if bucket != pipeline.settings.source_bucket:
        outcome = Outcome(key, "skipped", reason=f"event from bucket {bucket!r}, not the source")
    elif record.event_name.startswith("ObjectCreated:"):
        outcome = pipeline.created(key, redelivered=redelivered)
    elif record.event_name.startswith("ObjectRemoved:"):
        outcome = pipeline.removed(key, redelivered=redelivered)
    else:
        outcome = Outcome(key, "skipped", reason=f"event {record.event_name} is not handled")
    report(outcome, record.event_name, queued_seconds)
    return outcome


def report(outcome: Outcome, event_name: str, queued_seconds: float | None = None) -> None:
    """One log line and the metrics for one object."""
    line = {"event": event_name, **asdict(outcome)}
    if queued_seconds is not None:
        line["queued_seconds"] = queued_seconds  # how long the event waited in the queue
    if outcome.action == "rejected":
        logger.warning("rejected: not passed on", extra=line)
    else:
        logger.info(outcome.action, extra=line)
    _count(_COUNTERS[outcome.action], MetricUnit.Count, 1)
    if outcome.action == "written":
        if outcome.method == "re-encoded":
            # A subset of ObjectsWritten: damaged photos made again from their pixels.
            _count("ObjectsReencoded", MetricUnit.Count, 1)
        _count("BytesIn", MetricUnit.Bytes, outcome.bytes_in)
        _count("BytesOut", MetricUnit.Bytes, outcome.bytes_out)


def _count(name: str, unit: MetricUnit, value: float) -> None:
    """Powertools' add_metric, one thread at a time (see the module's docstring)."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)


def _seconds_queued(record: SQSRecord) -> float | None:
    """From SQS's SentTimestamp (ms since the epoch) to now; None if SQS did not say."""
    sent = record.attributes.get("SentTimestamp")
    return None if sent is None else round(time.time() - int(sent) / 1000, 3)


# --- a batch on a thread pool, same-key records in order ---------------------------------------


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' BatchProcessor for SQS, with the records run on up to `threads` threads.

    Records that name the same object key form a chain and run one after another in batch
    order, so a delete never overtakes the upload before it and two threads never race on
    one key; chains run concurrently. Each record still goes through BatchProcessor's own
    `_process_record`, so success and failure are recorded exactly as it records them:
    `batchItemFailures` lists exactly the failed message ids (in batch order), and a batch
    in which every record failed raises BatchProcessingError, as it does sequentially.
    A failed record does not stop the rest of its chain: every step reads the current
    state of bucket A, so a later event of the key is right whatever happened before it,
    and the failed one is retried by the queue.
    """

    def __init__(self, threads: int) -> None:
        super().__init__(event_type=EventType.SQS)
        self.threads = threads

    def process(self) -> list[tuple[Any, ...]]:
        chains = chains_by_key(self.records)
        results: dict[int, tuple[Any, ...]] = {}

        def run(chain: list[int]) -> None:
            for index in chain:
                results[index] = self._process_record(self.records[index])

        workers = min(self.threads, len(chains))
        if workers <= 1:
            for chain in chains:
                run(chain)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="record") as pool:
                list(pool.map(run, chains))
        position = {record["messageId"]: i for i, record in enumerate(self.records)}
        self.success_messages.sort(key=lambda message: position[_message_id(message)])
        self.fail_messages.sort(key=lambda message: position[_message_id(message)])
        return [results[index] for index in range(len(self.records))]


def chains_by_key(records: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Indexes of `records` grouped so that records sharing an object key share a group.

    Each group is in batch order, and the groups are in the order of their first record.
    A record whose body names no key (S3's test event, something that is not JSON) is a
    group of its own. An S3 notification holds one record in practice; one that names
    several keys joins their groups.
    """
    group = list(range(len(records)))  # union-find: each record points towards its group

    def root(index: int) -> int:
        while group[index] != index:
            index = group[index]
        return index

    last: dict[tuple[str, str], int] = {}  # (bucket, key) -> the latest record naming it
    for index, record in enumerate(records):
        for name in _object_names(record):
            if name in last:
                group[root(index)] = root(last[name])
            last[name] = index
    chains: dict[int, list[int]] = {}
    for index in range(len(records)):
        chains.setdefault(root(index), []).append(index)
    return list(chains.values())


def _message_id(message: Any) -> str:
    """A message as BatchProcessor keeps it: the record's dict, or its SQSRecord."""
    return str(message["messageId"])


def _object_names(record: dict[str, Any]) -> set[tuple[str, str]]:
    try:
        body = json.loads(record.get("body") or "")
        return {
            (entry["s3"]["bucket"]["name"], unquote_plus(entry["s3"]["object"]["key"]))
            for entry in body.get("Records") or []
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()
