"""Incident lifecycle: confirmation, updates, ending, id switches, determinism."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from vigil.config.rules import RulesConfig
from vigil.incidents.lifecycle import IncidentTracker
from vigil.incidents.types import IncidentEvent, Signal

DT = 0.2
BOX_A = (100.0, 100.0, 200.0, 200.0)
BOX_B = (600.0, 100.0, 700.0, 200.0)


def sig(key: str = "track:1", bbox=BOX_A, conf: float = 0.8, severity: int = 4, type_: str = "pedestrian") -> Signal:
    return Signal(type=type_, key=key, camera_id="cam", pts=0.0, bbox=bbox, confidence=conf, severity=severity)


def tracker(rules: RulesConfig | None = None, **kw) -> IncidentTracker:
    counter = itertools.count()
    return IncidentTracker("cam", rules, id_factory=lambda: f"id{next(counter)}", wall_clock=lambda: "T", **kw)


def feed(tr: IncidentTracker, frames: Iterable[list[Signal]], t0: float = 0.0) -> list[tuple[float, IncidentEvent]]:
    """Run frames DT apart; returns (pts, event) for every event."""
    out = []
    for k, signals in enumerate(frames):
        pts = round(t0 + k * DT, 6)
        out += [(pts, e) for e in tr.update(pts, signals)]
    return out


def states(events: list[tuple[float, IncidentEvent]]) -> list[str]:
    return [e.state for _, e in events]


@pytest.mark.parametrize(
    ("confirm", "pattern", "new_at_frame"),
    [
        (1, "x", 0),
        (3, "xx", None),
        (3, "xxx", 2),
        (3, "xx.xx.xxx", 8),  # a gap restarts the count
        (5, "xxxx.xxxxx", 9),
        (3, "x.x.x.x.x.x", None),  # flicker never confirms
    ],
)
def test_confirm_frames(confirm, pattern, new_at_frame) -> None:
    rules = RulesConfig().merged({"pedestrian": {"confirm_frames": confirm}})
    events = feed(tracker(rules), ([sig()] if c == "x" else [] for c in pattern))
    news = [(t, e) for t, e in events if e.state == "new"]
    if new_at_frame is None:
        assert news == []
    else:
        ((t, e),) = news
        assert t == pytest.approx(new_at_frame * DT)
        # The incident starts when its confirming run started.
        assert e.start_s == pytest.approx((new_at_frame - confirm + 1) * DT)
        assert e.end_s is None and e.sequence == 0


@pytest.mark.parametrize("end_after_s", [0.0, 1.0, 5.0, 12.0])
def test_end_after_s(end_after_s: float) -> None:
    rules = RulesConfig().merged({"pedestrian": {"end_after_s": end_after_s}})
    tr = tracker(rules)
    events = feed(tr, [[sig()]] * 10 + [[]] * 100)  # signalled 0 .. 1.8 s
    (t_end, end) = next((t, e) for t, e in events if e.state == "end")
    assert t_end == pytest.approx(1.8 + max(end_after_s, DT))
    assert end.end_s == pytest.approx(1.8) and end.start_s == pytest.approx(0.0)
    assert tr.open_incidents == 0


def test_short_gap_does_not_end() -> None:
    events = feed(tracker(), [[sig()]] * 5 + [[]] * 20 + [[sig()]] * 5)  # 4 s gap < 5 s
    assert states(events) == ["new"]


def test_updates_only_on_meaningful_change() -> None:
    tr = tracker()
    frames = (
        [[sig(conf=0.8)]] * 20  # steady
        + [[sig(conf=0.75 + 0.1 * (k % 2))] for k in range(20)]  # detector scores jitter by 0.1
        + [[sig(conf=0.8, severity=5)]] * 5  # escalation
        + [[sig(conf=0.8, severity=4)]] * 5  # severity never drops within an incident
        + [[sig(conf=0.3)]] * 30  # confidence falls for real
    )
    events = feed(tr, frames)
    updates = [(round(t / DT), e) for t, e in events if e.state == "update"]
    assert states(events)[0] == "new"
    # Nothing for the steady part or the jitter; one for the escalation (frame 40); none for the lower severity.
    assert updates[0][0] == 40 and updates[0][1].severity == 5 and updates[0][1].sequence == 1
    # The real fall in confidence is reported in a few steps of > 0.1 as it settles, not once per frame.
    falls = updates[1:]
    assert all(k >= 50 for k, _ in falls) and 1 <= len(falls) <= 5
    assert falls[-1][1].confidence < 0.45 and falls[-1][1].severity == 5


@pytest.mark.parametrize(("heartbeat_s", "expected_updates"), [(30.0, 2), (10.0, 6), (100.0, 0)])
def test_heartbeat(heartbeat_s: float, expected_updates: int) -> None:
    rules = RulesConfig().merged({"pedestrian": {"heartbeat_s": heartbeat_s}})
    events = feed(tracker(rules), [[sig()]] * 350)  # 70 s
    assert states(events).count("update") == expected_updates


# An ongoing incident at BOX_A (key track:1) loses its key; a new key appears. Does the incident continue?
@pytest.mark.parametrize(
    ("new_bbox", "gap_frames", "old_still_signalled", "continues"),
    [
        (BOX_A, 0, False, True),  # id switch in place
        ((130.0, 110.0, 230.0, 210.0), 3, False, True),  # moved a little, after a short occlusion
        ((180.0, 180.0, 400.0, 400.0), 0, False, False),  # IoU small, centre outside: elsewhere
        (BOX_B, 0, False, False),  # elsewhere
        (BOX_A, 0, True, False),  # both signalled at once: two people, two incidents
        (BOX_A, 28, False, False),  # later than rekey_s (5 s)
    ],
)
def test_track_id_switch(new_bbox, gap_frames, old_still_signalled, continues) -> None:
    rules = RulesConfig().merged({"pedestrian": {"end_after_s": 10.0}})
    tr = tracker(rules)
    frames = [[sig("track:1")]] * 10 + [[]] * gap_frames
    after = [sig("track:2", new_bbox)] + ([sig("track:1")] if old_still_signalled else [])
    frames += [after] * 10 + [[]] * 60
    events = feed(tr, frames)
    incidents = {e.incident_id for _, e in events}
    assert len(incidents) == (1 if continues else 2)
    if continues:
        assert states(events) == ["new", "end"]
        assert events[-1][1].bbox == new_bbox and events[-1][1].sequence == 1


def test_two_incidents_at_once_are_two() -> None:
    tr = tracker()
    events = feed(tr, [[sig("track:1", BOX_A), sig("track:2", BOX_B)]] * 10 + [[]] * 30)
    news = [e for _, e in events if e.state == "new"]
    ends = [e for _, e in events if e.state == "end"]
    assert len(news) == 2 and len({e.incident_id for e in news}) == 2
    assert {e.incident_id for e in ends} == {e.incident_id for e in news}


def test_same_key_different_types_are_separate() -> None:
    events = feed(tracker(), [[sig("track:1"), sig("track:1", type_="wrong_way")]] * 5)
    assert sorted(e.type for _, e in events if e.state == "new") == ["pedestrian", "wrong_way"]


def test_leaving_and_reentering_after_end_is_a_new_incident() -> None:
    events = feed(tracker(), [[sig()]] * 10 + [[]] * 40 + [[sig()]] * 10)
    assert states(events) == ["new", "end", "new"]
    assert len({e.incident_id for _, e in events}) == 2
    # The second incident is confirmed again: it starts when the key came back, new 3 frames later.
    (t, second) = events[2]
    assert second.start_s == pytest.approx(50 * DT) and t == pytest.approx(52 * DT)


def test_flush_ends_everything() -> None:
    tr = tracker()
    feed(tr, [[sig("track:1", BOX_A), sig("track:2", BOX_B)]] * 5)
    events = tr.flush(1.0)
    assert [e.state for e in events] == ["end", "end"] and tr.open_incidents == 0
    assert all(e.end_s == pytest.approx(0.8) for e in events)
    assert tr.flush(2.0) == []


def test_events_are_deterministic_and_ids_unique() -> None:
    frames = [[sig(conf=0.5 + 0.05 * (k % 10))] for k in range(200)] + [[]] * 30
    a = feed(tracker(), frames)
    b = feed(tracker(), frames)
    assert [e.to_dict() for _, e in a] == [e.to_dict() for _, e in b]
    ids = [e.event_id for _, e in a]
    assert len(ids) == len(set(ids))
    assert [e.sequence for _, e in a] == list(range(len(a)))
    assert {e.wall_time for _, e in a} == {"T"}


def test_default_ids_are_uuids() -> None:
    tr = IncidentTracker("cam")
    (event,) = tr.update(0.0, [sig(type_="collision")])  # collision confirms in one frame
    assert len(event.event_id) == 32 and event.event_id != event.incident_id


@pytest.mark.parametrize(
    ("type_", "confirm"),
    [("stopped_vehicle", 3), ("collision", 1), ("fire", 3), ("smoke", 3), ("unknown", 3)],
)
def test_thresholds_per_type(type_: str, confirm: int) -> None:
    events = feed(tracker(), [[sig(type_=type_)]] * confirm)
    assert states(events) == ["new"]
    events = feed(tracker(), [[sig(type_=type_)]] * (confirm - 1))
    assert events == []


def test_fire_override_applies_to_smoke() -> None:
    rules = RulesConfig().merged({"fire": {"confirm_frames": 6}})
    assert feed(tracker(rules), [[sig("smoke", type_="smoke")]] * 5) == []
