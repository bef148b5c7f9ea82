"""Tiles of large frames: the fewest that cover the frame with the overlap asked for, spread evenly."""

from __future__ import annotations

import itertools

import pytest

from vigil.detection.tiling import tile_spans


@pytest.mark.parametrize("length", [100, 1024, 1025, 2160, 2161, 3840, 4096, 7680])
@pytest.mark.parametrize(("tile", "overlap"), [(1024, 128), (512, 64), (640, 80)])
def test_tiles_cover_the_frame_with_the_overlap_and_are_never_larger_than_asked(length, tile, overlap) -> None:
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == length  # edge to edge
    assert all(size <= tile for _, size in spans)
    for (a, size), (b, _) in itertools.pairwise(spans):
        assert a + size - b >= overlap - 1  # neighbours overlap (rounding of the starts: a pixel)
    # No fewer tiles can do it: n tiles of ``tile`` px cover at most n * tile - (n - 1) * overlap.
    n = len(spans)
    assert n == 1 or (n - 1) * tile - (n - 2) * overlap < length


def test_a_4k_frame_is_searched_in_a_third_fewer_pixels_than_with_full_size_tiles() -> None:
    cols, rows = tile_spans(3840, 1024, 128), tile_spans(2160, 1024, 128)
    assert (len(cols), len(rows)) == (5, 3)
    searched = sum(s for _, s in cols) * sum(s for _, s in rows)
    assert searched <= 0.7 * (5 * 1024) * (3 * 1024)
