"""Tracker behaviour on synthetic scenes, plus ID switches on PETS09-S2L1 with NanoDet."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from vigil.core import Detections
from vigil.core.boxes import iou_matrix
from vigil.tracking import Tracker, TrackerConfig
from vigil.tracking.assignment import linear_assignment

PERSON, CAR = 0, 2

# One object in one frame: (name, xyxy, score, class_id). A scene is a list of (pts, objects).
Obj = tuple[str, Sequence[float], float, int]
Scene = list[tuple[float, list[Obj]]]


def box_at(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def make_detections(objs: list[Obj]) -> Detections:
    if not objs:
        return Detections.empty().with_data(name=np.zeros(0, dtype="<U8"))
    return Detections(
        np.array([o[1] for o in objs], dtype=np.float32),
        np.array([o[2] for o in objs]),
        np.array([o[3] for o in objs]),
        data={"name": np.array([o[0] for o in objs])},
    )


def run(scene: Scene, config: TrackerConfig | None = None, tracker: Tracker | None = None) -> dict[str, list[int]]:
    """Feed a scene; returns, per object name, the ids it was reported with (in frame order)."""
    tracker = tracker or Tracker(config)
    ids: dict[str, list[int]] = {}
    for pts, objs in scene:
        out = tracker.update(make_detections(objs), pts)
        for name, tid in zip(out.data["name"], out.tracker_id, strict=True):
            ids.setdefault(str(name), []).append(int(tid))
    return ids


def walk(
    name: str, start: tuple[float, float], velocity: tuple[float, float], times: Sequence[float], score: float = 0.9
) -> dict[float, Obj]:
    """An object moving at constant velocity (pixels per second), sampled at ``times``."""
    return {t: (name, box_at(start[0] + velocity[0] * t, start[1] + velocity[1] * t), score, PERSON) for t in times}


def merge(times: Sequence[float], *tracks: dict[float, Obj]) -> Scene:
    return [(t, [tr[t] for tr in tracks if t in tr]) for t in times]


def frames(fps: float, seconds: float, start: float = 0.0) -> list[float]:
    return [round(start + i / fps, 6) for i in range(round(seconds * fps))]


# --- crossing paths -------------------------------------------------------------------------------------------------


def crossing_diagonal(fps: float) -> Scene:
    times = frames(fps, 4.0)
    return merge(times, walk("a", (100, 200), (80, 15), times), walk("b", (420, 230), (-80, -15), times))


def crossing_hidden(fps: float) -> Scene:
    """b walks behind a on the same line and is not detected while they overlap."""
    times = frames(fps, 4.0)
    a = walk("a", (100, 200), (80, 0), times)
    b = {t: o for t, o in walk("b", (420, 205), (-80, 0), times).items() if abs((100 + 80 * t) - (420 - 80 * t)) > 30}
    return merge(times, a, b)


def crossing_skipped_frames(fps: float) -> Scene:
    """Irregular pts, as after motion gating: random gaps of 1 to 4 frame intervals."""
    rng = np.random.default_rng(3)
    times = [0.0]
    while times[-1] < 4.0:
        times.append(round(times[-1] + int(rng.integers(1, 5)) / fps, 6))
    return merge(times, walk("a", (100, 200), (80, 10), times), walk("b", (420, 230), (-80, -10), times))


@pytest.mark.parametrize("fps", [5.0, 10.0, 25.0])
@pytest.mark.parametrize("scene", [crossing_diagonal, crossing_hidden, crossing_skipped_frames])
def test_crossing_objects_keep_their_ids(scene: Callable[[float], Scene], fps: float) -> None:
    ids = run(scene(fps))
    assert set(ids) == {"a", "b"}
    assert len(set(ids["a"])) == 1, ids["a"]
    assert len(set(ids["b"])) == 1, ids["b"]
    assert ids["a"][0] != ids["b"][0]


# --- occlusion and the lost-track buffer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fps", "gap_s", "velocity", "same_id"),
    [
        (10.0, 1.0, (60.0, 0.0), True),  # occluded 1 s within the 2 s buffer while moving
        (25.0, 1.0, (0.0, 40.0), True),
        (5.0, 1.0, (60.0, 20.0), True),
        (10.0, 1.8, (0.0, 0.0), True),
        (10.0, 3.0, (0.0, 0.0), False),  # beyond the buffer: a new id even though it reappears in place
        (25.0, 2.5, (0.0, 0.0), False),
    ],
)
def test_occlusion_and_buffer(fps: float, gap_s: float, velocity: tuple[float, float], same_id: bool) -> None:
    times = frames(fps, 2.0 + gap_s + 1.0)
    obj = walk("a", (150, 200), velocity, times)
    hidden = {t for t in times if 2.0 <= t < 2.0 + gap_s - 1e-9}
    ids = run(merge(times, {t: o for t, o in obj.items() if t not in hidden}))
    before = {i for i in ids["a"][: int(2.0 * fps) - 1]}
    after = {i for i in ids["a"][int(2.0 * fps) - 1 :]}
    assert len(before) == 1 and len(after) == 1
    assert (before == after) is same_id, (before, after)


def test_buffer_is_in_seconds_not_frames() -> None:
    cfg = TrackerConfig(track_buffer_s=0.5)
    for fps in (5.0, 30.0):
        times = frames(fps, 3.0)
        obj = walk("a", (150, 200), (0, 0), times)
        within = run(merge(times, {t: o for t, o in obj.items() if not 1.0 < t < 1.4}), cfg)
        beyond = run(merge(times, {t: o for t, o in obj.items() if not 1.0 < t < 1.7}), cfg)
        assert set(within["a"]) == {1}, fps
        assert set(beyond["a"]) == {1, 2}, fps


def test_long_gap_without_frames_keeps_still_objects() -> None:
    """A motion gate may skip a quiet scene for a minute: a car that just parked keeps its id.

    Its velocity estimate still lags behind the stop; extrapolated over the whole minute it would carry the box
    far off the car.
    """
    times = frames(10.0, 2.0)
    x = [100 + 100 * min(t, 1.5) for t in times]  # drives at 100 px/s, stops at 1.5 s
    scene: Scene = [(t, [("car", box_at(cx, 300, 120, 70), 0.9, CAR)]) for t, cx in zip(times, x, strict=True)]
    scene += [(round(62.0 + t, 6), [("car", box_at(x[-1], 300, 120, 70), 0.9, CAR)]) for t in times[:5]]
    assert set(run(scene)["car"]) == {1}


# --- ByteTrack's two stages and track birth ---------------------------------------------------------------------------


@pytest.mark.parametrize(("low_threshold", "kept"), [(0.1, True), (0.4, False)])
def test_low_score_detections_keep_track_alive(low_threshold: float, kept: bool) -> None:
    times = frames(10.0, 6.0)
    obj = walk("a", (150, 200), (30, 0), times)
    weak = {t: (n, b, 0.3 if 1.0 <= t < 4.0 else 0.9, c) for t, (n, b, _, c) in obj.items()}
    ids = run(merge(times, weak), TrackerConfig(low_threshold=low_threshold))
    if kept:
        assert set(ids["a"]) == {1}
        assert len(ids["a"]) == len(times) - 1  # reported in every frame after confirmation, weak ones too
    else:
        assert set(ids["a"]) == {1, 2}  # 3 s of weak boxes ignored: the track expired


def test_low_score_detection_never_starts_a_track() -> None:
    times = frames(10.0, 2.0)
    assert run(merge(times, walk("a", (150, 200), (30, 0), times, score=0.4))) == {}


@pytest.mark.parametrize(("score", "tracked"), [(0.55, False), (0.59, False), (0.6, True), (0.9, True)])
def test_new_track_threshold(score: float, tracked: bool) -> None:
    times = frames(10.0, 2.0)
    ids = run(merge(times, walk("a", (150, 200), (30, 0), times, score=score)))
    assert ("a" in ids) is tracked


def test_weak_high_detection_continues_existing_track() -> None:
    """0.55 is below the birth threshold but above the high one: it continues a track, it cannot start one."""
    times = frames(10.0, 3.0)
    obj = walk("a", (150, 200), (30, 0), times)
    ids = run(merge(times, {t: (n, b, 0.9 if t < 1.0 else 0.55, c) for t, (n, b, _, c) in obj.items()}))
    assert set(ids["a"]) == {1} and len(ids["a"]) == len(times) - 1


@pytest.mark.parametrize(("min_hits", "first_reported_frame"), [(1, 0), (2, 1), (4, 3)])
def test_min_hits(min_hits: int, first_reported_frame: int) -> None:
    tracker = Tracker(TrackerConfig(min_hits=min_hits))
    times = frames(10.0, 1.0)
    obj = walk("a", (150, 200), (30, 0), times)
    reported = [len(tracker.update(make_detections([obj[t]]), t)) for t in times]
    assert reported == [0] * first_reported_frame + [1] * (len(times) - first_reported_frame)


def test_tentative_track_missing_a_frame_is_dropped() -> None:
    scene: Scene = [
        (0.0, [("a", box_at(100, 100), 0.9, PERSON)]),
        (0.1, []),
        (0.2, [("a", box_at(100, 100), 0.9, PERSON)]),
    ]
    scene.append((0.3, [("a", box_at(100, 100), 0.9, PERSON)]))
    assert run(scene) == {"a": [1]}  # born again at 0.2, confirmed at 0.3, still id 1 (tentative tracks use no id)


def _small_fast_car(times: Sequence[float], start: tuple[float, float], speed: float) -> dict[float, Obj]:
    """A 20x12 px car at ``speed`` px/s: at 5 fps it moves 2 box lengths between frames, never overlapping itself."""
    return {t: ("car", box_at(start[0] + speed * t, start[1], 20.0, 12.0), 0.6, CAR) for t in times}


def _labelled(scene: Scene) -> list[tuple[float, Detections]]:
    """The scene's detections with COCO labels (``name`` is the label), so that class groups apply."""
    out = []
    for pts, objs in scene:
        d = make_detections(objs)
        out.append((pts, d.with_data(label=np.array([o[0] for o in objs], dtype="<U16"))))
    return out


