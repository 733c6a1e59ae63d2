"""The backfill section of `make bench`: an uploads bucket of 20,000 photos, B partly made, then
`sync --enqueue` and the workers, on the embedded AWS (the stack `make demo` runs).

  load     A gets `count` tiny photos (EXIF with GPS, XMP) from 16 threads; B gets
           current copies of half of them (with the pipeline's provenance), stale copies
           of a twentieth (made a second before A's), and 1% orphans
  plan     in a fresh process each: the merge of the two listings (sync.plan) and the
           old planner (both listings into memory, then a HEAD per key in both, kept
           here only for the comparison), over 5,000 keys (one prefix) and all of them:
           time, peak RSS added, peak of Python's allocations
  enqueue  the plan of the whole bucket sent by `Enqueuer` to a scratch queue, 8 and 16
           threads (messages/s: what sync can send), then `exif-stripper sync --enqueue`,
           the command an operator runs, into the function's queue (its rate includes
           listing both buckets, which on moto is slower than sending)
  drain    `exif-stripper worker` processes, as the function, until the queue is empty
  end      B's listing against sanitize(A) (ETag = MD5 of the expected bytes), orphans
           gone, every key written once by the workers, the dead-letter queue empty

    python -m tools.bench.backfill [--keys 20000]     (or make bench, section backfill)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from exif_stripper import __version__
from exif_stripper.aws.pipeline import META_ETAG, META_POLICY, META_SANITIZER, META_VERSION
from exif_stripper.core.sanitize import sanitize_bytes
from tools.embedded_aws.local_stack import Stack, deployed_stack, wait_until
from tools.samples.composition import compose
from tools.samples.exif import exif_segment
from tools.samples.jpeg import base_jpeg

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIXES: Final = 4  # the keys are spread over p0/ .. p3/; one prefix is a quarter
CURRENT, STALE, ORPHANS = 0.50, 0.05, 0.01  # fractions of the keys, for the web bucket
WORKERS: Final = 2
LOAD_THREADS: Final = 16
OLD_THREADS: Final = 16  # the old planner's HEAD threads (sync.THREADS of before)


def key_of(index: int, count: int) -> str:
    folder = index * PREFIXES // count
    name = f"{index:06d} ü+.jpg" if index % 97 == 0 else f"{index:06d}.jpg"  # some encoding
    return f"p{folder}/{name}"


def bench_backfill(count: int) -> None:
    photos = [compose(base_jpeg(32, 24, seed=seed), [exif_segment()]) for seed in range(16)]
    print("backfill: applying the stack to the embedded AWS (about a minute) ...", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="exif-backfill-") as scratch,
        deployed_stack(Path(scratch), name_prefix="exif-fill", destroy=False, quiet=True) as stack,
    ):
        s3 = _client(stack, "s3")
        loaded = _load(stack, s3, photos, count)
        rows = [
            _measure_plan(stack, planner, prefix)
            for planner in ("merge", "old")
            for prefix in ("p0/", "")
        ]
        send_rates = _send_rates(stack, s3)
        sent = _enqueue(stack)
        _report_plan_and_enqueue(count, loaded, rows, send_rates, sent)  # before the long drain
        drained, log = _drain(stack)
        end = _end_state(stack, s3, photos, count, log)
    _report_drain(sent, drained, end)


def _client(stack: Stack, service: str) -> Any:
    """A client of the harness's admin IAM user (IAM is enforced), with the connection
    pool and retries the package's own clients have."""
    import boto3

    from exif_stripper.aws.clients import CLIENT_CONFIG

    kwargs = stack.aws.client_kwargs(*stack.admin_credentials)
    return boto3.client(service, config=CLIENT_CONFIG, **kwargs)  # type: ignore[call-overload]


# --- load ----------------------------------------------------------------------------------------


