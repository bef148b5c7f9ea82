"""Recent trajectories of one camera's tracks, for speeds and durations.

Rules need "how far did this track move over the last few seconds" for every
track of every analysed frame. A per-track deque would cost a Python loop and
an array conversion per track per query, so the history is one dense ring of
analysed frames shared by all tracks: ``valid[slot, k]``, ``ground[slot, k]``
and ``box[slot, k]`` for ring position ``k`` whose time is ``t[k]``. A window
query is then a handful of (tracks x ring) numpy operations.

Speeds are in **own lengths per second**: pixel speed divided by the box
diagonal. A car far away moves few pixels but is also small, so the ratio is
roughly invariant to perspective and one threshold serves the whole image.

A track unseen for more than ``drop_after_s`` is dropped (checked every
``DROP_CHECK_S``). A *new* track id that appears where a track of the same
label was lost shortly before (IoU above ``inherit_iou`` or its centre inside
the lost box, within ``inherit_s``) inherits that track's trajectory: trackers
switch ids on occlusions, and without this a car stopped for 19 s would start
its 20 s timer again. Rules see the renaming in :attr:`TrackHistory.inherited`
and move their own state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vigil.core.boxes import at_border
from vigil.core.detections import Detections

# Dropping is checked this often (s), not every frame: a track lingers at most this much longer.
DROP_CHECK_S = 0.5


class TrackHistory:
    """Ring of (pts, ground point, box) per track over the last ``horizon_s``.

    Parameters
    ----------
    horizon_s : float
        How far back queries may look.
    fps : float
        Expected analysed frames per second; sizes the ring (with 2x margin).
    drop_after_s : float
        A track unseen this long is forgotten.
    inherit_s, inherit_iou : float
        Id-switch bridging, see the module docstring.
    """

    def __init__(
        self,
        horizon_s: float = 10.0,
        fps: float = 5.0,
        drop_after_s: float = 3.0,
        inherit_s: float = 2.0,
        inherit_iou: float = 0.3,
    ) -> None:
        self.horizon_s = horizon_s
        self.drop_after_s = drop_after_s
        self.inherit_s = inherit_s
        self.inherit_iou = inherit_iou
        self.capacity = max(16, math.ceil(horizon_s * fps * 2) + 1)
        self.reset()

    def reset(self) -> None:
        """Forget everything (e.g. the stream restarted and time went backwards)."""
        cap = self.capacity
        self._t = np.full(cap, -np.inf)
        self._head = -1
        self._pts = -np.inf
        self._last_drop = -np.inf
        self._grow(64, fresh=True)
        self._slot: dict[int, int] = {}
        self.rows = np.zeros(0, dtype=np.int64)
        self.ids = np.zeros(0, dtype=np.int64)
        self.inherited: dict[int, int] = {}
        self.dropped: list[int] = []

    def _grow(self, slots: int, fresh: bool = False) -> None:
        cap = self.capacity
        old = 0 if fresh else len(self._slot_id)
        valid = np.zeros((slots, cap), dtype=bool)
        ground = np.zeros((slots, cap, 2), dtype=np.float64)
        box = np.zeros((slots, cap, 4), dtype=np.float64)
        last_seen = np.full(slots, -np.inf)
        last_box = np.zeros((slots, 4))
        slot_id = np.full(slots, -1, dtype=np.int64)
        labels = np.full(slots, "", dtype=object)
        if old:
            valid[:old], ground[:old], box[:old] = self._valid, self._ground, self._box
            last_seen[:old], slot_id[:old], labels[:old] = self._last_seen, self._slot_id, self._labels
            last_box[:old] = self._last_box
        self._valid, self._ground, self._box = valid, ground, box
        self._last_seen, self._slot_id, self._labels, self._last_box = last_seen, slot_id, labels, last_box
        self._free = [s for s in range(slots - 1, old - 1, -1)] + ([] if fresh else self._free)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._slot

    @property
    def pts(self) -> float:
        return float(self._pts)

    def update(self, pts: float, tracks: Detections) -> None:
        """Record one analysed frame; tracks without ``tracker_id`` are not recorded."""
        if pts < self._pts - 1e-6:
            self.reset()
        self._pts = pts
        self._head = head = (self._head + 1) % self.capacity
        self._t[head] = pts
        self._valid[:, head] = False
        self.inherited = {}
        ids = tracks.tracker_id
        if ids is None or len(tracks) == 0:
            self.rows = np.zeros(0, dtype=np.int64)
            self.ids = np.zeros(0, dtype=np.int64)
        else:
            get = self._slot.get
            rows = np.fromiter((get(i, -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))
            boxes = tracks.xyxy
            if rows.min() < 0:
                self._assign_new(pts, ids, boxes, tracks.data.get("label"), rows)
            self._valid[rows, head] = True
            self._box[rows, head] = boxes
            self._ground[rows, head, 0] = (boxes[:, 0] + boxes[:, 2]) * 0.5
            self._ground[rows, head, 1] = boxes[:, 3]
            self._last_seen[rows] = pts
            self._last_box[rows] = boxes
            self.rows, self.ids = rows, ids
        self.dropped = []
        if pts - self._last_drop >= DROP_CHECK_S or pts < self._last_drop:
            self._last_drop = pts
            self._drop(pts)

    def _assign_new(
        self, pts: float, ids: np.ndarray, boxes: np.ndarray, labels: np.ndarray | None, rows: np.ndarray
    ) -> None:
        """Give the new ids of this frame a slot: a lost track's (id switch) or a free one."""
        new = np.flatnonzero(rows < 0)
        new_labels = [""] * len(new) if labels is None else [str(labels[n]) for n in new]
        # Never-used and dropped slots have last_seen = -inf, so this is "lost within inherit_s"; the
        # tracks of this frame still carry the previous frame's time here and must not be taken.
        lost_mask = (self._last_seen < pts) & (self._last_seen >= pts - self.inherit_s)
        lost_mask[rows[rows >= 0]] = False
        lost = np.flatnonzero(lost_mask)
        taken_rows: set[int] = set()
        if len(lost):
            for a, b in self._match(boxes[new], new_labels, lost):
                slot = int(lost[b])
                old_id = int(self._slot_id[slot])
                self._slot.pop(old_id, None)
                taken_rows.add(a)
                self._bind(int(ids[new[a]]), slot, new_labels[a])
                rows[new[a]] = slot
                self.inherited[int(ids[new[a]])] = old_id
        for a, n in enumerate(new.tolist()):
            if a in taken_rows:
                continue
            if not self._free:
                self._grow(2 * len(self._slot_id))
            slot = self._free.pop()
            self._valid[slot] = False
            self._bind(int(ids[n]), slot, new_labels[a])
            rows[n] = slot

    def _match(self, boxes: np.ndarray, labels: list[str], lost: np.ndarray) -> list[tuple[int, int]]:
        """Greedy best-overlap pairs (new index, lost index) of the same label that look like one object."""
        last = self._last_box[lost]
        bx1, by1, bx2, by2 = (boxes[:, k : k + 1].astype(np.float64) for k in range(4))
        lx1, ly1, lx2, ly2 = last.T
        w = np.clip(np.minimum(bx2, lx2) - np.maximum(bx1, lx1), 0, None)
        h = np.clip(np.minimum(by2, ly2) - np.maximum(by1, ly1), 0, None)
        inter = w * h
        union = (bx2 - bx1) * (by2 - by1) + ((lx2 - lx1) * (ly2 - ly1)) - inter
        iou = inter / np.maximum(union, 1e-9)
        cx, cy = (bx1 + bx2) * 0.5, (by1 + by2) * 0.5
        inside = (cx >= lx1) & (cx <= lx2) & (cy >= ly1) & (cy <= ly2)
        same = np.asarray(labels, dtype=object)[:, None] == self._labels[lost][None, :]
        score = np.where(same & ((iou > self.inherit_iou) | inside), iou + inside, -1.0)
        if score.max() < 0:
            return []
        pairs, taken_a, taken_b = [], set(), set()
        for flat in np.argsort(-score, axis=None, kind="stable").tolist():
            a, b = divmod(flat, len(lost))
            if score[a, b] < 0:
                break
            if a not in taken_a and b not in taken_b:
                pairs.append((a, b))
                taken_a.add(a)
                taken_b.add(b)
        return pairs

    def _bind(self, track_id: int, slot: int, label: str) -> None:
        self._slot[track_id] = slot
        self._slot_id[slot] = track_id
        self._labels[slot] = label

    def _drop(self, pts: float) -> None:
        stale = np.flatnonzero((self._slot_id >= 0) & (pts - self._last_seen > self.drop_after_s))
        self.dropped = [int(self._slot_id[s]) for s in stale]
        for s in stale:
            if self._slot.get(int(self._slot_id[s])) == s:
                del self._slot[int(self._slot_id[s])]
            self._slot_id[s] = -1
            self._last_seen[s] = -np.inf
            self._free.append(int(s))

    # --- queries about the tracks of the latest frame (aligned with its rows) -------------------------------

    def displacements(self, windows: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground-point motion of each current track over several windows at once.

        All windows share one gather of the ring columns they cover: for each
        track, the first valid column at or after every column is found with a
        reversed running minimum, so W windows cost about as much as one.

        Returns
        -------
        disp : np.ndarray
            (W, N, 2) pixels from each track's earliest sample in the window to now.
        span : np.ndarray
            (W, N) seconds between that sample and now (0 for a track first seen now).
        size : np.ndarray
            (W, N) mean box diagonal at both ends, pixels (the "own length"), at least 1.
        """
        n, nw = len(self.rows), len(windows)
        if n == 0 or nw == 0:
            return np.zeros((nw, n, 2)), np.zeros((nw, n)), np.ones((nw, n))
        back = (self._head - np.arange(self.capacity)) % self.capacity  # newest first; times decrease
        w = np.asarray(windows, dtype=np.float64)
        m = np.count_nonzero(self._t[back][None, :] >= self._pts - w[:, None] - 1e-9, axis=1)  # frames per window
        big = int(m.max())
        cols = back[:big][::-1]  # oldest first
        rows = self.rows
        valid = self._valid[rows[:, None], cols[None, :]]
        idx = np.where(valid, np.arange(big), big)
        first_from = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]  # first valid column >= c
        k0 = cols[first_from[:, big - m]]  # (N, W); the newest column is valid for every current track
        g0 = self._ground[rows[:, None], k0]
        b0 = self._box[rows[:, None], k0]
        g1, b1 = self._ground[rows, self._head], self._box[rows, self._head]
        disp = g1[:, None, :] - g0
        diag0 = _diagonal(b0)
        diag1 = _diagonal(b1)
        size = np.maximum(0.5 * (diag0 + diag1[:, None]), 1.0)
        span = self._pts - self._t[k0]
        return disp.transpose(1, 0, 2), span.T, size.T

    def growth(self, window_s: float, min_span_s: float = 1.0) -> np.ndarray:
        """(N,) rate of change of each current track's log box scale over the window, per second.

        An object coming towards the camera grows, and one going away shrinks,
        while its ground point hardly moves in the image; this rate, times the
        camera's focal length over the object's size, is its speed along the
        line of sight in own lengths per second. The scale is the square root
        of the box area, so that a change of posture (a person falling: taller
        becomes wider) is not taken for motion. The rate is the least-squares
        slope over every sample in the window (box sizes jitter by about 10%
        from frame to frame). NaN for tracks seen less than ``min_span_s``.
        """
        n = len(self.rows)
        if n == 0:
            return np.zeros(0)
        cols = self._recent_cols(window_s)
        valid = self._valid[self.rows[:, None], cols[None, :]]
        b = self._box[self.rows[:, None], cols[None, :]]
        scale = np.log(np.sqrt(np.maximum(b[..., 2] - b[..., 0], 1.0) * np.maximum(b[..., 3] - b[..., 1], 1.0)))
        t = np.broadcast_to(self._t[cols] - self._pts, valid.shape)
        w = valid.astype(np.float64)
        count = w.sum(axis=1)
        mt = (w * t).sum(axis=1) / np.maximum(count, 1)
        ms = (w * scale).sum(axis=1) / np.maximum(count, 1)
        dt = np.where(valid, t - mt[:, None], 0.0)
        slope = (dt * (scale - ms[:, None])).sum(axis=1) / np.maximum((dt * dt).sum(axis=1), 1e-9)
        span = -np.where(valid, t, 0.0).min(axis=1)
        return np.where((span >= min_span_s - 1e-9) & (count >= 3), slope, np.nan)

    def jump(self, window_s: float, min_gap_s: float) -> np.ndarray:
        """(N,) the longest move, in own lengths, across a gap of at least ``min_gap_s`` between two sightings.

        A track that was missed for a while coasted on its motion model; one re-found more than its own length
        from where it was last seen may have taken over another object (no two vehicles are closer than that),
        and its "speed" across the gap is that jump, not a measured motion. 0 for tracks seen without such a gap
        within the window.
        """
        n = len(self.rows)
        if n == 0:
            return np.zeros(0)
        cols = self._recent_cols(window_s)[::-1]  # oldest first
        rows = self.rows[:, None]
        valid = self._valid[rows, cols[None, :]]
        prev = np.maximum.accumulate(np.where(valid, np.arange(len(cols)), -1), axis=1)[:, :-1]  # last sighting
        later = valid[:, 1:] & (prev >= 0)
        p_col = cols[np.maximum(prev, 0)]
        gap = self._t[cols[1:]][None, :] - self._t[p_col]
        b0, b1 = self._box[rows, p_col], self._box[rows, cols[None, 1:]]
        size = 0.5 * (_diagonal(b0) + _diagonal(b1))
        move = np.hypot(*(self._ground[rows, cols[None, 1:]] - self._ground[rows, p_col]).transpose(2, 0, 1))
        lengths = np.where(later & (gap >= min_gap_s - 1e-9), move / np.maximum(size, 1.0), 0.0)
        return lengths.max(axis=1, initial=0.0)

    def touched_border(self, window_s: float, width: float, height: float, margin: float) -> np.ndarray:
        """(N,) whether each current track's box came within ``margin`` px of the frame border in the window.

        A box cut by the border (an object entering or leaving the picture)
        moves with the border, not with the object, and the detector often
        places a cut box's edge a few pixels inside it once the object is
        mostly out: a speed measured over a window that saw the box at the
        border is not the object's, even when the box no longer touches it.
        """
        if len(self.rows) == 0:
            return np.zeros(0, dtype=bool)
        cols = self._recent_cols(window_s)
        valid = self._valid[self.rows[:, None], cols[None, :]]
        edge = at_border(self._box[self.rows[:, None], cols[None, :]], width, height, margin)
        return (valid & edge).any(axis=1)

    def _recent_cols(self, window_s: float) -> np.ndarray:
        """Ring columns of the analysed frames within ``window_s`` of now, newest first (at least the newest)."""
        back = (self._head - np.arange(self.capacity)) % self.capacity
        m = max(1, int(np.count_nonzero(self._t[back] >= self._pts - window_s - 1e-9)))
        return back[:m]

    def window(self, window_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Time and ring index of each current track's earliest sample within ``window_s``.

        Returns
        -------
        t0 : np.ndarray
            (N,) times.
        k0 : np.ndarray
            (N,) ring indices of those samples.
        """
        n = len(self.rows)
        cols = self._recent_cols(window_s)[::-1]
        if n == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        valid = self._valid[self.rows[:, None], cols[None, :]]
        k0 = cols[np.argmax(valid, axis=1)]
        return self._t[k0], k0

    def displacement(self, window_s: float, min_span_s: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One window of :meth:`displacements`, with ``span`` NaN where under ``min_span_s`` (too new to judge)."""
        disp, span, size = self.displacements((window_s,))
        return disp[0], np.where(span[0] >= min_span_s - 1e-9, span[0], np.nan), size[0]

    def speed(self, window_s: float, min_span_s: float = 0.5) -> np.ndarray:
        """(N,) speed in own lengths per second over the window; NaN for tracks too new."""
        disp, span, size = self.displacement(window_s, min_span_s)
        return np.hypot(disp[:, 0], disp[:, 1]) / span / size


def _diagonal(xyxy: np.ndarray) -> np.ndarray:
    """Box diagonals (the size speeds are measured in), over the last axis of ``xyxy``."""
    return np.hypot(xyxy[..., 2] - xyxy[..., 0], xyxy[..., 3] - xyxy[..., 1])