def _run_labelled(scene: Scene, config: TrackerConfig) -> dict[str, list[int]]:
    tracker, ids = Tracker(config), {}
    for pts, d in _labelled(scene):
        out = tracker.update(d, pts)
        for name, tid in zip(out.data["name"], out.tracker_id, strict=True):
            ids.setdefault(str(name), []).append(int(tid))
    return ids


@pytest.mark.parametrize(("distance", "tracked"), [(0.0, False), (2.5, True)])
def test_small_fast_object_is_tracked_by_distance(distance: float, tracked: bool) -> None:
    """Its first two sightings do not overlap; matched by distance, it is tracked from the second frame on."""
    times = frames(5.0, 2.0)
    scene = merge(times, _small_fast_car(times, (20, 100), 150.0))
    ids = _run_labelled(scene, TrackerConfig(tentative_match_distance=distance))
    assert ("car" in ids) is tracked
    if tracked:
        assert set(ids["car"]) == {1} and len(ids["car"]) == len(times) - 1


def test_distance_match_needs_a_similar_size_and_the_same_group() -> None:
    """A far larger box nearby, or a motorcycle where the car was, does not continue a tentative car."""
    cfg = TrackerConfig(tentative_match_distance=2.5, min_hits=2)
    car = ("car", box_at(100, 100, 20.0, 12.0), 0.9, CAR)
    bigger: Scene = [(0.0, [car]), (0.2, [("car", box_at(140, 100, 60.0, 36.0), 0.9, CAR)])]
    assert _run_labelled(bigger, cfg) == {}
    other: Scene = [(0.0, [car]), (0.2, [("motorcycle", box_at(140, 100, 20.0, 12.0), 0.9, 3)])]
    assert _run_labelled(other, cfg) == {}