def _load(stack: Stack, s3: S3Client, photos: list[bytes], count: int) -> dict[str, float]:
    """A, then B's copies around it; returns seconds per phase."""
    keys = [key_of(i, count) for i in range(count)]
    clean = [sanitize_bytes(photo).jpeg for photo in photos]
    stale = keys[1 :: int(1 / STALE)]
    current = [key for i, key in enumerate(keys) if i % 2 == 0][: int(count * CURRENT)]
    orphans = [f"p{i % PREFIXES}/orphan-{i:05d}.jpg" for i in range(int(count * ORPHANS))]
    in_b = len(stale) + len(current) + len(orphans)
    print(f"backfill: loading {count:,} photos into A, {in_b:,} objects into B ...", flush=True)

    def put(bucket: str, key: str, body: bytes, etag: str = "") -> str:
        metadata = (
            {
                META_ETAG: etag,
                META_VERSION: "null",
                META_SANITIZER: __version__,
                META_POLICY: "apply",
            }
            if etag
            else {}
        )
        return s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)["ETag"].strip(
            '"'
        )

    timings = {}
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        started = time.perf_counter()
        # stale copies (of another photo) and orphans, a second before A is written
        list(pool.map(lambda k: put(stack.web, k, clean[-1], "0" * 32), [*stale, *orphans]))
        time.sleep(1.1)  # listings date objects in whole seconds
        etags = list(pool.map(lambda i: put(stack.uploads, keys[i], photos[i % 16]), range(count)))
        timings["A"] = time.perf_counter() - started
        time.sleep(1.1)
        started = time.perf_counter()
        index = {key: i for i, key in enumerate(keys)}
        list(pool.map(lambda k: put(stack.web, k, clean[index[k] % 16], etags[index[k]]), current))
        timings["B"] = time.perf_counter() - started
    # Every upload notified the queue; a backfill is for photos whose events are long gone.
    timings["discarded"] = _discard_messages(stack)
    return timings


def _discard_messages(stack: Stack) -> float:
    """Take every message off the event queue (the harness may not PurgeQueue); seconds."""
    started = time.perf_counter()
    sqs = _client(stack, "sqs")
    while messages := sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return time.perf_counter() - started


# --- plan ----------------------------------------------------------------------------------------


_PLANNERS: Final = ("merge", "old")


def _measure_plan(stack: Stack, planner: str, prefix: str) -> dict[str, Any]:
    """One planner, in a fresh process (so its peak memory is its own)."""
    env = stack.operator_environment()
    command = [
        sys.executable,
        "-m",
        "tools.bench.backfill",
        "--measure-plan",
        planner,
        "--prefix",
        prefix,
        "--uploads",
        stack.uploads,
        "--web",
        stack.web,
    ]
    result: dict[str, Any] = {"planner": planner, "prefix": prefix or "(all)"}
    for traced in (False, True):  # tracemalloc slows Python down: time the untraced run
        out = subprocess.run(
            [*command, *(["--traced"] if traced else [])],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result.update(
            json.loads(out) if not traced else {"python_peak": json.loads(out)["python_peak"]}
        )
    return result


def _measure_in_this_process(
    planner: str, prefix: str, uploads: str, web: str, traced: bool
) -> None:
    import tracemalloc

    from exif_stripper.aws.clients import s3_client
    from exif_stripper.aws.sync import Tally, list_bucket, plan

    s3 = s3_client()
    s3.list_objects_v2(Bucket=uploads, MaxKeys=1)  # connections and parsers warm
    requests: Counter[str] = Counter()
    s3.meta.events.register("before-call.s3", lambda model, **_: requests.update([model.name]))
    before = _peak_rss_mib()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    if planner == "merge":
        tally = Tally()
        for action in plan(
            list_bucket(s3, uploads, prefix=prefix), list_bucket(s3, web, prefix=prefix)
        ):
            tally.add(action)
        counts = {kind.value: n for kind, n in tally.counts.items()}
    else:
        counts = _old_plan(s3, uploads, web, prefix)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_added": _peak_rss_mib() - before,
                "python_peak": peak,
                "counts": counts,
                "requests": dict(requests),
            }
        )
    )


