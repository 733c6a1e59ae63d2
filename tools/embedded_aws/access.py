"""Who may do what to which bucket (docs/design.md "Access"), tried for real on the enforcing
embedded AWS.

A cell is a principal (User A, User B, the function's role), a bucket and an operation;
each is tried with the principal's own credentials while moto checks IAM, and compared
with docs/design.md "Access". `make demo` prints the table; the integration tests assert every cell.

    results = try_access(clients, buckets, admin, prefix="access/")
    for line in format_table(results): print(line)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PRINCIPALS: Final = ("User A", "User B", "function role")
BUCKETS: Final = ("uploads bucket", "web bucket")
# multipart: create, upload a part, complete; start another and abort it (a writer's calls).
# uploads: list the bucket's open multipart uploads (to resume them, or to abort them).
# parts: list one upload's parts (a resuming client's).
OPERATIONS: Final = ("list", "get", "put", "delete", "multipart", "uploads", "parts")
ALLOW: Final = "allow"
DENY: Final = "deny"


def _only(*allowed: str) -> dict[str, str]:
    return {operation: ALLOW if operation in allowed else DENY for operation in OPERATIONS}


# docs/design.md "Access", cell by cell.
EXPECTED: Final = {
    ("User A", "uploads bucket"): _only(*OPERATIONS),
    ("User A", "web bucket"): _only(),
    ("User B", "uploads bucket"): _only(),
    ("User B", "web bucket"): _only("list", "get"),
    # Reads A (listing too: a vanished key must answer 404, not 403); writes, deletes and
    # aborts uploads in B, finds the uploads a killed attempt left open there, and may not
    # read it.
    ("function role", "uploads bucket"): _only("list", "get"),
    ("function role", "web bucket"): _only("put", "delete", "multipart", "uploads"),
}

Step = tuple[str, Callable[[], object]]


@dataclass(frozen=True)
class Cell:
    principal: str
    bucket: str
    operation: str

    @property
    def expected(self) -> str:
        return EXPECTED[(self.principal, self.bucket)][self.operation]


def all_cells() -> list[Cell]:
    return [Cell(p, b, o) for p in PRINCIPALS for b in BUCKETS for o in OPERATIONS]


def try_access(
    clients: Mapping[str, S3Client], buckets: Mapping[str, str], admin: S3Client, prefix: str
) -> dict[Cell, str]:
    """Every cell, each principal signing with its own client. `admin` first puts what
    get, delete and uploads act on, and afterwards aborts the upload it opened."""
    open_uploads = {name: _seed(admin, bucket, prefix) for name, bucket in buckets.items()}
    try:
        results = {}
        for cell in all_cells():
            target = _Target(buckets[cell.bucket], prefix, _slug(cell.principal))
            steps = _steps(
                clients[cell.principal], target, cell.operation, open_uploads[cell.bucket]
            )
            results[cell] = attempt(steps)
        return results
    finally:
        for name, upload_id in open_uploads.items():
            admin.abort_multipart_upload(
                Bucket=buckets[name], Key=f"{prefix}open-upload.jpg", UploadId=upload_id
            )


def attempt(steps: list[Step]) -> str:
    """ "allow" when every step succeeds, "deny" when the first is refused with AccessDenied,
    anything else (a later step refused, another error) spelled out, so it differs."""
    for index, (name, step) in enumerate(steps):
        try:
            step()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "AccessDenied" and index == 0:
                return DENY
            return f"{name}: {code}"
    return ALLOW


def differences(results: Mapping[Cell, str]) -> list[str]:
    """One line per cell that differs from docs/design.md "Access"."""
    return [
        f"{c.principal} {c.operation} on {c.bucket}: {got}, "
        f'docs/design.md "Access" says {c.expected}'
        for c, got in results.items()
        if got != c.expected
    ]


def format_table(results: Mapping[Cell, str]) -> list[str]:
    """The results as a table, one row per operation, a column per principal and bucket;
    "!" marks a cell that differs from docs/design.md "Access"."""
    width = 8

    def shown(cell: Cell) -> str:
        got = results[cell]
        word = got if got in (ALLOW, DENY) else "error"
        return f"{word}{'' if got == cell.expected else '!'}".ljust(width)

    lines = [
        " " * 11 + "".join(p.ljust(2 * width) for p in PRINCIPALS),
        " " * 11 + "".join(b.split()[0].ljust(width) for _ in PRINCIPALS for b in BUCKETS),
    ]
    for op in OPERATIONS:
        cells = "".join(shown(Cell(p, b, op)) for p in PRINCIPALS for b in BUCKETS)
        lines.append(f"{op:<11}{cells}")
    return [line.rstrip() for line in lines]


# --- the S3 calls of each operation ----------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    bucket: str
    prefix: str
    who: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


def _slug(principal: str) -> str:
    return principal.lower().replace(" ", "-")


def _seed(admin: S3Client, bucket: str, prefix: str) -> str:
    """The objects get and delete act on, and an open upload for uploads; its id."""
    admin.put_object(Bucket=bucket, Key=f"{prefix}seed.jpg", Body=b"seed")
    for principal in PRINCIPALS:
        admin.put_object(Bucket=bucket, Key=f"{prefix}delete-by-{_slug(principal)}.jpg", Body=b"")
    created = admin.create_multipart_upload(Bucket=bucket, Key=f"{prefix}open-upload.jpg")
    return created["UploadId"]


def _steps(client: S3Client, target: _Target, operation: str, open_upload: str) -> list[Step]:
    bucket = target.bucket
    if operation == "list":
        return [
            ("ListObjectsV2", lambda: client.list_objects_v2(Bucket=bucket, Prefix=target.prefix))
        ]
    if operation == "get":
        return [("GetObject", lambda: _read(client, bucket, target.key("seed.jpg")))]
    if operation == "put":
        key = target.key(f"put-by-{target.who}.jpg")
        return [("PutObject", lambda: client.put_object(Bucket=bucket, Key=key, Body=b"x"))]
    if operation == "delete":
        key = target.key(f"delete-by-{target.who}.jpg")
        return [("DeleteObject", lambda: client.delete_object(Bucket=bucket, Key=key))]
    if operation == "multipart":
        return _multipart_steps(client, bucket, target.key(f"multipart-by-{target.who}.jpg"))
    if operation == "uploads":
        return [("ListMultipartUploads", lambda: client.list_multipart_uploads(Bucket=bucket))]
    key = target.key("open-upload.jpg")
    return [("ListParts", lambda: client.list_parts(Bucket=bucket, Key=key, UploadId=open_upload))]


def _read(client: S3Client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def _multipart_steps(client: S3Client, bucket: str, key: str) -> list[Step]:
    upload: dict[str, Any] = {}

    def create() -> None:
        upload["id"] = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def upload_part() -> None:
        upload["etag"] = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["id"], PartNumber=1, Body=b"part one"
        )["ETag"]

    def complete() -> None:
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload["id"],
            MultipartUpload={"Parts": [{"ETag": upload["etag"], "PartNumber": 1}]},
        )

    def abort_another() -> None:
        second = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=second)

    return [
        ("CreateMultipartUpload", create),
        ("UploadPart", upload_part),
        ("CompleteMultipartUpload", complete),
        ("AbortMultipartUpload", abort_another),
    ]
