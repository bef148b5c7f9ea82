"""Incident rules: per-camera, per-frame conditions on tracked objects and fire detections.

Wiring: one :class:`CameraRules` per camera turns each analysed frame into
:class:`~vigil.incidents.types.Signal` records; an
:class:`~vigil.incidents.lifecycle.IncidentTracker` per camera turns those into
incident events.
"""

from vigil.rules.base import FrameContext, Rule
from vigil.rules.collision import Collision
from vigil.rules.congestion import Congestion
from vigil.rules.crowd import Crowd
from vigil.rules.engine import CameraRules, build_rules
from vigil.rules.fire import FireSmoke
from vigil.rules.history import TrackHistory
from vigil.rules.pedestrian import Pedestrian
from vigil.rules.stopped import StoppedVehicle
from vigil.rules.wrong_way import WrongWay
from vigil.rules.zones import CameraZones, FrameZones, LineCounter, ZoneGeometry

__all__ = [
    "CameraRules",
    "CameraZones",
    "Collision",
    "Congestion",
    "Crowd",
    "FireSmoke",
    "FrameContext",
    "FrameZones",
    "LineCounter",
    "Pedestrian",
    "Rule",
    "StoppedVehicle",
    "TrackHistory",
    "WrongWay",
    "ZoneGeometry",
    "build_rules",
]
