"""One camera's rules: build them from the configuration and run them per analysed frame.

:func:`build_rules` makes only the rules that can fire on the camera: a
disabled rule, or one needing a zone kind the camera does not have (stopped
vehicle, wrong-way and congestion need a roadway or street zone, wrong-way one with a
``direction``; pedestrian one of its ``zone_kinds`` or a street; animal one of its
``zone_kinds``; crowd a crowd-area), is not
built, so it costs nothing per frame. Collision and fire look at the whole frame.

:class:`CameraRules` owns the per-camera state every rule shares (zone geometry
cache, track history, line counts) and turns one frame's tracks and fire
detections into signals.
"""

from __future__ import annotations

import numpy as np

from vigil.config.models import CARRIAGEWAY_KINDS, CameraConfig
from vigil.config.rules import RulesConfig
from vigil.core.detections import Detections
from vigil.detection.coco import PERSON_CLASSES
from vigil.incidents.types import Signal
from vigil.rules.animal import Animal
from vigil.rules.base import TALL_ASPECT, FrameContext, Rule, rename_keys
from vigil.rules.collision import Collision
from vigil.rules.congestion import Congestion
from vigil.rules.crowd import Crowd
from vigil.rules.fire import FireSmoke
from vigil.rules.history import TrackHistory
from vigil.rules.pedestrian import Pedestrian
from vigil.rules.stopped import StoppedVehicle
from vigil.rules.wrong_way import WrongWay
from vigil.rules.zones import CameraZones, LineCounter

HISTORY_S = 10.0


def build_rules(camera: CameraConfig, rules: RulesConfig) -> list[Rule]:
    """The enabled rules that can fire on ``camera``, in a fixed order.

    ``rules`` may be the global or the camera-merged configuration: the camera's
    overrides are applied here again, which changes nothing when already merged.
    """
    cfg = rules.merged(camera.rules)
    kinds = {z.kind for z in camera.zones}
    carriageway = bool(kinds & set(CARRIAGEWAY_KINDS))
    directed = any(z.kind in CARRIAGEWAY_KINDS and z.direction is not None for z in camera.zones)
    out: list[Rule] = []
    if cfg.stopped_vehicle.enabled and carriageway:
        out.append(StoppedVehicle(cfg.stopped_vehicle))
    if cfg.wrong_way.enabled and directed:
        out.append(WrongWay(cfg.wrong_way))
    if cfg.pedestrian.enabled and kinds & {*cfg.pedestrian.zone_kinds, "street"}:
        out.append(Pedestrian(cfg.pedestrian))
    if cfg.animal.enabled and kinds & set(cfg.animal.zone_kinds):
        out.append(Animal(cfg.animal))
    if cfg.collision.enabled:
        out.append(Collision(cfg.collision))
    if cfg.fire.enabled:
        out.append(FireSmoke(cfg.fire))
    if cfg.crowd.enabled and "crowd-area" in kinds:
        out.append(Crowd(cfg.crowd))
    if cfg.congestion.enabled and carriageway:
        out.append(Congestion(cfg.congestion))
    return out


class CameraRules:
    """Runs a camera's rules frame by frame.

    Parameters
    ----------
    camera : CameraConfig
    rules : RulesConfig
        Global or camera-merged thresholds (see :func:`build_rules`).
    """

    def __init__(self, camera: CameraConfig, rules: RulesConfig) -> None:
        self.camera_id = camera.id
        self.zones = CameraZones(camera.zones, camera.lines)
        self.history = TrackHistory(horizon_s=HISTORY_S, fps=camera.analytic_fps)
        self.lines = LineCounter(camera.lines)
        self.rules = build_rules(camera, rules)
        self.riders: dict[int, float] = {}  # track id -> last time seen riding
        self.upright: dict[int, float] = {}  # track id -> last time seen standing
        self.moved: dict[int, float] = {}  # track id -> last time seen moving
        self.windows = tuple(sorted({w for rule in self.rules for w in rule.windows}))

    def update(
        self,
        pts: float,
        width: int,
        height: int,
        tracks: Detections,
        fire: Detections | None = None,
        stationary: Detections | None = None,
        detections: Detections | None = None,
    ) -> list[Signal]:
        """Signals of one analysed frame; call for every analysed frame, in stream order."""
        zones = self.zones.for_size(width, height)
        self.history.update(pts, tracks)
        ctx = FrameContext(
            camera_id=self.camera_id,
            pts=pts,
            width=width,
            height=height,
            tracks=tracks,
            fire=fire if fire is not None else Detections.empty(),
            stationary=stationary if stationary is not None else Detections.empty(),
            detections=detections if detections is not None else Detections.empty(),
            zones=zones,
            history=self.history,
            windows=self.windows,
            known_riders=set(self.riders),
            upright_seen=self.upright,
            moved_seen=set(self.moved),
        )
        if zones.lines and tracks.tracker_id is not None:
            self.lines.update(zones, pts, tracks.tracker_id, ctx.ground)
        signals: list[Signal] = []
        for rule in self.rules:
            signals.extend(rule.update(ctx))
        self._remember_postures(ctx)
        return signals

    def _remember_postures(self, ctx: FrameContext) -> None:
        """Keep who rides and who stood, per track, across frames (renamed on id switches, pruned)."""
        for state in (self.riders, self.upright, self.moved):
            rename_keys(state, ctx.history.inherited)
            if ctx.history.dropped:
                for tid in ctx.history.dropped:
                    state.pop(tid, None)
        if not ctx.tracked or len(ctx.tracks) == 0:
            return
        ids = ctx.ids
        for i in np.flatnonzero(ctx.rider).tolist():
            self.riders[int(ids[i])] = ctx.pts
        standing = ctx.is_label(PERSON_CLASSES) & (ctx.aspect >= TALL_ASPECT)
        for i in np.flatnonzero(standing).tolist():
            self.upright[int(ids[i])] = ctx.pts
        for i in np.flatnonzero(ctx.has_moved).tolist():
            self.moved[int(ids[i])] = ctx.pts

    @property
    def watches_stationary(self) -> bool:
        """Whether a rule reads new stationary objects (the stopped-vehicle rule on a carriageway)."""
        return any(r.type == "stopped_vehicle" for r in self.rules)

    @property
    def line_counts(self) -> dict[str, dict[str, int]]:
        """Crossings per line and direction: ``{line_id: {"positive": n, "negative": m}}``."""
        return self.lines.counts
