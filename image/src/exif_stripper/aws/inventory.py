"""The uploads bucket's keys from an S3 Inventory report, for `sync --inventory MANIFEST`.

At hundreds of millions of keys, listing A takes hundreds of thousands of requests;
S3 Inventory writes the same list once a day or week, as data files named by a
`manifest.json` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):

    {"sourceBucket": "...", "destinationBucket": "arn:aws:s3:::...", "fileFormat": "CSV",
     "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag", "files": [{"key": ...,
     "size": ..., "MD5checksum": ...}, ...]}

CSV data files are gzip-compressed, without a header, columns as `fileSchema` names them,
keys URL-encoded with '+' for a space. Parquet files (the `parquet` extra: pyarrow) have
snake_case columns (`key`, `last_modified_date` as a timestamp, ...) and plain keys. ORC is
refused. With all versions included, only the latest version that is not a delete marker
counts. Every data file's MD5 is checked against the manifest before the plan uses it.

The data files are not in key order across files (nor, as far as S3 promises, within one),
and the merge needs key order. So the entries go through an external merge sort: runs of
`RUN_SIZE` entries sorted in memory and written to temporary files, then merged
`FAN_IN` runs at a time (several passes if there are more). Memory is bounded by
`RUN_SIZE` entries plus one buffer per open run, whatever the inventory's size; the
temporary files take about 100 bytes per key on disk (in $TMPDIR). Nothing is planned
before the last data file was read and verified.

An inventory is a snapshot up to a day or a week old: keys uploaded since then are not in
it (their own events made their copies), keys deleted since then are (the function finds
them gone and clears B). Orphans are still found from B's live listing; a removal event
for a key that A has again is a no-op (`Pipeline.removed` keeps it).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import heapq
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Final
from urllib.parse import unquote_plus

from .sync import Entry, epoch_seconds

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RUN_SIZE: Final = 100_000  # entries sorted in memory at a time (about 25 MB of objects)
FAN_IN: Final = 64  # runs merged at once: one open file and its buffer each
_PARQUET_BATCH: Final = 10_000
_CHUNK: Final = 1024 * 1024
_TIME_UNITS: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class InventoryError(ValueError):
    """The manifest or a data file cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class DataFile:
    key: str
    size: int
    md5: str


@dataclass(frozen=True, slots=True)
class Manifest:
    location: str  # where it was read: a path, or s3://bucket/key
    source_bucket: str
    destination_bucket: str  # the bucket that holds the data files
    file_format: str  # CSV | Parquet | ORC
    columns: tuple[str, ...]  # CSV: fileSchema's names, in order
    files: tuple[DataFile, ...]

    def require_source(self, bucket: str) -> None:
        """Refuse an inventory of another bucket than the one being backfilled."""
        if self.source_bucket != bucket:
            raise InventoryError(
                f"{self.location} is an inventory of bucket {self.source_bucket!r}, "
                f"not of the uploads bucket {bucket!r}"
            )


# --- the manifest ----------------------------------------------------------------------------


def read_manifest(location: str, s3: S3Client) -> Manifest:
    """The manifest at a local path or an s3://bucket/key URI."""
    if location.startswith("s3://"):
        bucket, key = _split_s3_uri(location)
        document = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        try:
            document = Path(location).read_bytes()
        except OSError as error:
            raise InventoryError(f"{location}: {error.strerror or error}") from None
    try:
        fields: dict[str, Any] = json.loads(document)
        files = tuple(
            DataFile(str(item["key"]), int(item.get("size", 0)), str(item["MD5checksum"]))
            for item in fields["files"]
        )
        manifest = Manifest(
            location=location,
            source_bucket=str(fields["sourceBucket"]),
            destination_bucket=str(fields["destinationBucket"]).split(":::")[-1],  # an ARN
            file_format=str(fields["fileFormat"]),
            columns=tuple(name.strip() for name in str(fields.get("fileSchema", "")).split(",")),
            files=files,
        )
    except (ValueError, KeyError, TypeError) as error:
        raise InventoryError(f"{location} is not an S3 Inventory manifest: {error!r}") from None
    if manifest.file_format not in ("CSV", "Parquet"):
        raise InventoryError(
            f"{location}: {manifest.file_format} inventories are not supported; "
            "configure the inventory as CSV or Parquet"
        )
    if manifest.file_format == "CSV":
        missing = {"Key", "LastModifiedDate"} - set(manifest.columns)
        if missing:
            raise InventoryError(
                f"{location}: the inventory must include {', '.join(sorted(missing))} "
                "(the plan compares last-modified dates)"
            )
    return manifest


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise InventoryError(f"{uri} is not an s3://bucket/key URI")
    return bucket, key


