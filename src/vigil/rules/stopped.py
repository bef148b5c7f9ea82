"""Stopped vehicle: a vehicle standing still in a roadway zone.

Logic
-----
A vehicle (car, motorcycle, bus, truck) is *still* while its ground-point speed
over the last 2 s (:data:`~vigil.rules.base.SPEED_WINDOW_S`) is below
``max_speed`` own lengths/s (default 0.05: a 4.5 m car moving < 0.2 m/s, which
box jitter does not reach). Its still timer starts at the first still frame and
the vehicle is signalled, key ``track:<id>``, once it has been still for
``min_stopped_s`` (default 20 s) with its ground point in a roadway zone.

The timer is reset only after the vehicle has been seen moving for
``MOVING_GRACE_S`` (1 s): stop-and-go traffic, whose stops are shorter than
``min_stopped_s`` and whose moves last seconds, never fires, while a single
jittery box does not restart a 20 s wait. A vehicle hidden for a moment (a
truck passing in front) keeps its timer, and an id switch carries it over
(see :mod:`vigil.rules.history`).

Queues at traffic lights are still vehicles too: draw roadway zones away from
stop lines or raise ``min_stopped_s`` for such cameras.

**Too small to classify.** A vehicle stopped far away (the hard shoulder of a
motorway, 8-10 px long) is never detected as a vehicle, but it is a new
stationary object on the carriageway (:mod:`vigil.detection.stationary`). Such
an object is signalled, key ``object:<id>``, once it has stayed
``min_stopped_s`` with its ground point in a carriageway zone, unless a tracked
vehicle covers it (then the track decides).
"""

from __future__ import annotations

import numpy as np

from vigil.config.models import CARRIAGEWAY_KINDS
from vigil.config.rules import StoppedVehicleRule
from vigil.incidents.types import Signal
from vigil.rules.base import SPEED_WINDOW_S, FrameContext, cover_matrix, prune, rename_keys
from vigil.rules.zones import ground_points

MOVING_GRACE_S = 1.0


class StoppedVehicle:
    """Signals vehicles still for ``min_stopped_s`` inside a roadway zone."""

    type = "stopped_vehicle"
    windows: tuple[float, ...] = (SPEED_WINDOW_S,)

    def __init__(self, cfg: StoppedVehicleRule) -> None:
        self.cfg = cfg
        # track id -> [still since, moving since or None]
        self._state: dict[int, list[float | None]] = {}

    def _objects(self, ctx: FrameContext) -> list[Signal]:
        """Unclassified new stationary objects that stayed ``min_stopped_s`` on the carriageway."""
        found = ctx.stationary
        if len(found) == 0:
            return []
        long_enough = found.data["static_s"] >= self.cfg.min_stopped_s - 1e-9
        if not long_enough.any():
            return []
        roads = ctx.zones.of_kind(*CARRIAGEWAY_KINDS)
        ground = ground_points(found.xyxy)
        inside = np.zeros(len(found), dtype=bool)
        zone_ids: list[str] = [""] * len(found)
        for zone in roads:
            hit = zone.contains(ground) & ~inside
            for k in np.flatnonzero(hit).tolist():
                zone_ids[k] = zone.id
            inside |= hit
        covered = np.zeros(len(found), dtype=bool)
        if len(ctx.tracks):
            vehicles = ctx.tracks.xyxy[ctx.vehicle]
            if len(vehicles):
                covered = (cover_matrix(found.xyxy, vehicles) >= 0.5).any(axis=1)
        out = []
        for k in np.flatnonzero(long_enough & inside & ~covered).tolist():
            out.append(
                ctx.signal(
                    self.type,
                    f"object:{int(found.tracker_id[k])}",  # type: ignore[index]
                    found.xyxy[k],
                    0.5,
                    self.cfg.severity,
                    {
                        "zone": zone_ids[k],
                        "label": "unclassified object",
                        "stopped_s": round(float(found.data["static_s"][k]), 2),
                        "cue": "stationary",
                    },
                )
            )
        return out

    def update(self, ctx: FrameContext) -> list[Signal]:
        rename_keys(self._state, ctx.history.inherited)
        prune(self._state, ctx.history)
        out = self._objects(ctx)
        if not ctx.tracked or len(ctx.tracks) == 0:
            return out
        vehicle = ctx.vehicle
        speed = ctx.speed()
        still = vehicle & (speed < self.cfg.max_speed)
        moving = vehicle & (speed >= self.cfg.max_speed)
        ids = ctx.ids
        if self._state:
            moving_ids = set(ids[moving].tolist())
            for tid, state in list(self._state.items()):
                if tid not in moving_ids:
                    continue
                if state[1] is None:
                    state[1] = ctx.pts
                elif ctx.pts - state[1] >= MOVING_GRACE_S:
                    del self._state[tid]
        roads = ctx.zones.of_kind(*CARRIAGEWAY_KINDS)
        for i in np.flatnonzero(still).tolist():
            tid = int(ids[i])
            state = self._state.setdefault(tid, [ctx.pts, None])
            state[1] = None
            since = float(state[0])  # type: ignore[arg-type]
            if ctx.pts - since < self.cfg.min_stopped_s - 1e-9:
                continue
            zone = next((z for z in roads if ctx.in_zone(z)[i]), None)
            if zone is None:
                continue
            out.append(
                ctx.signal(
                    self.type,
                    f"track:{tid}",
                    ctx.tracks.xyxy[i],
                    float(ctx.tracks.confidence[i]),
                    self.cfg.severity,
                    {
                        "zone": zone.id,
                        "label": str(ctx.labels[i]),
                        "stopped_s": round(ctx.pts - since, 2),
                        "speed": round(float(speed[i]), 4),
                    },
                )
            )
        return out
