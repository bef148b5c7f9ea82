"""Run each labelled clip through the camera pipeline it would have live, and score it.

Each clip is analysed as ``vigil analyze`` does (rate gate, motion gate,
detector, tracker, rules, lifecycle; no evidence is written), with the zones
and rules of its configuration: ``CONFIGS_DIR/<clip name>.yaml``, where the
clip name is the clip's folder (``incidents/<name>/clip.mp4``) or, for a file
at the top level, its stem. Times are measured from the first decoded frame,
as the labels are. An incident-free clip can be looped to a given length, so
that false alarms per camera-hour are measured on an hour of video; each pass
after the first starts the camera's tracks and backgrounds afresh
(:meth:`~vigil.pipeline.camera.CameraPipeline.discontinuity`), as after a stream
switch, so that the jump from the clip's last frame to its first is not taken
for motion.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from vigil.config import ConfigError, load_config
from vigil.config.models import CameraConfig, VigilConfig
from vigil.core import Frame
from vigil.detection import build_detector
from vigil.detection.base import Detector
from vigil.evaluation.labels import ClipLabels, load_labels
from vigil.evaluation.matching import ClipResult, Reported, match_clip
from vigil.pipeline.analyze import pick_camera
from vigil.pipeline.camera import CameraPipeline
from vigil.runtime.threads import limit_native_threads
from vigil.sources import SourceError, probe_video
from vigil.sources.avsource import AvSource
from vigil.tracking import TrackerConfig

Progress = Callable[[str, float, float], None]  # (clip, seconds done, seconds total)


class EvalError(ValueError):
    """A clip that cannot be evaluated (no configuration, unreadable video), named in the message."""


@dataclass
class ClipRun:
    """One clip's score, with the cost of analysing it."""

    result: ClipResult
    camera_id: str
    wall_s: float
    frames_analysed: int
    frames_detected: int
    loops: int
    phase: int = 0
    analytic_fps: float = 5.0