# --- the entries, in key order ------------------------------------------------------------------


def entries(
    manifest: Manifest,
    s3: S3Client,
    *,
    prefix: str = "",
    start_after: str = "",
    run_size: int = RUN_SIZE,
    fan_in: int = FAN_IN,
) -> Iterator[Entry]:
    """The current objects the inventory lists under `prefix` after `start_after`, in key
    order (see the module's notes on sorting)."""
    wanted = (
        entry
        for data_file in manifest.files
        for entry in _read_data_file(manifest, data_file, s3)
        if entry.key.startswith(prefix) and entry.key > start_after
    )
    return sorted_by_key(wanted, run_size=run_size, fan_in=fan_in)


def sorted_by_key(
    items: Iterable[Entry], *, run_size: int = RUN_SIZE, fan_in: int = FAN_IN
) -> Iterator[Entry]:
    """`items` in key order, in bounded memory (an external merge sort)."""
    by_key = attrgetter("key")
    with tempfile.TemporaryDirectory(prefix="exif-stripper-sort-") as scratch:
        runs: list[Path] = []
        chunk: list[Entry] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= run_size:
                runs.append(_write_run(sorted(chunk, key=by_key), Path(scratch), len(runs)))
                chunk = []
        if not runs:  # it all fit in one run: no file needed
            yield from sorted(chunk, key=by_key)
            return
        if chunk:
            runs.append(_write_run(sorted(chunk, key=by_key), Path(scratch), len(runs)))
        del chunk
        serial = len(runs)
        while len(runs) > fan_in:
            group, runs = runs[:fan_in], runs[fan_in:]
            runs.append(_write_run(_merge(group), Path(scratch), serial))
            serial += 1
            for run in group:
                run.unlink()
        yield from _merge(runs)


def _write_run(items: Iterable[Entry], scratch: Path, serial: int) -> Path:
    # JSON lines: a key may hold any character, a newline included, and JSON escapes it.
    path = scratch / f"run-{serial:06d}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps([item.key, item.modified, item.size, item.etag]) + "\n")
    return path


def _merge(runs: list[Path]) -> Iterator[Entry]:
    files = [run.open(encoding="utf-8") for run in runs]
    try:
        yield from heapq.merge(*(_read_run(file) for file in files), key=attrgetter("key"))
    finally:
        for file in files:
            file.close()


def _read_run(file: IO[str]) -> Iterator[Entry]:
    for line in file:
        key, modified, size, etag = json.loads(line)
        yield Entry(key, modified, size, etag)


# --- data files --------------------------------------------------------------------------------


def _read_data_file(manifest: Manifest, data_file: DataFile, s3: S3Client) -> Iterator[Entry]:
    if manifest.file_format == "CSV":
        with _verified_stream(manifest, data_file, s3) as raw:
            yield from _csv_entries(raw, manifest.columns, data_file.key)
    else:
        with _verified_copy(manifest, data_file, s3) as path:
            yield from _parquet_entries(path, data_file.key)


@contextmanager
def _verified_stream(manifest: Manifest, data_file: DataFile, s3: S3Client) -> Iterator[BinaryIO]:
    """The data file's bytes, read once, its MD5 checked when the caller has read it all."""
    local = _local_copy(manifest, data_file)
    body: Any = (
        local.open("rb")
        if local
        else s3.get_object(Bucket=manifest.destination_bucket, Key=data_file.key)["Body"]
    )
    with body:
        reader = _HashingReader(body)
        buffered = io.BufferedReader(reader, _CHUNK)
        if data_file.key.endswith(".gz"):
            yield gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[misc]
        else:
            yield buffered
        reader.drain()  # whatever the decompressor or the buffer left unread
        reader.verify(data_file)


@contextmanager
def _verified_copy(manifest: Manifest, data_file: DataFile, s3: S3Client) -> Iterator[Path]:
    """The data file as a local file (Parquet needs to seek), its MD5 checked first."""
    local = _local_copy(manifest, data_file)
    if local:
        with local.open("rb") as file:
            _HashingReader(file).drain().verify(data_file)
        yield local
        return
    with tempfile.NamedTemporaryFile(prefix="exif-stripper-inventory-") as copy:
        stream = s3.get_object(Bucket=manifest.destination_bucket, Key=data_file.key)["Body"]
        _HashingReader(stream, copy_to=copy).drain().verify(data_file)
        copy.flush()
        yield Path(copy.name)


