"""The unit Vigil stores and delivers: one change in an incident's life.

Kept in ``core`` because the incidents stage makes these events and the storage
and delivery stages take them; neither of those should import the incidents
stage (which itself writes evidence through storage).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

IncidentState = Literal["new", "update", "end"]
BBox = tuple[float, float, float, float]


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
