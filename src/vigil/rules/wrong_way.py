"""Wrong-way driving: a vehicle moving against its roadway zone's lane direction.

Logic
-----
For each vehicle whose ground point is in a roadway zone with a ``direction``,
take its ground-point displacement ``d`` over the last ``window_s`` (default
3 s; at least half of it must be covered, so a track seen for one frame is not
judged) and the reverse lane unit vector ``-u``. The vehicle is wrong-way when

* its travel against the lane, ``d . -u`` divided by its own length (box
  diagonal), is at least ``min_travel`` (default 1.5 lengths), and
* the angle between ``d`` and ``-u`` is at most ``max_angle_deg`` (default 60°),
  so a car crossing the lanes or turning is not counted.

Net displacement, not instantaneous velocity, is used: box jitter and a car
reversing a metre into a parking space do not add up to 1.5 lengths. Where
roadway zones overlap, the vehicle must be against every one it is in (an
ambiguous drawing never creates an alarm). Key ``track:<id>``.
"""

from __future__ import annotations

import math

import numpy as np

from vigil.config.models import CARRIAGEWAY_KINDS
from vigil.config.rules import WrongWayRule
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext


class WrongWay:
    """Signals vehicles that travelled ``min_travel`` lengths against the lane."""

    type = "wrong_way"

    def __init__(self, cfg: WrongWayRule) -> None:
        self.cfg = cfg
        self._cos_max = math.cos(math.radians(cfg.max_angle_deg))
        self.windows: tuple[float, ...] = (cfg.window_s,)

    def update(self, ctx: FrameContext) -> list[Signal]:
        zones = [z for z in ctx.zones.of_kind(*CARRIAGEWAY_KINDS) if z.direction is not None]
        if not zones or not ctx.tracked or len(ctx.tracks) == 0:
            return []
        vehicle = ctx.vehicle
        if not vehicle.any():
            return []
        disp, span, size = ctx.displacement(self.cfg.window_s, 0.5 * self.cfg.window_s)
        dist = np.hypot(disp[:, 0], disp[:, 1])
        known = vehicle & ~np.isnan(span) & (dist > 0)
        in_any = np.zeros(len(ctx.tracks), dtype=bool)
        wrong_all = known.copy()
        travel = np.full(len(ctx.tracks), np.inf)
        first_zone: dict[int, str] = {}
        for zone in zones:
            inside = ctx.in_zone(zone) & known
            against = -(disp @ zone.direction)  # type: ignore[operator]
            t = against / size
            wrong = (t >= self.cfg.min_travel) & (against >= self._cos_max * dist - 1e-9)
            wrong_all &= ~inside | wrong
            travel = np.where(inside, np.minimum(travel, t), travel)
            for i in np.flatnonzero(inside & ~in_any):
                first_zone[int(i)] = zone.id
            in_any |= inside
        out: list[Signal] = []
        for i in np.flatnonzero(in_any & wrong_all):
            zone_id = first_zone[int(i)]
            zone = next(z for z in zones if z.id == zone_id)
            cos = float(-(disp[i] @ zone.direction)) / float(dist[i])  # type: ignore[operator]
            out.append(
                ctx.signal(
                    self.type,
                    f"track:{int(ctx.ids[i])}",
                    ctx.tracks.xyxy[i],
                    float(ctx.tracks.confidence[i]),
                    self.cfg.severity,
                    {
                        "zone": zone_id,
                        "label": str(ctx.labels[i]),
                        "travel_lengths": round(float(travel[i]), 2),
                        "angle_deg": round(math.degrees(math.acos(min(1.0, max(-1.0, cos)))), 1),
                    },
                )
            )
        return out
