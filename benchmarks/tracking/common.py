"""Shared parts of the tracking and detail benchmarks: the real pipeline on dev clips, and MOT scoring.

The pipeline is driven exactly as ``vigil analyze`` drives it (``CameraPipeline``
with the detector's ``detect_batch``, so the motion gate and the detail windows
run), and the tracker is wrapped so that every analysed frame's tracker input
(the gated detections) and output (the confirmed tracks handed to the rules)
are kept. Scoring uses py-motmetrics (MIT) with the MOTChallenge rule: a track
box matches a ground-truth box at IoU >= 0.5.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from vigil.config import load_config  # noqa: E402
from vigil.config.models import CameraConfig  # noqa: E402
from vigil.config.rules import RulesConfig  # noqa: E402
from vigil.core import Detections, Frame  # noqa: E402
from vigil.core.boxes import iou_matrix  # noqa: E402
from vigil.detection.config import DetailConfig, TrackingProfile  # noqa: E402
from vigil.pipeline.camera import CameraPipeline  # noqa: E402
from vigil.tracking import Tracker, TrackerConfig  # noqa: E402

PETS_VIDEO = DATA / "opencv_vtest" / "vtest.avi"
PETS_GT = DATA / "opencv_vtest" / "vtest_gt_MOT15_PETS09-S2L1.txt"
PETS_CONFIG = REPO / "tests" / "data" / "vtest.yaml"
PETS_FRAMES = 795
MATCH_IOU = 0.5

METRICS = (
    "mota",
    "idf1",
    "num_switches",
    "mostly_tracked",
    "mostly_lost",
    "num_false_positives",
    "num_misses",
    "num_objects",
    "num_unique_objects",
    "precision",
    "recall",
)


@dataclass
class FrameLog:
    """One analysed frame: what the tracker was fed and what it reported."""

    frame: int  # 1-based, as in MOTChallenge files
    pts: float
    fed: Detections
    tracks: Detections
    wall_s: float  # wall time of the whole pipeline step
    cpu_s: float  # process CPU time of the whole pipeline step
    windows: int  # detail windows run for this frame


class _RecordingTracker:
    """Stands in for the pipeline's tracker: forwards to the real one and keeps its input and output."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.last: tuple[Detections, Detections] | None = None

    def update(self, detections: Detections, pts: float) -> Detections:
        out = self.tracker.update(detections, pts)
        self.last = (detections, out)
        return out


def pets_camera(fps: float, config: Path = PETS_CONFIG) -> tuple[CameraConfig, RulesConfig]:
    """The camera of a test config (PETS09's by default) at ``fps``; the fire rule off (it never touches tracking)."""
    cfg = load_config(config)
    camera = cfg.cameras[0].model_copy(update={"analytic_fps": fps})
    rules = cfg.rules.model_copy(update={"fire": cfg.rules.fire.model_copy(update={"enabled": False})})
    return camera, rules


class Run:
    """One :class:`CameraPipeline` fed frame by frame, logging every analysed frame.

    Several runs can be stepped with the same frames in turn, so that variants
    are timed under the same machine load.
    """

    def __init__(
        self,
        name: str,
        detector: object,
        camera: CameraConfig,
        rules: RulesConfig,
        profile: TrackingProfile,
        detail: DetailConfig,
        **tracker_overrides: object,
    ) -> None:
        self.name = name
        tracker = TrackerConfig.model_validate({**profile.model_dump(), **tracker_overrides})
        self.pipeline = CameraPipeline(camera, rules, detector, tracker=tracker, detail=detail)  # type: ignore[arg-type]
        self.recorder = _RecordingTracker(self.pipeline.tracker)
        self.pipeline.tracker = self.recorder  # type: ignore[assignment]
        self.logs: list[FrameLog] = []

    def step(self, frame: Frame) -> None:
        self.recorder.last = None
        detector = self.pipeline.detector
        before = detector.windows_run if detector is not None else 0
        t0, c0 = time.perf_counter(), time.process_time()
        self.pipeline.process(frame)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if self.recorder.last is not None:
            fed, tracks = self.recorder.last
            windows = (detector.windows_run if detector is not None else 0) - before
            self.logs.append(FrameLog(frame.index + 1, frame.pts, fed, tracks, wall, cpu, windows))


def frames_of(video: Path, limit: int | None = None) -> Iterator[Frame]:
    from vigil.sources import iter_video

    for frame in iter_video(video):
        if limit is not None and frame.index >= limit:
            return
        yield frame


