"""`inspect` on PNG and WebP: every chunk with strip's verdict, and what identifies (issue 11)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from exif_stripper.cli import main
from exif_stripper.core.inspection import Inspection, inspect_stream
from exif_stripper.core.sanitize import sanitize_bytes
from tools.samples import png as samples_png
from tools.samples import webp as samples_webp


def inspect(data: bytes) -> Inspection:
    return inspect_stream(io.BytesIO(data))


def categories(result: Inspection) -> set[str]:
    return {finding.category for finding in result.findings}


def test_a_png_lists_every_chunk_with_strips_verdict() -> None:
    result = inspect(samples_png.photo_png(orientation=6))
    verdicts = {row.marker: row.action for row in result.segments}
    assert result.format == "png"
    assert (result.width, result.height, result.orientation) == (96, 64, 6)
    assert verdicts["IHDR"] == verdicts["IDAT"] == verdicts["IEND"] == "keep"
    assert verdicts["iCCP"] == "trim"  # written again without its identity
    assert verdicts["eXIf"] == verdicts["tEXt"] == verdicts["caBX"] == "remove"
    assert verdicts["after IEND"] == "remove"
    assert result.removed_bytes > 0
    assert result.rejected is None


def test_a_png_names_what_identifies_in_text_exif_xmp_and_the_profile() -> None:
    result = inspect(samples_png.photo_png())
    details = {(f.category, f.source): f.detail for f in result.findings}
    texts = [f.detail for f in result.findings if f.category == "text"]
    assert details[("GPS position", "EXIF")] == "48.858222, 2.294500"
    assert "Author: Jane Photographer" in texts
    assert "Title: Jane Photographer, chez elle" in texts  # iTXt, compressed
    assert ("serial number", "XMP") in details
    assert details[("ICC profile name", "iCCP")] == "Alice's ColorEdge CG277"
    assert ("date/time", "tIME") in details
    assert ("C2PA manifest", "caBX") in details
    assert any(f.category == "ICC profile text" and "Alice" in f.detail for f in result.findings)
    # ImageMagick's hex-encoded EXIF is decoded and read like any EXIF
    assert sum(f.category == "GPS position" and f.source == "EXIF" for f in result.findings) == 2


@pytest.mark.parametrize("animated", [False, True])
def test_a_webp_lists_its_chunks_and_frames_and_what_identifies(animated: bool) -> None:
    result = inspect(samples_webp.photo_webp(animated=animated))
    verdicts = {row.marker: row.action for row in result.segments}
    assert result.format == "webp"
    assert verdicts["EXIF"] == verdicts["XMP"] == verdicts["after RIFF"] == "remove"
    assert verdicts["ICCP"] == "trim"
    assert {"GPS position", "camera", "XMP", "ICC profile text"} <= categories(result)
    if animated:
        assert verdicts["frame 3 prVt"] == "remove"


def test_what_strip_writes_holds_nothing_inspect_would_list() -> None:
    for data in (samples_png.photo_png(), samples_png.apng(), samples_webp.photo_webp()):
        assert inspect(sanitize_bytes(data).data).findings == []


def test_inspect_command_names_the_format_and_exits_3_for_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo, gif = tmp_path / "shot.jpg", tmp_path / "anim.png"
    photo.write_bytes(samples_png.photo_png())  # a PNG, whatever its name
    gif.write_bytes(b"GIF89a" + bytes(32))
    assert main(["inspect", str(photo)]) == 0
    assert capsys.readouterr().out.startswith(f"{photo}: PNG, 96x64")
    assert main(["inspect", "--json", str(photo)]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "png"
    assert main(["inspect", str(gif)]) == 3
    assert "unsupported-format: the content is GIF" in capsys.readouterr().err
