"""Run ``analyze_video`` on a real clip and keep what the rules saw, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

import vigil.pipeline.analyze as analyze_module
from vigil.config import load_config
from vigil.config.models import CameraConfig, VigilConfig, ZoneConfig
from vigil.core import Detections
from vigil.core.events import IncidentEvent
from vigil.pipeline.analyze import AnalyzeReport, analyze_video
from vigil.pipeline.camera import CameraPipeline
from vigil.rules.zones import ground_points, points_in_polygon

CONFIGS = Path(__file__).resolve().parents[1] / "data"


@dataclass
class Run:
    """One clip through the pipeline.

    Attributes
    ----------
    frames : list of (pts, tracks)
        The tracker's output for every analysed frame, as the rules received it.
    detections : list of Detections
        The detections handed to the rules with each of those frames.
    events : list of (pts, event)
        Every incident event with the pts of the analysed frame that emitted it.
    """

    report: AnalyzeReport
    config: VigilConfig
    frames: list[tuple[float, Detections]] = field(default_factory=list)
    detections: list[Detections | None] = field(default_factory=list)
    events: list[tuple[float, IncidentEvent]] = field(default_factory=list)

    @property
    def camera(self) -> CameraConfig:
        return self.config.cameras[0]

    def new(self, type_: str) -> list[tuple[float, IncidentEvent]]:
        """The ``new`` events of one incident type, with the pts they were emitted at."""
        return [(t, e) for t, e in self.events if e.state == "new" and e.type == type_]

    def zone(self, zone_id: str) -> ZoneConfig:
        return next(z for z in self.camera.zones if z.id == zone_id)


def analyse(video: Path, config_name: str, **kwargs: Any) -> Run:
    """``analyze_video`` with a :class:`CameraPipeline` subclass that records the tracks handed to the rules.

    The tracks are recorded at the rules' entry point because that is the
    pipeline's own view of the scene (gated detections, confirmed tracks), the
    thing to compare with ground truth.
    """
    config = load_config(CONFIGS / config_name)
    run = Run(report=None, config=config)  # type: ignore[arg-type]

    class RecordingPipeline(CameraPipeline):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            update = self.rules.update

            def recording_update(pts: float, width: int, height: int, tracks: Detections, *rest: object) -> list:
                run.frames.append((pts, tracks))
                run.detections.append(rest[2] if len(rest) > 2 else None)  # type: ignore[arg-type]
                return update(pts, width, height, tracks, *rest)

            self.rules.update = recording_update  # type: ignore[method-assign]

    def on_event(event: IncidentEvent) -> None:
        run.events.append((run.frames[-1][0] if run.frames else 0.0, event))

    original = analyze_module.CameraPipeline
    analyze_module.CameraPipeline = RecordingPipeline  # type: ignore[misc]
    try:
        run.report = analyze_video(video, config, on_event=on_event, **kwargs)
    finally:
        analyze_module.CameraPipeline = original  # type: ignore[misc]
    return run


def zone_pixels(zone: ZoneConfig, width: int, height: int) -> np.ndarray:
    """(K, 2) polygon of a configured zone in pixels."""
    return np.asarray(zone.polygon, dtype=np.float64) * [width, height]


def feet_in_zone(boxes: np.ndarray, zone: ZoneConfig, width: int, height: int) -> np.ndarray:
    """(N,) whether each box's ground point (bottom centre, as the rules use) is in the zone."""
    return points_in_polygon(ground_points(boxes), zone_pixels(zone, width, height))


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box ``a`` (4,) with each row of ``b`` (N, 4)."""
    w = np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0])
    h = np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(union, 1e-9)


def write_reversed(src: Path, dst: Path, step: int = 3) -> Path:
    """Every ``step``-th frame of ``src`` in reverse order, as H.264 with ascending pts.

    Taking every third frame of a 30 fps clip gives 10 fps, the analytic rate,
    so the reversed clip is analysed on the very frames the forward run sees,
    and only a third of the frames is held in memory (as YUV 4:2:0).
    """
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate) / step
        frames = [f.to_ndarray(format="yuv420p") for i, f in enumerate(container.decode(stream)) if i % step == 0]
    height, width = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    with av.open(str(dst), "w") as out:
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.time_base = 1 / rate
        enc.options = {"crf": "18", "preset": "veryfast"}
        for i, array in enumerate(reversed(frames)):
            frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(enc.encode(frame))
        out.mux(enc.encode(None))
    return dst


def mot_metrics(frames: list[tuple[int, Detections]], gt: np.ndarray, label: str = "person") -> dict[str, float]:
    """CLEAR-MOT and ID metrics (py-motmetrics) of tracks against MOTChallenge ground truth, at IoU >= 0.5.

    ``frames`` holds (1-based frame, tracker output) of the analysed frames
    only; ``gt`` the rows ``frame, id, x, y, w, h, considered, ...``. As in the
    MOTChallenge devkit, a track box on a row flagged not considered (column 7
    = 0) is neither a hit nor a false positive. benchmarks/tracking scores the
    same way.
    """
    import motmetrics as mm
    from scipy.optimize import linear_sum_assignment

    from vigil.core.boxes import iou_matrix

    acc = mm.MOTAccumulator(auto_id=True)
    for frame, tracks in frames:
        labels = np.asarray(tracks.data.get("label", np.zeros(len(tracks), dtype=object))).astype(str)
        mine = tracks[labels == label] if len(tracks) else tracks
        ids = np.asarray(mine.tracker_id if mine.tracker_id is not None else np.zeros(0), np.int64)
        boxes = mine.xyxy
        rows = gt[gt[:, 0] == frame]
        gbox = np.c_[rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]].astype(np.float32)
        considered = rows[:, 6] > 0
        iou = iou_matrix(gbox, boxes)
        if iou.size:
            r, c = linear_sum_assignment(-iou)
            ok = iou[r, c] >= 0.5
            keep = np.ones(len(ids), bool)
            keep[c[ok & ~considered[r]]] = False
            ids, boxes = ids[keep], boxes[keep]
        gbox, gid = gbox[considered], rows[considered, 1].astype(int)
        iou = iou_matrix(gbox, boxes).astype(np.float64)
        acc.update(gid.tolist(), ids.tolist(), np.where(iou >= 0.5, 1.0 - iou, np.nan))
    names = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="all")
    return {k: float(summary[k].iloc[0]) for k in names}
