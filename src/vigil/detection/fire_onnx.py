"""The slot for an ONNX fire/smoke model, and the persistence filter both detectors share.

A site that has a fire/smoke model (trained on its own data: none with a usable
licence ships in any registry) exports it in the YOLOv8 layout with the classes
``fire`` (0) and ``smoke`` (1); :class:`OnnxFireDetector` runs it through
:class:`~vigil.detection.onnx_layouts.YoloV8Detector`. A single frame of a
detector, learned or not, is a poor basis for an alarm, so its boxes pass the
same :class:`RegionTracker` as the classical detector's regions: a box is
reported only once its region has persisted in place for ``confirm_s``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vigil.core import Detections
from vigil.detection.config import ObjectDetectorConfig
from vigil.detection.onnx_layouts import YoloV8Detector

if TYPE_CHECKING:
    from vigil.detection.fire import FireDetectorConfig

FIRE_LABELS = ("fire", "smoke")


@dataclass
class Track:
    """An anonymous candidate region followed over time at one camera."""

    first: float
    last: float
    box: np.ndarray
    score: float
    history: deque[tuple[float, np.ndarray]] = field(default_factory=deque)
    confirmed: bool = False
    # per analysed frame in which the track was seen: (pts, cue statistics of its regions, summed)
    stats: deque[tuple[float, np.ndarray]] = field(default_factory=deque)
    rejected: str = ""  # why a cue turned the track down for good ("" while it may still confirm)


class RegionTracker:
    """Follows candidate regions and confirms those that persist in place.

    Fire flickers in and out and breaks into fragments, so a track takes the
    union of every region overlapping its last box, tolerates missing frames
    (``min_presence``) and keeps a confirmed region for ``hold_s``. Objects that
    move (cars, people) drift more than ``max_drift`` region sizes during the
    confirm window and never confirm. ``accept(track, window_start)`` adds the
    detector's own cues; it may also set ``track.rejected``, which turns the
    track down for as long as it lives (a dust cloud stays dust).
    """

    def __init__(
        self,
        confirm_s: float,
        min_presence: float,
        max_drift: float,
        hold_s: float,
        accept: Callable[[Track, float], bool] | None = None,
    ) -> None:
        self.confirm_s, self.min_presence, self.max_drift, self.hold_s = confirm_s, min_presence, max_drift, hold_s
        self.accept = accept
        self.reset()

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self._times: deque[float] = deque()

    def update(self, xyxy: np.ndarray, scores: np.ndarray, pts: float, stats: np.ndarray | None = None) -> list[Track]:
        """Match this frame's regions; return confirmed tracks seen within ``hold_s``.

        Parameters
        ----------
        xyxy, scores
            This frame's candidate regions and their scores.
        pts
            Time of the frame (s).
        stats
            Optional (N, K) cue statistics of the regions (pixel counts); a track
            keeps, per frame, the sum over the regions it took, for ``accept``.
        """
        self._times.append(pts)
        horizon = pts - 2 * self.confirm_s - self.hold_s - 1e-6
        while self._times and self._times[0] < horizon:
            self._times.popleft()
        groups: dict[int, list[int]] = {}
        for i, box in enumerate(xyxy):
            best, best_iou = -1, 0.0
            for t, track in enumerate(self.tracks):
                # Overlap with the grown box decides; IoU breaks ties, so that a flame
                # inside the glow it lights up keeps its own track.
                ios = _overlap(box, _grow(track.box, 0.25))
                iou = ios + _iou(box, track.box) if ios > 0 else 0.0
                if iou > best_iou:
                    best, best_iou = t, iou
            if best < 0:
                track = Track(pts, pts, box.copy(), float(scores[i]))
                # A region born beside one turned down is more of the same (a dust cloud spreading).
                track.rejected = next(
                    (t.rejected for t in self.tracks if t.rejected and _overlap(box, _grow(t.box, 0.5)) > 0), ""
                )
                self.tracks.append(track)
                best = len(self.tracks) - 1
            groups.setdefault(best, []).append(i)
        for t, members in groups.items():
            track = self.tracks[t]
            box = np.concatenate([xyxy[members, :2].min(0), xyxy[members, 2:].max(0)])
            track.box, track.last = box, pts
            track.score += 0.5 * (float(scores[members].max()) - track.score)
            track.history.append((pts, box))
            while track.history and track.history[0][0] < horizon:
                track.history.popleft()
            if stats is not None:
                track.stats.append((pts, stats[members].sum(0)))
                while track.stats and track.stats[0][0] < horizon:
                    track.stats.popleft()
            if not track.confirmed and not track.rejected:
                track.confirmed = self._confirms(track, pts)
        self.tracks = [t for t in self.tracks if pts - t.last <= max(self.hold_s, self.confirm_s)]
        return [t for t in self.tracks if t.confirmed and pts - t.last <= self.hold_s]

    def _confirms(self, track: Track, pts: float) -> bool:
        if pts - track.first < self.confirm_s - 1e-6:
            return False
        start = pts - self.confirm_s - 1e-6
        frames = sum(1 for t in self._times if t >= start)
        seen = [(t, b) for t, b in track.history if t >= start]
        if len(seen) < self.min_presence * frames:
            return False
        first, now = seen[0][1], seen[-1][1]
        size = math.sqrt(max(1.0, float((now[2] - now[0]) * (now[3] - now[1]))))
        moved = math.hypot(*((now[:2] + now[2:]) / 2 - (first[:2] + first[2:]) / 2))
        if moved > self.max_drift * size:
            return False
        return self.accept is None or self.accept(track, start)


def _grow(box: np.ndarray, frac: float) -> np.ndarray:
    pad = np.maximum((box[2:] - box[:2]) * frac, 2.0)
    return np.concatenate([box[:2] - pad, box[2:] + pad])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box: fragments of a region still match it."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / max(smaller, 1e-6))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / max(union, 1e-6))


def to_detections(tracks: list[Track], class_id: int, pts: float, hold_s: float) -> Detections:
    """Detections of confirmed tracks; a region missing from this frame fades to half its score."""
    if not tracks:
        return Detections.empty()
    fade = [1.0 - 0.5 * (pts - t.last) / max(hold_s, 1e-6) for t in tracks]
    return Detections(
        xyxy=np.stack([t.box for t in tracks]),
        confidence=np.clip([t.score * f for t, f in zip(tracks, fade, strict=True)], 0, 1),
        class_id=np.full(len(tracks), class_id),
        data={"label": np.full(len(tracks), FIRE_LABELS[class_id], dtype=object)},
    )


class OnnxFireDetector:
    """A user ONNX fire/smoke model (YOLOv8 layout) behind the persistence filter (one per camera).

    Parameters
    ----------
    model_path
        The ``.onnx`` file; its classes must be ``fire`` then ``smoke``.
    config
        ``score_threshold`` and ``device`` set the model; ``confirm_s``,
        ``min_presence``, ``max_drift``, ``hold_s`` and ``max_gap_s`` the filter.
    """

    labels = FIRE_LABELS

    def __init__(self, model_path: str | Path, config: FireDetectorConfig | None = None) -> None:
        from vigil.detection.fire import FireDetectorConfig

        self.config = c = config or FireDetectorConfig()
        self.model = YoloV8Detector(
            ObjectDetectorConfig(
                type="yolov8",
                model_path=Path(model_path),
                labels=FIRE_LABELS,
                score_threshold=c.score_threshold,
                device=c.device,
            )
        )
        self._tracks = [RegionTracker(c.confirm_s, c.min_presence, c.max_drift, c.hold_s) for _ in FIRE_LABELS]
        self.reset()

    def reset(self) -> None:
        """Forget all history (a new stream, a seek, or a camera that moved)."""
        self._shape: tuple[int, ...] | None = None
        self._pts = -math.inf
        self._last = Detections.empty()
        for tracker in self._tracks:
            tracker.reset()

    def update(self, image_bgr: np.ndarray, pts: float) -> Detections:
        """Run the model on one frame taken at ``pts`` seconds; report persistent regions only."""
        if image_bgr.shape != self._shape or pts < self._pts or pts - self._pts > self.config.max_gap_s:
            self.reset()
            self._shape = image_bgr.shape
        if pts == self._pts:
            return self._last
        self._pts = pts
        found = self.model.detect(image_bgr)
        parts = []
        for class_id, tracker in enumerate(self._tracks):
            rows = found.class_id == class_id
            tracks = tracker.update(found.xyxy[rows], found.confidence[rows], pts)
            parts.append(to_detections(tracks, class_id, pts, self.config.hold_s))
        self._last = Detections.merge(parts)
        return self._last
