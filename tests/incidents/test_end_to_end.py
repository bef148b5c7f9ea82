"""Rules and lifecycle together on synthetic scenes: one incident per real event."""

from __future__ import annotations

import itertools

import pytest

from tests.rules.scene import DT, FPS, H, Obj, W, camera, detections_at, piecewise, still
from vigil.config.rules import RulesConfig
from vigil.core.events import IncidentEvent
from vigil.incidents.lifecycle import IncidentTracker
from vigil.rules.engine import CameraRules


def person(cx: float, bottom: float, t0: float = -1e9, t1: float = 1e9):
    return still(cx, bottom, 30, 80, t0=t0, t1=t1)


def incidents(objs: list[Obj], duration: float, overrides: dict | None = None) -> list[IncidentEvent]:
    cam = camera(overrides=overrides)
    rules = RulesConfig().merged(cam.rules)
    engine = CameraRules(cam, rules)
    counter = itertools.count()
    tracker = IncidentTracker(cam.id, rules, id_factory=lambda: f"id{next(counter)}", wall_clock=lambda: "T")
    events = []
    for k in range(round(duration * FPS) + 1):
        t = round(k * DT, 6)
        events += tracker.update(t, engine.update(t, W, H, detections_at(objs, t)))
    return events + tracker.flush(duration)


def summary(events: list[IncidentEvent]) -> list[tuple[str, str]]:
    """(type, state) of new and end events, in order."""
    return [(e.type, e.state) for e in events if e.state != "update"]


ROAD, KERB = (500, 400), (500, 200)
CASES = [
    ("pedestrian on the sidewalk", [Obj(1, "person", person(*KERB))], []),
    ("pedestrian on the roadway", [Obj(1, "person", person(*ROAD))], [("pedestrian", "new"), ("pedestrian", "end")]),
    (
        "leaves the roadway and comes back after the incident ended",
        [Obj(1, "person", piecewise((0, 5, person(*ROAD)), (5, 15, person(*KERB)), (15, 30, person(*ROAD))))],
        [("pedestrian", "new"), ("pedestrian", "end")] * 2,
    ),
    (
        "steps onto the kerb for 2 s and back (within end_after_s)",
        [Obj(1, "person", piecewise((0, 5, person(*ROAD)), (5, 7, person(*KERB)), (7, 30, person(*ROAD))))],
        [("pedestrian", "new"), ("pedestrian", "end")],
    ),
    (
        "track id switch mid-event",
        [Obj(1, "person", person(*ROAD, t1=8)), Obj(2, "person", person(*ROAD, t0=8))],
        [("pedestrian", "new"), ("pedestrian", "end")],
    ),
    (
        "track lost for 1.6 s then found with a new id",
        [Obj(1, "person", person(*ROAD, t1=8)), Obj(2, "person", person(505, 402, t0=9.6))],
        [("pedestrian", "new"), ("pedestrian", "end")],
    ),
    (
        "two people on the roadway at once",
        [Obj(1, "person", person(300, 400)), Obj(2, "person", person(700, 400, t0=5))],
        [("pedestrian", "new"), ("pedestrian", "new"), ("pedestrian", "end"), ("pedestrian", "end")],
    ),
    (
        "stopped car, id switch after 12 s",
        [Obj(1, "car", still(500, 400, t1=12)), Obj(2, "car", still(500, 400, t0=12.4))],
        [("stopped_vehicle", "new"), ("stopped_vehicle", "end")],
    ),
]


@pytest.mark.parametrize(("objs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_incident_per_real_event(objs, expected) -> None:
    events = incidents(objs, 30)
    assert summary(events) == expected
    # Every incident that starts ends, and each keeps one id from new to end.
    news = [e.incident_id for e in events if e.state == "new"]
    assert sorted(news) == sorted(e.incident_id for e in events if e.state == "end")


def test_stopped_car_incident_timing_and_camera_override() -> None:
    objs = [Obj(1, "car", still(500, 400, t1=40))]
    default = incidents(objs, 60)
    new, end = [e for e in default if e.state != "update"]
    # Still from t=1 s (speed known), signalled from 21 s, confirmed after 3 frames; ended 5 s after leaving.
    assert new.start_s == pytest.approx(21.0) and end.end_s == pytest.approx(39.8)
    assert [e.state for e in default].count("update") == 0  # 19 s: less than one heartbeat
    quick = incidents(objs, 60, overrides={"stopped_vehicle": {"min_stopped_s": 5, "heartbeat_s": 10}})
    new, *updates, end = quick
    assert new.start_s == pytest.approx(6.0) and len(updates) == 3 and end.state == "end"
