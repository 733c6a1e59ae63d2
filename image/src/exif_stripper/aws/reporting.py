"""What the handler says about each object: one JSON log line and EMF metrics.

The handler owns the Logger and the Metrics (Powertools' own shape) and passes them in, so
this module holds no state of its own but the lock below, and anything else that wants the
same lines and metrics can call it with its own pair.

Thread safety: every log line carries its fields in `extra`, never in keys appended to the
shared Logger (append_keys is not thread-safe: powertools-lambda-python#2040). Powertools'
Metrics is not thread-safe either (add_metric reads, then replaces, an entry of a shared
dict: powertools-lambda-python#7467), so every metric goes through one lock (`count`),
and the flush runs on the main thread after the batch (`Metrics.log_metrics`).
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Final

from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from .pipeline import Outcome

COUNTERS: Final = {
    "written": "ObjectsWritten",
    "unchanged": "ObjectsUnchanged",
    "deleted": "ObjectsDeleted",
    "kept": "ObjectsUnchanged",
    "rejected": "ObjectsRejected",
    "skipped": "ObjectsSkipped",
}
_metrics_lock = threading.Lock()


def report(
    logger: Logger,
    metrics: Metrics,
    outcome: Outcome,
    event_name: str,
    queued_seconds: float | None = None,
) -> None:
    """One log line and the metrics for one object."""
    line = {"event": event_name, **asdict(outcome)}
    if queued_seconds is not None:
        line["queued_seconds"] = queued_seconds  # how long the event waited in the queue
    if outcome.action == "rejected":
        logger.warning("rejected: not passed on", extra=line)
    else:
        logger.info(outcome.action, extra=line)
    count(metrics, COUNTERS[outcome.action], MetricUnit.Count, 1)
    if outcome.action == "written":
        if outcome.method == "re-encoded":
            # A subset of ObjectsWritten: damaged photos made again from their pixels.
            count(metrics, "ObjectsReencoded", MetricUnit.Count, 1)
        count(metrics, "BytesIn", MetricUnit.Bytes, outcome.bytes_in)
        count(metrics, "BytesOut", MetricUnit.Bytes, outcome.bytes_out)


def count(metrics: Metrics, name: str, unit: MetricUnit, value: float) -> None:
    """Powertools' add_metric, one thread at a time (see the module's docstring)."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)
