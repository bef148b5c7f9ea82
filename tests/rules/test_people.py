"""Pedestrian-in-zone and crowd density rules."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.scene import (
    ROADWAY,
    SIDEWALK,
    H,
    Obj,
    W,
    camera,
    detections_at,
    first_time,
    keys,
    moving,
    piecewise,
    run,
    still,
)
from vigil.config.models import ZoneConfig
from vigil.config.rules import RulesConfig
from vigil.rules.engine import CameraRules

TRACKS = ZoneConfig(id="rail", kind="tracks", polygon=[(0, 0), (0.3, 0), (0.3, 0.2), (0, 0.2)])
RESTRICTED = ZoneConfig(id="depot", kind="restricted", polygon=[(0.7, 0), (1, 0), (1, 0.2), (0.7, 0.2)])
ZONES = [ROADWAY, SIDEWALK, TRACKS, RESTRICTED]


def person(cx: float, bottom: float, **kw) -> object:
    return still(cx, bottom, 30, 80, **kw)


# Roadway y 250..500, sidewalk y 100..250, tracks x<300 & y<100, restricted x>700 & y<100.
PEDESTRIAN_CASES = [
    ("on the sidewalk", [Obj(1, "person", person(500, 200))], None),
    ("on the roadway", [Obj(1, "person", person(500, 400))], ("road", 1.0)),
    ("on the tracks", [Obj(1, "person", person(100, 80))], ("rail", 1.0)),
    ("in a restricted area", [Obj(1, "person", person(900, 80))], ("depot", 1.0)),
    ("between tracks and depot (no zone)", [Obj(1, "person", person(500, 80))], None),
    # Head over the roadway, feet on the sidewalk: the feet decide.
    ("on the kerb, head over road", [Obj(1, "person", lambda t: (485, 170, 515, 249))], None),
    ("feet just over the kerb", [Obj(1, "person", lambda t: (485, 175, 515, 254))], ("road", 1.0)),
    ("too short a dwell", [Obj(1, "person", person(500, 400, t1=0.8))], None),
    ("a car is not a pedestrian", [Obj(1, "car", still(500, 400))], None),
    (
        "cyclist riding on the roadway",
        [Obj(1, "person", moving(100, 380, 100, w=40, h=90)), Obj(2, "bicycle", moving(100, 400, 100, w=60, h=50))],
        None,
    ),
    (
        "steps onto the roadway",
        [Obj(1, "person", piecewise((0, 3, person(500, 200)), (3, 9, person(500, 300))))],
        ("road", 4.0),
    ),
]


@pytest.mark.parametrize(("objs", "expected"), [c[1:] for c in PEDESTRIAN_CASES], ids=[c[0] for c in PEDESTRIAN_CASES])
def test_pedestrian(objs, expected) -> None:
    frames = run(objs, 6, cam=camera(zones=ZONES), types=["pedestrian"])
    t = first_time(frames, "pedestrian")
    if expected is None:
        assert t is None
    else:
        zone, when = expected
        assert t == pytest.approx(when, abs=0.01)
        assert {s.details["zone"] for _, sig in frames for s in sig} == {zone}
        assert all(s.severity == 4 for _, sig in frames for s in sig)


def test_pedestrian_dwell_restarts_after_leaving() -> None:
    # On the road 0..0.8 s, back on the kerb 0.8..2 s, on the road again from 2 s: fires at 3 s, not at 1 s.
    path = piecewise((0, 0.8, person(500, 400)), (0.8, 2, person(500, 200)), (2, 9, person(500, 400)))
    assert first_time(run([Obj(1, "person", path)], 5, cam=camera(zones=ZONES)), "pedestrian") == pytest.approx(3.0)


def test_two_pedestrians_two_keys() -> None:
    objs = [Obj(1, "person", person(300, 400)), Obj(2, "person", person(700, 400))]
    assert keys(run(objs, 3, cam=camera(zones=ZONES)), "pedestrian") == {"track:1", "track:2"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 1.0),
        ({"pedestrian": {"min_dwell_s": 3.0}}, 3.0),
        ({"pedestrian": {"zone_kinds": ["tracks"]}}, None),  # this camera only cares about the tracks
        ({"pedestrian": {"enabled": False}}, None),
    ],
)
def test_pedestrian_camera_overrides(overrides, expected) -> None:
    frames = run([Obj(1, "person", person(500, 400))], 5, cam=camera(zones=ZONES, overrides=overrides))
    assert first_time(frames, "pedestrian") == (None if expected is None else pytest.approx(expected))


def square(area_m2: float | None = None) -> ZoneConfig:
    """A crowd area covering the left 20 % x 50 % of the frame (10 % of its area)."""
    return ZoneConfig(id="square", kind="crowd-area", polygon=[(0, 0), (0.2, 0), (0.2, 0.5), (0, 0.5)], area_m2=area_m2)


def people(n: int, x0: float = 10, bottom: float = 200) -> list[Obj]:
    return [Obj(i, "person", person(x0 + 9 * i, bottom)) for i in range(n)]


@pytest.mark.parametrize(
    ("area_m2", "crowd", "expected"),
    [
        (10.0, people(15), None),  # 1.5 / m2 < 2
        (10.0, people(21), 2.1),
        (10.0, people(21, x0=300), None),  # same people outside the area
        (None, people(20), None),  # 20 people over 10 % of the frame = 2 per 1 %: not above
        (None, people(21), 2.1),
        (None, [*people(21), Obj(99, "car", still(100, 200))], 2.1),  # cars are not people
    ],
)
def test_crowd_density(area_m2, crowd, expected) -> None:
    frames = run(crowd, 1.0, cam=camera(zones=[square(area_m2)]), types=["crowd"])
    signals = [s for _, sig in frames for s in sig]
    if expected is None:
        assert signals == []
    else:
        assert len(signals) == len(frames)
        assert signals[0].key == "zone:square" and signals[0].details["density"] == pytest.approx(expected)


def test_crowd_severity_rises_at_twice_the_threshold_and_needs_no_track_ids() -> None:
    engine = CameraRules(camera(zones=[square(5.0)]), RulesConfig())
    for n, severity in ((11, 3), (20, 4)):
        det = detections_at(people(n), 0.0)
        det = type(det)(det.xyxy, det.confidence, det.class_id, None, det.data)  # untracked
        (signal,) = engine.update(float(n), W, H, det)
        assert signal.severity == severity


def test_crowd_counts_confident_untracked_detections_but_not_twice():
    from vigil.core.detections import Detections
    from vigil.rules.engine import CameraRules

    zone = square(None)
    engine = CameraRules(camera(zones=[zone]), RulesConfig.model_validate({"crowd": {"max_density": 0.4}}))
    # 3 tracked people in the square (10% of the frame: density = people / 10)
    tracked = [Obj(k, "person", still(40 + 30 * k, 200, 20, 50)) for k in range(1, 4)]
    tracks = detections_at(tracked, 0.0)
    # the same 3 detected again (they must not count twice), plus 2 confident and 1 weak untracked people
    boxes = [*tracks.xyxy.tolist(), [30, 80, 50, 130], [60, 80, 80, 130], [100, 80, 120, 130]]
    found = Detections(
        np.array(boxes, np.float32),
        [0.8, 0.8, 0.8, 0.7, 0.6, 0.3],
        np.zeros(6),
        data={"label": np.array(["person"] * 6)},
    )
    (signal,) = engine.update(0.0, W, H, tracks, None, None, found)
    assert signal.details["people"] == 5
