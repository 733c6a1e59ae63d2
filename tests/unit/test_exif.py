"""Reading the Orientation tag never fails, and the keep-tag APP1 says nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exif_stripper.core.exif import orientation_only_exif, read_orientation
from tools.samples.exif import CameraExif, exif_segment
from tools.samples.metadata import xmp_segment


def _payload(camera: CameraExif) -> bytes:
    return exif_segment(camera)[4:]  # drop marker and length


@pytest.mark.parametrize("order", ["II", "MM"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_read_in_both_byte_orders(orientation: int, order: str) -> None:
    camera = CameraExif(orientation=orientation, byte_order=order)  # type: ignore[arg-type]
    assert read_orientation(_payload(camera)) == orientation


def test_no_orientation_tag_reads_as_none() -> None:
    assert read_orientation(_payload(CameraExif(orientation=None))) is None


def test_xmp_is_not_exif() -> None:
    assert read_orientation(xmp_segment()[4:]) is None


@given(garbage=st.binary(max_size=200))
def test_garbage_after_the_exif_header_never_raises(garbage: bytes) -> None:
    value = read_orientation(b"Exif\x00\x00" + garbage)
    assert value is None or 1 <= value <= 8


@pytest.mark.parametrize("orientation", range(1, 9))
def test_the_minimal_tag_round_trips(orientation: int) -> None:
    payload = orientation_only_exif(orientation)
    assert read_orientation(payload) == orientation
    assert len(payload) == 32


def test_the_minimal_tag_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="1-8"):
        orientation_only_exif(9)