def test_people_are_never_matched_by_distance() -> None:
    """Walkers cover a fraction of their width per frame: a person 2 widths away is a neighbour, not the same one."""
    cfg = TrackerConfig(tentative_match_distance=2.5, min_hits=2)
    scene: Scene = [
        (0.0, [("person", box_at(100, 100), 0.9, PERSON)]),
        (0.2, [("person", box_at(180, 100), 0.9, PERSON)]),
    ]
    assert _run_labelled(scene, cfg) == {}
    assert _run_labelled(scene, cfg.model_copy(update={"distance_match_groups": ("person",)})) == {"person": [1]}


def test_distance_match_takes_the_velocity_of_the_two_sightings() -> None:
    """Once confirmed by distance, the Kalman prediction follows the car: it keeps one id by overlap."""
    tracker = Tracker(TrackerConfig(tentative_match_distance=2.5))
    times = frames(5.0, 1.2)
    car = _small_fast_car(times, (20, 100), 150.0)
    out = [tracker.update(d, t) for t, d in _labelled([(t, [car[t]]) for t in times])]
    assert np.allclose(out[1].data["velocity"][0], (150.0, 0.0), atol=1.0)
    assert [list(o.tracker_id) for o in out[1:]] == [[1]] * (len(times) - 1)


@pytest.mark.parametrize(("patience", "tracked"), [(0.0, False), (0.3, True)])
def test_fast_road_user_seen_every_other_frame_is_confirmed(patience: float, tracked: bool) -> None:
    """A motorcycle the detector finds in alternate analysed frames becomes a track, with the speed it has."""
    times = frames(5.0, 2.0)
    bike = {t: ("motorcycle", box_at(20 + 100.0 * t, 100, 24.0, 20.0), 0.6, 3) for t in times}
    scene: Scene = [(t, [bike[t]] if i % 2 == 0 else []) for i, t in enumerate(times)]
    tracker = Tracker(TrackerConfig(tentative_miss_s=patience))
    outs = [tracker.update(d, t) for t, d in _labelled(scene)]
    seen = [o for o in outs if len(o)]
    assert bool(seen) is tracked
    if tracked:
        assert {int(o.tracker_id[0]) for o in seen} == {1}
        assert np.allclose(seen[0].data["velocity"][0], (100.0, 0.0), atol=1.0)  # over 0.4 s, not the 0.2 s step


