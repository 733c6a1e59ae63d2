"""`sync --inventory`: the uploads bucket's keys from an S3 Inventory report instead of a listing.

Reports are built here as S3 writes them: a manifest.json naming gzip-compressed CSV
files (no header, every field quoted, keys URL-encoded with '+' for a space) or Parquet
files (snake_case columns, millisecond timestamps), each with its MD5; rows in no order
across or within files; with all versions included, older versions and delete markers.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exif_stripper import cli
from exif_stripper.aws.inventory import (
    InventoryError,
    entries,
    read_manifest,
    sorted_by_key,
)
from exif_stripper.aws.sync import Entry
from tools.embedded_aws.in_process import InProcessAws, in_process_aws

INVENTORY_BUCKET = "inventory-reports"
PREFIX = "inventory/uploads-a/daily"
CSV_SCHEMA = (
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"
)


@dataclass(frozen=True)
class Row:
    key: str
    modified: int  # epoch seconds
    millis: int = 0  # S3 keeps milliseconds in the report; the plan compares seconds
    size: int = 1000
    latest: bool = True
    delete_marker: bool = False

    @property
    def etag(self) -> str:
        return hashlib.md5(self.key.encode()).hexdigest()  # noqa: S324 - a test value

    @property
    def entry(self) -> Entry:
        return Entry(self.key, self.modified, self.size, self.etag)


KEYS = ["z.jpg", "a b.jpg", "a+b.jpg", "100%.jpg", "é/フォト.jpg", "\U0001f600.jpg", "Z.jpg"]
CURRENT = [Row(key, 1_700_000_000 + i, millis=999) for i, key in enumerate(KEYS)]
HISTORY = [
    Row("z.jpg", 1_600_000_000, latest=False),  # an older version of a current key
    Row("gone.jpg", 1_600_000_001, size=0, delete_marker=True),  # deleted: a marker is latest
    Row("gone.jpg", 1_600_000_000, latest=False),
]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessAws]:
    with in_process_aws(monkeypatch) as aws:
        aws.s3.create_bucket(
            Bucket=INVENTORY_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        yield aws


def expected(rows: Sequence[Row]) -> list[Entry]:
    return sorted((row.entry for row in rows), key=lambda entry: entry.key.encode())


# --- reports as S3 writes them ------------------------------------------------------------------


def csv_file(rows: Sequence[Row], bucket: str = "uploads-a") -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        stamp = datetime.fromtimestamp(row.modified, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        writer.writerow(
            [
                bucket,
                quote_plus(row.key, safe="/"),
                f"v{row.modified}",
                str(row.latest).lower(),
                str(row.delete_marker).lower(),
                "" if row.delete_marker else str(row.size),
                f"{stamp}.{row.millis:03d}Z",
                "" if row.delete_marker else row.etag,
                "" if row.delete_marker else "STANDARD",
            ]
        )
    return gzip.compress(text.getvalue().encode())


def parquet_file(rows: Sequence[Row], bucket: str = "uploads-a") -> bytes:
    table = pa.table(
        {
            "bucket": [bucket] * len(rows),
            "key": [row.key for row in rows],
            "version_id": [f"v{row.modified}" for row in rows],
            "is_latest": [row.latest for row in rows],
            "is_delete_marker": [row.delete_marker for row in rows],
            "size": [None if row.delete_marker else row.size for row in rows],
            "last_modified_date": pa.array(
                [row.modified * 1000 + row.millis for row in rows], pa.timestamp("ms", tz="UTC")
            ),
            "e_tag": [None if row.delete_marker else row.etag for row in rows],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def report(
    rows: Sequence[Row], file_format: str = "CSV", *, files: int = 3, seed: int = 5
) -> tuple[dict[str, object], dict[str, bytes]]:
    """A manifest and its data files (by key): `rows` shuffled into `files` files."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    write = csv_file if file_format == "CSV" else parquet_file
    suffix = ".csv.gz" if file_format == "CSV" else ".parquet"
    data = {f"{PREFIX}/data/part-{n}{suffix}": write(shuffled[n::files]) for n in range(files)}
    manifest = {
        "sourceBucket": "uploads-a",
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": "1700000000000",
        "fileFormat": file_format,
        "fileSchema": CSV_SCHEMA if file_format == "CSV" else "message s3.inventory { ... }",
        "files": [
            {"key": key, "size": len(body), "MD5checksum": hashlib.md5(body).hexdigest()}  # noqa: S324
            for key, body in data.items()
        ],
    }
    return manifest, data


