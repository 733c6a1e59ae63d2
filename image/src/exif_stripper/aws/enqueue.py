"""`sync --enqueue`: the plan, as S3 event notifications on the function's own queue.

A backfill of millions of photos is the work the function fleet is built for: this sends
each planned key to the queue the uploads bucket notifies, in the very shape S3 writes, and the
function does the rest with the same idempotent steps, retries and dead-letter queue as
for live uploads. Missing, stale and reprocessed keys become `ObjectCreated:Put` events,
orphans `ObjectRemoved:Delete` events (the function keeps a copy whose source came back).

`SendMessageBatch` takes 10 messages at a time; several threads send batches while the
plan is still being listed, with at most twice as many batches waiting as there are
threads, so memory stays flat. An entry that SQS reports as failed for its own reasons
(throttling, an internal error: `SenderFault` false) is sent again with backoff; one it
refuses as malformed stops the run. Sending is at least once: a batch sent again after a
lost reply makes duplicates, which the function handles like any repeated event.

Resuming: batches complete out of order, so the run keeps the last key up to which every
planned message was sent (`Sent.resume_after`); `sync --start-after` that key misses
nothing that was not sent, and repeats only batches that were in flight when it stopped.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus

from .sync import Action, Kind

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_BATCH: Final = 10  # SendMessageBatch takes at most 10 entries
THREADS: Final = 8
ATTEMPTS: Final = 8  # sends of one entry before the run stops on it
CONFIGURATION_ID: Final = "exif-stripper-sync"  # names these events in the function's logs
DEPTH_CHECK: Final = 1.0  # seconds between looks at the queue's depth (--max-queue-depth)
DEPTH_POLL: Final = 2.0  # seconds between looks while it is full


class EnqueueError(RuntimeError):
    """SQS would not take a message; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Sent:
    messages: int  # accepted by SQS
    retried: int  # entries sent again after SQS reported them failed
    seconds: float
    resume_after: str  # every planned message up to this key was sent ("" if none)
    stopped: str = ""  # why the run stopped before the end of the plan, if it did

    @property
    def complete(self) -> bool:
        return not self.stopped


def s3_event(bucket: str, action: Action, *, region: str) -> dict[str, Any]:
    """The notification S3 writes to SQS for `action`'s key of the uploads bucket (one record).

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    The key is URL-encoded as S3 encodes it ('+' for a space). Fields that describe the
    request behind a real event (requester IP, request ids, version id) are left out: no
    S3 request made this one, and the function reads none of them.
    """
    created = action.kind is not Kind.ORPHANED
    obj: dict[str, Any] = {"key": quote_plus(action.key, safe="/")}
    if created:
        obj |= {"size": action.entry.size, "eTag": action.entry.etag}
    obj["sequencer"] = f"{time.time_ns():016X}"
    now = time.time()
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                + f".{int(now * 1000) % 1000:03d}Z",
                "eventName": "ObjectCreated:Put" if created else "ObjectRemoved:Delete",
                "userIdentity": {"principalId": CONFIGURATION_ID},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": CONFIGURATION_ID,
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


class Enqueuer:
    """Sends the work of a plan to a queue; `run` once per plan."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        bucket: str,
        *,
        threads: int = THREADS,
        max_depth: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.bucket = bucket
        self.threads = threads
        self.max_depth = max_depth
        self._sleep = sleep
        self._region = sqs.meta.region_name
        self._lock = threading.Lock()
        self._sent = 0
        self._retried = 0
        self._failure = ""
        self._finished: dict[int, str] = {}  # batch number -> its last key, until contiguous
        self._next = 0  # the first batch not yet known to be sent
        self._watermark = ""
        self._room_until = 0.0  # with max_depth: no need to look at the depth before this

    def run(
        self,
        actions: Iterable[Action],
        *,
        start_after: str = "",
        on_sent: Callable[[int], None] = lambda count: None,
    ) -> Sent:
        """Send every action that is work. Stops early on a refused message, an error of
        the plan itself, or Ctrl-C, and says so in `Sent.stopped`."""
        started = time.perf_counter()
        self._watermark = start_after
        slots = threading.BoundedSemaphore(self.threads * 2)
        stopped = ""
        with ThreadPoolExecutor(self.threads, thread_name_prefix="enqueue") as pool:

            def submit(number: int, batch: list[Action]) -> None:
                slots.acquire()
                self._wait_for_room()
                pool.submit(self._send_batch, number, batch, slots, on_sent)

            try:
                number, batch = 0, []
                for action in actions:
                    if self._failure:
                        break
                    if action.kind.is_work:
                        batch.append(action)
                    if len(batch) == MAX_BATCH:
                        submit(number, batch)
                        number, batch = number + 1, []
                if batch and not self._failure:
                    submit(number, batch)
            except KeyboardInterrupt:
                stopped = "interrupted"  # the batches in flight still finish (with the pool)
            except Exception as error:  # the plan failed (a listing, an inventory file)
                stopped = f"{type(error).__name__}: {error}"
        return Sent(
            messages=self._sent,
            retried=self._retried,
            seconds=time.perf_counter() - started,
            resume_after=self._watermark,
            stopped=self._failure or stopped,
        )

    # -- one batch, in a sending thread ---------------------------------------------------------

    def _send_batch(
        self,
        number: int,
        batch: list[Action],
        slots: threading.BoundedSemaphore,
        on_sent: Callable[[int], None],
    ) -> None:
        try:
            self._send(batch, on_sent)
        except Exception as error:
            with self._lock:
                self._failure = self._failure or f"{type(error).__name__}: {error}"
        else:
            with self._lock:
                self._finished[number] = batch[-1].key
                while self._next in self._finished:
                    self._watermark = self._finished.pop(self._next)
                    self._next += 1
        finally:
            slots.release()

    def _send(self, batch: list[Action], on_sent: Callable[[int], None]) -> None:
        keys = {str(index): action.key for index, action in enumerate(batch)}
        pending: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "MessageBody": json.dumps(
                    s3_event(self.bucket, action, region=self._region), separators=(",", ":")
                ),
            }
            for index, action in enumerate(batch)
        ]
        for attempt in range(ATTEMPTS):
            result = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=pending)
            accepted = len(result.get("Successful", []))
            failed = result.get("Failed", [])
            with self._lock:
                self._sent += accepted
            on_sent(accepted)
            if not failed:
                return
            refused = [entry for entry in failed if entry.get("SenderFault")]
            if refused:
                entry = refused[0]
                raise EnqueueError(
                    f"SQS refused the event for {keys[entry['Id']]!r}: "
                    f"{entry.get('Code')} {entry.get('Message', '')}"
                )
            again = {entry["Id"] for entry in failed}
            pending = [entry for entry in pending if entry["Id"] in again]
            with self._lock:
                self._retried += len(pending)
            # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
            self._sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))  # noqa: S311
        raise EnqueueError(
            f"{len(pending)} events (the first for {keys[pending[0]['Id']]!r}) still failed "
            f"after {ATTEMPTS} attempts"
        )

    # -- back-pressure ----------------------------------------------------------------------------

    def _wait_for_room(self) -> None:
        """With `max_depth`: wait while the queue holds that many messages or more, so
        live uploads queue behind about `max_depth` backfill events at most (the depth is
        read once a second: up to a second's sending more)."""
        if self.max_depth is None or time.monotonic() < self._room_until:
            return
        while not self._failure and self._depth() >= self.max_depth:
            self._sleep(DEPTH_POLL)
        self._room_until = time.monotonic() + DEPTH_CHECK

    def _depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))
