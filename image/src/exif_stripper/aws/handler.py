"""The Lambda entry point: SQS batches of S3 events in, partial batch failures out.

    event in -> decode (Powertools data classes: SQS record, S3 event; the key URL-decoded)
             -> Pipeline.created / Pipeline.removed (fetch, sanitize, verify, write)
             -> reporting.report (one JSON log line and EMF metrics per object)

Powertools' own shape for batch processing (docs.powertools.aws.dev/lambda/python/latest/
utilities/batch/): the module holds the Logger, the Metrics and the record handler, and the
entry returns `process_partial_response`. Two things differ, each for a reason:

- The record handler takes the pipeline as an argument, and `make_handler(pipeline)` binds
  it: the Lambda's entry (`lambda_handler`, the image's CMD) binds the pipeline built from
  the environment, once per container; the local worker and the tests bind their own. No
  module global is ever replaced.
- Each bound handler has its own `ConcurrentBatchProcessor`, sized by the pipeline's
  `batch_threads`: two handlers in one process never share a processor's batch state.

Each SQS record succeeds or fails on its own (`batchItemFailures`), so a bad record is
retried alone and never repeats its neighbours. The records of a batch run concurrently on
`BATCH_THREADS` threads, since the work is mostly waiting on S3; records that name the same
key run one after another, in batch order. A rejected photo is a success here: it is logged
and counted, not retried. A direct S3 event (a manual invoke) is accepted too.

Thread safety: the threads share one boto3 client (clients are thread-safe, sessions and
resources are not); the Logger and the Metrics are used as `reporting` explains.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, Protocol
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

from .clients import s3_client
from .pipeline import Outcome, Pipeline
from .reporting import count, report
from .settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE: Final = "exif-stripper"
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ExifStripper"),
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE),
)


class Handler(Protocol):
    """A Lambda-shaped entry bound to one pipeline (`make_handler`)."""

    def __call__(
        self, event: dict[str, Any], context: LambdaContext | None = None, /
    ) -> dict[str, Any]: ...


# --- entry points --------------------------------------------------------------------------


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _from_environment()(event, context)


@functools.cache
def _from_environment() -> Handler:
    """The handler on the pipeline the environment describes, built on the first event of
    a container: a bad setting fails that invocation, loudly, and every one after it."""
    settings = Settings.from_env()
    logger.setLevel(settings.log_level)
    return make_handler(Pipeline(s3_client(), settings))


def make_handler(pipeline: Pipeline) -> Handler:
    """The Lambda's entry bound to `pipeline`: an SQS batch (partial failures reported) or
    a direct S3 event in, the response out. The local worker runs it as Lambda would."""

    def handle(event: dict[str, Any], context: LambdaContext | None = None, /) -> dict[str, Any]:
        records = event.get("Records") or []
        if records and records[0].get("eventSource") == "aws:s3":
            outcomes = [s3_record_handler(r, pipeline) for r in S3Event(event).records]
            return {"outcomes": [outcome.action for outcome in outcomes]}
        processor = ConcurrentBatchProcessor(pipeline.settings.batch_threads)
        bound = functools.partial(record_handler, pipeline=pipeline)
        return dict(process_partial_response(event, bound, processor, context))

    return handle


def record_handler(record: SQSRecord, pipeline: Pipeline) -> None:
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
            s3_record_handler(s3_record, pipeline, queued_seconds=queued, redelivered=redelivered)
    except Exception:
        count(metrics, "Errors", MetricUnit.Count, 1)
        logger.exception("record failed; the queue will retry it", extra={"id": record.message_id})
        raise


def s3_record_handler(
    record: S3EventRecord,
    pipeline: Pipeline,
    *,
    queued_seconds: float | None = None,
    redelivered: bool = False,
) -> Outcome:
    """One S3 event record: the pipeline's step for it, then its log line and metrics."""
    bucket = record.s3.bucket.name
    # S3 URL-encodes keys in notifications ('+' for a space). Powertools decodes only
    # S3Event.object_key (the first record), not each record's key: decode here, once.
    key = unquote_plus(record.s3.get_object.key)
    if bucket != pipeline.settings.uploads_bucket:
        outcome = Outcome(
            key, "skipped", reason=f"event from bucket {bucket!r}, not the uploads bucket"
        )
    elif record.event_name.startswith("ObjectCreated:"):
        outcome = pipeline.created(key, redelivered=redelivered)
    elif record.event_name.startswith("ObjectRemoved:"):
        outcome = pipeline.removed(key, redelivered=redelivered)
    else:
        outcome = Outcome(key, "skipped", reason=f"event {record.event_name} is not handled")
    report(logger, metrics, outcome, record.event_name, queued_seconds)
    return outcome


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
    state of the uploads bucket, so a later event of the key is right whatever happened before it,
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
