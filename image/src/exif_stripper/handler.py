"""The Lambda entry point: SQS batches of S3 events in, partial batch failures out.

    event in -> decode (Powertools data classes: SQS record, S3 event; the key URL-decoded)
             -> Pipeline.created / Pipeline.removed (fetch, sanitize, verify, write)
             -> report (one JSON log line and EMF metrics per object)

Each SQS record succeeds or fails on its own (Powertools' BatchProcessor reports
`batchItemFailures`), so a bad record is retried alone and never repeats its neighbours.
A rejected photo is a success here: it is logged and counted, not retried. A direct S3
event (a manual invoke) is accepted too. The local worker calls `handle` with the same
Lambda-shaped events.
"""

from __future__ import annotations

import json
import os
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
processor = BatchProcessor(event_type=EventType.SQS)

_COUNTERS: Final = {
    "written": "ObjectsWritten",
    "unchanged": "ObjectsUnchanged",
    "deleted": "ObjectsDeleted",
    "kept": "ObjectsUnchanged",
    "rejected": "ObjectsRejected",
    "skipped": "ObjectsSkipped",
}
_pipeline: Pipeline | None = None


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
    current_pipeline()
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:s3":
        outcomes = [handle_s3_record(record) for record in S3Event(event).records]
        return {"outcomes": [outcome.action for outcome in outcomes]}
    return dict(process_partial_response(event, handle_sqs_record, processor, context))


def handle_sqs_record(record: SQSRecord) -> None:
    """One queue message: an S3 event notification (or S3's test event) in its body."""
    try:
        body = json.loads(record.body)
        if body.get("Event") == "s3:TestEvent":
            logger.info("skipped S3 test event", extra={"bucket": body.get("Bucket")})
            return
        for s3_record in S3Event(body).records:
            handle_s3_record(s3_record)
    except Exception:
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
        logger.exception("record failed; the queue will retry it", extra={"id": record.message_id})
        raise


def handle_s3_record(record: S3EventRecord) -> Outcome:
    pipeline = current_pipeline()
    bucket = record.s3.bucket.name
    # S3 URL-encodes keys in notifications ('+' for a space). Powertools decodes only
    # S3Event.object_key (the first record), not each record's key: decode here, once.
    key = unquote_plus(record.s3.get_object.key)
    if bucket != pipeline.settings.source_bucket:
        outcome = Outcome(key, "skipped", reason=f"event from bucket {bucket!r}, not the source")
    elif record.event_name.startswith("ObjectCreated:"):
        outcome = pipeline.created(key)
    elif record.event_name.startswith("ObjectRemoved:"):
        outcome = pipeline.removed(key)
    else:
        outcome = Outcome(key, "skipped", reason=f"event {record.event_name} is not handled")
    report(outcome, record.event_name)
    return outcome


def report(outcome: Outcome, event_name: str) -> None:
    """One log line and the metrics for one object."""
    line = {"event": event_name, **asdict(outcome)}
    if outcome.action == "rejected":
        logger.warning("rejected: not passed on", extra=line)
    else:
        logger.info(outcome.action, extra=line)
    metrics.add_metric(name=_COUNTERS[outcome.action], unit=MetricUnit.Count, value=1)
    if outcome.action == "written":
        if outcome.method == "re-encoded":
            # A subset of ObjectsWritten: damaged photos made again from their pixels.
            metrics.add_metric(name="ObjectsReencoded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=outcome.bytes_in)
        metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=outcome.bytes_out)
