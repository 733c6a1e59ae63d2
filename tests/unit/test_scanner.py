"""The C scanner and its pure-Python fallback give the same answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exif_stripper.core import jpeg


def test_the_c_scanner_is_built_in_the_development_environment() -> None:
    # Without it the sanitizer still works, at a third of the speed: make sure a broken
    # build does not go unnoticed.
    assert jpeg.find_scan_end is not jpeg.python_find_scan_end


# Bytes that matter to the scanner, so hypothesis hits 0xFF pairs often.
interesting = st.sampled_from([0x00, 0xD0, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xFE, 0xFF, 0x12])


@given(data=st.lists(interesting, max_size=64).map(bytes), start=st.integers(0, 64))
def test_c_and_python_scanners_agree(data: bytes, start: int) -> None:
    start = min(start, len(data))
    assert jpeg.find_scan_end(data, start) == jpeg.python_find_scan_end(data, start)


def test_stuffing_and_restart_markers_do_not_end_a_scan() -> None:
    data = b"\x12\xff\x00\x34\xff\xd0\x56\xff\xd7"
    assert jpeg.find_scan_end(data, 0) == -1


def test_a_lone_final_ff_does_not_end_a_scan_yet() -> None:
    assert jpeg.find_scan_end(b"\x12\x34\xff", 0) == -1


def test_the_first_real_marker_ends_the_scan() -> None:
    data = b"\x12\xff\x00\xff\xd0\xff\xd9\xff\xe1"
    assert jpeg.find_scan_end(data, 0) == 5
    assert jpeg.find_scan_end(memoryview(data), 6) == 7
