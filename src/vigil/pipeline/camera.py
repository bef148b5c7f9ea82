"""One camera's analysis: gates -> detector -> tracker -> rules -> incident lifecycle -> evidence.

Every per-camera state lives in :class:`CameraPipeline`; the detector is passed
in as a function so the same code runs with a private detector (offline
``vigil analyze``), the shared batching :class:`~vigil.pipeline.detector_pool.DetectorPool`
(``vigil run``), or a remote detector on another machine.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vigil.config.models import CARRIAGEWAY_KINDS, CameraConfig
from vigil.config.rules import RulesConfig
from vigil.core import Detections, Frame
from vigil.core.events import IncidentEvent
from vigil.detection.coco import TRACKED_CLASSES
from vigil.detection.config import DetailConfig
from vigil.detection.detail import DetailDetector, group_nms
from vigil.detection.fire import build_fire_detector
from vigil.detection.stationary import StationaryObjects
from vigil.incidents.evidence import EvidenceRecorder
from vigil.incidents.lifecycle import IncidentTracker
from vigil.pipeline.gating import MotionGate, RateGate
from vigil.rules import CameraRules
from vigil.sources.base import Selection
from vigil.tracking import Tracker, TrackerConfig

DetectFn = Callable[[np.ndarray], Detections]


class BatchDetector(Protocol):
    """What the pipeline needs of a detector to add detail windows (a Detector or a DetectorPool)."""

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]: ...

    def input_size_for(self, width: int, height: int) -> tuple[int, int]: ...


def _media_id(path: Path, media_dir: Path) -> str:
    """``path`` inside the media folder (``camera/incident.mp4``), without the server's own layout."""
    try:
        return Path(path).relative_to(media_dir).as_posix()
    except ValueError:
        return Path(path).name


