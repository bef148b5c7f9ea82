"""The tracker runs with its detector's calibrated profile: the pipeline's path, and a user's own profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vigil.pipeline.analyze as analyze_module
from tests.sources.helpers import make_clip
from vigil.config import load_config_text
from vigil.detection.config import PROFILES, ObjectDetectorConfig, TrackingProfile
from vigil.pipeline.analyze import analyze_video
from vigil.pipeline.camera import CameraPipeline
from vigil.tracking import TrackerConfig

THRESHOLDS = ("high_threshold", "low_threshold", "new_track_threshold")

CONFIG = """
cameras:
  - id: cam
    source: {{url: "{clip}"}}
{detector}
"""


def tracker_of_analyze(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, detector: str = "") -> TrackerConfig:
    """The tracker settings ``vigil analyze`` hands the camera pipeline for a config."""
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    seen: list[TrackerConfig] = []

    class Capturing(CameraPipeline):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            seen.append(self.tracker.config)

    monkeypatch.setattr(analyze_module, "CameraPipeline", Capturing)
    analyze_video(clip, load_config_text(CONFIG.format(clip=clip, detector=detector)))
    assert len(seen) == 1
    return seen[0]


def test_nanodet_profile_is_calibrated_not_bytetracks() -> None:
    """The bundled detector does not run on ByteTrack's YOLOX thresholds (docs/detection.md has the figures)."""
    profile = ObjectDetectorConfig().tracking_profile()
    assert profile is PROFILES["nanodet"]
    bytetrack = TrackingProfile()
    assert [getattr(profile, k) for k in THRESHOLDS] != [getattr(bytetrack, k) for k in THRESHOLDS]
    assert profile.low_threshold <= profile.high_threshold <= profile.new_track_threshold
    # A detection the detector keeps can always reach the tracker's low band.
    assert ObjectDetectorConfig().score_threshold <= profile.low_threshold


def test_analyze_tracks_with_the_nanodet_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = tracker_of_analyze(tmp_path, monkeypatch)
    for key in THRESHOLDS:
        assert getattr(tracker, key) == getattr(PROFILES["nanodet"], key), key


def test_a_configured_profile_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A site with its own model (or its own calibration) sets the thresholds in the detector's config."""
    detector = "detector: {tracking: {high_threshold: 0.7, low_threshold: 0.3, new_track_threshold: 0.8}}"
    tracker = tracker_of_analyze(tmp_path, monkeypatch, detector)
    assert (tracker.high_threshold, tracker.low_threshold, tracker.new_track_threshold) == (0.7, 0.3, 0.8)


def test_for_detector_keeps_the_other_settings_and_overrides() -> None:
    cfg = TrackerConfig.for_detector(ObjectDetectorConfig(), min_hits=3)
    assert cfg.min_hits == 3
    assert cfg.match_iou == TrackerConfig().match_iou
    assert cfg.new_track_threshold == PROFILES["nanodet"].new_track_threshold
