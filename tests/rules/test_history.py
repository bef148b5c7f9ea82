"""Track history: speeds in own lengths/s, id-switch inheritance, dropping."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.scene import DT, Obj, box, detections_at, moving, still
from vigil.rules.history import TrackHistory


def feed(history: TrackHistory, objs: list[Obj], t_end: float, t_start: float = 0.0) -> None:
    for k in range(round((t_end - t_start) / DT) + 1):
        history.update(round(t_start + k * DT, 6), detections_at(objs, round(t_start + k * DT, 6)))


@pytest.mark.parametrize(
    ("vx", "w", "h", "expected"),
    [
        (0.0, 120, 70, 0.0),
        (100.0, 60, 80, 1.0),  # diagonal 100 px, 100 px/s
        (50.0, 30, 40, 1.0),  # half the size, half the pixel speed: same speed in own lengths
        (-300.0, 60, 80, 3.0),
    ],
)
def test_speed_in_own_lengths_per_second(vx, w, h, expected) -> None:
    history = TrackHistory()
    feed(history, [Obj(1, "car", moving(200, 400, vx, w=w, h=h))], 3.0)
    assert history.speed(2.0)[0] == pytest.approx(expected, abs=1e-6)


def test_new_track_speed_unknown_until_min_span() -> None:
    history = TrackHistory()
    feed(history, [Obj(1, "car", moving(200, 400, 100, t0=0.0))], 0.2)
    assert np.isnan(history.speed(2.0, min_span_s=0.5)[0])
    feed(history, [Obj(1, "car", moving(200, 400, 100, t0=0.0))], 0.6, t_start=0.4)
    assert not np.isnan(history.speed(2.0, min_span_s=0.5)[0])


@pytest.mark.parametrize(
    ("new_box", "new_label", "gap_s", "inherits"),
    [
        (box(500, 400, 120, 70), "car", 0.2, True),  # same place, next frame
        (box(505, 402, 118, 70), "car", 1.0, True),  # after a short occlusion
        (box(500, 400, 120, 70), "truck", 0.2, False),  # another kind of object
        (box(800, 400, 120, 70), "car", 0.2, False),  # elsewhere
        (box(500, 400, 120, 70), "car", 2.6, False),  # too late
    ],
)
def test_id_switch_inherits_trajectory(new_box, new_label, gap_s, inherits) -> None:
    history = TrackHistory()
    feed(history, [Obj(1, "car", still(500, 400))], 3.0)
    t = 3.0
    while t + DT < 3.0 + gap_s - 1e-9:  # frames where neither is seen
        t = round(t + DT, 6)
        history.update(t, detections_at([], t))
    t = round(3.0 + gap_s, 6)
    history.update(t, detections_at([Obj(2, new_label, lambda _t: new_box)], t))
    assert (history.inherited == {2: 1}) is inherits
    assert (1 in history) is (not inherits and gap_s <= history.drop_after_s)
    # An inherited trajectory already has a speed; a fresh track does not.
    assert bool(np.isnan(history.speed(2.0)[0])) is (not inherits)


def test_new_track_never_takes_over_a_track_still_seen() -> None:
    # A second car appears half-hidden behind a car that is still tracked: no id switch there.
    history = TrackHistory()
    car = Obj(1, "car", still(500, 400))
    feed(history, [car], 2.0)
    history.update(2.2, detections_at([car, Obj(2, "car", still(520, 395))], 2.2))
    assert history.inherited == {}
    assert 1 in history and 2 in history
    assert bool(np.isnan(history.speed(2.0)[1]))


def test_tracks_dropped_after_absence_and_slots_reused() -> None:
    history = TrackHistory(drop_after_s=1.0)
    feed(history, [Obj(i, "person", still(100 + 50 * i, 300, 20, 50)) for i in range(100)], 0.4)
    assert all(i in history for i in range(100))
    feed(history, [Obj(1000, "person", still(900, 100, 20, 50))], 2.0, t_start=0.6)
    assert not any(i in history for i in range(100)) and 1000 in history
    assert len(history._slot_id) == 128  # grew once from 64, slots reused afterwards


def test_time_going_backwards_resets() -> None:
    history = TrackHistory()
    feed(history, [Obj(1, "car", still(500, 400))], 2.0)
    history.update(0.0, detections_at([Obj(1, "car", still(500, 400))], 0.0))
    assert np.isnan(history.speed(2.0)[0])


def test_growth_is_the_slope_of_log_scale_and_ignores_posture():
    from vigil.core.detections import Detections
    from vigil.rules.history import TrackHistory

    h = TrackHistory(horizon_s=10, fps=5)
    rng = np.random.default_rng(0)
    for k in range(11):  # 2 s: the box doubles in scale (area x4), with 10% jitter on each side
        t = k * 0.2
        s = 2.0 ** (t / 2.0) * (1 + 0.1 * rng.standard_normal())
        box = np.array([[500 - 15 * s, 400 - 80 * s, 500 + 15 * s, 400]], np.float32)
        h.update(t, Detections(box, [0.9], [0], np.array([1], np.int64), {"label": np.array(["person"])}))
    assert np.log(2) / 2 * 0.7 < h.growth(2.0)[0] < np.log(2) / 2 * 1.3
    h2 = TrackHistory(horizon_s=10, fps=5)
    for k in range(11):  # a fall: 30x80 becomes 80x30, the same area
        t = k * 0.2
        box = np.array([[0, 0, 30, 80]] if t < 1.0 else [[0, 50, 80, 80]], np.float32)
        h2.update(t, Detections(box, [0.9], [0], np.array([1], np.int64), {"label": np.array(["person"])}))
    assert abs(h2.growth(2.0)[0]) < 0.05


def test_touched_border_remembers_a_box_at_the_border_within_the_window() -> None:
    """Car 1 touches the right border until 0.4 s, then its box ends 3 px inside; car 2 never comes near it."""

    def leaving(t: float):
        return (880.0, 330.0, 1000.0 if t < 0.5 else 997.0, 400.0)

    history = TrackHistory()
    feed(history, [Obj(1, "car", leaving), Obj(2, "car", still(500, 400))], 1.0)
    assert history.touched_border(1.0, 1000, 500, 2.0).tolist() == [True, False]
    assert history.touched_border(0.4, 1000, 500, 2.0).tolist() == [False, False]


def test_jump_is_the_longest_move_across_a_gap_between_two_sightings() -> None:
    """Car 1 is missed from 0.6 to 1.4 s and re-found 300 px on; car 2 is seen in every frame."""

    def missed(t: float):
        if 0.6 < t < 1.4:
            return None
        return box(100 if t <= 0.6 else 400, 400, 120, 70)

    history = TrackHistory()
    feed(history, [Obj(1, "car", missed), Obj(2, "car", moving(100, 400, 50.0))], 1.6)
    size = np.hypot(120, 70)
    assert history.jump(1.0, 0.5).tolist() == pytest.approx([300 / size, 0.0])  # seen at 0.6, 1.4 and 1.6 s
    assert history.jump(1.0, 0.1).tolist() == pytest.approx([300 / size, 10 / size])  # every frame is a gap
    assert history.jump(0.5, 0.5).tolist() == pytest.approx([0.0, 0.0])  # the gap began before this window
