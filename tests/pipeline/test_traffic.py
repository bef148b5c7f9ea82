"""UA-DETRAC junction end to end: congestion in the junction, wrong-way only when the clip runs backwards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.helpers import CONFIGS, Run, analyse, feet_in_zone
from vigil.cli.main import main
from vigil.config import load_config
from vigil.detection.coco import VEHICLE_CLASSES

W, H = 960, 540
CONFIG = CONFIGS / "ua_detrac.yaml"

pytestmark = pytest.mark.slow  # each clip runs through the detector for 5-10 s


@pytest.fixture(scope="module")
def forward(ua_detrac: Path) -> Run:
    """The clip as recorded (8.4 s at 10 analysed frames/s), analysed once for the tests below."""
    return analyse(ua_detrac, "ua_detrac.yaml")


def test_congestion_in_the_junction(forward: Run) -> None:
    """The crawling junction traffic is one congestion incident once it has lasted min_duration_s.

    Measured: one incident, start 4.1 s, 9 vehicles at 0.55 lengths/s.
    """
    rules = forward.config.camera_rules(forward.camera.id).congestion
    incidents = forward.new("congestion")
    assert len(incidents) == 1, [e.details for _, e in incidents]
    pts, event = incidents[0]
    assert event.details["zone"] == "junction"
    assert event.details["vehicles"] >= rules.min_vehicles
    assert event.details["mean_speed"] <= rules.max_mean_speed
    assert event.details["jammed_s"] >= rules.min_duration_s
    assert rules.min_duration_s <= event.start_s <= pts <= forward.report.duration_s - 1.0
    # The box encloses the jammed vehicles: its bottom centre lies in the junction.
    assert feet_in_zone(np.asarray(event.bbox)[None], forward.zone("junction"), W, H)[0], event.bbox


def test_forward_traffic_is_not_wrong_way(forward: Run) -> None:
    """Cars drive up their lane as drawn: no wrong-way incident, though the lane carries traffic."""
    assert "wrong_way" not in forward.report.incidents_by_type
    lane = forward.zone("northbound")
    seen: set[int] = set()
    for _pts, tracks in forward.frames:
        if tracks.tracker_id is None or len(tracks) == 0:
            continue
        vehicle = np.isin(np.asarray(tracks.data["label"]).astype(str), list(VEHICLE_CLASSES))
        inside = vehicle & feet_in_zone(tracks.xyxy, lane, W, H)
        seen.update(tracks.tracker_id[inside].tolist())
    assert len(seen) >= 3, "the lane must carry traffic for 'no wrong-way' to mean anything"


def test_reversed_clip_is_wrong_way_through_the_cli(ua_detrac_reversed: Path, tmp_path: Path) -> None:
    """``vigil analyze --events`` on the clip played backwards: the cars in the lane now drive against it.

    Measured: 3 wrong-way incidents (cars in the lane moving down the image).
    """
    events_path, report_path = tmp_path / "events.jsonl", tmp_path / "report.json"
    args = ["analyze", str(ua_detrac_reversed), "-c", str(CONFIG), "--events", str(events_path)]
    code = main([*args, "--report", str(report_path), "-q"])
    assert code == 0
    lines = [json.loads(line) for line in events_path.read_text().splitlines()]
    report = json.loads(report_path.read_text())
    assert report["frames_analysed"] == pytest.approx(84, abs=2)  # 8.4 s at 10 fps, every frame analysed
    assert report["events"] == len(lines)
    new = [e for e in lines if e["state"] == "new"]
    assert report["incidents_by_type"] == {t: sum(e["type"] == t for e in new) for t in {e["type"] for e in new}}
    for e in lines:
        assert e["camera"] == "ua-detrac"
        assert set(e) >= {"type", "state", "start_s", "end_s", "bbox", "confidence", "incident_id", "event_id"}
    wrong = [e for e in new if e["type"] == "wrong_way"]
    assert len(wrong) >= 1
    lane = next(z for z in load_config(CONFIG).cameras[0].zones if z.id == "northbound")
    for e in wrong:
        assert e["details"]["zone"] == "northbound"
        assert e["details"]["label"] in VEHICLE_CLASSES
        assert e["details"]["travel_lengths"] >= 1.5
        assert e["details"]["angle_deg"] <= 60
        assert feet_in_zone(np.asarray(e["bbox"])[None], lane, W, H)[0], e["bbox"]
        assert 0 <= e["start_s"] <= 8.4
        ends = [x for x in lines if x["incident_id"] == e["incident_id"] and x["state"] == "end"]
        assert len(ends) == 1 and ends[0]["end_s"] >= e["start_s"]
