"""Collision: contact between a vehicle and another road user, then a consequence that traffic does not have.

Logic
-----
1. **Contact.** A vehicle (car, motorcycle, bus, truck) and another road user
   (vehicle, person on foot, bicycle) are in contact when their boxes overlap
   with IoU > ``contact_iou`` (default 0.05) or the smaller box is covered at
   least ``contact_overlap`` (default 0.3) by the larger (a pedestrian against
   a bus has a tiny IoU), and their bottoms (where they stand) are within
   ``GROUND_HEIGHTS`` (2) of the smaller one's heights of each other: a far car
   behind a near bus overlaps it in the picture but stands far higher. Two
   vehicles whose boxes only come within ``contact_gap`` (0.2) of the smaller
   box's shorter side are in contact too (at 5 analysed fps the frame of the
   impact is seldom analysed), judged only on a stop or deflection of a member
   that moved at ``NEAR_MIN_SPEED`` (2 lengths/s) or more: a queue is joined
   slowly. Only the *start* of a contact counts (a near contact that goes on
   to overlap starts again), and only between tracks that already
   existed for ``MIN_AGE_S`` apart: a rider and their
   motorcycle, or an occupant seen through a windscreen, overlap from their
   first frame and never "collide". At the start each member's speed and
   heading over the previous ``BEFORE_S``, its box shape and whether a person
   stood upright are recorded. The speed is the lower of those over
   ``BEFORE_S`` and over the last ``RECENT_S`` (where the track was seen in
   it): a car that had already come to a halt in a queue when a neighbour's box
   reached it was moving a second ago, but did not stop because of the contact.
2. **Consequence**, within ``window_s`` (default 1.2 s) of the contact start:
   a crash stops, spins or throws a party at once, while a car that slows to a
   halt behind another over two seconds is queueing.
   Any one of these cues makes the contact a collision:

   * ``abrupt_stop``: a vehicle or bicycle that moved at >= ``min_speed``
     lengths/s (default 0.5) now moves at < ``decel_ratio`` (default 0.3)
     times that, over the last ``AFTER_S``. People stopping do not count:
     people stop at will; a person hit falls.
   * ``deflection``: a vehicle that moved at >= ``min_speed`` still moves (at
     least a third of its speed, and far enough for a heading:
     ``DEFLECT_TRAVEL`` (0.6) of its length over ``AFTER_S``, 1 length/s; a
     slower car's heading is box jitter) but, within ``DEFLECT_WITHIN_S``
     (1.2 s) of the contact, in a direction at least ``DEFLECT_DEG`` (60°)
     away from its heading before it: spun or pushed off its path. A car
     turning at a junction turns by 30°/s or less and does not get there in
     that time.
   * ``fall``: a person who stood upright (box height/width >= 1.3) now lies
     (height/width <= 0.9); or a two-wheeler whose box has become much flatter
     (height/width down to ``TOPPLE_RATIO`` of what it was): a bike on its side.
   * ``vanish``: a two-wheeler or person member has not been seen for
     ``VANISH_S`` while the vehicle it touched slowed to under ``VANISH_SLOW``
     of its speed: thrown, run over or hidden under the vehicle that stopped.

3. **One crash, one incident.** Every contact whose consequence followed is a
   hit; hits that share a member with an ongoing crash, or whose boxes lie
   within half a box of its box within ``JOIN_S`` of its start, belong to that
   crash (a car that halts against the wreck later is the same event). Each
   crash is signalled with key ``pair:<id>-<id>`` (the ids of its first hit)
   and the union of its members' boxes, from the hit on while any of its
   consequences lasts (the stopped member stays slow, the fallen stays down, a
   deflected or vanished member for ``HOLD_S``).

A member whose box touched the frame border at any time from ``BEFORE_S``
before the contact on is not judged (a car leaving the picture seems to stop as
its box is cut, and the detector often puts the cut box's edge a few pixels
inside the border), nor one whose box scale changed by
more than ``SAME_OBJECT_SCALE`` since the contact (in dense traffic the tracker
may have taken another vehicle: a "stop" or "turn" between two objects is
none) or over the ``BEFORE_S`` before it (a bus coming out from behind
something grows, and its box's centre moves with the growth). Speeds above
``MAX_SPEED`` (15 lengths/s, ~250 km/h for a car) are a tracker glitch (a box
that jumped to another object), not motion, and count as unknown; so does the
speed of a member that was missed for over ``RECENT_S`` and re-found more than
``JUMP_LENGTHS`` (1) of its length from where it was last seen (a coasting
track can take over another vehicle on its way back). Pending
contacts are kept as arrays and judged together, because a dense junction has
dozens of overlapping boxes every frame.

Overlap in the image is not contact in the world (cars in adjacent lanes
overlap from a low camera), which is why a consequence is required; a car
braking hard behind another within ``window_s`` of their boxes touching is the
remaining false alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vigil.config.rules import CollisionRule
from vigil.detection.coco import PERSON_CLASSES, ROAD_USER_CLASSES, TWO_WHEELER_CLASSES
from vigil.incidents.types import Signal
from vigil.rules.base import FLAT_ASPECT, TALL_ASPECT, FrameContext, union_box
from vigil.rules.history import TrackHistory

MIN_AGE_S = 0.3
BEFORE_S = 1.0
RECENT_S = 0.5
AFTER_S = 0.6
MAX_SPEED = 15.0
DEFLECT_DEG = 60.0
DEFLECT_WITHIN_S = 1.2
DEFLECT_MIN_SHARE = 1.0 / 3.0
# A heading over AFTER_S is trusted only when the box travelled this share of its own size in that time:
# boxes jitter by a tenth to a fifth of their size from frame to frame, which turns a shorter path by 60°.
DEFLECT_TRAVEL = 0.6
TOPPLE_RATIO = 0.55
VANISH_S = 0.6
VANISH_SLOW = 0.5
HOLD_S = 3.0
GROUND_HEIGHTS = 2.0
# Boxes that only come within the contact gap (no overlap): the vehicle must have moved this fast (own
# lengths/s) for its stop or turn to count. A queue is approached slowly; a car that halts at speed a few
# pixels from another has hit it (and at 5 fps the frame of the impact is seldom analysed).
NEAR_MIN_SPEED = 2.0
JOIN_S = 5.0
# A track re-found this many own lengths from where it was last seen, after a miss of over RECENT_S, may be
# another vehicle (no two are closer than a length): its speed across the gap is no measurement.
JUMP_LENGTHS = 1.0

Pair = tuple[int, int]

# Columns of the pending-contact table (one row per contact, both members side by side). _VOID: the member is
# not judged (its box touched the frame border, or changed scale before the contact).
_ID, _START, _V0, _PERSON, _UPRIGHT, _HX, _HY, _ASPECT, _TWO, _LAST, _SCALE, _VOID = (
    slice(0, 2),
    2,
    slice(3, 5),
    slice(5, 7),
    slice(7, 9),
    slice(9, 11),
    slice(11, 13),
    slice(13, 15),
    slice(15, 17),
    slice(17, 19),
    slice(19, 21),
    slice(21, 23),
)
_COLS = 23
_PAIRED = (_ID, _V0, _PERSON, _UPRIGHT, _HX, _HY, _ASPECT, _TWO, _LAST, _SCALE, _VOID)
# A member whose box scale (square root of its area) changed by more than this factor since the contact
# is not the same object any more (the tracker took another one in dense traffic): it proves nothing.
SAME_OBJECT_SCALE = 1.5


@dataclass
class _Hit:
    """A contact that had its consequence; signalled while the consequence lasts."""

    pair: Pair
    start: float
    at: float
    member: int
    cause: str
    speed_before: float
    labels: list[str]


@dataclass
class _Crash:
    """Hits that are one event: one incident."""

    key: str
    start: float
    box: tuple[float, float, float, float]
    hits: list[_Hit] = field(default_factory=list)

    @property
    def members(self) -> set[int]:
        return {m for h in self.hits for m in h.pair}


class Collision:
    """Signals vehicle contacts followed within ``window_s`` by a stop, a deflection, a fall or a vanishing."""

    type = "collision"
    windows: tuple[float, ...] = (BEFORE_S, AFTER_S, RECENT_S)

    def __init__(self, cfg: CollisionRule) -> None:
        self.cfg = cfg
        self._touching: set[Pair] = set()  # pairs whose boxes overlap
        self._near: set[Pair] = set()  # pairs whose boxes only come within the contact gap
        self._pending = np.zeros((0, _COLS))
        self._crashes: list[_Crash] = []
        self._hit_pairs: set[Pair] = set()

    # -- id switches -----------------------------------------------------------------------------------------
    def _rename(self, inherited: dict[int, int]) -> None:
        back = {old: new for new, old in inherited.items()}

        def fix(pair: Pair) -> Pair:
            a, b = (back.get(p, p) for p in pair)
            return (a, b) if a <= b else (b, a)

        self._touching = {fix(p) for p in self._touching}
        self._near = {fix(p) for p in self._near}
        self._hit_pairs = {fix(p) for p in self._hit_pairs}
        p = self._pending
        for old, new in back.items():
            p[:, _ID][p[:, _ID] == old] = new
        swap = p[:, 0] > p[:, 1]
        if swap.any():  # keep (low, high) order; the per-member columns swap with the ids
            for cols in _PAIRED:
                idx = np.arange(_COLS)[cols]
                p[np.ix_(swap, idx)] = p[np.ix_(swap, idx[::-1])]
        for crash in self._crashes:
            for hit in crash.hits:
                hit.pair = fix(hit.pair)
                hit.member = back.get(hit.member, hit.member)

    # -- per frame -------------------------------------------------------------------------------------------
    def _contacts(self, ctx: FrameContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row pairs (i, j) in contact in this frame: (P, 2) rows, their (P, 2) ids (sorted per pair), and (P,)
        whether the boxes only come within the contact gap (two vehicles whose boxes do not overlap)."""
        veh = np.flatnonzero(ctx.vehicle)
        users = np.flatnonzero(ctx.is_label(ROAD_USER_CLASSES) & ~ctx.rider)
        if len(veh) == 0 or len(users) < 2:
            return np.zeros((0, 2), dtype=np.int64), np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=bool)
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
        hit &= inter > 0
        # Two vehicles' boxes a few pixels apart touch too: at 5 analysed frames a second a car at 3 lengths/s
        # moves over half its length between frames, and the impact itself falls between them more often than not.
        side = np.minimum(np.minimum(ax2 - ax1, ay2 - ay1), np.minimum(bx2 - bx1, by2 - by1))
        gap = self.cfg.contact_gap * side
        near = (w > -gap) & (h > -gap) & ((w > 0) | (h > 0)) & (gap > 0) & ~hit & ctx.vehicle[users][None, :]
        hit |= near
        hit &= veh[:, None] != users[None, :]
        # Ground gate: objects that touch on the road stand on it at about the same depth, so their bottoms (their
        # ground points) lie within a couple of the smaller one's heights of each other (a car length seen
        # obliquely). A far car seen behind a near bus overlaps it in the picture but stands far higher.
        a_big = area_a >= area_b
        small_bottom, big_bottom = np.where(a_big, by2, ay2), np.where(a_big, ay2, by2)
        small_h = np.where(a_big, by2 - by1, ay2 - ay1)
        hit &= np.abs(small_bottom - big_bottom) <= GROUND_HEIGHTS * small_h
        r, c = np.nonzero(hit)
        rows = np.stack([veh[r], users[c]], axis=1)
        ids = ctx.ids[rows]
        flip = ids[:, 0] > ids[:, 1]
        rows[flip], ids[flip] = rows[flip][:, ::-1], ids[flip][:, ::-1]
        return rows, ids, near[r, c]

    def update(self, ctx: FrameContext) -> list[Signal]:
        if ctx.history.inherited:
            self._rename(ctx.history.inherited)
        if not ctx.tracked:
            self._touching, self._near, self._pending = set(), set(), np.zeros((0, _COLS))
            return self._signals(ctx, np.zeros(0))
        rows, ids, near = self._contacts(ctx)
        pairs = list(zip(ids[:, 0].tolist(), ids[:, 1].tolist(), strict=True))
        touching = dict(zip(pairs, rows.tolist(), strict=True))
        overlapping = {p for p, n in zip(pairs, near.tolist(), strict=True) if not n}
        only_near = set(touching) - overlapping
        # A contact starts when boxes come within the gap, and again when they go on to overlap (unless the first
        # is still pending): a slow car's near contact is no contact, its overlap may be.
        known = self._touching | self._hit_pairs
        new = [p for p in touching if p not in known and (p not in only_near or p not in self._near)]
        if new and len(self._pending):
            pending = set(zip(*self._pending[:, _ID].astype(np.int64).T.tolist(), strict=True))
            new = [p for p in new if p not in pending]
        if new:
            self._start(ctx, new, touching, only_near)
        self._touching, self._near = overlapping, only_near
        after = ctx.speed(AFTER_S) if len(ctx.tracks) else np.zeros(0)
        if len(self._pending):
            self._judge(ctx, after)
        return self._signals(ctx, after)

    def _start(self, ctx: FrameContext, new: list[Pair], touching: dict[Pair, list[int]], only_near: set[Pair]) -> None:
        """Record the contacts that began this frame between tracks old enough to have been apart.

        Boxes that only came within the contact gap are judged on a fast vehicle's stop or deflection alone
        (``NEAR_MIN_SPEED``): a car that slows into a queue comes to rest a few pixels behind the one ahead.
        """
        rows = np.array([touching[p] for p in new], dtype=np.int64)
        near = np.array([p in only_near for p in new], dtype=bool)[:, None]
        disp, span, _ = ctx.displacement(BEFORE_S, MIN_AGE_S)  # NaN span: seen for less than MIN_AGE_S
        # Same windows, so the same cached displacements. A recent speed that cannot be measured (the track was
        # missed over RECENT_S) vetoes nothing; one that is too new for BEFORE_S stays NaN.
        before, recent = ctx.speed(BEFORE_S), ctx.speed(RECENT_S)
        v0 = np.where(np.isnan(before), np.nan, np.fmin(before, recent))[rows]
        person = ctx.is_label(PERSON_CLASSES)[rows]
        two = ctx.is_label(TWO_WHEELER_CLASSES)[rows]
        aspect = ctx.aspect[rows]
        upright = person & (aspect >= TALL_ASPECT)
        v0 = np.where((v0 <= MAX_SPEED) & ~self._jumped(ctx)[rows], v0, np.nan)
        # A near contact's speed must be seen in the last RECENT_S as well: a track that was missed for a while
        # may have been taken over by another car, whose first sighting makes a jump, not a speed.
        v0 = np.where(near & ~((v0 >= NEAR_MIN_SPEED) & ~np.isnan(recent[rows])), np.nan, v0)
        two &= ~near
        can_stop = ~person & (v0 >= self.cfg.min_speed)
        keep = ~np.isnan(span[rows]).any(axis=1) & (can_stop | upright | two).any(axis=1)
        if keep.any():
            k = int(keep.sum())
            norm = np.maximum(np.hypot(disp[rows, 0], disp[rows, 1]), 1e-9)
            block = np.empty((k, _COLS))
            block[:, _ID] = ctx.ids[rows[keep]]
            block[:, _START] = ctx.pts
            block[:, _V0] = v0[keep]
            block[:, _PERSON] = person[keep]
            block[:, _UPRIGHT] = upright[keep]
            block[:, _HX] = (disp[rows, 0] / norm)[keep]
            block[:, _HY] = (disp[rows, 1] / norm)[keep]
            block[:, _ASPECT] = aspect[keep]
            block[:, _TWO] = two[keep]
            block[:, _LAST] = ctx.pts
            block[:, _SCALE] = _scale(ctx.tracks.xyxy[rows[keep]])
            block[:, _VOID] = (ctx.border_seen(BEFORE_S) | self._reshaped(ctx))[rows[keep]]
            self._pending = np.concatenate([self._pending, block])

    @staticmethod
    def _jumped(ctx: FrameContext) -> np.ndarray:
        """(N,) tracks re-found over ``JUMP_LENGTHS`` away after a miss of over RECENT_S within BEFORE_S: no speed.

        A missed track coasts on its motion model and may take over another vehicle on its way back: a car
        missed for 0.8 s at night was re-found on another, 2 lengths away, and that jump (3.2 lengths/s) then
        "stopped" against its neighbour. A motorcycle hidden behind the car that hits it, re-found within a
        length, is still judged.
        """
        return _per_track(ctx, lambda history: history.jump(BEFORE_S, RECENT_S + 1e-6) > JUMP_LENGTHS)

    @staticmethod
    def _reshaped(ctx: FrameContext) -> np.ndarray:
        """(N,) boxes whose scale changed by more than SAME_OBJECT_SCALE over the BEFORE_S before the contact.

        A box that grows as more of a bus comes out from behind something, or shrinks as a car goes behind
        another, moves its centre while the object hardly moves: its speed and heading before the contact are
        the box's, not the vehicle's. A car coming towards the camera grows that fast only a few lengths from it.
        """

        def grew(history: TrackHistory) -> np.ndarray:
            return np.nan_to_num(np.abs(history.growth(BEFORE_S, MIN_AGE_S))) * BEFORE_S > np.log(SAME_OBJECT_SCALE)

        return _per_track(ctx, grew)

    def _judge(self, ctx: FrameContext, after: np.ndarray) -> None:
        """Move pending contacts whose consequence happened to the hits; drop expired ones."""
        p = self._pending
        row_of = dict(zip(ctx.ids.tolist(), range(len(ctx.ids)), strict=True))
        get = row_of.get
        rows = np.fromiter((get(i, -1) for i in p[:, _ID].astype(np.int64).ravel().tolist()), np.int64, p.shape[0] * 2)
        rows = rows.reshape(-1, 2)
        present = rows >= 0
        p[:, _LAST] = np.where(present, ctx.pts, p[:, _LAST])
        safe = np.where(present, rows, 0)
        aspect = ctx.aspect[safe] if len(ctx.tracks) else np.zeros(rows.shape)
        scale = _scale(ctx.tracks.xyxy[safe]) if len(ctx.tracks) else p[:, _SCALE]
        ratio = scale / np.maximum(p[:, _SCALE], 1e-6)
        same = (ratio <= SAME_OBJECT_SCALE) & (ratio >= 1.0 / SAME_OBJECT_SCALE)
        v0 = p[:, _V0]
        vehicle_like = p[:, _PERSON] == 0
        moving_before = vehicle_like & (v0 >= self.cfg.min_speed)
        v1 = after[safe] if len(after) else np.full(rows.shape, np.nan)
        # A box cut by the frame border (a car leaving the picture) seems to stop or turn, and a rider coming
        # towards the camera whose box the bottom border cuts seems to topple: never judged, once it has touched
        # the border (its speed and shape over the following windows are the border's).
        if len(ctx.tracks):
            p[:, _VOID] = np.where(present & ctx.at_edge[safe], 1.0, p[:, _VOID])
        inside = present & same & (p[:, _VOID] == 0)
        fallen = inside & (
            ((p[:, _UPRIGHT] > 0) & (aspect <= FLAT_ASPECT))
            | ((p[:, _TWO] > 0) & (aspect <= TOPPLE_RATIO * p[:, _ASPECT]))
        )
        stopped = inside & moving_before & (v1 < self.cfg.decel_ratio * v0)
        soon = (ctx.pts - p[:, _START] <= min(DEFLECT_WITHIN_S, self.cfg.window_s) + 1e-9)[:, None]
        # Still moving means far enough for a heading as well: the heading of a car crawling in a queue, or
        # manoeuvring slowly, is its box's jitter, and turns by any angle from one frame to the next.
        still_moving = v1 >= np.maximum(DEFLECT_MIN_SHARE * v0, max(self.cfg.min_speed, DEFLECT_TRAVEL / AFTER_S))
        deflected = inside & soon & moving_before & still_moving & self._turned(ctx, p, safe)
        gone = ~present & (ctx.pts - p[:, _LAST] >= VANISH_S) & ((p[:, _TWO] > 0) | (p[:, _PERSON] > 0))
        slowed = present & moving_before & (v1 < VANISH_SLOW * v0)
        vanished = gone & slowed[:, ::-1]
        causes = (("fall", fallen), ("abrupt_stop", stopped), ("deflection", deflected), ("vanish", vanished))
        done = np.zeros(len(p), dtype=bool)
        for cause, mask in causes:
            for c in np.flatnonzero(mask.any(axis=1) & ~done).tolist():
                m = int(np.argmax(mask[c]))
                if cause == "vanish":
                    m = 1 - m  # the member that stays (and slowed) carries the incident
                pair = (int(p[c, 0]), int(p[c, 1]))
                labels = sorted(str(ctx.labels[r]) for r in rows[c] if r >= 0)
                self._hit(ctx, _Hit(pair, float(p[c, _START]), ctx.pts, pair[m], cause, float(v0[c, m]), labels))
                done[c] = True
        keep = ~done & (ctx.pts - p[:, _START] <= self.cfg.window_s + 1e-9)
        if not keep.all():
            self._pending = p[keep]

    @staticmethod
    def _turned(ctx: FrameContext, p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(C, 2) whether each member's recent heading is at least DEFLECT_DEG from its heading before contact."""
        if len(ctx.tracks) == 0:
            return np.zeros(rows.shape, dtype=bool)
        disp, span, _ = ctx.displacement(AFTER_S, 0.3)
        d = disp[rows]
        norm = np.hypot(d[..., 0], d[..., 1])
        cos = (d[..., 0] * p[:, _HX] + d[..., 1] * p[:, _HY]) / np.maximum(norm, 1e-9)
        return ~np.isnan(span[rows]) & (norm > 0) & (cos <= np.cos(np.radians(DEFLECT_DEG)))

    def _hit(self, ctx: FrameContext, hit: _Hit) -> None:
        """File a hit under the crash it belongs to, or open a new crash."""
        self._hit_pairs.add(hit.pair)
        row_of = {int(t): r for r, t in enumerate(ctx.ids.tolist())}
        rows = [row_of[t] for t in hit.pair if t in row_of]
        box = union_box(ctx.tracks.xyxy[rows]) if rows else (0.0, 0.0, 0.0, 0.0)
        for crash in self._crashes:
            # A hit on a member of a crash still going on is that crash however late it comes (a car that halts
            # against the wreck); one that is only near it belongs to it within JOIN_S of its start.
            shared = bool(crash.members & set(hit.pair))
            if shared or (ctx.pts - crash.start <= JOIN_S and _near(crash.box, box)):
                crash.hits.append(hit)
                crash.box = _union(crash.box, box)
                return
        self._crashes.append(_Crash(f"pair:{hit.pair[0]}-{hit.pair[1]}", hit.start, box, [hit]))

    def _signals(self, ctx: FrameContext, after: np.ndarray) -> list[Signal]:
        if not self._crashes:
            return []
        row_of = {int(t): r for r, t in enumerate(ctx.ids.tolist())}
        out: list[Signal] = []
        for crash in list(self._crashes):
            crash.hits = [h for h in crash.hits if self._lasts(ctx, h, row_of, after)]
            if not crash.hits:
                self._crashes.remove(crash)
                continue
            rows = sorted({row_of[t] for t in crash.members if t in row_of})
            box = union_box(ctx.tracks.xyxy[rows]) if rows else crash.box
            crash.box = box
            first = crash.hits[0]
            r = row_of.get(first.member)
            v1 = float(after[r]) if r is not None and len(after) else float("nan")
            confidence = float(ctx.tracks.confidence[rows].mean()) if rows else 0.5
            out.append(
                ctx.signal(
                    self.type,
                    crash.key,
                    box,
                    confidence,
                    self.cfg.severity,
                    {
                        "cause": first.cause,
                        "causes": sorted({h.cause for h in crash.hits}),
                        "labels": sorted({lab for h in crash.hits for lab in h.labels}),
                        "parties": len(crash.members),
                        "speed_before": None if np.isnan(first.speed_before) else round(first.speed_before, 3),
                        "speed_after": None if np.isnan(v1) else round(v1, 3),
                        "since_contact_s": round(ctx.pts - crash.start, 2),
                    },
                )
            )
        return out

    def _lasts(self, ctx: FrameContext, hit: _Hit, row_of: dict[int, int], after: np.ndarray) -> bool:
        """Whether a hit's consequence still holds: down, still slow, or within HOLD_S of a deflection/vanishing."""
        row = row_of.get(hit.member)
        if row is None:
            return False
        if hit.cause in ("deflection", "vanish"):
            return ctx.pts - hit.at <= HOLD_S
        if hit.cause == "fall":
            return bool(ctx.aspect[row] <= FLAT_ASPECT) or ctx.pts - hit.at <= HOLD_S
        v1 = float(after[row]) if len(after) else float("nan")
        return bool(np.isnan(v1) or v1 < self.cfg.decel_ratio * hit.speed_before)


def _per_track(ctx: FrameContext, flags: Callable[[TrackHistory], np.ndarray]) -> np.ndarray:
    """(N,) ``flags`` of the track history, all False where the history does not hold this frame's tracks."""
    if len(ctx.history.rows) != len(ctx.tracks):
        return np.zeros(len(ctx.tracks), dtype=bool)
    return flags(ctx.history)


def _scale(xyxy: np.ndarray) -> np.ndarray:
    """Square root of box areas (any leading shape, last axis xyxy)."""
    return np.sqrt(np.maximum(xyxy[..., 2] - xyxy[..., 0], 1.0) * np.maximum(xyxy[..., 3] - xyxy[..., 1], 1.0))


def _union(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> tuple[float, ...]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))  # type: ignore[return-value]


def _near(a: tuple[float, ...], b: tuple[float, ...], pad: float = 0.5) -> bool:
    """Whether two boxes overlap once each is grown by ``pad`` of its size."""
    aw, ah, bw, bh = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    return (
        a[0] - pad * aw < b[2] + pad * bw
        and b[0] - pad * bw < a[2] + pad * aw
        and a[1] - pad * ah < b[3] + pad * bh
        and b[1] - pad * bh < a[3] + pad * ah
    )
