"""The `exif-stripper` command as scripts use it: forms, exit codes, files left behind."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from exif_stripper.cli import main
from tools.oracle import exiftool_reports, findings
from tools.samples import icc_profiles
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp
from tools.samples.composition import compose, reference_removed_bytes, reference_strip
from tools.samples.icc import icc_segments
from tools.samples.jpeg import base_jpeg, decode, walk_markers
from tools.samples.orientation import oriented_jpeg
from tools.samples.ready_made import kitchen_sink, motion_photo_sample, mpo_sample

PHOTO = kitchen_sink(width=160, height=120)
NOT_AN_IMAGE = b"GIF89a" + bytes(64)  # a format we do not take, named .jpg below
CLI = [sys.executable, "-m", "exif_stripper.cli"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """photos/: good JPEGs at several depths and cases, a PNG and a WebP (one of them named
    .jpg), a GIF named .jpg, a text file."""
    root = tmp_path / "photos"
    (root / "2024" / "june").mkdir(parents=True)
    (root / "a.jpg").write_bytes(PHOTO)
    (root / "2024" / "B.JPG").write_bytes(mpo_sample())
    (root / "2024" / "june" / "c d.jpeg").write_bytes(motion_photo_sample())
    (root / "2024" / "fake.jpg").write_bytes(NOT_AN_IMAGE)
    (root / "2024" / "screen.PNG").write_bytes(samples_png.photo_png(48, 32))
    (root / "2024" / "june" / "phone.jpg").write_bytes(samples_webp.photo_webp(48, 32))
    (root / "notes.txt").write_text("not a photo")
    return root


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_strip_file_to_file_writes_a_clean_copy_and_leaves_the_input(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(PHOTO)
    before = source.stat()
    assert main(["strip", str(source), str(target)]) == 0
    assert source.read_bytes() == PHOTO
    assert source.stat().st_mtime_ns == before.st_mtime_ns
    assert findings(exiftool_reports([target.read_bytes()])[0]) == []


def test_strip_into_an_existing_directory_keeps_the_name(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(PHOTO)
    (tmp_path / "out").mkdir()
    assert main(["strip", str(source), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "in.jpg").exists()


def test_strip_stdin_to_stdout() -> None:
    done = subprocess.run([*CLI, "strip", "-", "-"], input=PHOTO, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"\xff\xd8")
    assert findings(exiftool_reports([done.stdout])[0]) == []


def _broken_last_scan(jpeg: bytes) -> bytes:
    """The JPEG with its last scan naming a component the frame does not have.

    The fault comes after the first scans, so a rejection happens after output began.
    """
    last = walk_markers(jpeg).scans[-1]
    broken = bytearray(jpeg)
    broken[last.start + 5] = 0x99  # the scan's first component id
    return bytes(broken)


def test_rejected_stdin_writes_nothing_to_stdout() -> None:
    broken = _broken_last_scan(PHOTO)
    done = subprocess.run(
        [*CLI, "strip", "--damaged", "reject", "-", "-"],
        input=broken,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 3
    assert done.stdout == b""
    assert done.stderr.decode().count("\n") == 1
    assert "<stdin>: bad-segment" in done.stderr.decode()


def test_rejected_file_exits_3_with_one_line_and_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "bad.jpg", tmp_path / "out" / "bad.jpg"
    source.write_bytes(NOT_AN_IMAGE)
    assert main(["strip", str(source), str(target)]) == 3
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []  # no temporary file either
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"exif-stripper: {source}: unsupported-format: the content is GIF, not JPEG, PNG or "
        "WebP (at byte 0)"
    ]


def test_a_rejected_file_keeps_an_older_output_intact(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    target.write_bytes(b"previous")
    source.write_bytes(_broken_last_scan(PHOTO))
    assert main(["strip", "--damaged", "reject", str(source), str(target)]) == 3
    assert target.read_bytes() == b"previous"


def test_strip_directory_keeps_relative_paths_and_writes_the_good_files(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "web"
    assert main(["strip", str(tree), str(out)]) == 3  # one input was rejected
    assert _files(out) == {
        "a.jpg",
        "2024/B.JPG",
        "2024/screen.PNG",
        "2024/june/c d.jpeg",
        "2024/june/phone.jpg",
    }
    outputs = [(out / name).read_bytes() for name in sorted(_files(out))]
    assert all(findings(report) == [] for report in exiftool_reports(outputs))
    # The content decides: the WebP named .jpg is still a WebP, under the same name.
    assert (out / "2024/june/phone.jpg").read_bytes()[8:12] == b"WEBP"
    err = capsys.readouterr().err
    assert "fake.jpg: unsupported-format" in err
    assert "5 written, 1 rejected, 0 failed, 1 skipped" in err


def test_strip_directory_twice_gives_the_same_tree(tree: Path, tmp_path: Path) -> None:
    main(["strip", str(tree), str(tmp_path / "one")])
    main(["strip", str(tree), str(tmp_path / "two")])
    for name in _files(tmp_path / "one"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize("inside", [True, False])
def test_strip_refuses_directories_that_contain_each_other(
    tree: Path, tmp_path: Path, inside: bool
) -> None:
    args = [str(tree), str(tree / "web")] if inside else [str(tree / "2024"), str(tree)]
    with pytest.raises(SystemExit) as exit_:
        main(["strip", *args])
    assert exit_.value.code == 2


def test_strip_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(PHOTO)
    with pytest.raises(SystemExit) as exit_:
        main(["strip", str(source), str(source)])
    assert exit_.value.code == 2
    assert source.read_bytes() == PHOTO


@pytest.mark.parametrize(
    "args",
    [
        ["strip"],
        ["strip", "missing.jpg", "out.jpg"],
        ["strip", "--orientation", "up", "-", "-"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2


def test_orientation_flag_reaches_the_sanitizer(tmp_path: Path) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(oriented_jpeg(6, (61, 47)))
    main(["strip", "--orientation", "keep-tag", str(source), str(tmp_path / "keep.jpg")])
    main(["strip", str(source), str(tmp_path / "apply.jpg")])
    kept = exiftool_reports([tmp_path / "keep.jpg"])[0]
    assert kept.values("IFD0", "Orientation") == [6]
    assert decode((tmp_path / "apply.jpg").read_bytes()).size == (47, 61)


def test_progress_bar_when_stderr_is_a_terminal(tree: Path, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, and tqdm draws a bar that fits in it.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    done = subprocess.run(
        [*CLI, "strip", str(tree), str(tmp_path / "web")], stderr=terminal, check=False
    )
    os.close(terminal)
    shown = os.read(controller, 65536).decode(errors="replace")
    os.close(controller)
    assert done.returncode == 3
    assert "/6 [" in shown  # tqdm's counter of the 6 image files
    assert "photo/s" in shown


def test_no_progress_bar_when_stderr_is_not_a_terminal(tree: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "strip", str(tree), str(tmp_path / "web")], capture_output=True, check=False
    )
    assert "photo/s" not in done.stderr.decode()
    assert "it/s" not in done.stderr.decode()


# --- inspect ---------------------------------------------------------------------------------


def test_inspect_json_lists_what_would_be_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(PHOTO)
    assert main(["inspect", str(source), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    categories = {f["category"] for f in report["findings"]}
    assert {
        "GPS position",
        "camera",
        "serial number",
        "XMP",
        "IPTC",
        "thumbnail",
        "trailer",
        "maker notes",
        "comment",
        "person",
    } <= categories
    gps = [f["detail"] for f in report["findings"] if f["category"] == "GPS position"]
    assert "48.858" in gps[0]  # the Eiffel Tower, from EXIF
    removed = {s["what"] for s in report["segments"] if s["action"] == "remove"}
    assert {"EXIF", "XMP", "IPTC/Photoshop", "trailer"} <= removed
    assert report["removed_bytes"] == reference_removed_bytes(PHOTO)


def test_inspect_text_shows_segments_and_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jpg"
    source.write_bytes(PHOTO)
    assert main(["inspect", str(source)]) == 0
    out = capsys.readouterr().out
    assert "APP1" in out
    assert "remove" in out
    assert "GPS position" in out


def test_inspect_of_a_clean_file_finds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "clean.jpg"
    source.write_bytes(reference_strip(PHOTO))
    assert main(["inspect", str(source), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == []
    assert report["removed_bytes"] == 0


def test_inspect_of_a_bad_file_exits_3(tmp_path: Path) -> None:
    source = tmp_path / "bad.jpg"
    source.write_bytes(NOT_AN_IMAGE)
    assert main(["inspect", str(source)]) == 3


def test_inspect_lists_the_text_an_icc_profile_identifies_by(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = icc_profiles.matrix_rgb()
    source = tmp_path / "calibrated.jpg"
    source.write_bytes(compose(base_jpeg(seed=80), icc_segments(profile)))
    assert main(["inspect", str(source), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    texts = [f["detail"] for f in report["findings"] if f["source"] == "ICC"]
    assert any(icc_profiles.OWNER in text for text in texts)
    cleaned = tmp_path / "clean.jpg"
    assert main(["strip", str(source), str(cleaned)]) == 0
    assert main(["inspect", str(cleaned), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f for f in report["findings"] if f["source"] == "ICC"] == []
