"""`make bench CORPUS=dir` on your own photos: what it rejects is counted, the rest measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench import sections as bench
from tools.samples.ready_made import kitchen_sink, mpo_sample

PHOTO = kitchen_sink(width=160, height=120)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)  # a PNG signature, and no chunk after it
GIF = b"GIF89a" + bytes(64)


def test_a_corpus_with_photos_it_rejects_is_measured_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "photos"
    (corpus / "DCIM" / "100").mkdir(parents=True)
    (corpus / "DCIM" / "101").mkdir()
    (corpus / "DCIM" / "100" / "IMG_0001.JPG").write_bytes(PHOTO)
    (corpus / "DCIM" / "101" / "IMG_0001.JPG").write_bytes(PHOTO)  # the same name again
    (corpus / "holiday.jpeg").write_bytes(mpo_sample())
    (corpus / "screenshot.jpg").write_bytes(PNG)
    (corpus / "animation.jpg").write_bytes(GIF)
    (corpus / "notes.txt").write_text("not a photo")
    monkeypatch.setattr(bench, "BUILD", tmp_path / "build")

    args = ["--corpus", str(corpus), "--only", "sanitizer", "--only", "cli", "--rounds", "1"]
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert f"corpus: 5 photos in {corpus}: 3 measured" in out
    assert "2 rejected (1 bad-chunk, 1 unsupported-format), 0 unreadable" in out
    assert "  unsupported-format: animation.jpg: unsupported-format: the content is GIF" in out
    assert "sanitizer: 3 photos" in out
    assert "cli: a library of 30 photos in 10 folders" in out


def test_a_corpus_without_any_accepted_photo_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "screenshot.jpg").write_bytes(PNG)
    assert bench.main(["--corpus", str(tmp_path), "--only", "cli"]) == 0
    out = capsys.readouterr().out
    assert "0 measured (0.0 MB), 1 rejected (1 bad-chunk)" in out
    assert "nothing to measure" in out
