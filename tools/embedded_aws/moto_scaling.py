"""moto's SQS, made to scale with the depth of a queue (a harness workaround, not a fix of ours).

    moto_scaling.apply()        (tools/embedded_aws/moto_server.py does, in the server's process)

moto gap (moto 5.x, `moto/sqs/models.py`): every `SendMessage` reads `queue.attributes`
to learn one flag (`ContentBasedDeduplication`), and that property computes *every*
attribute, including the three `ApproximateNumberOfMessages*` counts, each a pass over all
messages in the queue that asks the time of day once per message through a `datetime`
round trip (`unix_time_millis`). A send therefore costs time in proportion to the queue's
depth, and filling a queue costs its depth squared: a backfill of 20,000 messages ran at
11 messages/s. `DeleteMessage` makes two passes over the whole queue, asking every
message for a fresh list of its receipt handles, so draining a deep queue is quadratic
too, and every `ReceiveMessage` builds the list of visible messages by asking the clock
twice per message. AWS has none of these costs. Four changes, none of which alters what
any request answers:

* `Queue.attributes` becomes a read-only mapping that computes an attribute when it is
  read (same keys, same values, same order), so a send reads one flag and counts nothing;
* `Queue.delete_message` stops at the message that holds the receipt handle (received
  messages sit near the front of the queue) and removes that one; a receipt handle names
  one message, so this is what the two passes did;
* `Queue.messages` (the visible ones) reads the clock once per call, not twice per
  message, with the same two tests (`visible_at` passed, `delayed_until` reached);
* the clock SQS's models read is `time.time()` in milliseconds, the value moto's own
  `unix_time_millis()` computes (`utcnow()` minus the epoch) without the `datetime`
  arithmetic.

It imports only moto and the standard library, as the server script that uses it does.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from moto.core.utils import camelcase_to_underscores, unix_time_millis
from moto.sqs import models
from moto.sqs.exceptions import ReceiptHandleIsInvalid


def apply(patch: Callable[[object, str, object], None] = setattr) -> None:
    """Patch moto's SQS models in this process (idempotent); `patch` is `setattr`, or a
    test's `monkeypatch.setattr`, which undoes it afterwards."""
    patch(models, "unix_time_millis", _now_millis)
    patch(models.Queue, "attributes", property(_LazyAttributes))
    patch(models.Queue, "delete_message", _delete_message)
    patch(models.Queue, "messages", property(_visible_messages))


def _now_millis(dt: datetime.datetime | None = None) -> float:
    return time.time() * 1000.0 if dt is None else unix_time_millis(dt)


def _visible_messages(queue: models.Queue) -> list[models.Message]:
    now = _now_millis()
    # Message.visible is `now > visible_at`, Message.delayed is `now < delayed_until`.
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delete_message(queue: models.Queue, receipt_handle: str) -> None:
    if receipt_handle in queue.deleted_messages:
        return  # deleting twice succeeds, as in moto and AWS
    held = (
        index
        for index, message in enumerate(queue._messages)
        if receipt_handle in (message.receipt_handle, *message._old_receipt_handles)
    )
    index = next(held, None)
    if index is None:
        raise ReceiptHandleIsInvalid()
    message = queue._messages.pop(index)
    queue.pending_messages.discard(message)
    # As moto's own delete does (a handle may be None in its types, never in practice).
    queue.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]


class _LazyAttributes(Mapping[str, Any]):
    """`Queue.attributes` as moto builds it, one attribute at a time."""

    def __init__(self, queue: models.Queue) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if getattr(queue, "kms_master_key_id", None):  # set only on queues created with KMS
            names += queue.KMS_ATTRIBUTES
        self._names = dict.fromkeys(names)

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        queue = self._queue
        if name == "Policy" and queue.policy:
            return queue.policy
        if name == "RedrivePolicy" and queue.redrive_policy:
            return json.dumps(queue.redrive_policy)
        value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
