"""Anonymous per-camera multi-object tracker, ByteTrack-style (Zhang et al. 2022).

Each frame, tracks are moved forward by a constant-velocity Kalman filter over
the real time since the previous frame (pts), then matched to detections by
box overlap in three rounds:

1. confirmed tracks with high-score detections, running tracks first and
   then lost ones (DeepSORT's matching cascade: a coasting track's predicted
   box drifts, and must not take a running track's detection);
2. running tracks still unmatched with low-score detections, which is
   ByteTrack's idea: an object that is partly hidden gets a weak score, and
   throwing such boxes away breaks its track;
3. tentative tracks with the high-score detections left over, by overlap and
   then, for a tentative road-user track that overlaps none, by distance in box
   sizes (a small fast vehicle moves more than its length between analysed
   frames, and a tentative track has no velocity yet to predict where); a track
   matched so takes its velocity from its two sightings.

A high-score detection left after that starts a tentative track, reported once
matched in ``min_hits`` consecutive frames. A confirmed track that is missed
coasts on its motion for ``track_buffer_s`` seconds of stream time, to take its
object back after an occlusion, and is then forgotten.

Privacy: tracks carry no appearance at all (motion and box only), ids are small
integers counted per :class:`Tracker` instance (one per camera), start at 1 and
mean nothing outside that camera's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from vigil.core import Detections
from vigil.core.boxes import iou_matrix
from vigil.detection.coco import group_of
from vigil.tracking import kalman
from vigil.tracking.assignment import linear_assignment
from vigil.tracking.config import TrackerConfig


@dataclass(frozen=True)
class _Tracks:
    """All live tracks of one camera, column-wise so that Kalman steps run batched.

    ``track_id`` is 0 while a track is tentative: ids are handed out only on
    confirmation so that reported ids run 1, 2, 3... without gaps.
    """

    mean: np.ndarray  # (T, 8) float64 Kalman state, velocities per second
    cov: np.ndarray  # (T, 8, 8) float64
    class_id: np.ndarray  # (T,) int32
    hits: np.ndarray  # (T,) int64 consecutive matched frames (while tentative)
    track_id: np.ndarray  # (T,) int64, 0 = tentative
    lost: np.ndarray  # (T,) bool, confirmed but missed in the latest frame(s)
    last_seen: np.ndarray  # (T,) float64 pts of the latest match

    @classmethod
    def empty(cls) -> _Tracks:
        return cls(
            np.zeros((0, 8)),
            np.zeros((0, 8, 8)),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, bool),
            np.zeros(0, np.float64),
        )

    def __len__(self) -> int:
        return len(self.mean)

    def take(self, index: np.ndarray) -> _Tracks:
        return _Tracks(*(getattr(self, f)[index] for f in _FIELDS))

    def concat(self, other: _Tracks) -> _Tracks:
        return _Tracks(*(np.concatenate([getattr(self, f), getattr(other, f)]) for f in _FIELDS))


_FIELDS = ("mean", "cov", "class_id", "hits", "track_id", "lost", "last_seen")


def _associate(
    track_boxes: np.ndarray,
    track_cls: np.ndarray,
    track_rows: np.ndarray,
    det_boxes: np.ndarray,
    det_cls: np.ndarray,
    det_rows: np.ndarray,
    min_iou: float,
    class_aware: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Match the given track rows to the given detection rows by IoU.

    Returns matched track rows, their detection rows, and the unmatched track
    and detection rows, all as indices into the full arrays.
    """
    cost = 1.0 - iou_matrix(track_boxes[track_rows], det_boxes[det_rows]).astype(np.float64)
    if class_aware and cost.size:
        cost[track_cls[track_rows][:, None] != det_cls[det_rows][None, :]] = np.inf
    matches, free_tracks, free_dets = linear_assignment(cost, 1.0 - min_iou)
    return track_rows[matches[:, 0]], det_rows[matches[:, 1]], track_rows[free_tracks], det_rows[free_dets]


def _centres(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[:, :2] + xyxy[:, 2:4]) / 2.0


