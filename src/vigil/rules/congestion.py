"""Congestion: many slow vehicles in a roadway zone for a while.

Logic
-----
For each roadway zone, take the vehicles whose ground point is inside it and
their speeds over the last 2 s in own lengths/s. The zone is *jammed* when

* there are at least ``min_vehicles`` (default 8), and
* the mean speed of those with a known speed (tracked >= 1 s; at least half of
  them must be known) is at most ``max_mean_speed`` (default 0.3 lengths/s,
  about 5 km/h for a car).

The zone is signalled, key ``zone:<id>``, once it has been jammed for
``min_duration_s`` (default 10 s). A jam is only considered over after the
condition has been false for ``FALSE_GRACE_S`` (2 s): in a dense queue boxes
merge and split, and a count dipping under the threshold for a frame must not
restart the timer. Confidence grows with the number of vehicles over the
threshold (0.5 at the threshold, 1 at twice it).
"""

from __future__ import annotations

import numpy as np

from vigil.config.models import CARRIAGEWAY_KINDS
from vigil.config.rules import CongestionRule
from vigil.incidents.types import Signal
from vigil.rules.base import SPEED_WINDOW_S, FrameContext, union_box

FALSE_GRACE_S = 2.0


class Congestion:
    """Signals roadway zones jammed for ``min_duration_s``."""

    type = "congestion"
    windows: tuple[float, ...] = (SPEED_WINDOW_S,)

    def __init__(self, cfg: CongestionRule) -> None:
        self.cfg = cfg
        # zone id -> [jammed since, condition false since or None]
        self._state: dict[str, list[float | None]] = {}

    def update(self, ctx: FrameContext) -> list[Signal]:
        zones = ctx.zones.of_kind(*CARRIAGEWAY_KINDS)
        if not zones:
            return []
        n = len(ctx.tracks)
        vehicle = ctx.vehicle if n else np.zeros(0, dtype=bool)
        speed = ctx.speed() if n else np.zeros(0)
        out: list[Signal] = []
        for zone in zones:
            inside = vehicle & ctx.in_zone(zone) if n else vehicle
            count = int(np.count_nonzero(inside))
            speeds = speed[inside]
            known = speeds[~np.isnan(speeds)]
            mean = float(known.mean()) if len(known) else float("nan")
            jammed = count >= self.cfg.min_vehicles and 2 * len(known) >= count and mean <= self.cfg.max_mean_speed
            state = self._state.get(zone.id)
            if not jammed:
                if state is not None:
                    if state[1] is None:
                        state[1] = ctx.pts
                    elif ctx.pts - state[1] >= FALSE_GRACE_S:
                        del self._state[zone.id]
                continue
            if state is None:
                state = self._state[zone.id] = [ctx.pts, None]
            state[1] = None
            since = float(state[0])  # type: ignore[arg-type]
            if ctx.pts - since < self.cfg.min_duration_s - 1e-9:
                continue
            out.append(
                ctx.signal(
                    self.type,
                    f"zone:{zone.id}",
                    union_box(ctx.tracks.xyxy[inside]),
                    min(1.0, 0.5 * count / self.cfg.min_vehicles),
                    self.cfg.severity,
                    {
                        "zone": zone.id,
                        "vehicles": count,
                        "mean_speed": round(mean, 3),
                        "jammed_s": round(ctx.pts - since, 2),
                    },
                )
            )
        return out
