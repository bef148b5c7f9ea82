"""Crowd density: too many people per area in a crowd-area zone.

Logic
-----
For each ``crowd-area`` zone, count the people (riders included) whose ground
point is inside it. Density is

* people per m² when the zone has ``area_m2`` (the real ground area), else
* people per 1 % of the frame's area the zone covers (an uncalibrated proxy:
  perspective makes it only comparable within one camera).

The zone is signalled, key ``zone:<id>``, while density > ``max_density``
(default 2.0). Severity rises by one at twice the threshold, so the lifecycle
reports an escalation. Confidence is ``density / (2 * max_density)`` capped at
1: just over the threshold is 0.5, because a few missed or extra detections
make the difference. Works without track ids (counting needs none).
"""

from __future__ import annotations

import numpy as np

from vigil.config.rules import CrowdRule
from vigil.detection.coco import PERSON_CLASSES
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext, union_box


class Crowd:
    """Signals crowd-area zones whose people density exceeds ``max_density``."""

    type = "crowd"
    windows: tuple[float, ...] = ()

    def __init__(self, cfg: CrowdRule) -> None:
        self.cfg = cfg

    def update(self, ctx: FrameContext) -> list[Signal]:
        zones = ctx.zones.of_kind("crowd-area")
        if not zones or len(ctx.tracks) == 0:
            return []
        people = ctx.is_label(PERSON_CLASSES)
        if not people.any():
            return []
        out: list[Signal] = []
        for zone in zones:
            inside = people & ctx.in_zone(zone)
            count = int(np.count_nonzero(inside))
            if zone.area_m2:
                density, unit = count / zone.area_m2, "per_m2"
            else:
                density, unit = count / max(zone.area_fraction * 100.0, 1e-6), "per_pct_frame"
            if density <= self.cfg.max_density:
                continue
            ratio = density / self.cfg.max_density
            out.append(
                ctx.signal(
                    self.type,
                    f"zone:{zone.id}",
                    union_box(ctx.tracks.xyxy[inside]),
                    min(1.0, 0.5 * ratio),
                    self.cfg.severity + (1 if ratio >= 2.0 else 0),
                    {"zone": zone.id, "people": count, "density": round(density, 3), "unit": unit},
                )
            )
        return out
