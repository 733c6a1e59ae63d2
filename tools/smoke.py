"""The smoke test: does a deployed stack do its one job, end to end, as its users see it?

As User A it uploads a photo that carries GPS, camera serials, XMP and a thumbnail to
the uploads bucket; as User B it waits for the copy in the web bucket, downloads it and checks that
nothing identifying is left, that the pixels are the same and that the copy is encrypted
at rest; it checks that User B may not write to the web bucket, that User A may not read it,
and (on AWS, which speaks HTTPS) that the web bucket refuses a request without TLS; then, as
User A, it deletes the photo and waits for the copy to leave the web bucket. On AWS this covers
what the embedded AWS cannot check (docs/embedded-aws.md): IAM conditions, bucket and
queue policies, KMS key policies, the function itself and its role.

    python -m tools.smoke --env dev          # or: docker compose run --rm test
    python -m tools.smoke --uploads BUCKET_A --web BUCKET_B \\
        --uploader-profile user-a --reader-profile user-b

With ``--env`` the bucket and user names come from that environment's Terragrunt outputs
(``terragrunt output -json`` in live/ENV/buckets and live/ENV/iam-users), and the users'
keys are made for this run with the caller's own credentials (``AWS_PROFILE`` or the
``AWS_*`` variables; the caller needs ``iam:CreateAccessKey`` and ``iam:DeleteAccessKey`` on
the two users), then deleted again, even when a step fails. With explicit flags, two
profiles hold the users' keys. `make test` runs the ``--env`` path against the embedded
AWS, with the harness's admin IAM user as the caller.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
import hcl2
from botocore.exceptions import ClientError

from exif_stripper.core.errors import SanitizeError
from exif_stripper.core.inspection import inspect_stream
from exif_stripper.core.verify import verify_jpeg
from tools.samples.composition import compose
from tools.samples.exif import exif_segment
from tools.samples.jpeg import base_jpeg, decode
from tools.samples.metadata import xmp_segment
from tools.samples.ready_made import camera_exif_with_thumbnail

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_TIMEOUT: Final = 120.0
# New access keys reach every IAM endpoint within seconds, rarely more; a minute is plenty.
KEY_TIMEOUT: Final = 60.0
# What S3 and STS answer while a new key is not yet known everywhere.
_KEY_NOT_YET_VALID: Final = frozenset(
    {"InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch"}
)
T = TypeVar("T")


class SmokeFailed(AssertionError):
    pass


@dataclass(frozen=True)
class StackNames:
    uploads: str
    web: str
    user_a: str
    user_b: str
    region: str | None = None


@dataclass
class SmokeResult:
    key: str
    seconds_to_copy: float = 0.0
    seconds_to_delete: float = 0.0
    checks: list[str] = field(default_factory=list)


# --- the test ------------------------------------------------------------------------------


def run_smoke(
    uploader: S3Client,
    reader: S3Client,
    uploads: str,
    web: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    say: Callable[[str], None] = print,
    reader_without_tls: S3Client | None = None,
) -> SmokeResult:
    """Upload, wait, check the copy and who may touch it, delete, wait.

    `reader_without_tls` is User B over plain HTTP (see `without_tls`): given, the test
    also checks that the web bucket refuses requests without TLS."""
    photo = compose(
        base_jpeg(640, 480, seed=99),
        [exif_segment(camera_exif_with_thumbnail(99)), xmp_segment()],
    )
    result = SmokeResult(key=f"smoke-test/{uuid.uuid4()}.jpg")
    say(f"upload {result.key} to {uploads} as User A ({len(photo)} bytes, GPS in EXIF and XMP)")
    uploader.put_object(Bucket=uploads, Key=result.key, Body=photo)
    try:
        started = time.monotonic()
        copy = _wait_for(lambda: read_object(reader, web, result.key), timeout, "the copy in B")
        result.seconds_to_copy = time.monotonic() - started
        say(f"copy in {web} after {result.seconds_to_copy:.1f} s; read as User B")
        result.checks = [
            *_check_clean(photo, copy),
            _check_encrypted(reader, web, result.key),
            *_check_access(uploader, reader, web, result.key),
        ]
        if reader_without_tls is not None:
            result.checks.append(_check_tls_only(reader_without_tls, web, result.key))
        for check in result.checks:
            say(f"  ok: {check}")
    finally:
        uploader.delete_object(Bucket=uploads, Key=result.key)
    started = time.monotonic()
    _wait_for(
        lambda: True if read_object(reader, web, result.key) is None else None,
        timeout,
        "the delete",
    )
    result.seconds_to_delete = time.monotonic() - started
    say(f"deleted from {uploads}; gone from {web} after {result.seconds_to_delete:.1f} s")
    return result


def _check_clean(original: bytes, copy: bytes) -> list[str]:
    checks = []
    try:
        verify_jpeg(copy)
    except SanitizeError as error:
        raise SmokeFailed(
            f'the copy holds more than docs/design.md "Sanitizer: what is kept" allows: {error}'
        ) from None
    checks.append("only image data, ICC, JFIF and Adobe segments; nothing after EOI")
    inspection = inspect_stream(io.BytesIO(copy))
    if inspection.findings:
        raise SmokeFailed(f"identifying data left: {inspection.findings}")
    checks.append("no GPS, camera, serial, XMP, IPTC, thumbnail or trailer found")
    if decode(copy).tobytes() != decode(original).tobytes():
        raise SmokeFailed("the copy's pixels differ from the upload's")
    checks.append("the same pixels as the upload")
    return checks


def _check_encrypted(reader: S3Client, web: str, key: str) -> str:
    """docs/design.md "Pipeline: created": the copy is encrypted at rest. With a KMS key (prod)
    every step so far
    needed the key policy's consent too: User A's upload, the function's read and write,
    User B's download."""
    encryption = reader.head_object(Bucket=web, Key=key).get("ServerSideEncryption")
    if not encryption:
        raise SmokeFailed("the copy in B is not encrypted at rest")
    return f"the copy is encrypted at rest ({encryption}) and User B may decrypt it"


