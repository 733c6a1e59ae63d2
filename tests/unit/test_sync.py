"""`sync`'s plan: two sorted listings merged into one decision per key, and the command.

The merge is checked on entries built here (every combination of A and B, dates, keys
in UTF-8 order, listings out of order) and on moto's listings (pages, prefixes, a
resumed run, Unicode keys, a copy that really is older than its source). The command's
stdout is read as a script would read it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exif_stripper import cli
from exif_stripper.aws.sync import (
    Action,
    Entry,
    Kind,
    ListingOrderError,
    Tally,
    list_bucket,
    plan,
)
from tools.embedded_aws.in_process import InProcessAws, in_process_aws
from tools.samples.composition import reference_strip
from tools.samples.ready_made import kitchen_sink

PHOTO = kitchen_sink(width=64, height=48)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessAws]:
    with in_process_aws(monkeypatch) as aws:
        yield aws


def entries(*keys: str, modified: int = 1000) -> list[Entry]:
    return [Entry(key, modified) for key in keys]


def decided(actions: Iterator[Action]) -> list[tuple[str, str]]:
    return [(action.kind.value, action.key) for action in actions]


def utf8_sorted(keys: set[str]) -> list[str]:
    return sorted(keys, key=lambda key: key.encode("utf-8"))


# --- the merge, on entries built here ---------------------------------------------------------


def test_a_key_only_in_a_is_missing_and_one_only_in_b_is_orphaned() -> None:
    assert decided(plan(entries("a.jpg", "c.jpg"), entries("b.jpg", "d.jpg"))) == [
        ("missing", "a.jpg"),
        ("orphaned", "b.jpg"),
        ("missing", "c.jpg"),
        ("orphaned", "d.jpg"),
    ]


def test_a_copy_older_than_its_source_is_stale_and_one_as_old_or_newer_is_current() -> None:
    source = [Entry("older.jpg", 2000), Entry("same.jpg", 2000), Entry("newer.jpg", 2000)]
    source.sort(key=lambda entry: entry.key)
    copies = [Entry("older.jpg", 1999), Entry("same.jpg", 2000), Entry("newer.jpg", 2001)]
    copies.sort(key=lambda entry: entry.key)
    assert decided(plan(source, copies)) == [
        ("current", "newer.jpg"),
        ("stale", "older.jpg"),
        ("current", "same.jpg"),
    ]


def test_reprocess_all_turns_current_copies_into_work_and_leaves_the_rest() -> None:
    source = [Entry("current.jpg", 10), Entry("missing.jpg", 10), Entry("stale.jpg", 10)]
    copies = [Entry("current.jpg", 10), Entry("orphan.jpg", 10), Entry("stale.jpg", 9)]
    assert decided(plan(source, copies, reprocess=True)) == [
        ("reprocess", "current.jpg"),
        ("missing", "missing.jpg"),
        ("orphaned", "orphan.jpg"),
        ("stale", "stale.jpg"),
    ]


def test_keys_the_function_skips_are_ignored_on_either_side() -> None:
    source = entries("a.png", "b.jpg.txt", "both.gif", "c.heic", "d.WebP", "photo.JPEG")
    copies = entries("both.gif", "e.PNG", "readme.md")
    assert decided(plan(source, copies)) == [
        ("missing", "a.png"),
        ("ignored", "b.jpg.txt"),
        ("ignored", "both.gif"),
        ("ignored", "c.heic"),
        ("missing", "d.WebP"),
        ("orphaned", "e.PNG"),
        ("missing", "photo.JPEG"),
        ("ignored", "readme.md"),
    ]


def test_an_empty_side_makes_everything_missing_or_everything_orphaned() -> None:
    assert [a.kind for a in plan(entries("a.jpg", "b.jpg"), [])] == [Kind.MISSING] * 2
    assert [a.kind for a in plan([], entries("a.jpg", "b.jpg"))] == [Kind.ORPHANED] * 2
    assert list(plan([], [])) == []


@pytest.mark.parametrize("side", ["uploads", "web"])
@pytest.mark.parametrize("keys", [("b.jpg", "a.jpg"), ("a.jpg", "a.jpg")])
def test_a_listing_out_of_order_is_refused(side: str, keys: tuple[str, str]) -> None:
    wrong, right = entries(*keys), entries("a.jpg", "b.jpg")
    listings = (wrong, right) if side == "uploads" else (right, wrong)
    with pytest.raises(ListingOrderError, match=f"the {side} bucket lists"):
        list(plan(*listings))


def test_the_merge_compares_keys_in_utf8_byte_order_not_utf16() -> None:
    # U+FF5E and U+1F600: UTF-16 puts the emoji first (its surrogate 0xD83D < 0xFF5E),
    # UTF-8 and S3 put it last. U+00E9 and "z": byte order, not a locale's.
    keys = utf8_sorted({"z.jpg", "\u00e9.jpg", "\uff5e.jpg", "\U0001f600.jpg", "Z.jpg"})
    assert keys == ["Z.jpg", "z.jpg", "\u00e9.jpg", "\uff5e.jpg", "\U0001f600.jpg"]
    source = entries(*keys)
    copies = entries(keys[1], keys[3])
    assert decided(plan(source, copies)) == [
        ("missing", "Z.jpg"),
        ("current", "z.jpg"),
        ("missing", "\u00e9.jpg"),
        ("current", "\uff5e.jpg"),
        ("missing", "\U0001f600.jpg"),
    ]


keys_strategy = st.sets(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=6).map(
        lambda stem: f"{stem}.jpg"
    ),
    max_size=40,
)


@given(in_a=keys_strategy, in_b=keys_strategy)
def test_any_two_listings_in_s3_order_merge_into_the_set_difference(
    in_a: set[str], in_b: set[str]
) -> None:
    result = dict(decided_by_key(plan(entries(*utf8_sorted(in_a)), entries(*utf8_sorted(in_b)))))
    assert {key for key, kind in result.items() if kind == "missing"} == in_a - in_b
    assert {key for key, kind in result.items() if kind == "orphaned"} == in_b - in_a
    assert {key for key, kind in result.items() if kind == "current"} == in_a & in_b
    assert list(result) == utf8_sorted(in_a | in_b)  # one decision per key, in order


def decided_by_key(actions: Iterator[Action]) -> Iterator[tuple[str, str]]:
    return ((action.key, action.kind.value) for action in actions)


def test_the_tally_counts_each_kind_and_the_work() -> None:
    tally = Tally()
    for action in plan(entries("a.jpg", "b.gif", "c.jpg"), entries("c.jpg", "d.jpg")):
        tally.add(action)
    assert tally.counts[Kind.MISSING] == 1
    assert tally.counts[Kind.ORPHANED] == 1
    assert tally.counts[Kind.CURRENT] == 1
    assert tally.counts[Kind.IGNORED] == 1
    assert tally.work == 2
    assert str(tally) == "1 missing, 0 stale, 0 reprocess, 1 orphaned, 1 current, 1 ignored"


# --- the listings, from moto ------------------------------------------------------------------


def test_the_listing_pages_through_every_key_in_order(aws: InProcessAws) -> None:
    keys = [f"p/{i:03d}.jpg" for i in range(23)]
    for key in reversed(keys):
        aws.put(aws.uploads, key)
    listed = list(list_bucket(aws.s3, aws.uploads, page_size=4))
    assert [entry.key for entry in listed] == keys
    assert all(entry.size == 1 and len(entry.etag) == 32 for entry in listed)
    assert all(abs(entry.modified - time.time()) < 60 for entry in listed)


def test_a_plan_from_paged_listings_sees_every_combination(aws: InProcessAws) -> None:
    for i in range(12):
        aws.put(aws.uploads, f"{i:02d}.jpg")
    for i in range(6, 18):  # 06..11 in both, 12..17 orphans
        aws.put(aws.web, f"{i:02d}.jpg")
    actions = plan(
        list_bucket(aws.s3, aws.uploads, page_size=5), list_bucket(aws.s3, aws.web, page_size=3)
    )
    kinds = [action.kind for action in actions]
    assert kinds == [Kind.MISSING] * 6 + [Kind.CURRENT] * 6 + [Kind.ORPHANED] * 6


def test_a_prefix_limits_both_listings(aws: InProcessAws) -> None:
    for key in ("in/a.jpg", "in/b.jpg", "out/a.jpg", "inside.jpg"):
        aws.put(aws.uploads, key)
    aws.put(aws.web, "out/orphan.jpg")
    aws.put(aws.web, "in/orphan.jpg")
    actions = plan(
        list_bucket(aws.s3, aws.uploads, prefix="in/"), list_bucket(aws.s3, aws.web, prefix="in/")
    )
    assert decided(actions) == [
        ("missing", "in/a.jpg"),
        ("missing", "in/b.jpg"),
        ("orphaned", "in/orphan.jpg"),
    ]


def test_start_after_resumes_both_listings_after_the_key(aws: InProcessAws) -> None:
    for key in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        aws.put(aws.uploads, key)
    for key in ("b.jpg", "bb.jpg", "d.jpg"):
        aws.put(aws.web, key)
    actions = plan(
        list_bucket(aws.s3, aws.uploads, start_after="b.jpg"),
        list_bucket(aws.s3, aws.web, start_after="b.jpg"),
    )
    assert decided(actions) == [("orphaned", "bb.jpg"), ("missing", "c.jpg"), ("current", "d.jpg")]


def test_unicode_keys_listed_by_s3_merge_in_its_order(aws: InProcessAws) -> None:
    keys = {"Z.jpg", "a b.jpg", "a+b.jpg", "z.jpg", "é.jpg", "\uff5e.jpg", "😀.jpg", "フォト/1.jpg"}
    for key in keys:
        aws.put(aws.uploads, key)
    both = {"a+b.jpg", "é.jpg", "😀.jpg"}
    for key in both | {"ü-orphan.jpg"}:
        aws.put(aws.web, key)
    listed = [entry.key for entry in list_bucket(aws.s3, aws.uploads)]
    assert listed == utf8_sorted(keys)
    result = dict(
        decided_by_key(plan(list_bucket(aws.s3, aws.uploads), list_bucket(aws.s3, aws.web)))
    )
    assert {key for key, kind in result.items() if kind == "current"} == both
    assert {key for key, kind in result.items() if kind == "missing"} == keys - both
    assert {key for key, kind in result.items() if kind == "orphaned"} == {"ü-orphan.jpg"}


def test_a_copy_made_before_its_source_was_written_again_is_stale(aws: InProcessAws) -> None:
    aws.put(aws.web, "old.jpg")
    time.sleep(1.1)  # S3 and moto list LastModified in whole seconds
    aws.put(aws.uploads, "old.jpg")
    aws.put(aws.uploads, "new.jpg")
    time.sleep(1.1)
    aws.put(aws.web, "new.jpg")
    actions = plan(list_bucket(aws.s3, aws.uploads), list_bucket(aws.s3, aws.web))
    assert decided(actions) == [("current", "new.jpg"), ("stale", "old.jpg")]


# --- the command ----------------------------------------------------------------------------------


def sync(capsys: pytest.CaptureFixture[str], aws: InProcessAws, *flags: str) -> tuple[int, str]:
    code = cli.main(["sync", "--uploads", aws.uploads, "--web", aws.web, *flags])
    return code, capsys.readouterr().out


def test_sync_prints_only_its_plan_and_outcomes(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("x/a.jpg", "x/b b.jpg", "x/notes.txt"):
        aws.put(aws.uploads, key, PHOTO)
    aws.put(aws.uploads, "x/fake.jpg", b"GIF89a" + bytes(64))
    aws.put(aws.web, "x/orphan.jpg", PHOTO)
    code, out = sync(capsys, aws, "--prefix", "x/")
    assert code == cli.REJECTED  # the GIF named .jpg
    lines = out.splitlines()
    outcomes = sorted(lines[:4])  # in the order the steps finished
    assert [line.split("  (")[0] for line in outcomes] == [
        "deleted   x/orphan.jpg",
        "rejected  x/fake.jpg",
        "written   x/a.jpg",
        "written   x/b b.jpg",
    ]
    assert "unsupported-format" in outcomes[1]  # a rejection says why
    assert lines[4:] == [
        "plan: 3 missing, 0 stale, 0 reprocess, 1 orphaned, 0 current, 1 ignored",
        "done: 1 deleted, 1 rejected, 2 written",
    ]
    assert not any(line.lstrip().startswith("{") for line in lines)  # no log lines, no EMF
    assert aws.s3.get_object(Bucket=aws.web, Key="x/a.jpg")["Body"].read() == (
        reference_strip(PHOTO)
    )
    assert sorted(aws.keys(aws.web)) == ["x/a.jpg", "x/b b.jpg"]


def test_a_dry_run_prints_the_counts_and_changes_nothing(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.put(aws.uploads, "a.jpg", PHOTO)
    aws.put(aws.web, "orphan.jpg", PHOTO)
    code, out = sync(capsys, aws, "--dry-run")
    assert code == cli.OK
    assert out == "plan: 1 missing, 0 stale, 0 reprocess, 1 orphaned, 0 current, 0 ignored\n"
    assert aws.keys(aws.web) == ["orphan.jpg"]


def test_sync_enqueue_sends_the_plan_and_prints_its_summary(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    url = aws.sqs.create_queue(QueueName="events")["QueueUrl"]
    for i in range(13):
        aws.put(aws.uploads, f"{i:02d}.jpg", PHOTO)
    code, out = sync(capsys, aws, "--enqueue", url)
    assert code == cli.OK
    plan_line, sent_line = out.splitlines()
    assert plan_line == "plan: 13 missing, 0 stale, 0 reprocess, 0 orphaned, 0 current, 0 ignored"
    assert sent_line.startswith(f"sent: 13 messages to {url} in ")
    assert sent_line.endswith(", 0 sent again")
    bodies = []
    while messages := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(body["Records"][0]["s3"]["object"]["key"] for body in bodies) == [
        f"{i:02d}.jpg" for i in range(13)
    ]
    assert aws.keys(aws.web) == []  # the function does the work, not sync


def test_max_queue_depth_without_enqueue_is_a_usage_error(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        sync(capsys, aws, "--max-queue-depth", "10")
    assert exit_.value.code == cli.USAGE


def test_an_aws_error_is_one_line_on_stderr_and_exit_code_1(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sync", "--uploads", aws.uploads, "--web", "no-such-bucket"])
    assert code == cli.IO_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "NoSuchBucket" in captured.err


def test_a_key_with_control_characters_cannot_forge_a_line_of_output(
    aws: InProcessAws, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.put(aws.web, "x\nwritten   forged.jpg", PHOTO)
    code, out = sync(capsys, aws)
    assert code == cli.OK
    assert out.splitlines()[0] == "deleted   x\\nwritten   forged.jpg"
    assert len(out.splitlines()) == 3  # the outcome, the plan, the outcomes' count