def test_a_person_seen_every_other_frame_is_not_confirmed() -> None:
    """People keep the strict rule: a flickering false 'person' in a crowd must not become a track."""
    times = frames(5.0, 2.0)
    scene: Scene = [
        (t, [("person", box_at(100, 100), 0.9, PERSON)] if i % 2 == 0 else []) for i, t in enumerate(times)
    ]
    assert _run_labelled(scene, TrackerConfig(tentative_miss_s=0.3)) == {}


@pytest.mark.parametrize(("distance", "one_id"), [(0.0, False), (1.0, True)])
def test_running_small_car_that_speeds_up_keeps_its_track(distance: float, one_id: bool) -> None:
    """A 20x12 px car that speeds up lands off its prediction: under the IoU gate, but within one box size."""
    times = frames(5.0, 2.0)
    x, pos = 20.0, {}
    for t in times:
        pos[t] = ("car", box_at(x, 100, 20.0, 12.0), 0.9, CAR)
        x += 30.0 if t < 0.9 else 44.0  # 150 px/s, then 220 px/s
    ids = _run_labelled(merge(times, pos), TrackerConfig(running_match_distance=distance, tentative_miss_s=0.0))
    assert set(ids["car"]) == {1}
    assert (len(ids["car"]) == len(times) - 1) is one_id  # followed in every frame after the first, or lost


