"""One key from the uploads bucket to the web bucket: fetch, sanitize (which verifies), write,
converge.

Events arrive at least once and in any order, so nothing here trusts the event beyond
its key: every step reads the current state of the uploads bucket and moves B towards
"sanitize(current A)" (docs/design.md "Pipeline: convergence"). Repeating a step writes
the same bytes again. A step
that raced with a newer upload or delete notices it in the re-check after its write and
goes again (`Pipeline._converge` says why it cannot leave that to the newer event). The
function never reads the web bucket: its role may only write and delete there
(docs/design.md "Access: the function's role"), so a
duplicate event costs one more PutObject, not a GetObject permission. (`sync`, run by an
operator, lists B to plan.)

Outcomes, one per key and event:
    written    B now holds the sanitized current A
    deleted    A no longer has the key, so B no longer has it either
    kept       a removal event, but A has the key again: the creation event will follow
    rejected   A's object is not an image we can vouch for: nothing written, B cleared
    skipped    not a .jpg, .jpeg, .png or .webp key
The object's content decides its format, and the copy's Content-Type follows it: a PNG
named `.jpg` is sanitized as a PNG and served as `image/png`.
Transient failures raise (botocore errors, `SourceKeptChanging`): the queue retries them,
then dead-letters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from .. import __version__
from ..core.errors import SanitizeError, TooLarge
from ..core.formats import is_image_key
from ..core.sanitize import Reader, identify, sanitize_stream
from .settings import Settings
from .upload import S3Upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# User metadata on every object in B: where it came from and what made it. The source's
# own user metadata is never copied (it is exactly the kind of thing that identifies).
META_ETAG: Final = "source-etag"
META_VERSION: Final = "source-version-id"
META_SANITIZER: Final = "sanitizer-version"
META_POLICY: Final = "orientation-policy"
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})
# Rounds of "mirror A into B, then check A did not change meanwhile" before the record is
# handed back to the queue. Two quick overwrites need two rounds; a key rewritten faster
# than we can copy it is retried later by the queue rather than here, so one hot key
# cannot hold a thread (and its batch) for long.
MAX_ROUNDS: Final = 3
NOT_AN_IMAGE_KEY: Final = "not a .jpg, .jpeg, .png or .webp key"


class SourceKeptChanging(RuntimeError):
    """The key of the uploads bucket changed during every round; the queue will try again later."""


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """Which object of the uploads bucket a step saw: its version id ("null" when the bucket is not
    versioned) and its ETag. Version ids are never reused, so a changed key never compares
    equal; on an unversioned bucket an overwrite with the very same bytes may, and then B
    is right as it is."""

    version_id: str
    etag: str

    @classmethod
    def of(cls, response: dict[str, Any]) -> SourceVersion:
        """From a GetObject or HeadObject response."""
        return cls(response.get("VersionId") or "null", response["ETag"].strip('"'))


@dataclass(slots=True)
class Outcome:
    key: str
    action: str
    reason: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    removed: list[str] = field(default_factory=list)
    rotation: str = "none"
    method: str = ""  # how a written copy was made: "lossless", or "re-encoded" (see reason)
    format: str = ""  # what the object holds: "jpeg", "png" or "webp"
    source_etag: str = ""
    seconds: float = 0.0  # the whole step
    s3_seconds: float = 0.0  # of which spent waiting on S3 (reads, writes, requests)
    rounds: int = 1  # more than 1: A changed while we worked, and we went again
    uploads_aborted: int = 0  # multipart uploads of the key an earlier attempt left open


class Pipeline:
    """The two things that can happen to a key of the uploads bucket, made idempotent."""

    def __init__(self, s3: S3Client, settings: Settings) -> None:
        self.s3 = s3
        self.settings = settings

    # -- created ------------------------------------------------------------------------

    def created(self, key: str, *, redelivered: bool = False) -> Outcome:
        """Make B hold sanitize(A) for `key`, or nothing when A has no such key.

        `redelivered`: the queue delivered this event before (see `_first_tidy`).
        """
        return _timed(key, self._first_tidy(self._created, redelivered))

    def _created(self, key: str, clock: _Clock) -> Outcome:
        if not is_image_key(key):
            return Outcome(key, "skipped", reason=NOT_AN_IMAGE_KEY)
        return self._converge(key, clock, self._mirror)

    def _converge(self, key: str, clock: _Clock, first_step: _Step) -> Outcome:
        """Run `first_step`, then mirror A into B until A held still while we worked.

        After each step A is read again (HeadObject). If it is not the object the step saw,
        an overwrite or a delete raced with us and B may hold the older picture. Leaving
        that to the newer event is not enough: events are delivered at least once but in
        any order and concurrently, so the newer event may already have been processed
        (its copy written, then overwritten by ours) and no event for this key may ever
        come again. So we go again ourselves, up to MAX_ROUNDS, and then hand the record
        back to the queue. Whoever writes B last re-checks A after that write, so the last
        write is always checked; a change after the last check has an event of its own,
        and that event's step reads A after the change.
        """
        outcome, saw = first_step(key, clock)
        for rounds in range(1, MAX_ROUNDS + 1):
            with clock:
                now = self._source_version(key)
            if now == saw:
                outcome.rounds = rounds
                return outcome
            if rounds < MAX_ROUNDS:
                outcome, saw = self._mirror(key, clock)
        raise SourceKeptChanging(
            f"{key!r} changed in the uploads bucket during each of {MAX_ROUNDS} rounds"
        )

    def _mirror(self, key: str, clock: _Clock) -> tuple[Outcome, SourceVersion | None]:
        """One round: B := sanitize(current A), or nothing when A has no such key.

        Returns the outcome and the version of A it was made from. The bytes and the
        version come from the one GetObject response, so they always belong together; a
        GetObject by VersionId would also need s3:GetObjectVersion, which the role does
        not have (docs/design.md "Access: the function's role").
        """
        with clock:
            source = self._get(key)
        if source is None:
            with clock:
                self._delete_copy(key)
            return Outcome(
                key, "deleted", reason="the key is no longer in the uploads bucket"
            ), None
        version = SourceVersion.of(source)
        try:
            return self._write_copy(key, source, version, clock), version
        finally:
            source["Body"].close()

    def _clear(self, key: str, clock: _Clock) -> tuple[Outcome, SourceVersion | None]:
        """One round of a removal whose key A no longer has: B loses it too."""
        with clock:
            self._delete_copy(key)
        return Outcome(key, "deleted"), None

    def _write_copy(
        self, key: str, source: dict[str, Any], version: SourceVersion, clock: _Clock
    ) -> Outcome:
        etag = version.etag
        size: int = source["ContentLength"]
        if size > self.settings.max_bytes:
            # Refused by its size, before a byte of the body is read (issue 8).
            limit = self.settings.max_bytes
            error = TooLarge(f"object of {size} bytes exceeds the limit of {limit} bytes", limit)
            return self._reject(key, error, bytes_in=0, etag=etag, clock=clock)

        body = _TimedReader(source["Body"], clock)
        try:
            # The content, not the key, says what the object is, and the upload is made
            # with the Content-Type that follows from it.
            kind, stream = identify(body)
        except SanitizeError as error:
            return self._reject(key, error, bytes_in=body.size, etag=etag, clock=clock)

        def new_upload() -> S3Upload:
            return S3Upload(
                self.s3,
                self.settings.web_bucket,
                key,
                content_type=kind.content_type,
                metadata={
                    META_ETAG: etag,
                    META_VERSION: version.version_id,
                    META_SANITIZER: __version__,
                    META_POLICY: self.settings.orientation.value,
                },
            )

        writer = _TimedWriter(new_upload(), clock)
        second_look = _SecondLook(self, key, etag, writer, new_upload)
        try:
            report = sanitize_stream(stream, writer, self.settings.sanitizer, fallback=second_look)
            with clock:
                writer.upload.commit()
        except SanitizeError as error:
            with clock:
                writer.upload.abort()
            return self._reject(key, error, bytes_in=body.size, etag=etag, clock=clock)
        except BaseException:
            with clock:
                writer.upload.abort()
            raise
        return Outcome(
            key,
            "written",
            reason=report.reason,
            bytes_in=report.bytes_in,
            bytes_out=report.bytes_out,
            removed=report.removed_kinds,
            rotation=report.rotation,
            method=report.method,
            format=report.format,
            source_etag=etag,
        )

    def read_again(self, key: str, etag: str) -> bytes:
        """The object `etag` names, in full, for the re-encode of a damaged photo.

        If-Match makes sure these are the bytes the first read began (a version id would
        need s3:GetObjectVersion); if A changed meanwhile S3 answers 412, the record fails
        and the queue brings it back to a fresh start.
        """
        bucket = self.settings.uploads_bucket
        body = self.s3.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')["Body"]
        try:
            data: bytes = body.read(self.settings.max_bytes + 1)
        finally:
            body.close()
        if len(data) > self.settings.max_bytes:
            raise TooLarge(f"file exceeds the limit of {self.settings.max_bytes} bytes", 0)
        return data

    def _reject(
        self, key: str, error: SanitizeError, *, bytes_in: int, etag: str, clock: _Clock
    ) -> Outcome:
        with clock:
            self._delete_copy(key)  # B must not go on showing an older picture
        return Outcome(key, "rejected", reason=str(error), bytes_in=bytes_in, source_etag=etag)

    # -- removed ------------------------------------------------------------------------

    def removed(self, key: str, *, redelivered: bool = False) -> Outcome:
        """Remove `key` from B, unless A has it again (then its creation event follows)."""
        return _timed(key, self._first_tidy(self._removed, redelivered))

    # -- what a killed attempt leaves behind ----------------------------------------------

    def _first_tidy(
        self, step: Callable[[str, _Clock], Outcome], redelivered: bool
    ) -> Callable[[str, _Clock], Outcome]:
        """`step`, after aborting the key's open multipart uploads if the event is redelivered.

        An attempt that dies halfway through a multipart upload (SIGKILLed, out of memory,
        the function's timeout) cannot abort it, and an upload nobody completes or aborts
        stays in B, invisible and billed, until the bucket's lifecycle rule removes it days
        later. Its event was not deleted, so it comes back with a receive count above 1;
        that attempt clears what the dead one left. Only then, so a first delivery costs no
        extra request. An upload that another attempt is still sending is aborted too: that
        attempt fails, its event comes back, and it goes again.
        """

        def run(key: str, clock: _Clock) -> Outcome:
            aborted = 0
            if redelivered and is_image_key(key):
                with clock:
                    aborted = self.abort_open_uploads(key)
            outcome = step(key, clock)
            outcome.uploads_aborted = aborted
            return outcome

        return run

    def abort_open_uploads(self, key: str) -> int:
        """Abort every multipart upload of `key` open in B; how many there were.

        Needs s3:ListBucketMultipartUploads on the web bucket (the role's only listing there: it
        shows keys and upload ids, no content). One key never has a thousand open uploads,
        so the first page is all of them.
        """
        bucket = self.settings.web_bucket
        listed = self.s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
        open_uploads = [upload["UploadId"] for upload in listed if upload["Key"] == key]
        for upload_id in open_uploads:
            try:
                self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise  # else it was completed or aborted meanwhile: gone either way
        return len(open_uploads)

    def _removed(self, key: str, clock: _Clock) -> Outcome:
        if not is_image_key(key):
            return Outcome(key, "skipped", reason=NOT_AN_IMAGE_KEY)
        with clock:
            present = self._source_version(key)
        if present is not None:
            # A has the key again, so S3 sent a creation event for it, which will be
            # delivered at least once and mirrors A when it runs; if it ran already, B is
            # right as it is. Either way there is nothing to undo here.
            return Outcome(key, "kept", reason="the key exists again in the uploads bucket")
        return self._converge(key, clock, self._clear)

    # -- S3 calls, with "not there" as a value rather than an exception --------------------

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.get_object(Bucket=self.settings.uploads_bucket, Key=key))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def _source_version(self, key: str) -> SourceVersion | None:
        head = self._head(self.settings.uploads_bucket, key)
        return None if head is None else SourceVersion.of(head)

    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=bucket, Key=key))
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def _delete_copy(self, key: str) -> None:
        # Deleting a key that is not there succeeds in S3: this is idempotent as it is.
        self.s3.delete_object(Bucket=self.settings.web_bucket, Key=key)


def _is_missing(error: ClientError) -> bool:
    code: str = error.response.get("Error", {}).get("Code", "")
    return code in _MISSING


# --- timing: how much of a step is S3 and how much is the sanitizer ------------------------

_Step = Callable[[str, "_Clock"], tuple[Outcome, SourceVersion | None]]


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
        self.upload = upload
        self.clock = clock

    def write(self, data: bytes | memoryview, /) -> int:
        with self.clock:
            return self.upload.write(data)


class _SecondLook:
    """The sanitizer's `Fallback` here: the same object again, and a new upload."""

    def __init__(
        self,
        pipeline: Pipeline,
        key: str,
        etag: str,
        writer: _TimedWriter,
        new_upload: Callable[[], S3Upload],
    ) -> None:
        self._pipeline = pipeline
        self._key = key
        self._etag = etag
        self._writer = writer
        self._new_upload = new_upload

    def reread(self) -> bytes:
        with self._writer.clock:
            return self._pipeline.read_again(self._key, self._etag)

    def restart(self) -> _TimedWriter:
        with self._writer.clock:
            self._writer.upload.abort()
        self._writer.upload = self._new_upload()
        return self._writer