@dataclass
class EvalReport:
    """Everything ``vigil eval`` measured."""

    runs: list[ClipRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def by_type(self) -> dict[str, dict[str, Any]]:
        """Per incident type over all clips: labels, detected, rate, time to detect."""
        out: dict[str, dict[str, Any]] = {}
        for run in self.runs:
            for det in run.result.detections:
                row = out.setdefault(det.label.type, {"labels": 0, "detected": 0, "delays": []})
                row["labels"] += 1
                if det.delay_s is not None:
                    row["detected"] += 1
                    row["delays"].append(det.delay_s)
        for row in out.values():
            delays = row.pop("delays")
            row["detection_rate"] = round(row["detected"] / row["labels"], 3) if row["labels"] else None
            row["time_to_detect_median_s"] = round(statistics.median(delays), 2) if delays else None
            row["time_to_detect_max_s"] = round(max(delays), 2) if delays else None
        return dict(sorted(out.items()))

    def false_alarms(self, incident_free_only: bool = False) -> dict[str, Any]:
        """False alarms, per camera-hour, over all clips (or only those labelled ``none``)."""
        runs = [r for r in self.runs if not incident_free_only or not r.result.detections]
        hours = sum(r.result.video_s for r in runs) / 3600.0
        n = sum(len(r.result.false_alarms) for r in runs)
        by_type: dict[str, int] = {}
        for r in runs:
            for fa in r.result.false_alarms:
                by_type[fa.type] = by_type.get(fa.type, 0) + 1
        return {
            "clips": len(runs),
            "video_hours": round(hours, 3),
            "false_alarms": n,
            "per_camera_hour": round(n / hours, 2) if hours > 0 else None,
            "by_type": dict(sorted(by_type.items())),
            "wrong_type": sum(len(r.result.wrong_type) for r in runs),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_type": self.by_type(),
            "false_alarms": self.false_alarms(),
            "false_alarms_incident_free": self.false_alarms(incident_free_only=True),
            "clips": [
                {
                    **r.result.as_dict(),
                    "camera": r.camera_id,
                    "loops": r.loops,
                    "wall_s": round(r.wall_s, 2),
                    "frames_analysed": r.frames_analysed,
                    "frames_detected": r.frames_detected,
                    "phase": r.phase,
                    "analytic_fps": r.analytic_fps,
                }
                for r in self.runs
            ],
            "errors": self.errors,
        }


def analytic_rate(fps: float) -> float:
    """``fps`` if a camera's ``analytic_fps`` accepts it (the field's own limits).

    Raises
    ------
    EvalError
        Naming the rate and the limit it breaks.
    """
    try:
        return _RATE.validate_python(fps)
    except ValidationError as exc:
        raise EvalError(f"analytic_fps {fps}: {exc.errors()[0]['msg']}") from exc


_RATE = TypeAdapter(Annotated[float, CameraConfig.model_fields["analytic_fps"]])


def _at_rate(config: VigilConfig, analytic_fps: float) -> VigilConfig:
    """The configuration with every camera analysed at ``analytic_fps``."""
    fps = analytic_rate(analytic_fps)
    return config.model_copy(update={"cameras": [c.model_copy(update={"analytic_fps": fps}) for c in config.cameras]})


def config_for(clip: ClipLabels, configs_dir: Path) -> Path:
    """The configuration file of a clip (see the module docstring).

    Raises
    ------
    EvalError
        If there is none.
    """
    if clip.config is not None:
        path = configs_dir / clip.config
        if not path.is_file():
            raise EvalError(f"clip {clip.file}: configuration {path} does not exist")
        return path
    for suffix in (".yaml", ".yml"):
        path = configs_dir / f"{clip.name()}{suffix}"
        if path.is_file():
            return path
    raise EvalError(f"clip {clip.file}: no configuration {configs_dir / (clip.name() + '.yaml')}")


def _frames(
    video: Path, camera: CameraConfig, select: Callable[[float], bool], loop_to_s: float, phase: int = 0
) -> Iterator[tuple[Frame, bool]]:
    """The clip's frames with pts from 0 at the first frame; looped (pts continuing) to ``loop_to_s``.

    Decoded by the camera's own source (:class:`~vigil.sources.avsource.AvSource`
    with its ``decode`` settings and analytic rate), so that the evaluation sees
    the frames the product analyses: with ``skip_nonref`` a B-frame stream
    offers a different set of frames to the rate gate than a full decode does.

    Yields (frame, first of a pass): the first frame yielded by each pass after
    the first says that the picture jumped back. With ``phase`` k, the first k
    decoded frames of the first pass are refused, so that the analytic rate
    samples other frames of the same clip (times keep the clip's own clock).
    """
    offset = 0.0
    to_refuse = phase

    def pick(pts: float, clock: _ZeroedClock) -> bool:
        nonlocal to_refuse
        t = clock.time(pts)  # the first frame, refused or not, is the clock's zero
        if to_refuse > 0:
            to_refuse -= 1
            return False
        return select(t)

    while True:
        clock = _ZeroedClock(offset)
        last = offset
        first = True
        source = AvSource(camera.id, str(video), live=False, decode=camera.source.decode)
        source.min_fps = camera.analytic_fps
        for frame in source.frames(select=lambda pts, c=clock: pick(pts, c)):
            last = clock.time(frame.pts)
            yield replace(frame, pts=last), first
            first = False
        if loop_to_s <= 0 or last >= loop_to_s:
            return
        offset = last + 1.0 / float(probe_video(video).fps or 25)


class _ZeroedClock:
    """Maps a pass's stream times to times from its first frame, plus the pass's offset."""

    def __init__(self, offset: float) -> None:
        self.offset = offset
        self.first: float | None = None

    def time(self, pts: float) -> float:
        if self.first is None:
            self.first = pts
        return pts - self.first + self.offset


def run_clip(
    clip: ClipLabels,
    video: Path,
    config: VigilConfig,
    detector: Detector,
    loop_to_s: float = 0.0,
    motion_gating: bool = True,
    phase: int = 0,
) -> ClipRun:
    """Analyse one clip and match its incidents to its labels (``phase``: see :func:`evaluate`)."""
    camera = pick_camera(config, clip.camera)
    pipeline = CameraPipeline(
        camera,
        config.rules,
        detector,
        motion_gating=motion_gating,
        tracker=TrackerConfig.for_detector(config.detector),
        detail=config.detector.detail,
    )
    reported: list[Reported] = []
    pts = 0.0

    def collect(events: list) -> None:
        for event in events:
            if event.state == "new":
                reported.append(Reported(event.type, event.start_s, pts, event.incident_id, dict(event.details)))

    t0 = time.perf_counter()
    loops = 0
    last_pts = -1.0
    loop = loop_to_s if not clip.incidents else 0.0
    for frame, first in _frames(video, camera, pipeline.select, loop, phase):
        if frame.pts < last_pts:  # never: kept as a guard for the loop arithmetic
            raise EvalError(f"{video}: time went backwards at {frame.pts}")
        if first:
            loops += 1
            if loops > 1:
                pipeline.discontinuity()
        pts = last_pts = frame.pts
        collect(pipeline.process(frame))
    collect(pipeline.close())
    wall = time.perf_counter() - t0
    video_s = pts + 1.0 / float(probe_video(video).fps or 25)
    return ClipRun(
        match_clip(clip, reported, video_s),
        camera.id,
        wall,
        pipeline.times.analysed,
        pipeline.times.detected,
        max(loops, 1),
        phase,
        camera.analytic_fps,
    )


def evaluate(
    labels_path: Path,
    configs_dir: Path,
    *,
    clips: list[str] | None = None,
    loop_to_s: float = 0.0,
    motion_gating: bool = True,
    progress: Callable[[str], None] | None = None,
    phases: int = 1,
    analytic_fps: float | None = None,
) -> EvalReport:
    """Evaluate every clip of a labels file (or those named in ``clips``).

    A clip that cannot be evaluated is recorded in ``errors`` with its name and
    the reason, and the others still run.

    With ``phases`` N > 1 each clip is analysed N times, pass k refusing its
    first k decoded frames: at 5 analytic fps on a 25 fps camera the analysed
    frames are then each of the 5 possible sets. A live camera samples an
    incident at whatever phase its stream happens to have, so a label found at
    one phase only is found by luck; the rates then count each (label, phase)
    once and the false alarms are per camera-hour of all passes.

    ``analytic_fps`` replaces every camera's own rate, to measure a rate before
    a site changes it (the collision rule was calibrated at 5).

    Raises
    ------
    LabelsError
        If the labels file itself is unreadable.
    """
    labels = load_labels(labels_path)
    limit_native_threads()  # as the product runs (see vigil.runtime.threads)
    base = Path(labels_path).resolve().parent
    report = EvalReport()
    detectors: dict[str, Detector] = {}
    for clip in labels.clips:
        if clips and clip.name() not in clips:
            continue
        if progress is not None:
            progress(clip.name())
        try:
            config_path = config_for(clip, configs_dir)
            config = load_config(config_path)
            if analytic_fps is not None:
                config = _at_rate(config, analytic_fps)
            video = Path(clip.file) if Path(clip.file).is_absolute() else base / clip.file
            if not video.is_file():
                raise EvalError(f"clip {clip.file}: video {video} does not exist")
            key = config.detector.model_dump_json()
            if key not in detectors:
                detectors[key] = build_detector(config.detector)
            for phase in range(max(1, phases)):
                report.runs.append(run_clip(clip, video, config, detectors[key], loop_to_s, motion_gating, phase))
        except (EvalError, ConfigError, SourceError, ValueError) as exc:
            report.errors.append(f"{clip.name()}: {exc}")
    return report