def test_a_running_person_is_never_taken_by_distance() -> None:
    """In a crowd the nearest other walker is a box width away: a person's track only continues by overlap."""
    scene: Scene = [(t, [("person", box_at(100, 100), 0.9, PERSON)]) for t in (0.0, 0.2, 0.4)]
    scene.append((0.6, [("person", box_at(135, 100), 0.9, PERSON)]))  # 35 px over: IoU 0.03, 0.55 box sizes
    ids = _run_labelled(scene, TrackerConfig(running_match_distance=1.0, tentative_miss_s=0.3))
    assert ids == {"person": [1, 1]}  # confirmed at 0.2, kept at 0.4; the box at 0.6 is a new tentative track


def test_a_coasting_track_does_not_take_a_running_tracks_detection() -> None:
    """A car speeding up lands 20 px past its prediction (IoU 0.33 with it), onto the place of a car missed for
    two frames (IoU 0.78 with that one's coasting box). By overlap alone the coasting track took it and the fast
    car's track was lost (the striker of a junction crash, at 2 of 5 sampling phases); the cascade lets the
    track seen in the last frame choose first."""
    times = frames(5.0, 1.2)
    x = {t: 100 + 100 * t if t < 0.7 else 200 + 200 * (t - 0.8) for t in times}  # +40 px from 0.6 to 0.8 s
    fast = {t: ("fast", box_at(x[t], 100, 40, 30), 0.9, CAR) for t in times}
    slow = {t: ("slow", box_at(205, 100, 40, 30), 0.9, CAR) for t in times if t < 0.5}
    ids = run(merge(times, fast, slow), TrackerConfig())
    assert len(set(ids["fast"])) == 1 and len(ids["fast"]) == len(times) - 1

# --- ids are per tracker ----------------------------------------------------------------------------------------------


def test_two_trackers_have_independent_ids_starting_at_1() -> None:
    times = frames(10.0, 1.0)
    crowd = merge(times, *(walk(f"p{k}", (100 + 80 * k, 200), (10, 0), times) for k in range(3)))
    cam_a, cam_b = Tracker(), Tracker()
    ids_a = run(crowd, tracker=cam_a)
    ids_b = run(merge(times, walk("q", (300, 300), (0, 10), times)), tracker=cam_b)
    assert sorted(i[0] for i in ids_a.values()) == [1, 2, 3]
    assert ids_b == {"q": [1] * (len(times) - 1)}
    assert run(crowd, tracker=Tracker()) == ids_a
    cam_a.reset()
    assert run(merge(times, walk("r", (50, 50), (0, 0), times)), tracker=cam_a)["r"][0] == 1


# --- classes ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("class_aware", "inherits"), [(True, False), (False, True)])
def test_car_does_not_inherit_person_track(class_aware: bool, inherits: bool) -> None:
    times = frames(10.0, 2.0)
    scene = [
        (t, [("person" if t < 1.0 else "car", box_at(200, 200, 60, 90), 0.9, PERSON if t < 1.0 else CAR)])
        for t in times
    ]
    ids = run(scene, TrackerConfig(class_aware=class_aware))
    assert set(ids["person"]) == {1}
    assert (set(ids["car"]) == {1}) is inherits
    if not inherits:
        assert set(ids["car"]) == {2}


# --- the output and the input -----------------------------------------------------------------------------------------


def test_output_rows_columns_and_velocity() -> None:
    tracker = Tracker()
    vx, vy = 50.0, -20.0
    for t in frames(10.0, 3.0):
        dets = Detections(
            np.array([box_at(100 + vx * t, 300 + vy * t), [0, 0, 5, 5], box_at(400, 100)], dtype=np.float32),
            np.array([0.9, 0.05, 0.8]),
            np.array([PERSON, PERSON, CAR]),
            data={"label": np.array(["person", "person", "car"]), "extra": np.array([[1, 2], [3, 4], [5, 6]])},
        )
        out = tracker.update(dets, t)
    assert out.tracker_id is not None and out.tracker_id.dtype == np.int64
    np.testing.assert_array_equal(out.xyxy, dets.xyxy[[0, 2]])  # detector boxes, not the prediction, input order
    np.testing.assert_array_equal(out.data["label"], ["person", "car"])
    np.testing.assert_array_equal(out.data["extra"], [[1, 2], [5, 6]])
    assert out.data["velocity"].dtype == np.float32 and out.data["velocity"].shape == (2, 2)
    np.testing.assert_allclose(out.data["velocity"][0], [vx, vy], atol=3.0)
    np.testing.assert_allclose(out.data["velocity"][1], [0, 0], atol=1.0)


