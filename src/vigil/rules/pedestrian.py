"""People on foot on the carriageway: where they must not be, down, or staying in traffic.

Logic
-----
A person on foot (riders excluded, see :attr:`~vigil.rules.base.FrameContext.rider`)
is judged by the zone their ground point (the bottom-centre of the box: the
feet) is in; a person on the kerb whose head overlaps the roadway is on the
sidewalk. A ``crossing`` zone (a pedestrian crossing drawn inside a roadway)
is allowed ground and overrides the others.

* **Forbidden zones** (``zone_kinds``, default roadway, tracks, restricted:
  motorways, tunnels, rail tracks): a person inside one for ``min_dwell_s``
  (default 1 s) without interruption is signalled. Moving from the roadway
  onto the tracks is one dwell; stepping back onto the kerb ends it.
* **Street zones** (an urban carriageway that people cross): crossing is
  normal traffic, so a person is signalled only when they stay still on it for
  ``street_still_s`` (default 15 s), e.g. standing in a junction after a crash.
  Only someone who walked there counts (a track that moved at some time): a
  bollard or a sign the detector calls "person" never walks.
* **Down**, on a forbidden or street zone: a person whose track stood upright
  (box at least 1.3 times taller than wide) within the last 10 s and who has
  been lying (box wider than 1/0.9 of its height) for ``down_s`` (default 1 s)
  is signalled at once, whatever the dwell. A box that was always wide (a
  person seen from straight above) is never "down".

Key ``track:<id>``, severity ``severity`` (default 4) and one more for a
person down. A person hidden for a moment keeps their timers, and an id switch
carries them over (see :mod:`vigil.rules.history`).
"""

from __future__ import annotations

import numpy as np

from vigil.config.rules import PedestrianRule
from vigil.incidents.types import Signal
from vigil.rules.base import SPEED_WINDOW_S, FrameContext, prune, rename_keys


class Pedestrian:
    """Signals people on foot in forbidden zones, still on streets, or down on either."""

    type = "pedestrian"
    windows: tuple[float, ...] = (SPEED_WINDOW_S,)

    def __init__(self, cfg: PedestrianRule) -> None:
        self.cfg = cfg
        self._entered: dict[int, float] = {}  # in a forbidden zone since
        self._still: dict[int, float] = {}  # still on a street zone since
        self._down: dict[int, float] = {}  # lying since

    def update(self, ctx: FrameContext) -> list[Signal]:
        for state in (self._entered, self._still, self._down):
            rename_keys(state, ctx.history.inherited)
            prune(state, ctx.history)
        forbidden = ctx.zones.of_kind(*self.cfg.zone_kinds)
        streets = [z for z in ctx.zones.of_kind("street") if z.kind not in self.cfg.zone_kinds]
        if not (forbidden or streets) or not ctx.tracked or len(ctx.tracks) == 0:
            return []
        people = ctx.pedestrian
        if not people.any():
            return []
        n = len(ctx.tracks)
        crossing = np.zeros(n, dtype=bool)
        for zone in ctx.zones.of_kind("crossing"):
            crossing |= ctx.in_zone(zone)
        people &= ~crossing
        zone_of = np.full(n, -1)
        for z, zone in enumerate(forbidden):
            zone_of = np.where((zone_of < 0) & people & ctx.in_zone(zone), z, zone_of)
        street_of = np.full(n, -1)
        for z, zone in enumerate(streets):
            street_of = np.where((street_of < 0) & people & (zone_of < 0) & ctx.in_zone(zone), z, street_of)
        ids = ctx.ids
        speed = ctx.speed()
        still = (speed < self.cfg.still_speed) & ctx.has_moved
        down = ctx.down
        out: list[Signal] = []
        for i in np.flatnonzero(people).tolist():
            tid = int(ids[i])
            zone = forbidden[zone_of[i]] if zone_of[i] >= 0 else (streets[street_of[i]] if street_of[i] >= 0 else None)
            if zone is None:
                for state in (self._entered, self._still, self._down):
                    state.pop(tid, None)
                continue
            if down[i]:
                since_down = self._down.setdefault(tid, ctx.pts)
            else:
                self._down.pop(tid, None)
                since_down = None
            if zone_of[i] >= 0:
                since = self._entered.setdefault(tid, ctx.pts)
                reason, held = "in_zone", ctx.pts - since >= self.cfg.min_dwell_s - 1e-9
            else:
                self._entered.pop(tid, None)
                if still[i]:
                    since = self._still.setdefault(tid, ctx.pts)
                else:
                    self._still.pop(tid, None)
                    since = ctx.pts
                reason, held = "still", still[i] and ctx.pts - since >= self.cfg.street_still_s - 1e-9
            is_down = since_down is not None and ctx.pts - since_down >= self.cfg.down_s - 1e-9
            if not (held or is_down):
                continue
            out.append(
                ctx.signal(
                    self.type,
                    f"track:{tid}",
                    ctx.tracks.xyxy[i],
                    float(ctx.tracks.confidence[i]),
                    self.cfg.severity + int(is_down),
                    {
                        "zone": zone.id,
                        "zone_kind": zone.kind,
                        "reason": "down" if is_down else reason,
                        "dwell_s": round(ctx.pts - since, 2),
                    },
                )
            )
        return out