def in_s3(aws: InProcessAws, manifest: dict[str, object], data: dict[str, bytes]) -> str:
    for key, body in data.items():
        aws.put(INVENTORY_BUCKET, key, body)
    key = f"{PREFIX}/2026-11-29T01-00Z/manifest.json"
    aws.put(INVENTORY_BUCKET, key, json.dumps(manifest).encode())
    return f"s3://{INVENTORY_BUCKET}/{key}"


def on_disk(root: Path, manifest: dict[str, object], data: dict[str, bytes]) -> Path:
    """The layout `aws s3 sync s3://<inventory bucket> root` leaves."""
    for key, body in data.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    path = root / PREFIX / "2026-11-29T01-00Z" / "manifest.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest))
    return path


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["CSV", "Parquet"])
def test_an_inventory_in_s3_lists_the_current_objects_in_key_order(
    aws: InProcessAws, file_format: str
) -> None:
    location = in_s3(aws, *report(CURRENT + HISTORY, file_format))
    manifest = read_manifest(location, aws.s3)
    assert manifest.file_format == file_format
    assert manifest.destination_bucket == INVENTORY_BUCKET
    assert list(entries(manifest, aws.s3)) == expected(CURRENT)


@pytest.mark.parametrize("file_format", ["CSV", "Parquet"])
def test_a_manifest_on_disk_reads_its_data_files_from_beside_it(
    aws: InProcessAws, tmp_path: Path, file_format: str
) -> None:
    path = on_disk(tmp_path, *report(CURRENT + HISTORY, file_format))
    manifest = read_manifest(str(path), aws.s3)
    assert list(entries(manifest, aws.s3)) == expected(CURRENT)  # nothing in S3 to read


def test_a_manifest_on_disk_alone_reads_its_data_files_from_the_bucket(
    aws: InProcessAws, tmp_path: Path
) -> None:
    manifest_json, data = report(CURRENT)
    in_s3(aws, manifest_json, data)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_json))
    assert list(entries(read_manifest(str(path), aws.s3), aws.s3)) == expected(CURRENT)


def test_an_inventory_without_versions_needs_no_version_columns(aws: InProcessAws) -> None:
    rows = [Row(f"{i}.jpg", 1_700_000_000) for i in range(5)]
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL).writerows(
        ["uploads-a", row.key, "2023-11-14T22:13:20.000Z"] for row in rows
    )
    body = gzip.compress(text.getvalue().encode())
    manifest = {
        "sourceBucket": "uploads-a",
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, LastModifiedDate",
        "files": [{"key": "d/x.csv.gz", "size": len(body), "MD5checksum": md5(body)}],
    }
    location = in_s3(aws, manifest, {"d/x.csv.gz": body})
    assert list(entries(read_manifest(location, aws.s3), aws.s3)) == [
        Entry(row.key, row.modified) for row in rows
    ]


