"""``vigil analyze``: one video file through the incident pipeline, as fast as the machine allows.

The file is read as a camera is (:class:`~vigil.sources.AvSource`, with the
camera's ``source.decode`` settings): non-reference frames are skipped where the
analytic rate allows, only the frames that rate selects are converted to arrays
(scaled down to the analysis width), and the detector runs on them when the
motion gate says something moved. Evidence is cut from the file's compressed
packets, decoded afresh at full resolution, and redacted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vigil.config.models import CameraConfig, VigilConfig
from vigil.core.events import IncidentEvent
from vigil.detection import build_detector
from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
from vigil.pipeline.camera import CameraPipeline
from vigil.redaction import Redactor
from vigil.runtime.threads import limit_native_threads
from vigil.sources import probe_video
from vigil.sources.avsource import AvSource
from vigil.tracking import TrackerConfig


@dataclass
class AnalyzeReport:
    """What ``vigil analyze`` measured."""

    video: str
    camera_id: str
    duration_s: float
    wall_s: float
    frames_decoded: int
    frames_analysed: int
    frames_detected: int
    events: int
    incidents_by_type: dict[str, int] = field(default_factory=dict)
    stage_s: dict[str, float] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "realtime_factor": round(self.realtime_factor, 2)}


def event_line(event: IncidentEvent) -> str:
    """One JSON line per incident state change."""
    return json.dumps(
        {
            "type": event.type,
            "camera": event.camera_id,
            "state": event.state,
            "start_s": round(event.start_s, 3),
            "end_s": None if event.end_s is None else round(event.end_s, 3),
            "bbox": [round(float(v), 1) for v in event.bbox],
            "confidence": round(float(event.confidence), 3),
            "severity": event.severity,
            "incident_id": event.incident_id,
            "event_id": event.event_id,
            "details": event.details,
        },
        default=str,
    )


def pick_camera(config: VigilConfig, camera_id: str | None) -> CameraConfig:
    """The camera whose zones and thresholds apply to the analysed file."""
    if camera_id is None:
        return config.cameras[0]
    for cam in config.cameras:
        if cam.id == camera_id:
            return cam
    raise ValueError(
        f"camera {camera_id!r} is not in the configuration (has: {', '.join(c.id for c in config.cameras)})"
    )


def analyze_video(
    video: Path,
    config: VigilConfig,
    camera_id: str | None = None,
    events_out: IO[str] | None = None,
    evidence_dir: Path | None = None,
    motion_gating: bool = True,
    on_event: Callable[[IncidentEvent], None] | None = None,
) -> AnalyzeReport:
    """Run one camera's pipeline over a video file and report what it found.

    Raises
    ------
    SourceError
        If the video cannot be read (the events found before a mid-file break are kept).
    """
    limit_native_threads()  # the detector's and the evidence's threads call OpenCV beside this one
    camera = pick_camera(config, camera_id)
    info = probe_video(video)
    detector = build_detector(config.detector)
    writer = recorder = None
    if evidence_dir is not None:
        writer = EvidenceWriter(Redactor(config.redaction, object_detector=detector))
        recorder = EvidenceRecorder(camera.id, evidence_dir, config.evidence, writer, float(info.fps))
    pipeline = CameraPipeline(
        camera,
        config.rules,
        detector,
        recorder=recorder,
        motion_gating=motion_gating,
        tracker=TrackerConfig.for_detector(config.detector),
        detail=config.detector.detail,
    )
    counts: dict[str, int] = {}
    n_events = 0

    def emit(events: list[IncidentEvent]) -> None:
        nonlocal n_events
        for event in events:
            n_events += 1
            if event.state == "new":
                counts[event.type] = counts.get(event.type, 0) + 1
            if events_out is not None:
                events_out.write(event_line(event) + "\n")
                events_out.flush()
            if on_event is not None:
                on_event(event)

    source = AvSource(camera.id, str(video), live=False, decode=camera.source.decode)
    source.min_fps = camera.analytic_fps
    if recorder is not None:
        source.on_encoded = recorder.push_encoded
    t0 = time.perf_counter()
    last_pts = 0.0
    try:
        for frame in source.frames(select=pipeline.select):
            emit(pipeline.process(frame))
            last_pts = frame.pts
    finally:
        emit(pipeline.close())
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - t0
    times = pipeline.times
    return AnalyzeReport(
        video=str(video),
        camera_id=camera.id,
        duration_s=info.duration_s or last_pts,
        wall_s=wall,
        frames_decoded=source.decoded,
        frames_analysed=times.analysed,
        frames_detected=times.detected,
        events=n_events,
        incidents_by_type=counts,
        stage_s={k: round(v, 3) for k, v in times.seconds.items()},
    )
