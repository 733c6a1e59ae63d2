"""Bucket A to bucket B for one key: fetch, sanitize (which verifies), write, converge.

Events arrive at least once and in any order, so nothing here trusts the event beyond
its key: every step reads the current state of bucket A and moves B towards
"sanitize(current A)" (SPEC §2). Repeating a step writes the same bytes again; a step
that raced with a newer upload or delete is corrected by the newer event, or by the
re-check after writing. The function never reads bucket B: its role may only write and
delete there (SPEC §3), so a duplicate event costs one more PutObject, not a GetObject
permission. (`sync`, run by an operator, lists B to plan.)

Outcomes, one per key and event:
    written    B now holds the sanitized current A
    deleted    A no longer has the key, so B no longer has it either
    kept       a removal event, but A has the key again: the creation event will follow
    rejected   A's object is not a JPEG we can vouch for: nothing written, B cleared
    skipped    not a .jpg/.jpeg key
Transient failures raise (botocore errors): the queue retries them, then dead-letters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from . import __version__
from .config import Settings
from .errors import SanitizeError
from .sanitize import Reader, sanitize_stream
from .upload import S3Upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JPEG_SUFFIXES: Final = (".jpg", ".jpeg")
# User metadata on every object in B: where it came from and what made it. The source's
# own user metadata is never copied (it is exactly the kind of thing that identifies).
META_ETAG: Final = "source-etag"
META_VERSION: Final = "source-version-id"
META_SANITIZER: Final = "sanitizer-version"
META_POLICY: Final = "orientation-policy"
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(slots=True)
class Outcome:
    key: str
    action: str
    reason: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    removed: list[str] = field(default_factory=list)
    rotation: str = "none"
    source_etag: str = ""
    seconds: float = 0.0  # the whole step
    s3_seconds: float = 0.0  # of which spent waiting on S3 (reads, writes, requests)


def is_jpeg_key(key: str) -> bool:
    return key.lower().endswith(JPEG_SUFFIXES)


class Pipeline:
    """The two things that can happen to a key of bucket A, made idempotent."""

    def __init__(self, s3: S3Client, settings: Settings) -> None:
        self.s3 = s3
        self.settings = settings

    # -- created ------------------------------------------------------------------------

    def created(self, key: str) -> Outcome:
        """Make B hold sanitize(A) for `key`, or nothing when A has no such key."""
        return _timed(key, self._created)

    def _created(self, key: str, clock: _Clock) -> Outcome:
        if not is_jpeg_key(key):
            return Outcome(key, "skipped", reason="not a .jpg/.jpeg key")
        with clock:
            source = self._get(key)
        if source is None:
            with clock:
                self._delete_copy(key)
            return Outcome(key, "deleted", reason="the key is no longer in the source bucket")
        etag = source["ETag"].strip('"')
        try:
            outcome = self._write_copy(key, source, etag, clock)
        finally:
            source["Body"].close()
        if outcome.action == "written":
            with clock:
                still_there = self._head_source(key)
            if not still_there:  # deleted while we worked: converge
                with clock:
                    self._delete_copy(key)
                outcome.action, outcome.reason = "deleted", "deleted from the source meanwhile"
        return outcome

    def _write_copy(self, key: str, source: dict[str, Any], etag: str, clock: _Clock) -> Outcome:
        upload = S3Upload(
            self.s3,
            self.settings.dest_bucket,
            key,
            content_type="image/jpeg",
            metadata={
                META_ETAG: etag,
                META_VERSION: source.get("VersionId") or "null",
                META_SANITIZER: __version__,
                META_POLICY: self.settings.orientation.value,
            },
        )
        body = _TimedReader(source["Body"], clock)
        try:
            report = sanitize_stream(body, _TimedWriter(upload, clock), self.settings.sanitizer)
            with clock:
                upload.commit()
        except SanitizeError as error:
            with clock:
                upload.abort()
                self._delete_copy(key)  # B must not go on showing an older picture
            return Outcome(key, "rejected", reason=str(error), bytes_in=body.size, source_etag=etag)
        except BaseException:
            with clock:
                upload.abort()
            raise
        return Outcome(
            key,
            "written",
            bytes_in=report.bytes_in,
            bytes_out=report.bytes_out,
            removed=report.removed_kinds,
            rotation=report.rotation,
            source_etag=etag,
        )

    # -- removed ------------------------------------------------------------------------

    def removed(self, key: str) -> Outcome:
        """Remove `key` from B, unless A has it again (then its creation event follows)."""
        return _timed(key, self._removed)

    def _removed(self, key: str, clock: _Clock) -> Outcome:
        if not is_jpeg_key(key):
            return Outcome(key, "skipped", reason="not a .jpg/.jpeg key")
        with clock:
            if self._head_source(key):
                return Outcome(key, "kept", reason="the key exists again in the source bucket")
            self._delete_copy(key)
        return Outcome(key, "deleted")

    # -- S3 calls, with "not there" as a value rather than an exception --------------------

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.get_object(Bucket=self.settings.source_bucket, Key=key))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def _head_source(self, key: str) -> bool:
        return self._head(self.settings.source_bucket, key) is not None

    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def _delete_copy(self, key: str) -> None:
        # Deleting a key that is not there succeeds in S3: this is idempotent as it is.
        self.s3.delete_object(Bucket=self.settings.dest_bucket, Key=key)


def _is_missing(error: ClientError) -> bool:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code in _MISSING


# --- timing: how much of a step is S3 and how much is the sanitizer ------------------------


def _timed(key: str, step: Callable[[str, _Clock], Outcome]) -> Outcome:
    clock = _Clock()
    started = time.perf_counter()
    outcome = step(key, clock)
    outcome.seconds = time.perf_counter() - started
    outcome.s3_seconds = clock.total
    return outcome


class _Clock:
    """Adds up the time spent inside `with clock:` blocks."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.total += time.perf_counter() - self._started


class _TimedReader:
    def __init__(self, body: Reader, clock: _Clock) -> None:
        self._body = body
        self._clock = clock
        self.size = 0

    def read(self, size: int, /) -> bytes:
        with self._clock:
            data = self._body.read(size)
        self.size += len(data)
        return data


class _TimedWriter:
    def __init__(self, upload: S3Upload, clock: _Clock) -> None:
        self._upload = upload
        self._clock = clock

    def write(self, data: bytes | memoryview, /) -> int:
        with self._clock:
            return self._upload.write(data)