def _local_copy(manifest: Manifest, data_file: DataFile) -> Path | None:
    """For a manifest read from disk: the data file beside it, where `aws s3 sync` of the
    inventory's prefix puts it (its key under some folder above the manifest), or in the
    manifest's own folder; None means: read it from the destination bucket."""
    if manifest.location.startswith("s3://"):
        return None
    folder = Path(manifest.location).resolve().parent
    for root in (folder, *folder.parents):
        if (root / data_file.key).is_file():
            return root / data_file.key
    beside = folder / Path(data_file.key).name
    return beside if beside.is_file() else None


class _HashingReader(io.RawIOBase):
    """A readable stream over `body` that hashes (and may copy) every byte read."""

    def __init__(self, body: Any, *, copy_to: IO[bytes] | None = None) -> None:
        self._body = body
        self._copy_to = copy_to
        self._md5 = hashlib.md5()  # noqa: S324 - the checksum S3 Inventory gives, not security
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._take(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> _HashingReader:
        while self._take(_CHUNK):
            pass
        return self

    def verify(self, data_file: DataFile) -> None:
        if self._md5.hexdigest() != data_file.md5.lower():
            raise InventoryError(
                f"{data_file.key}: MD5 {self._md5.hexdigest()} after {self.size:,} bytes, "
                f"but the manifest says {data_file.md5}: a damaged or partial file"
            )

    def _take(self, size: int) -> bytes:
        data: bytes = self._body.read(size)
        self._md5.update(data)
        self.size += len(data)
        if self._copy_to is not None:
            self._copy_to.write(data)
        return data


def _csv_entries(raw: BinaryIO, columns: tuple[str, ...], name: str) -> Iterator[Entry]:
    column = {title: index for index, title in enumerate(columns)}
    key, modified = column["Key"], column["LastModifiedDate"]
    size, etag = column.get("Size"), column.get("ETag")
    latest, marker = column.get("IsLatest"), column.get("IsDeleteMarker")
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    for number, row in enumerate(csv.reader(text), start=1):
        if len(row) != len(columns):
            raise InventoryError(
                f"{name}, row {number}: {len(row)} fields where the manifest names {len(columns)}"
            )
        if (latest is not None and row[latest] != "true") or (
            marker is not None and row[marker] == "true"
        ):
            continue  # an older version, or a delete marker: not what A holds now
        try:
            yield Entry(
                unquote_plus(row[key]),
                epoch_seconds(datetime.fromisoformat(row[modified])),
                int(row[size] or 0) if size is not None else 0,
                row[etag] if etag is not None else "",
            )
        except ValueError as error:
            raise InventoryError(f"{name}, row {number}: {error}") from None


def _parquet_entries(path: Path, name: str) -> Iterator[Entry]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InventoryError(
            "reading a Parquet inventory needs pyarrow: pip install 'exif-stripper[parquet]'"
        ) from None
    wanted = ("key", "last_modified_date", "size", "e_tag", "is_latest", "is_delete_marker")
    try:
        file = pq.ParquetFile(path)
        present = [title for title in wanted if title in file.schema_arrow.names]
        if not {"key", "last_modified_date"} <= set(present):
            raise InventoryError(f"{name}: the inventory must include key and last_modified_date")
        for batch in file.iter_batches(batch_size=_PARQUET_BATCH, columns=present):
            yield from _parquet_batch(batch, pa)
    except (pa.ArrowException, OSError) as error:
        raise InventoryError(f"{name}: not a readable Parquet inventory: {error}") from None


def _parquet_batch(batch: Any, pa: Any) -> Iterator[Entry]:
    stamps = batch.column("last_modified_date")
    # int64 in the timestamp's own unit (S3 writes milliseconds), then whole seconds
    per_second = _TIME_UNITS[stamps.type.unit] if pa.types.is_timestamp(stamps.type) else 1_000
    seconds = stamps.cast(pa.int64()).to_pylist()
    keys = batch.column("key").to_pylist()
    names = batch.schema.names
    sizes = batch.column("size").to_pylist() if "size" in names else [0] * len(keys)
    etags = batch.column("e_tag").to_pylist() if "e_tag" in names else [""] * len(keys)
    latest = batch.column("is_latest").to_pylist() if "is_latest" in names else None
    markers = batch.column("is_delete_marker").to_pylist() if "is_delete_marker" in names else None
    for row, key in enumerate(keys):
        if (latest is not None and not latest[row]) or (markers is not None and markers[row]):
            continue
        yield Entry(key, seconds[row] // per_second, sizes[row] or 0, etags[row] or "")
