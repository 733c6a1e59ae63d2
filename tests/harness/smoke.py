"""The smoke test: does a deployed stack do its one job, end to end, as its users see it?

As User A it uploads a photo that carries GPS, camera serials, XMP and a thumbnail to
bucket A; as User B it waits for the copy in bucket B, downloads it and checks that
nothing identifying is left and that the pixels are the same; then, as User A, it
deletes the photo and waits for the copy to leave bucket B.

    python -m tests.harness.smoke --source BUCKET_A --dest BUCKET_B \\
        --uploader-profile user-a --reader-profile user-b
    docker compose run --rm test --source ... --dest ...

Against real AWS the profiles hold the two users' keys; `make test` runs the same
`run_smoke` against the embedded AWS with the users' keys created there.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

import boto3
from botocore.exceptions import ClientError

from exif_stripper.errors import SanitizeError
from exif_stripper.inspection import inspect_stream
from exif_stripper.verify import verify_jpeg
from tests.harness import samples

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_TIMEOUT: Final = 120.0
T = TypeVar("T")


class SmokeFailed(AssertionError):
    pass


@dataclass
class SmokeResult:
    key: str
    seconds_to_copy: float = 0.0
    seconds_to_delete: float = 0.0
    checks: list[str] = field(default_factory=list)


def run_smoke(
    uploader: S3Client,
    reader: S3Client,
    source: str,
    dest: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    say: Callable[[str], None] = print,
    delete: Callable[[str], object] | None = None,
) -> SmokeResult:
    """Upload, wait, check, delete, wait. `delete` deletes a key of bucket A as User A
    (default: a plain DeleteObject; the embedded AWS needs help to announce it)."""
    photo = samples.compose(
        samples.base_jpeg(640, 480, seed=99),
        [samples.exif_segment(samples.camera_exif_with_thumbnail(99)), samples.xmp_segment()],
    )
    result = SmokeResult(key=f"smoke-test/{uuid.uuid4()}.jpg")
    say(f"upload {result.key} to {source} as User A ({len(photo)} bytes, GPS in EXIF and XMP)")
    uploader.put_object(Bucket=source, Key=result.key, Body=photo)
    try:
        started = time.monotonic()
        copy = _wait_for(lambda: read_object(reader, dest, result.key), timeout, "the copy in B")
        result.seconds_to_copy = time.monotonic() - started
        say(f"copy in {dest} after {result.seconds_to_copy:.1f} s; read as User B")
        result.checks = _check_clean(photo, copy)
        for check in result.checks:
            say(f"  ok: {check}")
    finally:
        if delete is None:
            uploader.delete_object(Bucket=source, Key=result.key)
        else:
            delete(result.key)
    started = time.monotonic()
    _wait_for(
        lambda: True if read_object(reader, dest, result.key) is None else None,
        timeout,
        "the delete",
    )
    result.seconds_to_delete = time.monotonic() - started
    say(f"deleted from {source}; gone from {dest} after {result.seconds_to_delete:.1f} s")
    return result


def _check_clean(original: bytes, copy: bytes) -> list[str]:
    checks = []
    try:
        verify_jpeg(copy)
    except SanitizeError as error:
        raise SmokeFailed(f"the copy holds more than SPEC §1 keeps: {error}") from None
    checks.append("only image data, ICC, JFIF and Adobe segments; nothing after EOI")
    inspection = inspect_stream(io.BytesIO(copy))
    if inspection.findings:
        raise SmokeFailed(f"identifying data left: {inspection.findings}")
    checks.append("no GPS, camera, serial, XMP, IPTC, thumbnail or trailer found")
    if samples.decode(copy).tobytes() != samples.decode(original).tobytes():
        raise SmokeFailed("the copy's pixels differ from the upload's")
    checks.append("the same pixels as the upload")
    return checks


def read_object(s3: S3Client, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when the key does not exist (not an error here)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def _wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise SmokeFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="bucket A (uploads)")
    parser.add_argument("--dest", required=True, help="bucket B (web-safe copies)")
    parser.add_argument("--uploader-profile", help="AWS profile with User A's keys")
    parser.add_argument("--reader-profile", help="AWS profile with User B's keys")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    uploader = boto3.Session(profile_name=args.uploader_profile).client("s3")
    reader = boto3.Session(profile_name=args.reader_profile).client("s3")
    try:
        run_smoke(uploader, reader, args.source, args.dest, timeout=args.timeout)
    except SmokeFailed as failure:
        print(f"smoke test FAILED: {failure}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