def md5(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()  # noqa: S324


def test_prefix_and_start_after_apply_to_the_inventory(aws: InProcessAws) -> None:
    rows = [Row(key, 1_700_000_000) for key in ("a/1.jpg", "a/2.jpg", "a/3.jpg", "b/1.jpg")]
    manifest = read_manifest(in_s3(aws, *report(rows)), aws.s3)
    keys = [entry.key for entry in entries(manifest, aws.s3, prefix="a/", start_after="a/1.jpg")]
    assert keys == ["a/2.jpg", "a/3.jpg"]


# --- refusals -----------------------------------------------------------------------------------


def test_a_data_file_that_does_not_match_its_md5_is_refused(aws: InProcessAws) -> None:
    manifest, data = report(CURRENT)
    first = next(iter(data))
    data[first] = csv_file(CURRENT[:2])  # a different file than the one the manifest names
    with pytest.raises(InventoryError, match="MD5"):
        list(entries(read_manifest(in_s3(aws, manifest, data), aws.s3), aws.s3))


def test_an_orc_inventory_is_refused_with_what_to_do(aws: InProcessAws) -> None:
    manifest, data = report(CURRENT)
    manifest["fileFormat"] = "ORC"
    with pytest.raises(InventoryError, match="CSV or Parquet"):
        read_manifest(in_s3(aws, manifest, data), aws.s3)


def test_a_csv_inventory_without_dates_is_refused(aws: InProcessAws) -> None:
    manifest, data = report(CURRENT)
    manifest["fileSchema"] = "Bucket, Key, Size"
    with pytest.raises(InventoryError, match="LastModifiedDate"):
        read_manifest(in_s3(aws, manifest, data), aws.s3)


def test_a_file_that_is_not_a_manifest_is_refused(tmp_path: Path, aws: InProcessAws) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"files": []}')
    with pytest.raises(InventoryError, match="not an S3 Inventory manifest"):
        read_manifest(str(path), aws.s3)


def test_an_inventory_of_another_bucket_is_refused(aws: InProcessAws) -> None:
    manifest = read_manifest(in_s3(aws, *report(CURRENT)), aws.s3)
    with pytest.raises(InventoryError, match="not of the uploads bucket 'photos'"):
        manifest.require_source("photos")


def test_a_parquet_inventory_without_pyarrow_says_how_to_get_it(
    aws: InProcessAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = read_manifest(in_s3(aws, *report(CURRENT, "Parquet")), aws.s3)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(InventoryError, match=r"exif-stripper\[parquet\]"):
        list(entries(manifest, aws.s3))


# --- the external sort --------------------------------------------------------------------------


def test_the_external_sort_orders_any_number_of_runs_in_utf8_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    rng = random.Random(11)
    alphabet = "aZ09 +/é\uff5e\U0001f600\n"
    keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(500)}
    items = [Entry(key, rng.randint(0, 10**9), rng.randint(0, 99), "e") for key in keys]
    rng.shuffle(items)
    # 500 entries in runs of 7: 72 runs, merged 3 at a time in several passes
    ordered = list(sorted_by_key(items, run_size=7, fan_in=3))
    assert [item.key for item in ordered] == sorted(keys, key=lambda key: key.encode())
    assert sorted(ordered, key=lambda item: item.key) == sorted(items, key=lambda item: item.key)
    assert list(tmp_path.iterdir()) == []  # its temporary files are gone


# --- the command --------------------------------------------------------------------------------


def test_sync_plans_from_an_inventory_and_bs_listing(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    location = in_s3(aws, *report(CURRENT + HISTORY))
    aws.put(aws.web, "z.jpg")  # newer than the report says A's object is: current
    aws.put(aws.web, "orphan.jpg")
    code = cli.main(
        ["sync", "--uploads", "uploads-a", "--web", "web-b", "--inventory", location, "--dry-run"]
    )
    assert code == cli.OK
    assert capsys.readouterr().out == (
        "plan: 6 missing, 0 stale, 0 reprocess, 1 orphaned, 1 current, 0 ignored\n"
    )


def test_sync_refuses_an_inventory_of_another_bucket(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    location = in_s3(aws, *report(CURRENT))
    code = cli.main(["sync", "--uploads", "web-b", "--web", "uploads-a", "--inventory", location])
    assert code == cli.IO_ERROR
    assert "is an inventory of bucket 'uploads-a'" in capsys.readouterr().err
