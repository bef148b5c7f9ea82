"""The records that leave the rules stage.

A rule emits a :class:`Signal` for each analysed frame in which its condition
holds. The incident lifecycle turns a run of signals with the same key into one
incident and reports its changes as :class:`IncidentEvent` records
(``new`` -> ``update``... -> ``end``), the unit that is stored and delivered
(defined in :mod:`vigil.core.events`, re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.core.events import BBox, IncidentEvent, IncidentState, new_id

__all__ = ["BBox", "IncidentEvent", "IncidentState", "Signal", "new_id"]


@dataclass(frozen=True)
class Signal:
    """One rule's observation in one analysed frame.

    Attributes
    ----------
    type : str
        Incident type (``stopped_vehicle``, ``wrong_way``, ``pedestrian``,
        ``collision``, ``fire``, ``smoke``, ``crowd``, ``congestion``).
    key : str
        Identity of the event within the camera, e.g. ``"track:17"`` or
        ``"zone:lane-1"``; equal keys in consecutive frames are the same event.
    camera_id : str
    pts : float
        Stream time of the frame, in seconds.
    bbox : tuple
        Pixel box (x1, y1, x2, y2) of what triggered it.
    confidence : float
        0..1.
    severity : int
        1 (info) .. 5 (critical).
    details : dict
        Rule-specific facts (speeds, counts, zone id...), JSON-serialisable.
    """

    type: str
    key: str
    camera_id: str
    pts: float
    bbox: BBox
    confidence: float
    severity: int = 3
    details: dict[str, Any] = field(default_factory=dict)
