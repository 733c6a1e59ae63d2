"""The end-to-end section of `make bench`: upload to bucket A -> copy in bucket B.

On the embedded AWS with one worker (the stack `make demo` runs):
  latency     photos uploaded one at a time as User A; the time from the end of the
              upload to the copy being readable as User B (polled every 5 ms)
  throughput  the same number uploaded all at once; photos per second until the last
              copy is in B
  shares      from the worker's own log lines: time in S3 calls versus the rest (the
              sanitizer, and the handler around it)
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from tests.harness import samples
from tests.harness.local_stack import Stack, deployed_stack

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

POLL: Final = 0.005


def bench_end_to_end(count: int) -> None:
    photos = [
        samples.camera_photo(1600, 1200, quality=90, seed=seed) for seed in range(min(count, 8))
    ]
    print("e2e: applying the stack to the embedded AWS (about a minute) ...", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="exif-bench-") as scratch,
        deployed_stack(Path(scratch), name_prefix="exif-bench", destroy=False, quiet=True) as stack,
    ):
        uploader, reader = stack.s3_as(stack.user_a), stack.s3_as(stack.user_b)
        with stack.worker() as worker:
            _warm_up(stack, uploader, reader, photos[0])
            latencies = _latencies(stack, uploader, reader, photos, count)
            seconds = _burst(stack, uploader, reader, photos, count)
        lines = [json.loads(line) for line in worker.lines() if line.startswith("{")]
    written = [line for line in lines if line.get("action") == "written"]
    size = statistics.mean(len(p) for p in photos) / 1e6
    p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
    print(f"e2e: {count} photos of {size:.1f} MB (1600x1200 with EXIF, GPS, XMP, ICC), one worker")
    print(
        f"  latency upload -> copy in B: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    print(
        f"  goal p50 < 250 ms: {'met' if p50 < 0.25 else 'NOT MET'}; "
        f"goal p95 < 1 s: {'met' if p95 < 1 else 'NOT MET'}"
    )
    print(
        f"  throughput, {count} uploaded at once: {count / seconds:.1f} photos/s "
        f"({count * size / seconds:.1f} MB/s)"
    )
    total = sum(line["seconds"] for line in written)
    s3 = sum(line["s3_seconds"] for line in written)
    print(
        f"  inside the worker, per photo: {total / len(written) * 1000:.1f} ms, of which "
        f"S3 calls {s3 / total:.0%} and sanitizing (parse, verify, handler) {1 - s3 / total:.0%}"
    )


def _warm_up(stack: Stack, uploader: S3Client, reader: S3Client, photo: bytes) -> None:
    """One photo through first: imports and connections are not what we measure."""
    uploader.put_object(Bucket=stack.source, Key="warm-up.jpg", Body=photo)
    _until_in_b(stack, reader, "warm-up.jpg", timeout=30)


def _latencies(
    stack: Stack, uploader: S3Client, reader: S3Client, photos: list[bytes], count: int
) -> list[float]:
    latencies = []
    for i in range(count):
        key = f"latency/{i:04d}.jpg"
        uploader.put_object(Bucket=stack.source, Key=key, Body=photos[i % len(photos)])
        started = time.perf_counter()
        _until_in_b(stack, reader, key, timeout=30)
        latencies.append(time.perf_counter() - started)
    return latencies


def _burst(
    stack: Stack, uploader: S3Client, reader: S3Client, photos: list[bytes], count: int
) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(
            lambda i: uploader.put_object(
                Bucket=stack.source, Key=f"burst/{i:04d}.jpg", Body=photos[i % len(photos)]
            ),
            range(count),
        ))  # fmt: skip
    deadline = time.monotonic() + 300
    while reader.list_objects_v2(Bucket=stack.dest, Prefix="burst/").get("KeyCount", 0) < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the burst did not reach bucket B in 300 s")
        time.sleep(0.05)
    return time.perf_counter() - started


def _until_in_b(stack: Stack, reader: S3Client, key: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader.head_object(Bucket=stack.dest, Key=key)
            return
        except ClientError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key} did not reach bucket B in {timeout:.0f} s") from None
            time.sleep(POLL)


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]