def _old_plan(s3: S3Client, uploads: str, web: str, prefix: str) -> dict[str, int]:
    """The planner `sync` had before issue 13: both listings into memory, then a HEAD of
    every key in both, comparing B's provenance metadata with A's ETag."""
    from exif_stripper.core.formats import is_image_key

    def listing(bucket: str) -> dict[str, str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {i["Key"]: i["ETag"].strip('"') for page in pages for i in page.get("Contents", [])}

    sources = {key: etag for key, etag in listing(uploads).items() if is_image_key(key)}
    copies = set(listing(web))
    both = sorted(sources.keys() & copies)

    def fresh(key: str) -> bool:
        meta = s3.head_object(Bucket=web, Key=key).get("Metadata", {})
        return bool(
            meta.get(META_ETAG) == sources[key]
            and meta.get(META_SANITIZER) == __version__
            and meta.get(META_POLICY) == "apply"
        )

    with ThreadPoolExecutor(OLD_THREADS) as pool:
        verdicts = list(pool.map(fresh, both))
    return {
        "missing": len(sources.keys() - copies),
        "stale": verdicts.count(False),
        "orphaned": len(copies - sources.keys()),
        "current": verdicts.count(True),
        "head requests": len(both),
    }


def _peak_rss_mib() -> float:
    # VmHWM: this process's own high-water mark (ru_maxrss would carry the parent's over)
    with Path("/proc/self/status").open() as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


# --- enqueue and drain ---------------------------------------------------------------------------


def _send_rates(stack: Stack, s3: S3Client) -> dict[int, tuple[int, float]]:
    """Messages per second `Enqueuer` sends with 8 and 16 threads: the whole bucket's plan,
    listed first, into the event queue, whose messages are then discarded again."""
    from exif_stripper.aws.enqueue import Enqueuer
    from exif_stripper.aws.sync import list_bucket, plan

    actions = list(plan(list_bucket(s3, stack.uploads), list_bucket(s3, stack.web)))
    sqs = _client(stack, "sqs")
    rates = {}
    for threads in (8, 16):
        sent = Enqueuer(sqs, stack.queue_url, stack.uploads, threads=threads).run(actions)
        rates[threads] = (sent.messages, sent.messages / sent.seconds)
        _discard_messages(stack)
    return rates


def _enqueue(stack: Stack) -> dict[str, Any]:
    env = stack.operator_environment()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exif_stripper.cli",
            "sync",
            "--uploads",
            stack.uploads,
            "--web",
            stack.web,
            "--enqueue",
            stack.queue_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    plan_line, sent_line = done.stdout.splitlines()
    return {"plan": plan_line, "sent": sent_line, "seconds": seconds}


def _drain(stack: Stack) -> tuple[float, list[dict[str, Any]]]:
    """`WORKERS` workers until the queue is empty; their log lines."""
    started = time.perf_counter()
    with ExitStack() as workers:
        running = [
            workers.enter_context(stack.worker(log_name=f"backfill-{n}.log"))
            for n in range(WORKERS)
        ]
        if not wait_until(lambda: _depth(stack) == 0, 3600, interval=0.5):
            raise TimeoutError("the workers did not drain the queue in an hour")
        seconds = time.perf_counter() - started
    # A worker's stdout (JSON lines) and stderr share its log file, so a line can hold a
    # piece of another; those are counted, not guessed at.
    lines: list[dict[str, Any]] = []
    for text in (line for worker in running for line in worker.lines()):
        try:
            lines.append(json.loads(text))
        except ValueError:
            lines.append({"unparsed": text})
    return seconds, lines


def _depth(stack: Stack, url: str | None = None) -> int:
    attributes = _client(stack, "sqs").get_queue_attributes(
        QueueUrl=url or stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


# --- the end state -------------------------------------------------------------------------------


def _end_state(
    stack: Stack, s3: S3Client, photos: list[bytes], count: int, log: list[dict[str, Any]]
) -> dict[str, int]:
    expected = {
        key_of(i, count): hashlib.md5(sanitize_bytes(photos[i % 16]).jpeg).hexdigest()  # noqa: S324 - S3's ETag
        for i in range(count)
    }
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.web)
    in_b = {
        item["Key"]: item["ETag"].strip('"') for page in pages for item in page.get("Contents", [])
    }
    written = Counter(line["key"] for line in log if line.get("action") == "written")
    dlq = stack.dlq_url
    return {
        "keys in A": count,
        "keys in B": len(in_b),
        "missing from B": len(expected.keys() - in_b.keys()),
        "not in A (orphans left)": len(in_b.keys() - expected.keys()),
        "wrong content": sum(
            1 for key, etag in in_b.items() if key in expected and etag != expected[key]
        ),
        "written by the workers": sum(written.values()),
        "written more than once": sum(1 for n in written.values() if n > 1),
        "orphans deleted": sum(1 for line in log if line.get("action") == "deleted"),
        "failed records": sum(1 for line in log if "record failed" in str(line.get("message", ""))),
        "log lines not parsed": sum(
            1 for line in log if "unparsed" in line and "{" in line["unparsed"]
        ),
        "dead-lettered": _depth(stack, dlq),
    }


def _report_plan_and_enqueue(
    count: int,
    loaded: dict[str, float],
    rows: list[dict[str, Any]],
    send_rates: dict[int, tuple[int, float]],
    sent: dict[str, Any],
) -> None:
    print(
        f"backfill: {count:,} photos in A on the embedded AWS (loaded in {loaded['A']:.0f} s, "
        f"B's copies in {loaded['B']:.0f} s)"
    )
    print(f"  {'planner':<34} {'keys':>7} {'seconds':>8} {'RSS added':>10} {'Python peak':>12}")
    for row in rows:
        keys = count // PREFIXES if row["prefix"] == "p0/" else count
        name = (
            "merge of listings (sync.plan)"
            if row["planner"] == "merge"
            else "old: listings in memory + HEADs"
        )
        print(
            f"  {name:<34} {keys:>7,} {row['seconds']:>8.2f} {row['rss_added']:>7.1f} MiB "
            f"{row['python_peak']:>8.1f} MiB"
        )
    for row in rows:
        print(f"    {row['planner']} {row['prefix']}: {row['counts']}; requests {row['requests']}")
    merge = {row["prefix"]: row for row in rows if row["planner"] == "merge"}
    growth = merge["(all)"]["python_peak"] - merge["p0/"]["python_peak"]
    print(
        f"  goal planning memory flat from {count // PREFIXES:,} to {count:,} keys: Python peak "
        f"{merge['p0/']['python_peak']:.1f} -> {merge['(all)']['python_peak']:.1f} MiB, "
        f"{'met' if growth < 1 else 'NOT MET'}"
    )
    heads = sum(row["requests"].get("HeadObject", 0) for row in merge.values())
    print(f"  goal no HEAD per key: the merge sent {heads}, {'met' if heads == 0 else 'NOT MET'}")
    for threads, (messages, rate) in send_rates.items():
        print(
            f"  enqueue, {messages:,} planned messages, {threads} threads: {rate:,.0f} messages/s"
        )
    best = max(rate for _, rate in send_rates.values())
    print(f"  goal >= 2,000 messages/s: {best:,.0f}, {'met' if best >= 2000 else 'NOT MET'}")
    print(f"  sync --enqueue: {sent['plan']}")
    print(f"                  {sent['sent']}; the command took {sent['seconds']:.1f} s", flush=True)


def _report_drain(sent: dict[str, Any], drained: float, end: dict[str, int]) -> None:
    messages = int(sent["sent"].split()[1].replace(",", ""))
    print(
        f"  drain: {WORKERS} workers emptied the queue of {messages:,} messages in {drained:.0f} s "
        f"({messages / drained:.0f} photos/s)"
    )
    print("  end state: " + ", ".join(f"{name} {value:,}" for name, value in end.items()))
    ok = (
        end["missing from B"] == 0
        and end["not in A (orphans left)"] == 0
        and end["wrong content"] == 0
        and end["dead-lettered"] == 0
    )
    print(
        f"  goal B equal to sanitize(A), nothing lost: {'met' if ok else 'NOT MET'}; "
        f"written twice (idempotent rewrites): {end['written more than once']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--measure-plan", choices=_PLANNERS, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="", help=argparse.SUPPRESS)
    parser.add_argument("--uploads", help=argparse.SUPPRESS)
    parser.add_argument("--web", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_plan:
        _measure_in_this_process(
            args.measure_plan, args.prefix, args.uploads, args.web, args.traced
        )
    else:
        bench_backfill(args.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
