"""Faults on the wire for `make chaos`, injected through botocore's own event hooks.

    python -m tools.chaos.faults --plan plan.json --record faults.jsonl \\
        worker --queue-url URL --visibility-timeout 6      # `exif-stripper worker`, faulty

runs the CLI's `main` unchanged, in a process whose boto3 clients meet faults at the rates
the plan sets per operation (`s3.GetObject`, `sqs.ReceiveMessage`, ...), on each attempt:

    throttle      S3: 503 SlowDown; SQS: 400 ThrottlingException
    error         S3: 500 InternalError; SQS: 500 InternalFailure
    reset         the connection resets before any answer: the request never took effect
    timeout       the request takes effect, then the answer never comes (read timeout)
    body-reset    GetObject answers 200, then the connection resets halfway through the body
    body-timeout  GetObject answers 200, then the body stalls halfway (read timeout)

The hook is `before-send`, which botocore emits for every attempt just before it would send
it; a handler may answer in its place (a synthetic `AWSResponse`) or raise. So the faults go
through exactly the code a real fault goes through: botocore parses the synthetic error and
its retry handler (standard mode, aws.py) decides to retry; a connection error raised here is
the exception urllib3's would have become; a body cut halfway is read through botocore's
`StreamingBody`, which turns urllib3's error into its own, and no SDK retries a body read, so
the pipeline must. (`timeout` and the body faults send the request for real first, with an
HTTP session of their own, so the server does what the client then never hears about.)

This module is the harness's, never the shipped package's: nothing in image/ imports it, and
only the worker processes `make chaos` starts install it.

Accounting. Every fault and every retry that follows one is appended to the record file at
once (a JSON line each, so a SIGKILL loses nothing), with the fault's id. The id is also in
the fault itself: in the error message of a synthetic response, in the endpoint URL of a
connection error, in the message of a broken body. So a fault that botocore does not retry
(the last attempt, or a body read) can only surface as an exception that names it, and the
harness finds it in the worker's log (tools/chaos/checks.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
import urllib3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

THROTTLE: Final = "throttle"
ERROR: Final = "error"
RESET: Final = "reset"
TIMEOUT: Final = "timeout"
BODY_RESET: Final = "body-reset"
BODY_TIMEOUT: Final = "body-timeout"
KINDS: Final = (THROTTLE, ERROR, RESET, TIMEOUT, BODY_RESET, BODY_TIMEOUT)
BODY_KINDS: Final = frozenset({BODY_RESET, BODY_TIMEOUT})
# Operations whose answer is a stream the caller reads after the call returned.
STREAMING: Final = frozenset({"s3.GetObject"})
#: The S3 operations issue 14 names for throttling and 5xx, and the SQS operations.
S3_OPERATIONS: Final = tuple(
    f"s3.{name}"
    for name in (
        "GetObject",
        "PutObject",
        "UploadPart",
        "CompleteMultipartUpload",
        "DeleteObject",
        "HeadObject",
        "CreateMultipartUpload",
    )
)
SQS_OPERATIONS: Final = ("sqs.ReceiveMessage", "sqs.DeleteMessage", "sqs.DeleteMessageBatch")


def same_rates(operations: Sequence[str], **kinds: float) -> dict[str, dict[str, float]]:
    """`FaultPlan.rates` with the same rates on each operation (`body_reset=` for body-reset)."""
    return {op: {kind.replace("_", "-"): rate for kind, rate in kinds.items()} for op in operations}


def fault_tag(fault_id: str) -> str:
    """How a fault names itself in the error it becomes (and so in the worker's log)."""
    return f"[fault {fault_id}]"


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """Every attempt at `operation` between two wall-clock times meets `kind`: a fault that
    outlasts botocore's retries, shared by every worker process."""

    operation: str
    kind: str
    start: float  # time.time()
    end: float


@dataclass(frozen=True)
class FaultPlan:
    """Per operation, the probability of each kind of fault on each attempt."""

    rates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    outages: tuple[Outage, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for operation, kinds in self.rates.items():
            for kind, rate in kinds.items():
                if kind not in KINDS or not 0 <= rate <= 1:
                    raise ValueError(f"{operation}: {kind}={rate} is not a fault and a rate")
                if kind in BODY_KINDS and operation not in STREAMING:
                    raise ValueError(f"{operation} has no streamed body to break ({kind})")

    def to_json(self) -> str:
        return json.dumps(
            {
                "rates": self.rates,
                "outages": [vars(outage) for outage in self.outages],
                "seed": self.seed,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FaultPlan:
        document = json.loads(text)
        outages = tuple(Outage(**outage) for outage in document.get("outages", []))
        return cls(document.get("rates", {}), outages, int(document.get("seed", 0)))

    def pick(self, operation: str, rng: random.Random, now: float) -> str | None:
        """The fault this attempt meets, if any."""
        for outage in self.outages:
            if outage.operation == operation and outage.start <= now < outage.end:
                return outage.kind
        draw = rng.random()
        for kind, rate in self.rates.get(operation, {}).items():
            if draw < rate:
                return kind
            draw -= rate
        return None


# --- the record ------------------------------------------------------------------------------


class Record:
    """Appends one JSON line per event to a file shared by every worker process.

    Each line is a single `write` on a file opened with O_APPEND, so lines of concurrent
    processes never interleave and a SIGKILL loses at most the event it interrupted.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, **event: object) -> None:
        line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            os.write(self._fd, line)


def read_record(path: Path) -> list[dict[str, Any]]:
    """Every event of a record file (a line cut short by a SIGKILL is skipped)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


# --- the injector ----------------------------------------------------------------------------


class FaultInjector:
    """`before-send` handlers that inject the plan's faults and record them."""

    def __init__(self, plan: FaultPlan, record: Record) -> None:
        self.plan = plan
        self.record = record
        self._rng = random.Random(plan.seed * 1_000_003 + os.getpid())
        self._lock = threading.Lock()
        self._count = 0
        self._pending: dict[str, str] = {}  # invocation id -> id of its last fault
        self._http: URLLib3Session | None = None

    def attach(self, events: Any) -> None:
        """Register on an event emitter (a boto3 session's `events`, or a client's
        `meta.events`): clients made from the session afterwards carry the handlers."""
        for service in ("s3", "sqs"):
            events.register(f"before-send.{service}", self.before_send)

    def before_send(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> Any:
        service, name = event_name.split(".", 2)[1:]
        operation = f"{service}.{name}"
        invocation, attempt = _attempt(request)
        with self._lock:
            if attempt > 1:
                after = self._pending.pop(invocation, None)
                self.record.write(
                    event="retry", pid=os.getpid(), op=operation, attempt=attempt, after=after
                )
            kind = self.plan.pick(operation, self._rng, time.time())
            if kind is None:
                return None
            self._count += 1
            fault_id = f"{os.getpid()}-{self._count}"
            self._pending[invocation] = fault_id

        def happened() -> None:
            self.record.write(
                event="fault",
                id=fault_id,
                pid=os.getpid(),
                kind=kind,
                op=operation,
                attempt=attempt,
                time=time.time(),
            )

        # A body fault happens only if the body is read up to its cut: a reader that stops
        # earlier (a not-a-JPEG refused by its first bytes) never meets it, so it is recorded
        # when it breaks, not here (recorded here, it could be accounted for nowhere).
        if kind not in BODY_KINDS:
            happened()
        return self._inject(kind, service, request, fault_id, happened)

    def _inject(
        self,
        kind: str,
        service: str,
        request: AWSPreparedRequest,
        fault_id: str,
        happened: Callable[[], None],
    ) -> Any:
        tag = fault_tag(fault_id)
        if kind in (THROTTLE, ERROR):
            return _error_response(service, kind, request, tag)
        if kind == RESET:
            raise ConnectionClosedError(endpoint_url=f"{request.url} {tag}", request=request)
        answer = self._send(request)
        if kind == TIMEOUT:
            answer.raw.close()  # whatever the server said is lost with the connection
            raise ReadTimeoutError(
                endpoint_url=f"{request.url} {tag}", request=request, error="Read timed out."
            )
        length = int(answer.headers.get("content-length", 0))
        if answer.status_code != 200 or length < 2:
            return answer  # nothing to cut: this attempt meets no fault after all
        broken = _BrokenBody(answer.raw, length // 2, kind, f"{request.url} {tag}", happened)
        # botocore itself builds responses from urllib3's headers; its stubs say HTTPHeaders.
        return AWSResponse(answer.url, answer.status_code, answer.headers, broken)  # type: ignore[arg-type]

    def _send(self, request: AWSPreparedRequest) -> AWSResponse:
        with self._lock:
            if self._http is None:
                self._http = URLLib3Session(timeout=60, max_pool_connections=16)
        response: AWSResponse = self._http.send(request)
        return response


def _attempt(request: AWSPreparedRequest) -> tuple[str, int]:
    """(invocation id, attempt number) from the headers botocore's retry handler adds:
    `amz-sdk-invocation-id` (one per API call, the same on each of its attempts) and
    `amz-sdk-request: attempt=N; max=M`."""
    invocation = _text(request.headers.get("amz-sdk-invocation-id", b""))
    attempt = 1
    for part in _text(request.headers.get("amz-sdk-request", b"")).split(";"):
        name, _, value = part.strip().partition("=")
        if name == "attempt" and value.isdigit():
            attempt = int(value)
    return invocation, attempt


def _text(value: str | bytes) -> str:
    # Prepared requests hold the headers botocore adds as bytes.
    return value.decode() if isinstance(value, bytes) else value


# S3 speaks REST-XML (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
# SQS speaks JSON 1.0 (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
_ERRORS: Final = {
    ("s3", THROTTLE): (503, "SlowDown", "Please reduce your request rate."),
    ("s3", ERROR): (500, "InternalError", "We encountered an internal error. Please try again."),
    ("sqs", THROTTLE): (400, "ThrottlingException", "Rate exceeded."),
    ("sqs", ERROR): (500, "InternalFailure", "The request processing has failed."),
}


def _error_response(service: str, kind: str, request: AWSPreparedRequest, tag: str) -> AWSResponse:
    status, code, message = _ERRORS[(service, kind)]
    request_id = f"FAULT{random.getrandbits(48):012X}"
    if service == "s3":
        # S3 sends no body with an error to a HEAD; botocore reads one when there is one, and
        # this one carries the fault's id to whoever logs the error.
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message} {tag}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml", "x-amz-request-id": request_id}
    else:
        document = {"__type": f"com.amazonaws.sqs#{code}", "message": f"{message} {tag}"}
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    headers["Content-Length"] = str(len(body))
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(body), headers=headers, status=status, preload_content=False
    )
    return AWSResponse(request.url, status, headers, raw)  # type: ignore[arg-type]  # as above


class _BrokenBody:
    """A response body that gives its first `cut` bytes, then fails as a dropped or stalled
    connection does in urllib3 (which botocore's StreamingBody turns into its own errors)."""

    def __init__(
        self, raw: Any, cut: int, kind: str, where: str, happened: Callable[[], None]
    ) -> None:
        self._raw = raw
        self._happened: Callable[[], None] | None = happened  # called once, at the break
        self._left = cut
        self._kind = kind
        self._where = where

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        if amt is None:  # read it all: the break comes before the call can return
            self._raw.read(self._left, *args, **kwargs)
            self._left = 0
        if self._left <= 0:
            self._fail()
        data: bytes = self._raw.read(min(amt or self._left, self._left), *args, **kwargs)
        self._left -= len(data)
        if not data:
            self._fail()
        return data

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        while data := self.read(amt):
            yield data

    def _fail(self) -> None:
        self._raw.close()
        if self._happened is not None:
            self._happened()
            self._happened = None
        if self._kind == BODY_TIMEOUT:
            raise urllib3.exceptions.ReadTimeoutError(None, self._where, "Read timed out.")  # type: ignore[arg-type]
        raise urllib3.exceptions.ProtocolError(
            f"Connection broken: connection reset by peer mid-body ({self._where})"
        )

    def close(self) -> None:
        self._raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


# --- the worker with faults ------------------------------------------------------------------


def install(plan: FaultPlan, record_path: Path) -> FaultInjector:
    """Faults in every boto3 client this process makes from now on (the default session's,
    which exif_stripper.aws.clients uses)."""
    injector = FaultInjector(plan, Record(record_path))
    boto3.setup_default_session()
    injector.attach(boto3.DEFAULT_SESSION.events)  # type: ignore[union-attr]
    return injector


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, required=True, help="a FaultPlan as JSON")
    parser.add_argument("--record", type=Path, required=True, help="JSON lines, appended")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="exif-stripper's arguments")
    args = parser.parse_args(argv)
    install(FaultPlan.from_json(args.plan.read_text()), args.record)
    from exif_stripper.cli import main as cli_main  # after the hooks: its clients get them

    return cli_main(args.command)


if __name__ == "__main__":
    sys.exit(main())