def _associate_near(
    track_boxes: np.ndarray,
    track_cls: np.ndarray,
    track_rows: np.ndarray,
    det_boxes: np.ndarray,
    det_cls: np.ndarray,
    det_rows: np.ndarray,
    max_distance: float,
    class_aware: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match tentative tracks to detections by centre distance in box sizes (size within 1.5x, same group).

    Returns matched track rows, their detection rows and the unmatched detection rows.
    """
    none = np.zeros(0, np.int64)
    if max_distance <= 0 or len(track_rows) == 0 or len(det_rows) == 0:
        return none, none, det_rows
    tb, db = track_boxes[track_rows], det_boxes[det_rows]
    t_side = np.sqrt(np.clip((tb[:, 2] - tb[:, 0]) * (tb[:, 3] - tb[:, 1]), 1e-6, None))
    d_side = np.sqrt(np.clip((db[:, 2] - db[:, 0]) * (db[:, 3] - db[:, 1]), 1e-6, None))
    gap = np.linalg.norm(_centres(tb)[:, None, :] - _centres(db)[None, :, :], axis=2)
    cost = gap / np.maximum(t_side[:, None], d_side[None, :])
    ratio = np.maximum(t_side[:, None], d_side[None, :]) / np.minimum(t_side[:, None], d_side[None, :])
    cost[ratio > 1.5] = np.inf
    if class_aware:
        cost[track_cls[track_rows][:, None] != det_cls[det_rows][None, :]] = np.inf
    matches, _, free_dets = linear_assignment(cost, max_distance)
    return track_rows[matches[:, 0]], det_rows[matches[:, 1]], det_rows[free_dets]


class Tracker:
    """ByteTrack-style tracker for ONE camera stream.

    Create one instance per camera and feed it every analysed frame in pts
    order, also those with no detections (that is how a track learns it was
    missed). Frames may be skipped (motion gating, overload): the motion model
    uses the real time gap, and a lost track expires ``track_buffer_s`` of pts
    after it was last seen, however many frames were analysed meanwhile.

    Parameters
    ----------
    config : TrackerConfig, optional
        Thresholds and lifetimes; ByteTrack's defaults when omitted.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (new stream, or pts jumped back)."""
        self._tracks = _Tracks.empty()
        self._next_id = 1
        self._last_pts: float | None = None
        self._group_codes: dict[str, int] = {}

    def update(self, detections: Detections, pts: float) -> Detections:
        """Advance the tracks to ``pts`` and match them to this frame's detections.

        Parameters
        ----------
        detections : Detections
            This frame's detections, in pixels; never modified.
        pts : float
            Presentation time of the frame in seconds; must not go backwards
            (call :meth:`reset` when a stream restarts).

        Returns
        -------
        Detections
            The detection rows matched to confirmed tracks, in input order: the
            detector's own boxes (not the Kalman prediction), scores, classes
            and every data column, with ``tracker_id`` (int64) set and
            ``data["velocity"]`` (N, 2) float32 in pixels per second (box
            centre, from the Kalman state). Tentative and lost tracks are not
            reported.
        """
        cfg = self.config
        pts = float(pts)
        if not np.isfinite(pts):
            raise ValueError(f"pts must be finite, got {pts}")
        if self._last_pts is not None and pts < self._last_pts:
            raise ValueError(f"pts went backwards ({self._last_pts} -> {pts}); call reset() for a new stream")
        dt = 0.0 if self._last_pts is None else pts - self._last_pts
        self._last_pts = pts

        # Forget lost tracks past the buffer, then predict the rest to this frame.
        tracks = self._tracks
        tracks = tracks.take(~(tracks.lost & (pts - tracks.last_seen > cfg.track_buffer_s)))
        mean = tracks.mean.copy()
        mean[tracks.lost, 7] = 0.0  # a coasting box keeps its size (ByteTrack zeroes vh when not tracked)
        # Extrapolate motion over at most the buffer (1 s at least): after a longer gap, e.g. a motion-gated quiet
        # scene, only objects that stayed put can still match, and extrapolating their residual velocity further
        # would only push their boxes off them.
        mean, cov = kalman.predict(mean, tracks.cov, min(dt, max(cfg.track_buffer_s, 1.0)))
        tracks = replace(tracks, mean=mean, cov=cov)
        pred_boxes = kalman.xyah_to_xyxy(tracks.mean)

        det_boxes, conf = detections.xyxy, detections.confidence
        groups = self._group_names(detections)
        det_cls = self._codes(groups, detections)
        high_at, new_at = cfg.thresholds_for(groups)
        usable = np.isfinite(det_boxes).all(axis=1) & np.isfinite(conf)
        high = np.flatnonzero(usable & (conf >= high_at))
        low = np.flatnonzero(usable & (conf >= cfg.low_threshold) & (conf < high_at))

        def associate(track_rows: np.ndarray, det_rows: np.ndarray, min_iou: float) -> tuple[np.ndarray, ...]:
            return _associate(
                pred_boxes, tracks.class_id, track_rows, det_boxes, det_cls, det_rows, min_iou, cfg.class_aware
            )

        # Matching cascade (DeepSORT): tracks seen in the last frame choose first, coasting ones take what is left.
        # A coasting track's prediction drifts, and by overlap alone it can take the detection of a fast car that
        # a running track predicted a few pixels short (and the fast car's own track is then lost).
        confirmed = np.flatnonzero(tracks.track_id > 0)
        t1a, d1a, running, free_high = associate(confirmed[~tracks.lost[confirmed]], high, cfg.match_iou)
        t1b, d1b, _, free_high = associate(confirmed[tracks.lost[confirmed]], free_high, cfg.match_iou)
        t1, d1 = np.concatenate([t1a, t1b]), np.concatenate([d1a, d1b])
        t2, d2, _, _ = associate(running, low, cfg.low_match_iou)
        fast = np.array([g in cfg.distance_match_groups for g in groups], dtype=bool)
        # A running track of a small fast road user can miss the IoU gate by a few pixels of prediction error:
        # it takes a remaining high-score detection of its group and size close to where it was predicted.
        astray = np.setdiff1d(running, t2)
        astray = astray[self._distance_group(tracks.class_id[astray])]
        tc, dc, rest = _associate_near(
            pred_boxes,
            tracks.class_id,
            astray,
            det_boxes,
            det_cls,
            free_high[fast[free_high]],
            cfg.running_match_distance,
            cfg.class_aware,
        )
        free_high = np.sort(np.concatenate([free_high[~fast[free_high]], rest]))
        tentative = np.flatnonzero(tracks.track_id == 0)
        t3, d3, lone, leftover = associate(tentative, free_high, cfg.tentative_match_iou)
        near = cfg.tentative_match_distance
        t4, d4, unmatched = _associate_near(
            pred_boxes, tracks.class_id, lone, det_boxes, det_cls, leftover[fast[leftover]], near, cfg.class_aware
        )
        leftover = np.sort(np.concatenate([leftover[~fast[leftover]], unmatched]))

        matched_t = np.concatenate([t1, t2, tc, t3, t4])
        matched_d = np.concatenate([d1, d2, dc, d3, d4])
        before = pred_boxes[t4]
        since = pts - tracks.last_seen[t4]  # a tentative track may have missed a frame (tentative_miss_s)
        tracks = self._correct(tracks, matched_t, det_boxes[matched_d], det_cls[matched_d], pts)
        if len(t4) and (since > 0).all():
            # The Kalman gain would keep most of the jump as position error: the two sightings are the velocity.
            mean = tracks.mean.copy()
            mean[t4, 4:6] = (_centres(det_boxes[d4]) - _centres(before)) / since[:, None]
            tracks = replace(tracks, mean=mean)

        # Missed confirmed tracks start (or keep) coasting; missed tentative tracks are dropped below, but
        # those of fast road-user groups only once they have gone unseen for tentative_miss_s.
        missed = np.ones(len(tracks), dtype=bool)
        missed[matched_t] = False
        patient = self._distance_group(tracks.class_id) & (pts - tracks.last_seen <= cfg.tentative_miss_s + 1e-9)
        drop = missed & (tracks.track_id == 0) & ~patient
        tracks = replace(tracks, lost=tracks.lost | (missed & (tracks.track_id > 0)))

        # Confident leftovers start tentative tracks.
        born = leftover[conf[leftover] >= new_at[leftover]]
        first = len(tracks)
        tracks = tracks.concat(self._initiate(det_boxes[born], det_cls[born], pts))
        drop = np.concatenate([drop, np.zeros(len(born), dtype=bool)])
        rows = np.concatenate([matched_t, np.arange(first, first + len(born))])
        det_rows = np.concatenate([matched_d, born])

        # Confirm in detection order, so that ids are deterministic for a given input.
        order = np.argsort(det_rows, kind="stable")
        rows, det_rows = rows[order], det_rows[order]
        track_id = tracks.track_id.copy()
        promote = rows[(track_id[rows] == 0) & (tracks.hits[rows] >= cfg.min_hits)]
        track_id[promote] = np.arange(self._next_id, self._next_id + len(promote))
        self._next_id += len(promote)
        tracks = replace(tracks, track_id=track_id)

        reported = track_id[rows] > 0
        rows, det_rows = rows[reported], det_rows[reported]
        velocity = tracks.mean[rows, 4:6].astype(np.float32).reshape(-1, 2)
        self._tracks = tracks.take(~drop)

        out = detections[det_rows]
        return Detections(out.xyxy, out.confidence, out.class_id, track_id[rows], {**out.data, "velocity": velocity})

    def _distance_group(self, class_id: np.ndarray) -> np.ndarray:
        """(T,) whether each track is of a class group matched by distance (fast road users)."""
        codes = [self._group_codes[g] for g in self.config.distance_match_groups if g in self._group_codes]
        return np.isin(class_id, codes) if codes else np.zeros(len(class_id), dtype=bool)

    @staticmethod
    def _group_names(detections: Detections) -> list[str]:
        """Each detection's class group (:data:`~vigil.detection.coco.CLASS_GROUPS`); '' without labels."""
        labels = detections.data.get("label")
        return [""] * len(detections) if labels is None else group_of(labels)

    def _codes(self, groups: list[str], detections: Detections) -> np.ndarray:
        """(N,) class-group codes: detections of one group (car, bus, truck) can continue one track.

        Detectors flicker between confusable classes from frame to frame; matching
        on the exact class would break the track each time. Codes are handed out
        per tracker, so they mean nothing outside this camera's stream.
        """
        if detections.data.get("label") is None:
            return detections.class_id
        out = np.empty(len(groups), np.int32)
        for i, group in enumerate(groups):
            out[i] = self._group_codes.setdefault(group, len(self._group_codes))
        return out

    @property
    def active_count(self) -> int:
        """Tracks held now (tentative, running and lost); for monitoring, not for identity."""
        return len(self._tracks)

    def _initiate(self, xyxy: np.ndarray, class_id: np.ndarray, pts: float) -> _Tracks:
        mean, cov = kalman.initiate(kalman.xyxy_to_xyah(xyxy))
        n = len(mean)
        track_id = np.zeros(n, np.int64)
        return _Tracks(
            mean, cov, class_id.astype(np.int32), np.ones(n, np.int64), track_id, np.zeros(n, bool), np.full(n, pts)
        )

    def _correct(
        self, tracks: _Tracks, rows: np.ndarray, xyxy: np.ndarray, class_id: np.ndarray, pts: float
    ) -> _Tracks:
        """Kalman-update the matched rows with their detections; returns new arrays."""
        if len(rows) == 0:
            return tracks
        mean, cov = tracks.mean.copy(), tracks.cov.copy()
        mean[rows], cov[rows] = kalman.update(mean[rows], cov[rows], kalman.xyxy_to_xyah(xyxy))
        hits, lost, last_seen = tracks.hits.copy(), tracks.lost.copy(), tracks.last_seen.copy()
        hits[rows] += 1
        lost[rows] = False
        last_seen[rows] = pts
        cls = tracks.class_id.copy()
        if not self.config.class_aware:
            cls[rows] = class_id
        return replace(tracks, mean=mean, cov=cov, class_id=cls, hits=hits, lost=lost, last_seen=last_seen)
