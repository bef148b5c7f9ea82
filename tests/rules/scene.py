"""Synthetic scenes for rule tests: objects as functions of time, run at 5 analysed frames/s.

Frames are 1000 x 500 px. Boxes are given by their ground point (bottom-centre),
width and height, the way rules read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vigil.config.models import CameraConfig, LineConfig, SourceConfig, ZoneConfig
from vigil.config.rules import RulesConfig
from vigil.core.detections import Detections
from vigil.incidents.types import Signal
from vigil.rules.engine import CameraRules

W, H = 1000, 500
FPS = 5.0
DT = 1.0 / FPS
Box = tuple[float, float, float, float]
Path = Callable[[float], Box | None]

ROADWAY = ZoneConfig(id="road", kind="roadway", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)], direction=(1, 0))
SIDEWALK = ZoneConfig(id="walk", kind="sidewalk", polygon=[(0, 0.2), (1, 0.2), (1, 0.5), (0, 0.5)])


def box(cx: float, bottom: float, w: float, h: float) -> Box:
    return (cx - w / 2, bottom - h, cx + w / 2, bottom)


def still(cx: float, bottom: float, w: float = 120, h: float = 70, t0: float = -1e9, t1: float = 1e9) -> Path:
    """An object standing at one place between t0 and t1."""
    return lambda t: box(cx, bottom, w, h) if t0 <= t < t1 else None


def moving(
    cx: float,
    bottom: float,
    vx: float,
    vy: float = 0.0,
    w: float = 120,
    h: float = 70,
    t0: float = 0.0,
    t1: float = 1e9,
) -> Path:
    """An object at (cx, bottom) at t0 moving at (vx, vy) px/s until t1."""
    return lambda t: box(cx + vx * (t - t0), bottom + vy * (t - t0), w, h) if t0 <= t < t1 else None


def piecewise(*parts: tuple[float, float, Path]) -> Path:
    """Use ``path`` for t0 <= t < t1 of each (t0, t1, path)."""

    def f(t: float) -> Box | None:
        for t0, t1, path in parts:
            if t0 <= t < t1:
                return path(t)
        return None

    return f


@dataclass
class Obj:
    id: int
    label: str
    path: Path
    conf: float = 0.9


def detections_at(objs: Iterable[Obj], t: float) -> Detections:
    rows = [(o, o.path(t)) for o in objs]
    rows = [(o, b) for o, b in rows if b is not None]
    if not rows:
        return Detections(
            np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), {"label": np.zeros(0, str)}
        )
    return Detections(
        xyxy=np.array([b for _, b in rows], dtype=np.float32),
        confidence=np.array([o.conf for o, _ in rows]),
        class_id=np.zeros(len(rows)),
        tracker_id=np.array([o.id for o, _ in rows], dtype=np.int64),
        data={"label": np.array([o.label for o, _ in rows])},
    )


def camera(
    zones: Sequence[ZoneConfig] = (ROADWAY, SIDEWALK),
    lines: Sequence[LineConfig] = (),
    overrides: dict[str, dict[str, Any]] | None = None,
) -> CameraConfig:
    return CameraConfig(
        id="cam-1", source=SourceConfig(url="file.mp4"), zones=list(zones), lines=list(lines), rules=overrides or {}
    )


def run(
    objs: Sequence[Obj],
    duration: float,
    cam: CameraConfig | None = None,
    rules: RulesConfig | None = None,
    fire: Callable[[float], Detections] | None = None,
    types: Sequence[str] | None = None,
) -> list[tuple[float, list[Signal]]]:
    """Signals per analysed frame from t = 0 to ``duration``."""
    cam = cam or camera()
    engine = CameraRules(cam, rules or RulesConfig())
    out = []
    for k in range(round(duration * FPS) + 1):
        t = round(k * DT, 6)
        sig = engine.update(t, W, H, detections_at(objs, t), fire(t) if fire else None)
        if types is not None:
            sig = [s for s in sig if s.type in types]
        out.append((t, sig))
    return out


def first_time(frames: list[tuple[float, list[Signal]]], type_: str, key: str | None = None) -> float | None:
    """Time of the first signal of ``type_`` (and ``key``), or None."""
    for t, signals in frames:
        if any(s.type == type_ and (key is None or s.key == key) for s in signals):
            return t
    return None


def keys(frames: list[tuple[float, list[Signal]]], type_: str) -> set[str]:
    return {s.key for _, signals in frames for s in signals if s.type == type_}
