"""Stopped vehicle and wrong-way rules on synthetic tracks (roadway = lower half, traffic moves right)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.scene import ROADWAY, SIDEWALK, Obj, camera, first_time, keys, moving, piecewise, run, still
from vigil.config.models import ZoneConfig
from vigil.config.rules import RulesConfig


def stop_and_go(stop_s: float, go_s: float, speed: float = 150.0) -> piecewise:
    """Stops of ``stop_s`` separated by moves of ``go_s`` at ``speed`` px/s, starting at x=100."""
    parts, x, t = [], 100.0, 0.0
    while t < 120:
        parts.append((t, t + stop_s, still(x, 400)))
        t += stop_s
        parts.append((t, t + go_s, moving(x, 400, speed, t0=t)))
        x += speed * go_s
        t += go_s
    return piecewise(*parts)


# (case, objects, duration, expected first signal time or None)
STOPPED_CASES = [
    ("stopped on roadway", [Obj(1, "car", still(500, 400))], 30, (20.0, 22.0)),
    ("stopped truck", [Obj(1, "truck", still(500, 400, 200, 120))], 30, (20.0, 22.0)),
    ("not long enough", [Obj(1, "car", still(500, 400))], 15, None),
    ("parked on sidewalk", [Obj(1, "car", still(500, 200))], 30, None),
    ("outside any zone", [Obj(1, "car", still(500, 80))], 30, None),
    ("a person is not a vehicle", [Obj(1, "person", still(500, 400, 30, 80))], 30, None),
    ("flowing traffic", [Obj(1, "car", moving(0, 400, 40))], 24, None),
    ("stop-and-go", [Obj(1, "car", stop_and_go(stop_s=12.0, go_s=3.0))], 60, None),
    ("stop-and-go creeping", [Obj(1, "car", stop_and_go(stop_s=8.0, go_s=2.0, speed=40.0))], 60, None),
    (
        "stops after driving",
        [Obj(1, "car", piecewise((0, 5, moving(100, 400, 80)), (5, 99, still(500, 400))))],
        30,
        (25.0, 27.0),
    ),
    # Jitter of a few pixels per frame is not motion.
    (
        "jittery box",
        [Obj(1, "car", lambda t: (440 + 3 * (round(t * 5) % 2), 330, 560, 400 + 2 * (round(t * 5) % 3)))],
        30,
        (20.0, 22.0),
    ),
]


@pytest.mark.parametrize(
    ("objs", "duration", "expected"), [c[1:] for c in STOPPED_CASES], ids=[c[0] for c in STOPPED_CASES]
)
def test_stopped_vehicle(objs, duration, expected) -> None:
    t = first_time(run(objs, duration, types=["stopped_vehicle"]), "stopped_vehicle")
    if expected is None:
        assert t is None
    else:
        assert t is not None and expected[0] <= t <= expected[1]


def test_stopped_vehicle_timer_survives_occlusion_and_id_switch() -> None:
    # Car 1 stands still, is hidden 0.6 s at t=8 and reappears as track 2 (same place): one 20 s stop, not two.
    objs = [Obj(1, "car", still(500, 400, t1=8.0)), Obj(2, "car", still(500, 400, t0=8.6))]
    frames = run(objs, 30, types=["stopped_vehicle"])
    assert first_time(frames, "stopped_vehicle") <= 22.0
    assert keys(frames, "stopped_vehicle") == {"track:2"}


def test_stopped_vehicle_camera_override() -> None:
    objs = [Obj(1, "car", still(500, 400))]
    cam = camera(overrides={"stopped_vehicle": {"min_stopped_s": 5.0}})
    assert first_time(run(objs, 10, cam=cam, types=["stopped_vehicle"]), "stopped_vehicle") <= 7.0
    # Overrides of another camera do not leak into this one.
    assert first_time(run(objs, 10, types=["stopped_vehicle"]), "stopped_vehicle") is None


def test_two_stopped_vehicles_two_keys() -> None:
    objs = [Obj(1, "car", still(300, 400)), Obj(2, "car", still(700, 450))]
    assert keys(run(objs, 25, types=["stopped_vehicle"]), "stopped_vehicle") == {"track:1", "track:2"}


# Lane direction is +x. (case, object, expected wrong-way)
WRONG_WAY_CASES = [
    ("along the lane", Obj(1, "car", moving(100, 400, 200)), False),
    ("reversed", Obj(1, "car", moving(900, 400, -200)), True),
    ("reversed, diagonal within angle", Obj(1, "car", moving(900, 260, -200, 60)), True),
    ("crossing the road", Obj(1, "car", moving(500, 260, 0, 80)), False),
    ("reversing slowly a short way", Obj(1, "car", moving(500, 400, -20, t1=6.0)), False),
    ("stopped", Obj(1, "car", still(500, 400)), False),
    ("pedestrian walking against traffic", Obj(1, "person", moving(900, 400, -60, w=30, h=80)), False),
    ("reversed on the sidewalk", Obj(1, "car", moving(900, 200, -200)), False),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in WRONG_WAY_CASES], ids=[c[0] for c in WRONG_WAY_CASES])
def test_wrong_way(obj, expected) -> None:
    frames = run([obj], 6, types=["wrong_way"])
    assert (first_time(frames, "wrong_way") is not None) is expected


def test_wrong_way_needs_min_travel_and_fires_in_time() -> None:
    # 200 px/s with a ~139 px diagonal: 1.5 lengths after ~1.04 s, window half-covered after 1.5 s.
    frames = run([Obj(1, "car", moving(900, 400, -200))], 4, types=["wrong_way"])
    assert first_time(frames, "wrong_way") == pytest.approx(1.6, abs=0.01)
    rules = RulesConfig().merged({"wrong_way": {"min_travel": 4.0}})
    assert first_time(run([Obj(1, "car", moving(900, 400, -200))], 4, rules=rules), "wrong_way") >= 2.8


FULL_ROAD = ZoneConfig(id="all", kind="roadway", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)], direction=(1, 0))


@pytest.mark.parametrize(
    ("angle_deg", "max_angle_deg", "expected"),
    [
        (0, 60, True),
        (30, 60, True),
        (55, 60, True),
        (65, 60, False),
        (90, 60, False),
        (180, 60, False),
        (37, 20, False),
    ],
)
def test_wrong_way_angle(angle_deg, max_angle_deg, expected) -> None:
    """Motion at ``angle_deg`` from the reverse lane direction, 200 px/s, on a road covering the frame."""
    a = np.radians(angle_deg)
    obj = Obj(1, "car", moving(500, 150, -200 * np.cos(a), 200 * np.sin(a), w=60, h=35))
    cam = camera(zones=[FULL_ROAD], overrides={"wrong_way": {"max_angle_deg": max_angle_deg}})
    assert (first_time(run([obj], 2.4, cam=cam, types=["wrong_way"]), "wrong_way") is not None) is expected


def test_wrong_way_each_lane_its_own_direction() -> None:
    up = ZoneConfig(id="up", kind="roadway", polygon=[(0, 0.5), (1, 0.5), (1, 0.75), (0, 0.75)], direction=(-1, 0))
    down = ZoneConfig(id="down", kind="roadway", polygon=[(0, 0.75), (1, 0.75), (1, 1), (0, 1)], direction=(1, 0))
    objs = [
        Obj(1, "car", moving(900, 330, -200)),  # correct in "up"
        Obj(2, "car", moving(100, 460, 200)),  # correct in "down"
        Obj(3, "car", moving(100, 340, 200)),  # wrong in "up"
    ]
    frames = run(objs, 4, cam=camera(zones=[up, down, SIDEWALK]), types=["wrong_way"])
    assert keys(frames, "wrong_way") == {"track:3"}
    assert all(s.details["zone"] == "up" for _, sig in frames for s in sig)


def test_wrong_way_not_built_without_lane_direction() -> None:
    undirected = ROADWAY.model_copy(update={"direction": None})
    frames = run([Obj(1, "car", moving(900, 400, -200))], 4, cam=camera(zones=[undirected]))
    assert first_time(frames, "wrong_way") is None


def stationary_at(box, since: float):
    """The stationary-object cue's output: one object at ``box`` seen since ``since``."""
    from vigil.core.detections import Detections

    def f(t: float) -> Detections:
        if t < since:
            return Detections.empty()
        return Detections(
            np.array([box], np.float32),
            [0.5],
            [0],
            tracker_id=np.array([7], np.int64),
            data={"label": np.array(["object"], dtype=object), "static_s": np.array([t - since], np.float32)},
        )

    return f


