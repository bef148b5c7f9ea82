"""What every rule sees for one analysed frame, and the interface rules share.

A rule is a small stateful object per camera: ``update(ctx)`` is called for
every analysed frame, in order, and returns the :class:`Signal` records of the
conditions that hold in that frame. Turning those into incidents (confirmation,
ending, id switches) is the lifecycle's job, not the rule's.

:class:`FrameContext` computes the per-frame facts several rules share (labels,
ground points, zone membership, speeds) once and caches them, because rules run
for every analysed frame of every camera.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from vigil.core.boxes import at_border
from vigil.core.detections import Detections
from vigil.detection.coco import COCO80, PERSON_CLASSES, TWO_WHEELER_CLASSES, VEHICLE_CLASSES
from vigil.incidents.types import BBox, Signal
from vigil.rules.history import TrackHistory
from vigil.rules.zones import FrameZones, ZoneGeometry, ground_points

# A person box covered this much by a bicycle/motorcycle box is its rider, not a pedestrian; so is one
# whose lower half (legs, where the machine is) is covered this much.
RIDER_COVER = 0.3
# A "person" moving faster than this (own lengths/s: about 4.5 m/s for an adult) rides something.
RIDER_SPEED = 2.5
# Box height over width: at or above TALL a person stands, at or below FLAT they lie.
TALL_ASPECT = 1.3
FLAT_ASPECT = 0.9
# A track that moved at least this fast (own lengths/s over SPEED_WINDOW_S) is a real mover: a static
# thing the detector mistakes for a person or an animal (a rock, a bollard) never does.
MOVED_SPEED = 0.3
# A box within this many pixels of the frame border is cut by it: its motion is not the object's.
EDGE_PX = 2.0
# Seconds over which "current" speeds are measured: long enough to average out box jitter.
SPEED_WINDOW_S = 2.0


class Rule(Protocol):
    """One incident rule for one camera.

    Attributes
    ----------
    type : str
        The incident type it signals (the fire rule signals ``fire`` and ``smoke``).
    windows : tuple of float
        Motion windows (s) it reads through :meth:`FrameContext.speed` or
        :meth:`FrameContext.displacement`, so that they are computed together.
    """

    type: str
    windows: tuple[float, ...]

    def update(self, ctx: FrameContext) -> list[Signal]:
        """Signals for the conditions that hold in this frame (called for every analysed frame, in order)."""
        ...


@dataclass(eq=False)
class FrameContext:
    """One analysed frame as the rules see it.

    Attributes
    ----------
    tracks : Detections
        Tracked objects with ``tracker_id`` and ``data["label"]``.
    fire : Detections
        Fire/smoke detections with ``data["label"]`` in {fire, smoke}.
    stationary : Detections
        New stationary objects on the carriageway, unclassified (see
        :mod:`vigil.detection.stationary`), with ``tracker_id`` and ``data["static_s"]``.
    detections : Detections
        The frame's road-user detections before tracking (tracked or not), for counts.
    zones : FrameZones
        The camera's zones and lines in this frame's pixels.
    history : TrackHistory
        Already updated with ``tracks`` for this frame (rows aligned with them).
    windows : tuple of float
        Motion windows (s) the rules will ask for; computed together on first use.
    known_riders : set of int
        Track ids seen riding in an earlier frame (a rider whose machine is
        missed for a frame is still a rider).
    upright_seen : dict
        Track id -> latest time it stood upright (so a person *going* down can be told from a box that
        was always wide).
    moved_seen : set of int
        Track ids that have moved at some time (:data:`MOVED_SPEED`).
    """

    camera_id: str
    pts: float
    width: int
    height: int
    tracks: Detections
    fire: Detections
    zones: FrameZones
    history: TrackHistory
    windows: tuple[float, ...] = ()
    stationary: Detections = field(default_factory=Detections.empty)
    detections: Detections = field(default_factory=Detections.empty)
    known_riders: set[int] = field(default_factory=set)
    upright_seen: dict[int, float] = field(default_factory=dict)
    moved_seen: set[int] = field(default_factory=set)
    _speeds: dict[float, np.ndarray] = field(default_factory=dict, repr=False)
    _displacements: dict[tuple[float, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False
    )
    _raw_displacements: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _label_masks: dict[frozenset[str], np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def labels(self) -> np.ndarray:
        """(N,) class names; from ``data["label"]`` or, failing that, COCO ids."""
        labels = self.tracks.data.get("label")
        if labels is not None:
            return np.asarray(labels).astype(str)
        ids = map(int, self.tracks.class_id)
        return np.array([COCO80[c] if 0 <= c < len(COCO80) else str(c) for c in ids], dtype=str)

    @cached_property
    def ids(self) -> np.ndarray:
        """(N,) track ids, -1 for untracked rows."""
        if self.tracks.tracker_id is None:
            return np.full(len(self.tracks), -1, dtype=np.int64)
        return self.tracks.tracker_id

    @property
    def tracked(self) -> bool:
        return self.tracks.tracker_id is not None

    @cached_property
    def ground(self) -> np.ndarray:
        """(N, 2) bottom-centre of each box."""
        return ground_points(self.tracks.xyxy)

    def displacement(self, window_s: float, min_span_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`TrackHistory.displacement` of this frame's tracks, cached.

        The first call computes every window in ``windows`` (those the camera's
        rules declared) in one pass over the history.
        """
        key = (window_s, min_span_s)
        out = self._displacements.get(key)
        if out is None:
            raw = self._raw_displacements.get(window_s)
            if raw is None:
                windows = tuple(dict.fromkeys((*self.windows, window_s)))
                n = len(self.tracks)
                if self.tracked and len(self.history.rows) == n:
                    disp, span, size = self.history.displacements(windows)
                else:
                    nw = len(windows)
                    disp, span, size = np.zeros((nw, n, 2)), np.zeros((nw, n)), np.ones((nw, n))
                for k, w in enumerate(windows):
                    self._raw_displacements[w] = (disp[k], span[k], size[k])
                raw = self._raw_displacements[window_s]
            disp, span, size = raw
            out = (disp, np.where(span >= min_span_s - 1e-9, span, np.nan), size)
            self._displacements[key] = out
        return out

    @cached_property
    def _label_codes(self) -> tuple[list[str], np.ndarray]:
        codes: dict[str, int] = {}
        inverse = np.fromiter(
            (codes.setdefault(v, len(codes)) for v in self.labels.tolist()), dtype=np.int64, count=len(self.labels)
        )
        return list(codes), inverse

    def is_label(self, labels: frozenset[str]) -> np.ndarray:
        """(N,) whether each track's label is one of ``labels`` (a group of :mod:`vigil.detection.coco`, cached)."""
        mask = self._label_masks.get(labels)
        if mask is None:
            uniq, inverse = self._label_codes
            hit = np.array([u in labels for u in uniq], dtype=bool)
            mask = hit[inverse] if len(uniq) else np.zeros(len(self.tracks), dtype=bool)
            self._label_masks[labels] = mask
        return mask

    @property
    def vehicle(self) -> np.ndarray:
        return self.is_label(VEHICLE_CLASSES)

    @cached_property
    def rider(self) -> np.ndarray:
        """(N,) persons riding a bicycle or motorcycle.

        A rider's box is largely covered by the two-wheeler's, or its lower half
        (the legs) is; or it moves faster than anyone on foot (:data:`RIDER_SPEED`);
        or it was a rider in an earlier frame of its track.
        """
        person = self.is_label(PERSON_CLASSES)
        out = np.zeros(len(self.tracks), dtype=bool)
        people = np.flatnonzero(person)
        if len(people) == 0:
            return out
        two = np.flatnonzero(self.is_label(TWO_WHEELER_CLASSES))
        if len(two):
            mine = self.tracks.xyxy[people]
            legs = mine.copy()
            legs[:, 1] = 0.5 * (mine[:, 1] + mine[:, 3])
            theirs = self.tracks.xyxy[two]
            out[people] = (cover_matrix(mine, theirs) >= RIDER_COVER).any(axis=1) | (
                cover_matrix(legs, theirs) >= RIDER_COVER
            ).any(axis=1)
        if self.tracked:
            fast = np.hypot(np.nan_to_num(self.speed()), np.nan_to_num(self.depth_speed())) > RIDER_SPEED
            out[people] |= fast[people]
            if self.known_riders:
                out[people] |= np.isin(self.ids[people], list(self.known_riders))
        return out

    def depth_speed(self, window_s: float = SPEED_WINDOW_S) -> np.ndarray:
        """(N,) speed towards or away from the camera, own lengths/s, from how fast the box grows or shrinks.

        With the focal length taken as the frame width (a 60° lens), an object
        of size ``s`` px (square root of its box area) is about ``width / s``
        own lengths away, so a log-scale rate ``g`` per second is
        ``g * width / s`` lengths/s. Lenses differ by a factor of about 2, which
        still tells walking (< 1) from riding (> 3).
        """
        if not self.tracked or len(self.history.rows) != len(self.tracks):
            return np.full(len(self.tracks), np.nan)
        wh = np.maximum(self.tracks.xyxy[:, 2:] - self.tracks.xyxy[:, :2], 1.0)
        return np.abs(self.history.growth(window_s)) * self.width / np.sqrt(wh[:, 0] * wh[:, 1])

    @cached_property
    def has_moved(self) -> np.ndarray:
        """(N,) tracks that move now or moved earlier in their life."""
        moving = np.nan_to_num(self.speed()) >= MOVED_SPEED
        if self.moved_seen:
            moving |= np.isin(self.ids, list(self.moved_seen))
        return moving

    @cached_property
    def at_edge(self) -> np.ndarray:
        """(N,) boxes touching the frame border (entering or leaving: their size and motion are cut)."""
        return at_border(self.tracks.xyxy, self.width, self.height, EDGE_PX)

    def border_seen(self, window_s: float) -> np.ndarray:
        """(N,) boxes that touched the frame border now or at any time in the last ``window_s``."""
        if not self.tracked or len(self.history.rows) != len(self.tracks):
            return self.at_edge
        return self.at_edge | self.history.touched_border(window_s, self.width, self.height, EDGE_PX)

    @cached_property
    def aspect(self) -> np.ndarray:
        """(N,) box height over width."""
        xyxy = self.tracks.xyxy
        return (xyxy[:, 3] - xyxy[:, 1]) / np.maximum(xyxy[:, 2] - xyxy[:, 0], 1e-6)

    @cached_property
    def down(self) -> np.ndarray:
        """(N,) people on foot lying down now who stood upright earlier in their track (within 10 s)."""
        flat = self.pedestrian & (self.aspect <= FLAT_ASPECT)
        if not flat.any():
            return flat
        seen = self.upright_seen
        ids = self.ids
        return flat & np.array([self.pts - seen.get(int(i), -np.inf) <= 10.0 for i in ids], dtype=bool)

    @property
    def pedestrian(self) -> np.ndarray:
        """(N,) persons on foot (riders excluded)."""
        return self.is_label(PERSON_CLASSES) & ~self.rider

    @cached_property
    def _membership(self) -> np.ndarray:
        return self.zones.membership(self.ground)

    def in_zone(self, zone: ZoneGeometry) -> np.ndarray:
        """(N,) whether each track's ground point is inside ``zone`` (all zones computed at once, cached)."""
        return self._membership[self.zones.index(zone.id)]

    def speed(self, window_s: float = SPEED_WINDOW_S) -> np.ndarray:
        """(N,) speed in own lengths/s over the last ``window_s``; NaN for tracks seen too briefly."""
        out = self._speeds.get(window_s)
        if out is None:
            disp, span, size = self.displacement(window_s, min(1.0, 0.5 * window_s))
            out = np.hypot(disp[:, 0], disp[:, 1]) / span / size
            self._speeds[window_s] = out
        return out

    def signal(
        self,
        type: str,
        key: str,
        bbox: BBox | np.ndarray,
        confidence: float,
        severity: int,
        details: Mapping[str, Any] | None = None,
    ) -> Signal:
        """A :class:`Signal` of this frame with plain-Python (JSON-ready) values."""
        box = tuple(map(float, bbox))
        return Signal(
            type=type,
            key=key,
            camera_id=self.camera_id,
            pts=float(self.pts),
            bbox=box,  # type: ignore[arg-type]
            confidence=float(min(max(confidence, 0.0), 1.0)),
            severity=int(min(max(severity, 1), 5)),
            details=dict(details or {}),
        )


def cover_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) share of each box of ``a`` covered by each box of ``b``."""
    ax1, ay1, ax2, ay2 = (a[:, k : k + 1] for k in range(4))
    bx1, by1, bx2, by2 = b.T
    w = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    h = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    return inter / np.maximum((ax2 - ax1) * (ay2 - ay1), 1e-9)


def union_box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    """The box enclosing all rows of an (N, 4) ``xyxy`` array."""
    lo, hi = xyxy[:, :2].min(axis=0).tolist(), xyxy[:, 2:].max(axis=0).tolist()
    return (lo[0], lo[1], hi[0], hi[1])


def rename_keys(state: dict[int, Any], inherited: Mapping[int, int]) -> None:
    """Move per-track state from old to new ids after the history bridged an id switch."""
    for new, old in inherited.items():
        if old in state:
            state[new] = state.pop(old)


def prune(state: dict[int, Any], history: TrackHistory) -> None:
    """Forget the state of tracks the history no longer holds (keeps memory bounded).

    Rules keep state only for the few tracks that meet a condition, so a scan of
    the state is cheaper than bookkeeping of every track.
    """
    for track_id in [k for k in state if k not in history]:
        del state[track_id]