@dataclass
class StageTimes:
    """Seconds spent per stage, for the status line and the benchmark."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames_in: int = 0
    analysed: int = 0
    detected: int = 0

    def add(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - t0
        return now


class CameraPipeline:
    """Turns a camera's decoded frames into incident events.

    Parameters
    ----------
    camera : CameraConfig
    rules : RulesConfig
        Thresholds, already merged with the camera's overrides or not (merged again here).
    detect : BatchDetector or callable
        A detector (or shared pool) with ``detect_batch`` and ``input_size_for``,
        which also runs the detail windows; or a plain BGR image -> detections
        function (``data["label"]`` with COCO names), which sees whole frames only.
    recorder : EvidenceRecorder, optional
        Receives every frame for the in-memory ring; starts evidence on new incidents.
    motion_gating : bool
        Skip the detector when nothing moved (previous detections are reused).
    """

    def __init__(
        self,
        camera: CameraConfig,
        rules: RulesConfig,
        detect: DetectFn,
        recorder: EvidenceRecorder | None = None,
        motion_gating: bool = True,
        tracker: TrackerConfig | None = None,
        detail: DetailConfig | None = None,
    ) -> None:
        self.camera = camera
        self.rules_config = rules.merged(camera.rules)
        if hasattr(detect, "detect_batch") and hasattr(detect, "input_size_for"):
            self.detector: DetailDetector | None = DetailDetector(
                detect.detect_batch, detect.input_size_for, detail or DetailConfig()  # type: ignore[union-attr]
            )
            self.detect: DetectFn = self.detector
        else:
            self.detector = None
            self.detect = detect  # type: ignore[assignment]
        self.recorder = recorder
        self.rate_gate = RateGate(camera.analytic_fps)
        # The gate also finds what moved (for the detail windows), so it runs even when it may not skip.
        self.motion_gate = MotionGate()
        self.motion_gating = motion_gating
        self.tracker = Tracker(tracker)
        self.rules = CameraRules(camera, self.rules_config)
        self.lifecycle = IncidentTracker(camera.id, self.rules_config)
        fire_cfg = self.rules_config.fire
        self.fire = build_fire_detector(fire_cfg.model_path) if fire_cfg.enabled else None
        self.stationary = StationaryObjects() if self.rules.watches_stationary else None
        self._watched: np.ndarray | None = None
        self.times = StageTimes()
        self._last: Detections = Detections.empty()
        self._tracked = np.zeros((0, 4), np.float32)
        self._last_pts = 0.0
        self._scale = (1.0, 1.0)  # of the latest analysed frame to the full picture (see Frame.scale)
        # select() runs on the reader thread, process() on the dispatcher: the gate's
        # decisions wait here, in pts order, until their frame arrives or is dropped.
        self._gate_lock = threading.Lock()
        self._admitted: deque[float] = deque(maxlen=64)
        self._selecting = False

    def select(self, pts: float) -> Selection:
        """Whether the frame at ``pts`` is needed at all: analysed, kept for evidence only, or skipped.

        Decoders call this before converting a frame to an array, so frames that
        are neither analysed nor recorded cost only their decoding; the
        supervisor gives analysed frames priority over kept ones.
        """
        with self._gate_lock:
            self._selecting = True
            if self.rate_gate.admit(pts):
                self._admitted.append(pts)
                return Selection.ANALYSE
        rec = self.recorder
        # With the source's compressed stream in the evidence ring, no decoded frame needs keeping.
        keep = rec is not None and not rec.encoded and rec.ring.due(pts)
        return Selection.KEEP if keep else Selection.SKIP

    def _was_admitted(self, pts: float) -> bool:
        """The gate's decision on a delivered frame; decisions on frames dropped before it are forgotten."""
        with self._gate_lock:
            if not self._selecting:  # a decoder that does not call select()
                return self.rate_gate.admit(pts)
            while self._admitted and self._admitted[0] < pts:
                self._admitted.popleft()  # frames are delivered in pts order: these were dropped
            if self._admitted and self._admitted[0] == pts:
                self._admitted.popleft()
                return True
            return False

    def process(self, frame: Frame) -> list[IncidentEvent]:
        """Feed one decoded frame; returns the incident events it caused.

        Frames from a decoder that called :meth:`select` are judged by that
        decision; others go through the rate gate here.
        """
        self.times.frames_in += 1
        if self.recorder is not None:
            self.recorder.push(frame)
        if not self._was_admitted(frame.pts):
            return []
        return self.analyse(frame)

    def analyse(self, frame: Frame) -> list[IncidentEvent]:
        times = self.times
        times.analysed += 1
        t = time.perf_counter()
        fresh: Detections | None = None  # detections made on this very frame (evidence reuses them)
        moving = self.motion_gate.needs_detection(frame.image, frame.pts)
        if moving or not self.motion_gating:
            t = times.add("gate", t)
            try:
                if self.detector is not None:
                    found = self.detector(frame.image, self.motion_gate.motion, self._tracked)
                else:
                    found = group_nms(self.detect(frame.image))
            except Exception:
                self.motion_gate.forget()  # the next frame must reach the detector, not reuse old boxes
                raise
            labels = found.data.get("label", np.zeros(0, dtype=object))
            self._last = fresh = found[np.isin(labels, list(TRACKED_CLASSES))] if len(found) else found
            times.detected += 1
            t = times.add("detect", t)
        else:
            t = times.add("gate", t)
        tracks = self.tracker.update(self._last, frame.pts)
        self._tracked = tracks.xyxy
        t = times.add("track", t)
        fire = self.fire.update(frame.image, frame.pts) if self.fire is not None else None
        t = times.add("fire", t)
        stationary = None
        if self.stationary is not None:
            stationary = self.stationary.update(frame.image, frame.pts, self._carriageway(frame.width, frame.height))
            t = times.add("stationary", t)
        signals = self.rules.update(frame.pts, frame.width, frame.height, tracks, fire, stationary, self._last)
        events = self.lifecycle.update(frame.pts, signals)
        t = times.add("rules", t)
        self._last_pts = frame.pts
        self._scale = frame.scale
        if self.recorder is not None and fresh is not None:
            self.recorder.note_objects(frame.pts, fresh, frame.scale)
        return self._with_evidence(self._full_scale(events), frame, fresh)

    def _full_scale(self, events: list[IncidentEvent]) -> list[IncidentEvent]:
        """Event boxes in the full picture's pixels when frames are analysed scaled down (a 4K camera at 1080p)."""
        if self._scale == (1.0, 1.0):
            return events
        sx, sy = self._scale
        return [replace(e, bbox=(e.bbox[0] * sx, e.bbox[1] * sy, e.bbox[2] * sx, e.bbox[3] * sy)) for e in events]

    def discontinuity(self) -> None:
        """The picture jumped (a file looped, a stream switched, a PTZ camera went to another preset).

        Tracks, motion history and backgrounds describe the old picture: they are
        dropped, so that no track continues onto another object. Open incidents
        stay open and end as usual once their condition is no longer seen.
        """
        self.tracker.reset()
        self.rules = CameraRules(self.camera, self.rules_config)
        self.motion_gate = MotionGate()
        fire_cfg = self.rules_config.fire
        self.fire = build_fire_detector(fire_cfg.model_path) if fire_cfg.enabled else None
        self.stationary = StationaryObjects() if self.rules.watches_stationary else None
        self._last = Detections.empty()
        self._tracked = np.zeros((0, 4), np.float32)

    def _carriageway(self, width: int, height: int) -> np.ndarray:
        """(H, W) bool mask of the camera's carriageway zones, cached per frame size."""
        mask = self._watched
        if mask is None or mask.shape != (height, width):
            canvas = np.zeros((height, width), np.uint8)
            for zone in self.camera.zones:
                if zone.kind in CARRIAGEWAY_KINDS:
                    pts = np.array([[x * width, y * height] for x, y in zone.polygon], np.int32)
                    cv2.fillPoly(canvas, [pts], 1)
            mask = self._watched = canvas.astype(bool)
        return mask

    def _with_evidence(
        self, events: list[IncidentEvent], frame: Frame, objects: Detections | None
    ) -> list[IncidentEvent]:
        if self.recorder is None:
            return events
        out = []
        for event in events:
            if event.state == "new":
                snap, clip = self.recorder.start(event.incident_id, frame, objects)
                # Media ids (paths inside the media folder), not server paths: the details
                # travel to services and clients, which fetch evidence by incident id.
                media = self.recorder.media_dir
                details = {**event.details, "snapshot": _media_id(snap, media), "clip": _media_id(clip, media)}
                event = replace(event, details=details)
            out.append(event)
        return out

    def close(self) -> list[IncidentEvent]:
        """End of stream: end every open incident and write pending clips."""
        events = self._full_scale(self.lifecycle.flush(self._last_pts))
        if self.recorder is not None:
            self.recorder.flush()
        return events