def _check_tls_only(reader_without_tls: S3Client, web: str, key: str) -> str:
    _expect_denied(
        "User B read the web bucket without TLS",
        lambda: reader_without_tls.get_object(Bucket=web, Key=key),
    )
    return "the web bucket refuses a request without TLS (aws:SecureTransport), even User B's read"


def without_tls(session: boto3.Session) -> S3Client | None:
    """An S3 client of `session` over plain HTTP, where S3 is reached over HTTPS (AWS);
    None where it speaks only HTTP (the embedded AWS), which has nothing to refuse."""
    if not session.client("s3").meta.endpoint_url.startswith("https://"):
        return None
    client: S3Client = session.client("s3", use_ssl=False)
    return client


def _check_access(uploader: S3Client, reader: S3Client, web: str, key: str) -> list[str]:
    """docs/design.md "Access: the two users" from both sides of the web bucket: User B only
    reads it, User A cannot."""
    _expect_denied(
        "User B wrote to the web bucket", lambda: reader.put_object(Bucket=web, Key=key, Body=b"x")
    )
    _expect_denied(
        "User B deleted from the web bucket", lambda: reader.delete_object(Bucket=web, Key=key)
    )
    _expect_denied("User A read the web bucket", lambda: uploader.get_object(Bucket=web, Key=key))
    _expect_denied("User A listed the web bucket", lambda: uploader.list_objects_v2(Bucket=web))
    return [
        "User B may not write to the web bucket (PutObject and DeleteObject denied)",
        "User A may not read the web bucket (GetObject and ListObjectsV2 denied)",
    ]


def _expect_denied(what: str, call: Callable[[], object]) -> None:
    try:
        call()
    except ClientError as error:
        if error.response["Error"]["Code"] == "AccessDenied":
            return
        raise
    raise SmokeFailed(f'{what}: allowed, but docs/design.md "Access" denies it')


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


# --- an environment's names and short-lived keys ---------------------------------------------


def names_from_terragrunt(env: str, repo: Path = REPO_ROOT) -> StackNames:
    """Bucket and user names from live/ENV's units, and the environment's region."""
    live = repo / "live" / env
    if not (live / "env.hcl").is_file():
        raise SmokeFailed(f"no environment live/{env} in {repo}")
    buckets, users = _outputs(live / "buckets"), _outputs(live / "iam-users")
    region = _locals(live / "env.hcl").get("region")
    return StackNames(
        uploads=buckets["uploads_bucket_name"],
        web=buckets["web_bucket_name"],
        user_a=users["user_a_name"],
        user_b=users["user_b_name"],
        region=region if isinstance(region, str) else None,
    )


