"""What every message format shares: the encoded message, the incident as formats see it, and the context.

A format turns one outbox item (an ``IncidentEvent.to_dict()`` payload) into
the bytes a service reads. Some formats need more than the event: DATEX II and
CAP locate incidents by the camera's position (from the configuration), and
carry the incident's first and earlier messages (from the store). The
:class:`FormatContext` gives them both, so formats stay pure functions of their
inputs and the transports never special-case one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from vigil.config.models import CameraConfig
    from vigil.storage.store import Store


class FormatError(ValueError):
    """An event that this format cannot express (e.g. DATEX II without a camera location).

    Sending it again cannot help, so the dispatcher dead-letters it at once with this message.
    """


@dataclass(frozen=True)
class Message:
    """An encoded event: the body and its media type."""

    body: bytes
    content_type: str


@dataclass(frozen=True)
class CameraInfo:
    id: str
    name: str
    lat: float | None
    lon: float | None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None

    @property
    def label(self) -> str:
        return self.name or self.id


def parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass(frozen=True)
class IncidentView:
    """One version of an incident, as the standard formats describe it.

    Attributes
    ----------
    event_id, incident_id, sequence, state, type, camera_id, severity, confidence, details
        From the event.
    started_at : datetime
        Wall time of the incident's ``new`` event (creation time of the record).
    at : datetime
        Wall time of this event (version time).
    ended_at : datetime or None
        Set for ``end``.
    earlier : tuple of (event_id, wall time)
        The incident's events before this one, oldest first (CAP ``references``).
    """

    event_id: str
    incident_id: str
    sequence: int
    state: str
    type: str
    camera_id: str
    severity: int
    confidence: float
    details: dict[str, Any]
    started_at: datetime
    at: datetime
    ended_at: datetime | None = None
    earlier: tuple[tuple[str, datetime], ...] = ()

    @property
    def version(self) -> int:
        """1 for ``new``, growing with every update and the end (DATEX II record version)."""
        return self.sequence + 1

    @classmethod
    def of(cls, payload: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> IncidentView:
        """The view at ``payload``, with ``history`` (the incident's recorded events) for the earlier ones."""
        at = parse_time(payload["wall_time"])
        seq = int(payload["sequence"])
        earlier = sorted(
            (int(e["sequence"]), e["event_id"], parse_time(e["wall_time"]))
            for e in history
            if int(e["sequence"]) < seq and e["event_id"] != payload["event_id"]
        )
        first = earlier[0][2] if earlier and earlier[0][0] == 0 else None
        return cls(
            event_id=payload["event_id"],
            incident_id=payload["incident_id"],
            sequence=seq,
            state=payload["state"],
            type=payload["type"],
            camera_id=payload["camera_id"],
            severity=int(payload["severity"]),
            confidence=float(payload["confidence"]),
            details=dict(payload.get("details") or {}),
            started_at=first or (at if seq == 0 else min([at, *(t for _, _, t in earlier)])),
            at=at,
            ended_at=at if payload["state"] == "end" else None,
            earlier=tuple((eid, t) for _, eid, t in earlier),
        )


@dataclass
class FormatContext:
    """Camera positions and names (configuration) and incident histories (store) for the formats.

    Parameters
    ----------
    cameras : mapping of id to CameraInfo
    store : Store, optional
        Where earlier events are read; without it an event is described on its own.
    """

    cameras: Mapping[str, CameraInfo] = field(default_factory=dict)
    store: Store | None = None

    @classmethod
    def build(cls, cameras: Sequence[CameraConfig] = (), store: Store | None = None) -> FormatContext:
        info = {
            c.id: CameraInfo(
                c.id, c.name, c.location.lat if c.location else None, c.location.lon if c.location else None
            )
            for c in cameras
        }
        return cls(info, store)

    def camera(self, camera_id: str) -> CameraInfo:
        """The camera's name and position; a camera no longer configured falls back to its stored record."""
        info = self.cameras.get(camera_id)
        if info is not None:
            return info
        if self.store is not None:
            for rec in self.store.list_cameras():
                if rec.id == camera_id:
                    return CameraInfo(rec.id, rec.name, rec.lat, rec.lon)
        return CameraInfo(camera_id, "", None, None)

    def history(self, incident_id: str) -> list[dict[str, Any]]:
        return self.store.list_events(incident_id) if self.store is not None else []

    def view(self, payload: Mapping[str, Any]) -> IncidentView:
        return IncidentView.of(payload, self.history(str(payload["incident_id"])))


class Format:
    """A message format, chosen per service by ``name`` (see :data:`vigil.delivery.formats.FORMATS`).

    Subclasses set ``name`` (and ``options_model``, the pydantic model of their
    options) and implement :meth:`encode`; ``options`` is the service's
    ``format`` block, a dict of the same, or ``None`` for the defaults.
    """

    name: ClassVar[str]
    options_model: ClassVar[Any] = None

    def __init__(self, options: Any = None) -> None:
        if self.options_model is not None and not isinstance(options, self.options_model):
            options = self.options_model.model_validate({**dict(options or {}), "type": self.name})
        self.options = options

    def encode(self, payload: dict[str, Any], ctx: FormatContext) -> Message:
        raise NotImplementedError
