"""build_rules and CameraRules wiring."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rules.scene import ROADWAY, SIDEWALK, H, Obj, W, camera, detections_at, moving, still
from vigil.config.models import LineConfig, ZoneConfig
from vigil.config.rules import RulesConfig
from vigil.core.detections import Detections
from vigil.rules import CameraRules, build_rules

CROWD = ZoneConfig(id="sq", kind="crowd-area", polygon=[(0, 0), (0.2, 0), (0.2, 0.2), (0, 0.2)])
TRACKS = ZoneConfig(id="rail", kind="tracks", polygon=[(0, 0), (0.3, 0), (0.3, 0.2), (0, 0.2)])
UNDIRECTED = ROADWAY.model_copy(update={"direction": None})
ALL = ["stopped_vehicle", "wrong_way", "pedestrian", "animal", "collision", "fire", "crowd", "congestion"]
STREET = ZoneConfig(id="st", kind="street", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])


@pytest.mark.parametrize(
    ("zones", "overrides", "expected"),
    [
        ([ROADWAY, SIDEWALK, CROWD], {}, ALL),
        ([], {}, ["collision", "fire"]),
        ([SIDEWALK], {}, ["collision", "fire"]),
        ([UNDIRECTED], {}, ["stopped_vehicle", "pedestrian", "animal", "collision", "fire", "congestion"]),
        ([STREET], {}, ["stopped_vehicle", "pedestrian", "animal", "collision", "fire", "congestion"]),
        ([TRACKS], {}, ["pedestrian", "animal", "collision", "fire"]),
        ([TRACKS], {"pedestrian": {"zone_kinds": ["roadway"]}, "animal": {"enabled": False}}, ["collision", "fire"]),
        ([CROWD], {}, ["collision", "fire", "crowd"]),
        (
            [ROADWAY, CROWD],
            {"collision": {"enabled": False}, "crowd": {"enabled": False}},
            ["stopped_vehicle", "wrong_way", "pedestrian", "animal", "fire", "congestion"],
        ),
    ],
)
def test_build_rules_only_enabled_and_applicable(zones, overrides, expected) -> None:
    assert [r.type for r in build_rules(camera(zones=zones, overrides=overrides), RulesConfig())] == expected


def test_build_rules_accepts_already_merged_config() -> None:
    cam = camera(overrides={"stopped_vehicle": {"min_stopped_s": 7.0}})
    merged = RulesConfig().merged(cam.rules)
    for cfg in (RulesConfig(), merged):
        (stopped,) = [r for r in build_rules(cam, cfg) if r.type == "stopped_vehicle"]
        assert stopped.cfg.min_stopped_s == 7.0
    # Global thresholds changed, camera overrides still win.
    glob = RulesConfig().merged({"stopped_vehicle": {"min_stopped_s": 60.0, "max_speed": 0.1}})
    (stopped,) = [r for r in build_rules(cam, glob) if r.type == "stopped_vehicle"]
    assert (stopped.cfg.min_stopped_s, stopped.cfg.max_speed) == (7.0, 0.1)


def test_camera_rules_counts_lines_and_handles_empty_and_untracked_frames() -> None:
    line = LineConfig(id="gate", points=((0.5, 0.0), (0.5, 1.0)))
    engine = CameraRules(camera(lines=[line]), RulesConfig())
    objs = [Obj(1, "car", moving(300, 400, 200)), Obj(2, "person", moving(700, 200, -100, w=30, h=80))]
    for k in range(30):
        t = k * 0.2
        engine.update(t, W, H, detections_at(objs, t))
    # Moving right across a top-to-bottom line is right-to-left of the line: "negative"; moving left is "positive".
    assert engine.line_counts == {"gate": {"positive": 1, "negative": 1}}
    assert engine.update(7.0, W, H, Detections.empty()) == []
    untracked = Detections(
        np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]), None, {"label": np.array(["car"])}
    )
    assert engine.update(7.2, W, H, untracked) == []
    # A resolution change mid-stream re-projects the zones.
    engine.update(7.4, W // 2, H // 2, detections_at([Obj(3, "car", still(250, 200, 60, 35))], 7.4))
