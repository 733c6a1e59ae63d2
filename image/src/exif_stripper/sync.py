"""`exif-stripper sync`: make bucket B equal to sanitize(bucket A), by listing both.

For backfills after a first deploy, after a dead-letter queue was drained, or after an
outage: it plans from the two listings (missing in B, stale in B, orphaned in B) and
then runs the very same `Pipeline` steps the events run, so a sync and an event that
race each other converge on the same result.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from .formats import is_image_key
from .pipeline import Outcome, Pipeline

THREADS: Final = 16  # S3 calls are I/O; the sanitizer releases the GIL in its scanner


@dataclass(slots=True)
class Plan:
    missing: list[str] = field(default_factory=list)  # in A, not in B
    stale: list[str] = field(default_factory=list)  # in B from another version of A
    orphaned: list[str] = field(default_factory=list)  # in B, not in A
    current: int = 0

    @property
    def empty(self) -> bool:
        return not (self.missing or self.stale or self.orphaned)


def plan(pipeline: Pipeline, prefix: str = "") -> Plan:
    """Compare the listings of A and B (under `prefix`) and B's provenance metadata."""
    settings = pipeline.settings
    listed = _listing(pipeline, settings.source_bucket, prefix)
    source = {key: etag for key, etag in listed if is_image_key(key)}
    copies = {key for key, _ in _listing(pipeline, settings.dest_bucket, prefix)}
    result = Plan(missing=sorted(source.keys() - copies), orphaned=sorted(copies - source.keys()))
    both = sorted(source.keys() & copies)
    with ThreadPoolExecutor(THREADS) as pool:
        verdicts = pool.map(lambda k: _is_fresh(pipeline, k, source[k]), both)
        for key, fresh in zip(both, verdicts, strict=True):
            if fresh:
                result.current += 1
            else:
                result.stale.append(key)
    return result


def apply(pipeline: Pipeline, todo: Plan) -> list[Outcome]:
    with ThreadPoolExecutor(THREADS) as pool:
        written = list(pool.map(pipeline.created, todo.missing + todo.stale))
        removed = list(pool.map(pipeline.removed, todo.orphaned))
    return written + removed


def _listing(pipeline: Pipeline, bucket: str, prefix: str) -> Iterator[tuple[str, str]]:
    pages = pipeline.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            yield item["Key"], item["ETag"].strip('"')


def _is_fresh(pipeline: Pipeline, key: str, source_etag: str) -> bool:
    copy = pipeline.head_copy(key)  # None when it went away since the listing
    return copy is not None and pipeline.is_current(copy, source_etag)