def _locals(path: Path) -> dict[str, Any]:
    """The `locals` of an HCL file, strings without their quotes."""
    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    blocks: list[dict[str, Any]] = hcl2.loads(path.read_text(), serialization_options=options)[
        "locals"
    ]
    return {name: value for block in blocks for name, value in block.items()}


def _outputs(unit: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["terragrunt", "output", "-json"],
        cwd=unit,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SmokeFailed(
            f"`terragrunt output -json` failed in {unit}: {done.stderr.strip()[-500:]}"
        )
    outputs: dict[str, Any] = {name: o["value"] for name, o in json.loads(done.stdout).items()}
    if not outputs:
        raise SmokeFailed(f"{unit} has no outputs: has it been applied?")
    return outputs


@contextmanager
def temporary_keys(
    iam: IAMClient, users: Sequence[str], say: Callable[[str], None] = print
) -> Iterator[dict[str, tuple[str, str]]]:
    """An access key per user, made with the caller's credentials, deleted on the way out
    whatever happened in between."""
    made: dict[str, tuple[str, str]] = {}
    try:
        for user in users:
            key = iam.create_access_key(UserName=user)["AccessKey"]
            made[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        say(f"access keys made for {', '.join(users)}")
        yield made
    finally:
        for user, (key_id, _) in made.items():
            iam.delete_access_key(UserName=user, AccessKeyId=key_id)
        if made:
            say(f"access keys deleted ({', '.join(made)})")


def wait_until_accepted(session: boto3.Session, timeout: float = KEY_TIMEOUT) -> float:
    """Seconds until IAM accepts the session's new key: STS knows it, and S3 too (IAM is
    eventually consistent: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency)."""
    started = time.monotonic()
    probes: list[Callable[[], object]] = [
        lambda: session.client("sts").get_caller_identity(),
        lambda: session.client("s3").list_buckets(),
    ]
    for probe in probes:
        while True:
            try:
                probe()
                break
            except ClientError as error:
                if error.response["Error"]["Code"] not in _KEY_NOT_YET_VALID:
                    break  # known to IAM; AccessDenied, say, is an answer about permissions
                if time.monotonic() - started > timeout:
                    raise SmokeFailed(f"IAM did not accept a new key in {timeout:.0f} s") from None
                time.sleep(1)
    return time.monotonic() - started


def smoke_environment(
    caller: boto3.Session,
    names: StackNames,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    say: Callable[[str], None] = print,
) -> SmokeResult:
    """The smoke test with keys made for User A and User B by `caller`, deleted after."""
    with temporary_keys(caller.client("iam"), [names.user_a, names.user_b], say) as keys:
        uploader, reader = (
            boto3.Session(*keys[user], region_name=caller.region_name or names.region)
            for user in (names.user_a, names.user_b)
        )
        seconds = max(wait_until_accepted(uploader), wait_until_accepted(reader))
        say(f"IAM accepted both keys after {seconds:.1f} s")
        return run_smoke(
            uploader.client("s3"),
            reader.client("s3"),
            names.uploads,
            names.web,
            timeout=timeout,
            say=say,
            reader_without_tls=without_tls(reader),
        )


# --- the command ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--env", help="a folder of live/ (dev, prod): names from its outputs")
    where.add_argument("--uploads", help="the uploads bucket, with --web and two profiles")
    parser.add_argument("--web", help="the web bucket")
    parser.add_argument("--uploader-profile", help="AWS profile with User A's keys")
    parser.add_argument("--reader-profile", help="AWS profile with User B's keys")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    if args.uploads and not args.web:
        parser.error("--uploads needs --web")
    try:
        if args.env:
            names = names_from_terragrunt(args.env)
            print(
                f"smoke test of {args.env}: uploads bucket {names.uploads}, web bucket {names.web}"
            )
            # The caller's region when it has one; the environment's otherwise.
            caller = boto3.Session()
            if caller.region_name is None:
                caller = boto3.Session(region_name=names.region)
            smoke_environment(caller, names, timeout=args.timeout)
        else:
            uploader = boto3.Session(profile_name=args.uploader_profile)
            reader = boto3.Session(profile_name=args.reader_profile)
            run_smoke(
                uploader.client("s3"),
                reader.client("s3"),
                args.uploads,
                args.web,
                timeout=args.timeout,
                reader_without_tls=without_tls(reader),
            )
    except SmokeFailed as failure:
        print(f"smoke test FAILED: {failure}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
