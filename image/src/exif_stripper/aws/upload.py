"""A write-only stream into one S3 object, committed only when the writer says so.

The sanitizer streams into it; nothing becomes visible in the bucket until `commit()`,
so a rejected or broken input never leaves a partial object behind: a small output is
sent with one PutObject at commit, a large one as a multipart upload that `abort()`
throws away. Memory stays at one part, whatever the object's size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

# S3 parts must be at least 5 MiB except the last; 8 MiB matches the AWS CLI and boto3's
# transfer defaults, and keeps a 200 MB photo well under the 10,000-part limit.
PART_SIZE: Final = 8 * 1024 * 1024


class S3Upload:
    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: dict[str, str],
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._metadata = metadata
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self.size = 0

    def write(self, data: bytes | memoryview, /) -> int:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= PART_SIZE:
            self._send_part(bytes(self._buffer[:PART_SIZE]))
            del self._buffer[:PART_SIZE]
        return len(data)

    def commit(self) -> None:
        """Make the object visible: the whole of what was written, or nothing."""
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
                Metadata=self._metadata,
            )
            return
        if self._buffer:
            self._send_part(bytes(self._buffer))
            self._buffer.clear()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        """Throw away whatever was sent; the bucket is left as it was."""
        self._buffer.clear()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )
            self._upload_id = None

    def _send_part(self, part: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                ContentType=self._content_type,
                Metadata=self._metadata,
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        sent = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