def test_input_detections_not_mutated() -> None:
    tracker = Tracker()
    for t in frames(10.0, 1.0):
        dets = Detections(
            np.array([box_at(100 + 30 * t, 200), box_at(300, 200)], dtype=np.float32),
            np.array([0.9, 0.3]),
            np.array([PERSON, CAR]),
            tracker_id=np.array([77, 78]),
            data={"label": np.array(["person", "car"])},
        )
        before = copy.deepcopy(dets)
        out = tracker.update(dets, t)
        for name in ("xyxy", "confidence", "class_id", "tracker_id"):
            np.testing.assert_array_equal(getattr(dets, name), getattr(before, name))
        assert set(dets.data) == {"label"}
        np.testing.assert_array_equal(dets.data["label"], before.data["label"])
        assert not np.shares_memory(out.xyxy, dets.xyxy)
    assert out.tracker_id is not None and list(out.tracker_id) == [1]


def test_empty_detections() -> None:
    tracker = Tracker()
    out = tracker.update(Detections.empty(), 0.0)
    assert len(out) == 0 and out.tracker_id is not None and out.data["velocity"].shape == (0, 2)
    for t in (0.1, 0.2, 0.3):
        tracker.update(make_detections([("a", box_at(100, 100), 0.9, PERSON)]), t)
    out = tracker.update(Detections.empty(), 0.4)
    assert len(out) == 0 and out.tracker_id is not None and out.tracker_id.dtype == np.int64
    assert tracker.update(make_detections([("a", box_at(100, 100), 0.9, PERSON)]), 0.5).tracker_id.tolist() == [1]


def test_pts_must_not_go_backwards() -> None:
    tracker = Tracker()
    tracker.update(Detections.empty(), 5.0)
    tracker.update(Detections.empty(), 5.0)  # a repeated pts is allowed (dt = 0)
    with pytest.raises(ValueError, match="backwards"):
        tracker.update(Detections.empty(), 4.9)
    tracker.reset()
    tracker.update(Detections.empty(), 0.0)


