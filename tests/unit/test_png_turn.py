"""The PNG turn's parts: the C filters and their pure-Python fallback agree, and regions
of an animation move with their pixels."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exif_stripper.core import png_turn
from tools.samples import png as sp


def test_the_c_filters_are_built_in_the_development_environment() -> None:
    # Without them a turn still comes out the same, at a fraction of the speed.
    assert png_turn.unfilter.__module__ == "exif_stripper.core._pngfilter"


geometry = st.tuples(st.integers(0, 6), st.integers(0, 12), st.integers(1, 8))


# The pure-Python filters are slow by nature: no deadline on a shared, loaded machine.
@settings(deadline=None)
@given(geometry=geometry, data=st.data())
def test_c_and_python_unfilter_agree(geometry: tuple[int, int, int], data: st.DataObject) -> None:
    rows, row_bytes, bpp = geometry
    lines = [
        bytes((data.draw(st.integers(0, 4)),))
        + data.draw(st.binary(min_size=row_bytes, max_size=row_bytes))
        for _ in range(rows)
    ]
    filtered = b"".join(lines)
    assert png_turn.unfilter(filtered, rows, row_bytes, bpp) == png_turn.python_unfilter(
        filtered, rows, row_bytes, bpp
    )


@settings(deadline=None)
@given(geometry=geometry, adaptive=st.booleans(), data=st.data())
def test_filtering_is_undone_exactly_and_both_filters_agree(
    geometry: tuple[int, int, int], adaptive: bool, data: st.DataObject
) -> None:
    rows, row_bytes, bpp = geometry
    raw = data.draw(st.binary(min_size=rows * row_bytes, max_size=rows * row_bytes))
    filtered = png_turn.filter_rows(raw, rows, row_bytes, bpp, adaptive)
    assert filtered == png_turn.python_filter(raw, rows, row_bytes, bpp, adaptive)
    assert png_turn.unfilter(filtered, rows, row_bytes, bpp) == raw


def test_an_unknown_filter_type_is_refused_by_both() -> None:
    for unfilter in (png_turn.unfilter, png_turn.python_unfilter):
        with pytest.raises(ValueError, match="filter type"):
            unfilter(b"\x05\x00\x00", 1, 2, 1)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_region_moves_where_its_pixels_go(orientation: int) -> None:
    # Mark a region of a 7x5 picture, turn the whole picture, find the marks again.
    width, height, region = 7, 5, (2, 1, 3, 2)
    x, y, w, h = region
    marked = bytes(
        1 if x <= px < x + w and y <= py < y + h else 0
        for py in range(height)
        for px in range(width)
    )
    raster = sp.Raster(width, height, 8, 0, marked)
    turned = sp.turned_raster(raster, orientation)
    found = [(i % turned.width, i // turned.width) for i, v in enumerate(turned.cells) if v]
    left, top = min(p[0] for p in found), min(p[1] for p in found)
    right, bottom = max(p[0] for p in found), max(p[1] for p in found)
    expected = (left, top, right - left + 1, bottom - top + 1)
    if orientation == 1:
        assert expected == region
    else:
        assert png_turn.turn_region(region, width, height, orientation) == expected
