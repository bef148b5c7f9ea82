"""The records that leave the rules stage.

A rule emits a :class:`Signal` for each analysed frame in which its condition
holds. The incident lifecycle turns a run of signals with the same key into one
incident and reports its changes as :class:`IncidentEvent` records
(``new`` -> ``update``... -> ``end``), the unit that is stored and delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

IncidentState = Literal["new", "update", "end"]
BBox = tuple[float, float, float, float]


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


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class IncidentEvent:
    """A change in an incident's life; ``event_id`` is the idempotency key.

    Attributes
    ----------
    event_id : str
        Unique per event; receivers de-duplicate on it (delivery is at-least-once).
    incident_id : str
        Shared by all events of one incident.
    sequence : int
        0 for ``new``, then 1, 2... so receivers can order events.
    start_s, end_s : float
        Stream time in seconds of the start and (for ``end``) the end.
    wall_time : str
        ISO-8601 UTC time the event was made.
    """

    event_id: str
    incident_id: str
    sequence: int
    state: IncidentState
    type: str
    camera_id: str
    start_s: float
    end_s: float | None
    bbox: BBox
    confidence: float
    severity: int
    details: dict[str, Any] = field(default_factory=dict)
    wall_time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bbox"] = [round(float(v), 1) for v in self.bbox]
        return data
