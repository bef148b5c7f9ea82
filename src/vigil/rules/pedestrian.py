"""Pedestrian in a forbidden zone: a person on foot on a roadway, tracks or restricted area.

Logic
-----
A person whose ground point (bottom-centre of the box: the feet) is inside a
zone whose kind is in ``zone_kinds`` (default roadway, tracks, restricted) for
at least ``min_dwell_s`` (default 1 s) without interruption is signalled, key
``track:<id>``, with ``severity`` (default 4). The feet, not the box, decide: a
person on the kerb whose head overlaps the roadway is on the sidewalk.

Riders are not pedestrians: a person box covered at least
:data:`~vigil.rules.base.RIDER_COVER` by a bicycle or motorcycle box is the
rider of that two-wheeler, which belongs on the roadway.

The dwell restarts when the person is seen outside every such zone (a person
who steps back onto the kerb and out again is a new dwell); a person hidden for
a moment keeps it. Moving from the roadway onto the tracks is one dwell.
"""

from __future__ import annotations

import numpy as np

from vigil.config.rules import PedestrianRule
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext, prune, rename_keys


class Pedestrian:
    """Signals people on foot who stay ``min_dwell_s`` in a forbidden zone."""

    type = "pedestrian"
    windows: tuple[float, ...] = ()

    def __init__(self, cfg: PedestrianRule) -> None:
        self.cfg = cfg
        self._entered: dict[int, float] = {}

    def update(self, ctx: FrameContext) -> list[Signal]:
        rename_keys(self._entered, ctx.history.inherited)
        prune(self._entered, ctx.history)
        zones = ctx.zones.of_kind(*self.cfg.zone_kinds)
        if not zones or not ctx.tracked or len(ctx.tracks) == 0:
            return []
        people = ctx.pedestrian
        if not people.any():
            return []
        zone_of = np.full(len(ctx.tracks), -1)
        for z, zone in enumerate(zones):
            zone_of = np.where((zone_of < 0) & people & ctx.in_zone(zone), z, zone_of)
        ids = ctx.ids
        for i in np.flatnonzero(people & (zone_of < 0)):
            self._entered.pop(int(ids[i]), None)
        out: list[Signal] = []
        for i in np.flatnonzero(zone_of >= 0):
            tid = int(ids[i])
            since = self._entered.setdefault(tid, ctx.pts)
            if ctx.pts - since < self.cfg.min_dwell_s - 1e-9:
                continue
            zone = zones[int(zone_of[i])]
            out.append(
                ctx.signal(
                    self.type,
                    f"track:{tid}",
                    ctx.tracks.xyxy[i],
                    float(ctx.tracks.confidence[i]),
                    self.cfg.severity,
                    {"zone": zone.id, "zone_kind": zone.kind, "dwell_s": round(ctx.pts - since, 2)},
                )
            )
        return out