def test_config_is_strict() -> None:
    with pytest.raises(ValueError):
        TrackerConfig(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        TrackerConfig(low_threshold=0.6, high_threshold=0.5)
    for name, field in TrackerConfig.model_fields.items():
        assert field.title and field.description, name


# --- real data: PETS09-S2L1 pedestrians with NanoDet ----------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "opencv_vtest"
N_FRAMES = 100


def count_id_switches(gt: dict[int, np.ndarray], tracked: dict[int, Detections]) -> tuple[int, int, int]:
    """ID switches by the CLEAR-MOT rule (Bernardin & Stiefelhagen 2008), with IoU >= 0.5.

    Per frame, a ground-truth object keeps its previous tracker id if that track's box still overlaps it enough;
    the rest are matched one-to-one by IoU. A switch is a ground-truth object matched to another tracker id than at
    its previous match (so a track lost and restarted under a new id counts too).

    Parameters
    ----------
    gt : dict
        1-based frame -> (K, 5) rows ``id, x, y, w, h``.
    tracked : dict
        1-based frame -> the tracker's output.

    Returns
    -------
    tuple
        (id switches, ground-truth objects ever matched, matched ground-truth boxes).
    """
    last: dict[int, int] = {}
    switches = matched_boxes = 0
    for frame, rows in sorted(gt.items()):
        out = tracked.get(frame, Detections.empty())
        if not len(rows) or out.tracker_id is None or not len(out):
            continue
        ids = out.tracker_id
        iou = iou_matrix(np.concatenate([rows[:, 1:3], rows[:, 1:3] + rows[:, 3:5]], axis=1), out.xyxy)
        pairs: list[tuple[int, int]] = []
        for g, gid in enumerate(rows[:, 0].astype(int)):
            kept = np.flatnonzero(ids == last.get(gid, -1))
            if len(kept) and iou[g, kept[0]] >= 0.5:
                pairs.append((g, int(kept[0])))
        free_g = np.setdiff1d(np.arange(len(rows)), [p[0] for p in pairs])
        free_d = np.setdiff1d(np.arange(len(out)), [p[1] for p in pairs])
        matches, _, _ = linear_assignment(1.0 - iou[np.ix_(free_g, free_d)], 0.5)
        pairs += [(int(free_g[g]), int(free_d[d])) for g, d in matches]
        for g, d in pairs:
            gid, tid = int(rows[g, 0]), int(ids[d])
            matched_boxes += 1
            switches += int(gid in last and last[gid] != tid)
            last[gid] = tid
    return switches, len(last), matched_boxes


def test_count_id_switches() -> None:
    """The scorer itself: a swap of ids between two people is two switches, a steady assignment none."""
    gt = {f: np.array([[1, 0, 0, 10, 20], [2, 100, 0, 10, 20]], float) for f in (1, 2, 3)}
    boxes = np.array([[0, 0, 10, 20], [100, 0, 110, 20]], np.float32)

    def out(ids: list[int]) -> Detections:
        return Detections(boxes, [0.9, 0.9], [0, 0], tracker_id=ids)

    assert count_id_switches(gt, {1: out([5, 6]), 2: out([5, 6]), 3: out([5, 6])}) == (0, 2, 6)
    assert count_id_switches(gt, {1: out([5, 6]), 2: out([6, 5]), 3: out([6, 5])}) == (2, 2, 6)
    assert count_id_switches(gt, {1: out([5, 6]), 3: out([7, 6])}) == (1, 2, 4)


@pytest.mark.slow
def test_pets09_id_switches_are_few() -> None:
    video, gt_file = DATA / "vtest.avi", DATA / "vtest_gt_MOT15_PETS09-S2L1.txt"
    if not video.is_file() or not gt_file.is_file():
        pytest.skip(f"{DATA} is not present")
    from vigil.detection.config import ObjectDetectorConfig
    from vigil.detection.nanodet import NanoDet
    from vigil.sources.files import iter_video

    detector = NanoDet(ObjectDetectorConfig(score_threshold=0.1))  # low scores feed ByteTrack's second stage
    tracker = Tracker()
    tracked: dict[int, Detections] = {}
    persons_seen = 0
    for frame in iter_video(video):
        if frame.index >= N_FRAMES:
            break
        dets = detector.detect(frame.image)
        dets = dets[dets.class_id == 0]
        persons_seen += int((dets.confidence >= 0.5).sum())
        tracked[frame.index + 1] = tracker.update(dets, frame.pts)  # MOT frames are 1-based
    # A detector that stopped finding people is a regression to report, not a reason to skip.
    assert persons_seen > 0, "NanoDet found no person (score >= 0.5) in PETS09: the detector is broken"

    table = np.loadtxt(gt_file, delimiter=",")
    table = table[table[:, 0] <= N_FRAMES]
    gt = {int(f): table[table[:, 0] == f][:, 1:6] for f in np.unique(table[:, 0])}
    switches, objects, matched_boxes = count_id_switches(gt, tracked)
    # Frames 18-63 hold three people merging into one group, partly hidden behind each other: motion alone cannot
    # keep every id there. On these detections this tracker makes 5 switches (6 people, 417 matched boxes),
    # supervision 0.26's ByteTrack 7-8, and this tracker without motion prediction 39.
    assert matched_boxes >= 0.65 * len(table), f"tracker covers only {matched_boxes}/{len(table)} ground-truth boxes"
    assert objects >= 5, f"only {objects} ground-truth people were ever tracked"
    assert switches <= 0.025 * matched_boxes, (
        f"{switches} id switches over {matched_boxes} matched boxes ({objects} people)"
    )