def run_with_stationary(objs, duration, stationary, cam=None):
    from tests.rules.scene import DT, FPS, H, W, detections_at
    from vigil.rules.engine import CameraRules

    engine = CameraRules(cam or camera(), RulesConfig())
    out = []
    for k in range(round(duration * FPS) + 1):
        t = round(k * DT, 6)
        sig = engine.update(t, W, H, detections_at(objs, t), None, stationary(t))
        sig = [s for s in sig if s.type == "stopped_vehicle"]
        out.append((t, sig))
    return out


def test_an_unclassified_stationary_object_on_the_roadway_is_a_stopped_vehicle_after_min_stopped_s():
    frames = run_with_stationary([], 30.0, stationary_at((600, 390, 610, 398), since=2.0))
    t = first_time(frames, "stopped_vehicle")
    assert t is not None and 21.8 <= t <= 22.4
    (signal,) = frames[-1][1]
    assert signal.key == "object:7" and signal.details["cue"] == "stationary"


def test_a_stationary_object_off_the_carriageway_or_under_a_tracked_car_is_not_reported():
    off_road = stationary_at((600, 200, 610, 208), since=0.0)  # on the sidewalk (y < 250)
    assert first_time(run_with_stationary([], 30.0, off_road), "stopped_vehicle") is None
    under = stationary_at((560, 350, 640, 400), since=0.0)
    car = Obj(1, "car", still(600, 400, 120, 70), conf=0.9)
    frames = run_with_stationary([car], 30.0, under)
    assert keys(frames, "stopped_vehicle") == {"track:1"}  # the track decides, once
