"""Collision: contact between a vehicle and another road user, then an abrupt stop or a fall.

Logic
-----
1. **Contact.** A vehicle (car, motorcycle, bus, truck) and another road user
   (vehicle, person on foot, bicycle) are in contact when their boxes overlap
   with IoU > ``contact_iou`` (default 0.05) or the smaller box is covered at
   least ``contact_overlap`` (default 0.3) by the larger (a pedestrian against
   a bus has a tiny IoU). Only the *start* of a contact is an event, and only
   between tracks that already existed for ``MIN_AGE_S`` apart: a rider and
   their motorcycle, or an occupant seen through a windscreen, overlap from
   their first frame and never "collide". At the start the speeds over the
   previous ``BEFORE_S`` (1 s) and whether a person stood upright (box
   height/width >= ``TALL_ASPECT``) are recorded.
2. **Consequence** within ``window_s`` (default 2 s) of the contact start:
   * an abrupt stop: a vehicle or bicycle that moved at >= ``min_speed``
     lengths/s (default 0.5) before now moves at < ``decel_ratio`` (default
     0.3) times that speed, measured over the last ``AFTER_S`` (0.6 s). A
     person stopping does not count: people stop at will (a pedestrian who
     walks behind a parked car and waits is no collision), a person hit falls; or
   * a fall: a person who stood upright now has a box wider than tall
     (height/width <= ``FALLEN_ASPECT``).
3. The pair is signalled, key ``pair:<id>-<id>`` (ids sorted), with the union
   of both boxes, from that frame on while the stopped member stays slow or the
   fallen person stays down; it stops when they move on or leave.

Speeds above ``MAX_SPEED`` (15 lengths/s, ~250 km/h for a car) are a tracker
glitch (a box that jumped to another object), not motion, and count as unknown.
Pending contacts are kept as arrays and judged together, because a dense
junction has dozens of overlapping boxes every frame.

Overlap in the image is not contact in the world (cars in adjacent lanes
overlap from a low camera), which is why a consequence is required; a car
braking hard behind another within ``window_s`` of their boxes touching is the
remaining false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.config.rules import CollisionRule
from vigil.detection.coco import PERSON_CLASSES, ROAD_USER_CLASSES
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext, union_box

MIN_AGE_S = 0.5
BEFORE_S = 1.0
AFTER_S = 0.6
TALL_ASPECT = 1.3
FALLEN_ASPECT = 0.9
MAX_SPEED = 15.0

Pair = tuple[int, int]


@dataclass
class _Hit:
    """A contact that had its consequence; signalled while the consequence lasts."""

    start: float
    member: int
    cause: str
    speed_before: float
    labels: list[str]


# Columns of the pending-contact table (one row per contact, both members side by side).
_ID, _START, _V0, _PERSON, _UPRIGHT = slice(0, 2), 2, slice(3, 5), slice(5, 7), slice(7, 9)


class Collision:
    """Signals vehicle contacts followed within ``window_s`` by an abrupt stop or a fall."""

    type = "collision"
    windows: tuple[float, ...] = (BEFORE_S, AFTER_S)

    def __init__(self, cfg: CollisionRule) -> None:
        self.cfg = cfg
        self._touching: set[Pair] = set()
        # ids (2), start, speed before (2), is a person (2), stood upright at contact (2); ids fit a float64 exactly.
        self._pending = np.zeros((0, 9))
        self._hits: dict[Pair, _Hit] = {}

    def _rename(self, inherited: dict[int, int]) -> None:
        back = {old: new for new, old in inherited.items()}

        def fix(pair: Pair) -> Pair:
            a, b = (back.get(p, p) for p in pair)
            return (a, b) if a <= b else (b, a)

        self._touching = {fix(p) for p in self._touching}
        p = self._pending
        for old, new in back.items():
            p[:, _ID][p[:, _ID] == old] = new
        swap = p[:, 0] > p[:, 1]
        if swap.any():  # keep (low, high) order; the per-member columns swap with the ids
            for cols in (_ID, _V0, _PERSON, _UPRIGHT):
                p[np.ix_(swap, np.arange(9)[cols])] = p[np.ix_(swap, np.arange(9)[cols][::-1])]
        hits = {}
        for pair, hit in self._hits.items():
            hit.member = back.get(hit.member, hit.member)
            hits[fix(pair)] = hit
        self._hits = hits

    def _contacts(self, ctx: FrameContext) -> tuple[np.ndarray, np.ndarray]:
        """Row pairs (i, j) in contact in this frame: (P, 2) rows and their (P, 2) ids, ids sorted per pair."""
        veh = np.flatnonzero(ctx.vehicle)
        users = np.flatnonzero(ctx.is_label(ROAD_USER_CLASSES) & ~ctx.rider)
        if len(veh) == 0 or len(users) < 2:
            return np.zeros((0, 2), dtype=np.int64), np.zeros((0, 2), dtype=np.int64)
        a = ctx.tracks.xyxy[veh]
        b = ctx.tracks.xyxy[users]
        ax1, ay1, ax2, ay2 = (a[:, k : k + 1] for k in range(4))
        bx1, by1, bx2, by2 = b.T
        w = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
        h = np.minimum(ay2, by2) - np.maximum(ay1, by1)
        inter = np.where((w > 0) & (h > 0), w * h, 0.0)
        area_a = (ax2 - ax1) * (ay2 - ay1)
        area_b = (bx2 - bx1) * (by2 - by1)
        # IoU > t  <=>  inter > t * union; cover >= c  <=>  inter >= c * smaller area (no divisions).
        hit = (inter > self.cfg.contact_iou * (area_a + area_b - inter)) | (
            inter >= self.cfg.contact_overlap * np.minimum(area_a, area_b)
        )
        hit &= (inter > 0) & (veh[:, None] != users[None, :])
        r, c = np.nonzero(hit)
        rows = np.stack([veh[r], users[c]], axis=1)
        ids = ctx.ids[rows]
        flip = ids[:, 0] > ids[:, 1]
        rows[flip], ids[flip] = rows[flip][:, ::-1], ids[flip][:, ::-1]
        return rows, ids

    def update(self, ctx: FrameContext) -> list[Signal]:
        if ctx.history.inherited:
            self._rename(ctx.history.inherited)
        if not ctx.tracked or len(ctx.tracks) == 0:
            self._touching, self._pending, self._hits = set(), np.zeros((0, 9)), {}
            return []
        rows, ids = self._contacts(ctx)
        touching = dict(zip(zip(ids[:, 0].tolist(), ids[:, 1].tolist(), strict=True), rows.tolist(), strict=True))
        known = self._touching | self._hits.keys()
        new = [p for p in touching if p not in known]
        if new and len(self._pending):
            pending = set(zip(*self._pending[:, _ID].astype(np.int64).T.tolist(), strict=True))
            new = [p for p in new if p not in pending]
        if new:
            self._start(ctx, new, touching)
        self._touching = set(touching)
        after = ctx.speed(AFTER_S)
        if len(self._pending):
            self._judge(ctx, after)
        return self._signals(ctx, after)

    def _start(self, ctx: FrameContext, new: list[Pair], touching: dict[Pair, list[int]]) -> None:
        """Record the contacts that began this frame between tracks old enough to have been apart."""
        rows = np.array([touching[p] for p in new], dtype=np.int64)
        _, span, _ = ctx.displacement(BEFORE_S, MIN_AGE_S)  # NaN span: seen for less than MIN_AGE_S
        v0 = ctx.speed(BEFORE_S)[rows]  # same window, so the same cached displacement
        person = ctx.is_label(PERSON_CLASSES)[rows]
        xyxy = ctx.tracks.xyxy[rows]
        upright = person & ((xyxy[..., 3] - xyxy[..., 1]) >= TALL_ASPECT * (xyxy[..., 2] - xyxy[..., 0]))
        v0 = np.where(v0 <= MAX_SPEED, v0, np.nan)
        can_stop = ~person & (v0 >= self.cfg.min_speed)
        keep = ~np.isnan(span[rows]).any(axis=1) & (can_stop | upright).any(axis=1)  # else nothing could follow
        if keep.any():
            k = int(keep.sum())
            block = np.empty((k, 9))
            block[:, _ID] = ctx.ids[rows[keep]]
            block[:, _START] = ctx.pts
            block[:, _V0] = v0[keep]
            block[:, _PERSON] = person[keep]
            block[:, _UPRIGHT] = upright[keep]
            self._pending = np.concatenate([self._pending, block])

    def _judge(self, ctx: FrameContext, after: np.ndarray) -> None:
        """Move pending contacts whose consequence happened to the hits; drop expired ones."""
        p = self._pending
        row_of = dict(zip(ctx.ids.tolist(), range(len(ctx.ids)), strict=True))
        get = row_of.get
        rows = np.fromiter((get(i, -1) for i in p[:, _ID].astype(np.int64).ravel().tolist()), np.int64, p.shape[0] * 2)
        rows = rows.reshape(-1, 2)
        present = rows >= 0
        xyxy = ctx.tracks.xyxy[rows]
        v0 = p[:, _V0]
        fallen = (
            (p[:, _UPRIGHT] > 0)
            & present
            & ((xyxy[..., 3] - xyxy[..., 1]) <= FALLEN_ASPECT * (xyxy[..., 2] - xyxy[..., 0]))
        )
        stopped = (
            (p[:, _PERSON] == 0) & present & (v0 >= self.cfg.min_speed) & (after[rows] < self.cfg.decel_ratio * v0)
        )
        done = fallen.any(axis=1) | stopped.any(axis=1)
        for c in np.flatnonzero(done).tolist():
            fell = bool(fallen[c].any())
            m = int(np.argmax(fallen[c] if fell else stopped[c]))
            pair = (int(p[c, 0]), int(p[c, 1]))
            labels = sorted(str(ctx.labels[r]) for r in rows[c] if r >= 0)
            self._hits[pair] = _Hit(
                float(p[c, _START]), pair[m], "fall" if fell else "abrupt_stop", float(v0[c, m]), labels
            )
        keep = ~done & (ctx.pts - p[:, _START] <= self.cfg.window_s + 1e-9)
        if not keep.all():
            self._pending = p[keep]

    def _signals(self, ctx: FrameContext, after: np.ndarray) -> list[Signal]:
        if not self._hits:
            return []
        row_of = {int(t): r for r, t in enumerate(ctx.ids.tolist())}
        out: list[Signal] = []
        for pair, hit in list(self._hits.items()):
            r = row_of.get(hit.member)
            if r is None or not self._lasts(ctx, hit, r, after):
                del self._hits[pair]
                continue
            rows = [row_of[t] for t in pair if t in row_of]
            v1 = float(after[r])
            out.append(
                ctx.signal(
                    self.type,
                    f"pair:{pair[0]}-{pair[1]}",
                    union_box(ctx.tracks.xyxy[rows]),
                    float(ctx.tracks.confidence[rows].mean()),
                    self.cfg.severity,
                    {
                        "cause": hit.cause,
                        "labels": hit.labels,
                        "speed_before": None if np.isnan(hit.speed_before) else round(hit.speed_before, 3),
                        "speed_after": None if np.isnan(v1) else round(v1, 3),
                        "since_contact_s": round(ctx.pts - hit.start, 2),
                    },
                )
            )
        return out

    def _lasts(self, ctx: FrameContext, hit: _Hit, row: int, after: np.ndarray) -> bool:
        """Whether the consequence still holds: the person is still down, or the stopped member still slow."""
        if hit.cause == "fall":
            x1, y1, x2, y2 = ctx.tracks.xyxy[row]
            return bool(y2 - y1 <= FALLEN_ASPECT * (x2 - x1))
        v1 = float(after[row])
        return bool(np.isnan(v1) or v1 < self.cfg.decel_ratio * hit.speed_before)
