"""The rate gate and the pipeline's bookkeeping of its decisions (select on the reader, process on the dispatcher)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.config.models import CameraConfig, EvidenceConfig, SourceConfig
from vigil.config.rules import RulesConfig
from vigil.core import Detections, Frame
from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.gating import RateGate
from vigil.redaction import RedactionConfig, Redactor
from vigil.sources import Selection


@pytest.mark.parametrize("source_fps", [6.0, 7.5, 10.0, 12.5, 15.0, 25.0, 29.97, 30.0])
@pytest.mark.parametrize("jitter_s", [0.0, 0.004])
def test_the_rate_gate_admits_the_configured_mean_rate(source_fps: float, jitter_s: float) -> None:
    """Admitted by stream time, on a fixed schedule: 5 fps of a 12.5 fps source is 5.0 fps, not every 3rd frame."""
    rng = np.random.default_rng(1)
    pts = np.arange(int(120 * source_fps)) / source_fps + rng.uniform(-jitter_s, jitter_s, int(120 * source_fps))
    pts = np.maximum.accumulate(pts)
    gate = RateGate(5.0)
    admitted = [p for p in pts.tolist() if gate.admit(p)]
    rate = (len(admitted) - 1) / (admitted[-1] - admitted[0])
    assert rate == pytest.approx(5.0, rel=0.005)
    assert min(np.diff(admitted)) >= 1.0 / source_fps - 2 * jitter_s - 1e-9  # never two frames at once


def _pipeline(tmp_path, detect) -> CameraPipeline:
    camera = CameraConfig(id="cam", source=SourceConfig(url="x.mp4"), analytic_fps=5)
    off = RedactionConfig(faces={"enabled": False}, heads={"enabled": False}, plates={"enabled": False})
    writer = EvidenceWriter(Redactor(off))
    recorder = EvidenceRecorder("cam", tmp_path, EvidenceConfig(clip_fps=10), writer, 12.5)
    rules = RulesConfig(fire={"enabled": False})
    return CameraPipeline(camera, rules, detect, recorder=recorder, motion_gating=False)


def test_dropped_frames_leave_no_trace_and_delivered_ones_keep_their_decision(tmp_path) -> None:
    """The supervisor drops frames under overload; the gate's decisions on them must not pile up or leak."""
    calls: list[float] = []

    def detect(image: np.ndarray) -> Detections:
        calls.append(0.0)
        return Detections.empty()

    pipeline = _pipeline(tmp_path, detect)
    image = np.zeros((8, 8, 3), np.uint8)
    delivered_analysis = 0
    kinds = {Selection.ANALYSE: 0, Selection.KEEP: 0, Selection.SKIP: 0}
    for i in range(750):  # a minute of a 12.5 fps camera
        pts = i / 12.5
        selection = pipeline.select(pts)
        kinds[selection] += 1
        if selection is Selection.SKIP or i % 3 == 0:  # a third of the selected frames is dropped
            continue
        delivered_analysis += selection is Selection.ANALYSE
        pipeline.process(Frame(image.copy(), "cam", i, pts))
        assert len(pipeline._admitted) <= 1  # decisions on dropped frames are forgotten at once
    assert kinds[Selection.ANALYSE] == pytest.approx(300, abs=1)  # 5.0 fps
    assert kinds[Selection.KEEP] > 0
    assert pipeline.times.analysed == len(calls) == delivered_analysis  # ring-only frames are never analysed


def test_a_decoder_without_select_is_gated_in_process(tmp_path) -> None:
    pipeline = _pipeline(tmp_path, lambda image: Detections.empty())
    image = np.zeros((8, 8, 3), np.uint8)
    for i in range(125):
        pipeline.process(Frame(image.copy(), "cam", i, i / 12.5))
    assert pipeline.times.analysed == 50


def test_event_boxes_of_a_camera_analysed_scaled_down_are_in_full_resolution_pixels(tmp_path) -> None:
    """A 4K camera analysed at 1080p reports its incidents where they are on the 4K picture."""
    from vigil.core.events import IncidentEvent

    pipeline = _pipeline(tmp_path, lambda image: Detections.empty())

    def one_event(pts: float, signals: object) -> list[IncidentEvent]:
        box = (10.0, 20.0, 30.0, 40.0)
        return [IncidentEvent("e", "i", 1, "update", "pedestrian", "cam", 0.0, None, box, 0.9, 3)]

    pipeline.lifecycle.update = one_event  # type: ignore[method-assign]
    small = np.zeros((54, 96, 3), np.uint8)
    (full,) = pipeline.process(Frame(small.copy(), "cam", 0, 0.0, full_size=(384, 216)))
    assert full.bbox == (40.0, 80.0, 120.0, 160.0)
    (same,) = pipeline.process(Frame(small.copy(), "cam", 1, 0.2))
    assert same.bbox == (10.0, 20.0, 30.0, 40.0)
