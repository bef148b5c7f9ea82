"""Zone geometry and line counting."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.config.models import LineConfig, ZoneConfig
from vigil.rules.zones import (
    CameraZones,
    LineCounter,
    ground_points,
    lane_direction,
    points_in_polygon,
    polygon_area,
)

SQUARE = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
# A "U" shape: the notch (4..6, 0..8) is outside.
U_SHAPE = np.array([[0, 0], [4, 0], [4, 8], [6, 8], [6, 0], [10, 0], [10, 10], [0, 10]], float)


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (5, 5), True),
        (SQUARE, (11, 5), False),
        (SQUARE, (-1, -1), False),
        (SQUARE, (9.99, 0.01), True),
        (U_SHAPE, (2, 2), True),
        (U_SHAPE, (5, 2), False),  # in the notch of a concave polygon
        (U_SHAPE, (5, 9), True),
        (U_SHAPE, (8, 2), True),
    ],
)
def test_point_in_polygon(polygon: np.ndarray, point: tuple[float, float], inside: bool) -> None:
    assert points_in_polygon(np.array([point]), polygon).tolist() == [inside]


def test_point_in_polygon_vectorised_and_empty() -> None:
    pts = np.array([[5, 5], [11, 5], [2, 2]], float)
    assert points_in_polygon(pts, SQUARE).tolist() == [True, False, True]
    assert points_in_polygon(np.zeros((0, 2)), SQUARE).shape == (0,)


def test_ground_point_is_bottom_centre() -> None:
    assert ground_points(np.array([[10, 20, 30, 60]])).tolist() == [[20.0, 60.0]]


@pytest.mark.parametrize(
    ("direction", "size", "expected"),
    [
        ((1, 0), (1000, 500), (1, 0)),
        ((0, -2), (1000, 500), (0, -1)),
        ((1, 1), (1000, 1000), (2**-0.5, 2**-0.5)),
        # Normalised like the polygons: (1, 1) over a 2:1 frame points along the frame's diagonal.
        ((1, 1), (1000, 500), (2 / 5**0.5, 1 / 5**0.5)),
    ],
)
def test_lane_direction_unit_vector(direction, size, expected) -> None:
    np.testing.assert_allclose(lane_direction(direction, *size), expected, atol=1e-9)


def test_zones_converted_to_pixels_and_cached_per_size() -> None:
    zone = ZoneConfig(id="z", kind="crowd-area", polygon=[(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)])
    cz = CameraZones([zone])
    a = cz.for_size(1000, 500)
    assert cz.for_size(1000, 500) is a
    b = cz.for_size(200, 100)
    assert b is not a
    np.testing.assert_allclose(a.zones[0].polygon[2], [500, 250])
    np.testing.assert_allclose(b.zones[0].polygon[2], [100, 50])
    assert a.zones[0].area_fraction == pytest.approx(0.25)
    assert polygon_area(a.zones[0].polygon) == pytest.approx(1000 * 500 * 0.25)
    assert a.of_kind("crowd-area") == a.zones and a.of_kind("roadway") == ()


# A horizontal line across the middle of a 1000 x 500 frame, drawn left to right, from x=100 to x=900.
LINE = LineConfig(id="l", points=((0.1, 0.5), (0.9, 0.5)))


@pytest.mark.parametrize(
    ("trajectory", "expected"),
    [
        ([(500, 200), (500, 240), (500, 260), (500, 300)], {"positive": 1, "negative": 0}),  # downwards
        ([(500, 300), (500, 260), (500, 240)], {"positive": 0, "negative": 1}),  # upwards
        ([(500, 240), (500, 260), (500, 240), (500, 260), (500, 240)], {"positive": 1, "negative": 0}),  # once
        ([(50, 200), (50, 300)], {"positive": 0, "negative": 0}),  # beyond the segment's end
        ([(500, 200), (500, 240)], {"positive": 0, "negative": 0}),  # approaches, never crosses
        ([(500, 200), (500, 250), (500, 250), (500, 300)], {"positive": 1, "negative": 0}),  # stops on the line
        ([(500, 200), (500, 250), (500, 200)], {"positive": 0, "negative": 0}),  # touches it and goes back
    ],
)
def test_line_counter(trajectory, expected) -> None:
    zones = CameraZones([], [LINE]).for_size(1000, 500)
    counter = LineCounter([LINE])
    for k, point in enumerate(trajectory):
        counter.update(zones, k * 0.2, np.array([7]), np.array([point], float))
    assert counter.counts == {"l": expected}


def test_line_counter_counts_each_track_and_forgets_old_ones() -> None:
    zones = CameraZones([], [LINE]).for_size(1000, 500)
    counter = LineCounter([LINE], forget_after_s=1.0)
    ids = np.array([1, 2, 3])
    crossings = []
    crossings += counter.update(zones, 0.0, ids, np.array([[200, 200], [400, 300], [600, 200]], float))
    crossings += counter.update(zones, 0.2, ids, np.array([[200, 300], [400, 200], [600, 220]], float))
    assert sorted(crossings) == [("l", "negative", 2), ("l", "positive", 1)]
    assert counter.counts["l"] == {"positive": 1, "negative": 1}
    for k in range(40):  # many other tracks later: the first ones are forgotten
        counter.update(zones, 2.0 + k * 0.2, np.array([100 + k]), np.array([[800, 100]], float))
    assert 1 not in counter._slot and len(counter._slot) < 40
