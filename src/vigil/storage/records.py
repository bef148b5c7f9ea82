"""Plain, immutable views of stored rows, handed out by :class:`~vigil.storage.store.Store`.

Callers get these instead of ORM objects so nothing they hold is tied to a
database session or can write to the database by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from vigil.storage.db import Incident

OutboxStatus = Literal["pending", "delivered", "dead"]
EvidenceKind = Literal["snapshot", "clip"]


@dataclass(frozen=True)
class OutboxItem:
    """One event to deliver to one service, as the dispatcher sees it.

    ``payload`` is :meth:`IncidentEvent.to_dict` as recorded, so what is resent
    after a restart is byte-for-byte the same event.
    """

    id: int
    event_id: str
    incident_id: str
    sequence: int
    target: str
    attempts: int
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class OutboxEntry:
    """Delivery state of one outbox row (for the console, metrics and tests)."""

    id: int
    event_id: str
    incident_id: str
    sequence: int
    target: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class IncidentRecord:
    """An incident's current state as stored."""

    incident_id: str
    type: str
    camera_id: str
    state: Literal["open", "ended"]
    start_s: float
    end_s: float | None
    started_at: datetime
    ended_at: datetime | None
    updated_at: datetime
    last_sequence: int
    bbox: tuple[float, ...]
    confidence: float
    severity: int
    details: dict[str, Any]
    snapshot_path: str | None
    clip_path: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def from_row(cls, row: Incident) -> IncidentRecord:
        return cls(
            incident_id=row.incident_id,
            type=row.type,
            camera_id=row.camera_id,
            state=row.state,  # type: ignore[arg-type]
            start_s=row.start_s,
            end_s=row.end_s,
            started_at=row.started_at,
            ended_at=row.ended_at,
            updated_at=row.updated_at,
            last_sequence=row.last_sequence,
            bbox=tuple(row.bbox),
            confidence=row.confidence,
            severity=row.severity,
            details=dict(row.details or {}),
            snapshot_path=row.snapshot_path,
            clip_path=row.clip_path,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
        )


@dataclass(frozen=True)
class CameraRecord:
    id: str
    name: str
    lat: float | None
    lon: float | None
    online: bool
    last_seen: datetime | None
    reconnects: int
    node: str | None = None
