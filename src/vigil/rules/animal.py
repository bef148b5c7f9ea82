"""Animal on the carriageway: a cow, horse, dog or other animal on a roadway, street or tracks zone.

Logic
-----
A track whose label is an animal class (:data:`~vigil.detection.coco.ANIMAL_CLASSES`:
the COCO animals except birds, which fly off) and whose ground point is in a
zone of ``zone_kinds`` (default roadway, street, tracks) for ``min_dwell_s``
(default 1 s) without interruption is signalled, key ``track:<id>``, with
``severity`` (default 4). Detectors call one animal cow in one frame and dog or
sheep in the next; the tracker follows animals as one group, and any animal
label counts. An animal on the verge is not signalled: its feet decide. Only
an animal that has moved at some time counts: a rock or a bin the detector
calls "dog" never walks (an animal already standing in the road when the
camera starts is found once it moves).
"""

from __future__ import annotations

import numpy as np

from vigil.config.rules import AnimalRule
from vigil.detection.coco import ANIMAL_CLASSES
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext, prune, rename_keys


class Animal:
    """Signals animals that stay ``min_dwell_s`` on the carriageway."""

    type = "animal"
    windows: tuple[float, ...] = ()

    def __init__(self, cfg: AnimalRule) -> None:
        self.cfg = cfg
        self._entered: dict[int, float] = {}

    def update(self, ctx: FrameContext) -> list[Signal]:
        rename_keys(self._entered, ctx.history.inherited)
        prune(self._entered, ctx.history)
        zones = ctx.zones.of_kind(*self.cfg.zone_kinds)
        if not zones or not ctx.tracked or len(ctx.tracks) == 0:
            return []
        animals = ctx.is_label(ANIMAL_CLASSES)
        if not animals.any():
            return []
        zone_of = np.full(len(ctx.tracks), -1)
        for z, zone in enumerate(zones):
            zone_of = np.where((zone_of < 0) & animals & ctx.in_zone(zone), z, zone_of)
        ids = ctx.ids
        for i in np.flatnonzero(animals & (zone_of < 0)).tolist():
            self._entered.pop(int(ids[i]), None)
        out: list[Signal] = []
        for i in np.flatnonzero(zone_of >= 0).tolist():
            tid = int(ids[i])
            since = self._entered.setdefault(tid, ctx.pts)
            if ctx.pts - since < self.cfg.min_dwell_s - 1e-9 or not ctx.has_moved[i]:
                continue
            zone = zones[int(zone_of[i])]
            out.append(
                ctx.signal(
                    self.type,
                    f"track:{tid}",
                    ctx.tracks.xyxy[i],
                    float(ctx.tracks.confidence[i]),
                    self.cfg.severity,
                    {
                        "zone": zone.id,
                        "zone_kind": zone.kind,
                        "label": str(ctx.labels[i]),
                        "dwell_s": round(ctx.pts - since, 2),
                    },
                )
            )
        return out
