"""Collision, fire/smoke and congestion rules."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.scene import Obj, camera, first_time, keys, moving, piecewise, run, still
from vigil.config.rules import RulesConfig
from vigil.core.detections import Detections


def drive_then_stop(x0: float, bottom: float, v: float, t_stop: float, w: float = 120, h: float = 70):
    """Drives right at ``v`` px/s from x0 and stops dead at ``t_stop``."""
    return piecewise((0, t_stop, moving(x0, bottom, v, w=w, h=h)), (t_stop, 1e9, still(x0 + v * t_stop, bottom, w, h)))


def braking(x0: float, bottom: float, v: float, t_brake: float, brake_s: float):
    """Drives at ``v`` then brakes linearly to a stop over ``brake_s``."""

    def f(t: float):
        tau = min(max(t - t_brake, 0.0), brake_s)
        x = x0 + v * min(t, t_brake) + v * (tau - tau * tau / (2 * brake_s))
        return (x - 60, bottom - 70, x + 60, bottom)

    return f


def standing(x: float, t_fall: float | None = None):
    """A person at x (bottom 400), falling (box turns wide) at ``t_fall``."""
    up = still(x, 400, 30, 80)
    if t_fall is None:
        return up
    return piecewise((0, t_fall, up), (t_fall, 1e9, still(x, 400, 80, 30)))


# Car 1 drives right at 200 px/s from x=100; contact with an object at x=500 around t=1.6..1.8.
COLLISION_CASES = [
    (
        "pedestrian knocked down, car drives on",
        [Obj(1, "car", moving(100, 400, 200)), Obj(2, "person", standing(500, 2.2))],
        "fall",
    ),
    (
        "rear-end: car stops dead against a stopped car",
        [Obj(1, "car", drive_then_stop(100, 400, 200, 1.8)), Obj(2, "car", still(500, 400))],
        "abrupt_stop",
    ),
    (
        "car hits pedestrian and brakes hard",
        [Obj(1, "car", drive_then_stop(100, 400, 200, 1.9)), Obj(2, "person", standing(500))],
        "abrupt_stop",
    ),
    (
        "bicycle crashes into a parked car",
        [Obj(1, "bicycle", drive_then_stop(100, 400, 150, 2.4, w=60, h=50)), Obj(2, "car", still(500, 400))],
        "abrupt_stop",
    ),
    (
        "passing a parked car (adjacent lane overlap)",
        [Obj(1, "car", moving(100, 400, 200)), Obj(2, "car", still(500, 400))],
        None,
    ),
    ("passing a pedestrian on the kerb", [Obj(1, "car", moving(100, 400, 200)), Obj(2, "person", standing(500))], None),
    (
        "gentle braking in traffic",
        [Obj(1, "car", braking(100, 400, 200, 1.6, 4.0)), Obj(2, "car", still(500, 400))],
        None,
    ),
    (
        "stops long after the contact",
        [Obj(1, "car", drive_then_stop(100, 400, 200, 4.5)), Obj(2, "car", still(500, 400))],
        None,
    ),
    ("two parked cars touching", [Obj(1, "car", still(450, 400)), Obj(2, "car", still(520, 400))], None),
    (
        "pedestrian walks behind a parked car and waits",
        [
            Obj(1, "car", still(500, 400)),
            Obj(
                2, "person", piecewise((0, 2.0, moving(300, 400, 100, w=30, h=80)), (2.0, 99, still(500, 400, 30, 80)))
            ),
        ],
        None,
    ),
    (
        "motorcycle rider brakes hard at a light",
        [
            Obj(1, "motorcycle", drive_then_stop(100, 400, 200, 2.0, w=60, h=50)),
            Obj(
                2,
                "person",
                lambda t: (lambda b: (b[0] + 10, b[1] - 40, b[2] - 10, b[3] - 10) if b else None)(
                    drive_then_stop(100, 400, 200, 2.0, w=60, h=50)(t)
                ),
            ),
        ],
        None,
    ),
    # The occupant is only detected from t=1: a contact "born" with a new track is no event.
    (
        "occupant seen through the windscreen, car brakes hard",
        [
            Obj(1, "car", drive_then_stop(100, 400, 200, 2.0)),
            Obj(
                2,
                "person",
                lambda t: (
                    None
                    if t < 1.0
                    else (lambda b: (b[0] + 40, b[1] + 5, b[0] + 70, b[1] + 60))(drive_then_stop(100, 400, 200, 2.0)(t))
                ),
            ),
        ],
        None,
    ),
    ("person falls alone", [Obj(2, "person", standing(500, 2.2))], None),
]


@pytest.mark.parametrize(("objs", "cause"), [c[1:] for c in COLLISION_CASES], ids=[c[0] for c in COLLISION_CASES])
def test_collision(objs, cause) -> None:
    frames = run(objs, 5, types=["collision"])
    signals = [s for _, sig in frames for s in sig]
    if cause is None:
        assert signals == []
    else:
        assert signals and {s.details["cause"] for s in signals} == {cause}
        assert {s.key for s in signals} == {"pair:1-2"}
        assert first_time(frames, "collision") <= 3.0
        assert signals[0].severity == 5


def test_collision_signalled_while_the_fallen_person_stays_down() -> None:
    objs = [Obj(1, "car", moving(100, 400, 200, t1=3.5)), Obj(2, "person", standing(500, 2.2))]
    frames = run(objs, 8, types=["collision"])
    times = [t for t, sig in frames if sig]
    assert times[0] == pytest.approx(2.2) and times[-1] == pytest.approx(8.0)
    # Union box of both while both are seen, the person's alone after the car left.
    (s,) = frames[-1][1]
    assert s.bbox == pytest.approx((460.0, 370.0, 540.0, 400.0))


def test_collision_window_override() -> None:
    objs = [Obj(1, "car", braking(100, 400, 200, 1.6, 4.0)), Obj(2, "car", still(500, 400))]
    assert first_time(run(objs, 8, types=["collision"]), "collision") is None
    cam = camera(overrides={"collision": {"window_s": 4.0}})
    assert first_time(run(objs, 8, cam=cam, types=["collision"]), "collision") is not None


def flames(scores: dict[str, list[tuple[tuple[float, float, float, float], float]]]):
    rows = [(label, b, s) for label, items in scores.items() for b, s in items]

    def f(_t: float) -> Detections:
        return Detections(
            np.array([b for _, b, _ in rows], np.float32).reshape(-1, 4),
            np.array([s for _, _, s in rows], np.float32),
            np.zeros(len(rows)),
            data={"label": np.array([label for label, _, _ in rows], dtype=str)},
        )

    return f


@pytest.mark.parametrize(
    ("detections", "expected"),
    [
        ({}, {}),
        ({"fire": [((10, 10, 20, 20), 0.4)]}, {}),  # below min_score
        ({"fire": [((10, 10, 20, 20), 0.9), ((30, 5, 40, 15), 0.6)]}, {"fire": ((10, 5, 40, 20), 0.9)}),
        ({"fire": [((10, 10, 20, 20), 0.9), ((30, 5, 40, 15), 0.3)]}, {"fire": ((10, 10, 20, 20), 0.9)}),
        (
            {"fire": [((10, 10, 20, 20), 0.7)], "smoke": [((0, 0, 50, 30), 0.55), ((60, 0, 90, 20), 0.8)]},
            {"fire": ((10, 10, 20, 20), 0.7), "smoke": ((0, 0, 90, 30), 0.8)},
        ),
        ({"steam": [((10, 10, 20, 20), 0.9)]}, {}),
    ],
)
def test_fire_and_smoke(detections, expected) -> None:
    frames = run([], 0.2, fire=flames(detections), cam=camera(zones=[]))
    for _, signals in frames:
        got = {s.type: (s.bbox, s.confidence) for s in signals}
        assert set(got) == set(expected)
        for label, (bbox, conf) in expected.items():
            assert got[label][0] == pytest.approx(bbox) and got[label][1] == pytest.approx(conf)
        assert all(s.key == s.type for s in signals)


def test_fire_min_score_override() -> None:
    fire = flames({"fire": [((10, 10, 20, 20), 0.4)]})
    cam = camera(overrides={"fire": {"min_score": 0.3}})
    assert first_time(run([], 0.2, fire=fire, cam=cam), "fire") == 0.0


def queue(n: int, v: float, bottom: float = 450, spacing: float = 90) -> list[Obj]:
    return [Obj(10 + i, "car", moving(60 + spacing * i, bottom, v, w=80, h=50)) for i in range(n)]


# min_vehicles 8, max_mean_speed 0.3 lengths/s (~28 px/s for an 80x50 box), min_duration_s 10.
CONGESTION_CASES = [
    ("jam", queue(10, 5.0), 15, (10.0, 12.0)),
    ("dense but flowing", queue(10, 80.0, spacing=95), 15, None),
    ("slow but few", queue(5, 5.0), 15, None),
    ("jam too short", queue(10, 5.0), 8, None),
    ("stopped queue on the sidewalk", queue(10, 0.0, bottom=200), 15, None),
]


@pytest.mark.parametrize(
    ("objs", "duration", "expected"), [c[1:] for c in CONGESTION_CASES], ids=[c[0] for c in CONGESTION_CASES]
)
def test_congestion(objs, duration, expected) -> None:
    frames = run(objs, duration, types=["congestion"])
    t = first_time(frames, "congestion")
    if expected is None:
        assert t is None
    else:
        assert expected[0] <= t <= expected[1]
        assert keys(frames, "congestion") == {"zone:road"}


def test_congestion_survives_a_flickering_count() -> None:
    # One of 8 cars is missed every 5th frame: the count dips under min_vehicles for one frame at a time.
    objs = [*queue(7, 5.0), Obj(99, "car", lambda t: None if round(t * 5) % 5 == 0 else (650, 400, 730, 450))]
    t = first_time(run(objs, 15, types=["congestion"]), "congestion")
    assert t is not None and t <= 12.0


def test_congestion_override() -> None:
    rules = RulesConfig().merged({"congestion": {"min_vehicles": 4, "min_duration_s": 2}})
    assert first_time(run(queue(5, 5.0), 5, rules=rules, types=["congestion"]), "congestion") <= 4.0