# --- ground truth and scoring -------------------------------------------------------------------------------


@dataclass
class MotGT:
    """MOTChallenge ground truth by frame: ids, xyxy boxes and the 'considered' flag (column 7)."""

    rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]

    @classmethod
    def load(cls, path: Path) -> MotGT:
        gt = np.loadtxt(path, delimiter=",")
        rows = {}
        for f in np.unique(gt[:, 0]).astype(int):
            g = gt[gt[:, 0] == f]
            xyxy = np.c_[g[:, 2:4], g[:, 2:4] + g[:, 4:6]].astype(np.float32)
            rows[int(f)] = (g[:, 1].astype(int), xyxy, g[:, 6] > 0)
        return cls(rows)

    def frame(self, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        empty = (np.zeros(0, int), np.zeros((0, 4), np.float32), np.zeros(0, bool))
        return self.rows.get(f, empty)


def persons(found: Detections) -> Detections:
    labels = np.asarray(found.data.get("label", np.zeros(len(found), dtype=object))).astype(str)
    return found[labels == "person"] if len(found) else found


def _one_to_one(iou: np.ndarray, min_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching on IoU, pairs at ``min_iou`` or more (rows, cols)."""
    from scipy.optimize import linear_sum_assignment

    if iou.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    r, c = linear_sum_assignment(-iou)
    ok = iou[r, c] >= min_iou
    return r[ok], c[ok]


def score_mot(
    frames: Iterable[tuple[int, np.ndarray, np.ndarray]],
    gt: MotGT,
    splits: dict[str, tuple[int, int]],
) -> dict[str, dict[str, float]]:
    """CLEAR-MOT and ID metrics with py-motmetrics for frame ranges ``splits`` (inclusive, 1-based).

    ``frames`` yields (frame, track ids, xyxy boxes) of the analysed frames
    only; ground truth of frames that were not analysed is not scored. As in
    the MOTChallenge devkit, a track box that matches a ground-truth row
    flagged 'not considered' (column 7 = 0) is neither a hit nor a false
    positive.
    """
    import motmetrics as mm

    accs = {name: mm.MOTAccumulator(auto_id=True) for name in splits}
    for f, ids, xyxy in frames:
        gid, gbox, considered = gt.frame(f)
        r, c = _one_to_one(iou_matrix(gbox, xyxy), MATCH_IOU)
        drop = np.zeros(len(ids), bool)
        drop[c[~considered[r]]] = True
        ids, xyxy = ids[~drop], xyxy[~drop]
        gid, gbox = gid[considered], gbox[considered]
        iou = iou_matrix(gbox, xyxy).astype(np.float64)
        dist = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
        for name, (lo, hi) in splits.items():
            if lo <= f <= hi:
                accs[name].update(gid.tolist(), ids.tolist(), dist)
    mh = mm.metrics.create()
    out = {}
    for name, acc in accs.items():
        summary = mh.compute(acc, metrics=list(METRICS), name=name)
        out[name] = {k: float(summary[k].iloc[0]) for k in METRICS}
    return out


def tracked_persons(logs: Iterable[FrameLog]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    for log in logs:
        p = persons(log.tracks)
        ids = p.tracker_id if p.tracker_id is not None else np.zeros(len(p), np.int64)
        yield log.frame, np.asarray(ids, np.int64), p.xyxy


def replay(logs: list[FrameLog], config: TrackerConfig) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The tracker with ``config`` over the recorded tracker inputs (persons' tracks per frame)."""
    tracker = Tracker(config)
    for log in logs:
        p = persons(tracker.update(log.fed, log.pts))
        ids = p.tracker_id if p.tracker_id is not None else np.zeros(len(p), np.int64)
        yield log.frame, np.asarray(ids, np.int64), p.xyxy


def match_flags(
    gbox: np.ndarray, considered: np.ndarray, found: Detections, min_score: float
) -> tuple[np.ndarray, int]:
    """Which considered ground-truth boxes a detection at ``min_score`` or more covers (IoU >= 0.5, one to one).

    Returns the hit flags of the considered boxes and the number of detections
    that match no ground-truth box at all (false positives; one that matches a
    'not considered' box is neither).
    """
    boxes = found.xyxy[found.confidence >= min_score]
    r, c = _one_to_one(iou_matrix(gbox, boxes), MATCH_IOU)
    hit = np.zeros(len(gbox), bool)
    hit[r] = True
    return hit[considered], len(boxes) - len(c)
