"""The incident store: what happened, what must still be delivered, and to whom.

:meth:`Store.record_event` writes an incident's new state, the event itself and
one outbox row per receiving service in a single transaction (the transactional
outbox pattern). Either all of it is on disk or none of it is, so a crash can
never leave an event that is stored but never delivered, or delivered but not
stored. The dispatchers (:mod:`vigil.delivery`) then read the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vigil.core.events import IncidentEvent
from vigil.storage.db import READ_ONLY, Camera, Evidence, Incident, IncidentEventRow, OutboxRow, make_engine
from vigil.storage.outbox import OutboxMixin, _now
from vigil.storage.records import CameraRecord, EvidenceKind, IncidentRecord
from vigil.storage.schema import migrate as run_migrations

log = logging.getLogger(__name__)


def _parse_time(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class Store(OutboxMixin):
    """Vigil's database (SQLite by default, PostgreSQL with the same code).

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL; see :class:`vigil.config.models.StorageConfig`.
    migrate : bool
        Upgrade the schema to head on open (the default), so start-up is the only
        step an operator needs after installing a new version.

    Notes
    -----
    Thread-safe: each call uses its own short session. Several dispatchers of one
    target may share a database (cluster mode): :meth:`claim_due` hands each row to
    one of them under a lease.
    """

    def __init__(self, database_url: str, *, migrate: bool = True, **engine_kwargs: Any) -> None:
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url, **engine_kwargs)
        if migrate:
            run_migrations(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as s:
            yield s

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction (on SQLite it never blocks writers)."""
        with self._read_sessions() as s, s.begin():
            yield s

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- incidents -----------------------------------------------------------------

    def record_event(
        self,
        event: IncidentEvent,
        targets: Iterable[str],
        snapshot_path: str | None = None,
        clip_path: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Store ``event`` and queue it for ``targets``, atomically and idempotently.

        Besides ``targets``, the event is queued for every service that already
        received an earlier event of the same incident, so a receiver that got
        ``new`` also gets the ``end`` even if, say, the severity dropped below its
        routing threshold in between.

        Returns
        -------
        bool
            ``False`` when ``event.event_id`` was already recorded (nothing written).
        """
        now = _now(now)
        try:
            with self.session() as s:
                if s.get(IncidentEventRow, event.event_id) is not None:
                    return False
                self._upsert_incident(s, event, snapshot_path, clip_path)
                s.add(
                    IncidentEventRow(
                        event_id=event.event_id,
                        incident_id=event.incident_id,
                        sequence=event.sequence,
                        state=event.state,
                        payload=event.to_dict(),
                        created_at=now,
                    )
                )
                previous = s.scalars(
                    select(OutboxRow.target).where(OutboxRow.incident_id == event.incident_id).distinct()
                ).all()
                for target in sorted(set(targets) | set(previous)):
                    s.add(
                        OutboxRow(
                            event_id=event.event_id,
                            incident_id=event.incident_id,
                            sequence=event.sequence,
                            target=target,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
                s.flush()
        except IntegrityError:
            # A concurrent writer recorded the same event first (PostgreSQL); anything
            # else is a real error.
            with self.read_session() as s:
                if s.get(IncidentEventRow, event.event_id) is not None:
                    return False
            raise
        return True

    @staticmethod
    def _upsert_incident(s: Session, event: IncidentEvent, snapshot_path: str | None, clip_path: str | None) -> None:
        wall = _parse_time(event.wall_time)
        row = s.get(Incident, event.incident_id, with_for_update=s.get_bind().dialect.name != "sqlite")
        if row is None:
            row = Incident(
                incident_id=event.incident_id,
                type=event.type,
                camera_id=event.camera_id,
                start_s=event.start_s,
                started_at=wall,
                last_sequence=event.sequence,
            )
            s.add(row)
        elif event.sequence < row.last_sequence:
            # A late, older event: keep it in the history but not as current state.
            log.warning("event %s of incident %s is older than its current state", event.event_id, row.incident_id)
            return
        row.state = "ended" if event.state == "end" else "open"
        row.end_s = event.end_s
        row.ended_at = wall if event.state == "end" else None
        row.updated_at = wall
        row.last_sequence = event.sequence
        row.bbox = [round(float(v), 1) for v in event.bbox]
        row.confidence = float(event.confidence)
        row.severity = int(event.severity)
        row.details = dict(event.details)
        if snapshot_path is not None:
            row.snapshot_path = snapshot_path
        if clip_path is not None:
            row.clip_path = clip_path

    def attach_evidence(
        self,
        incident_id: str,
        kind: EvidenceKind,
        path: str,
        size_bytes: int,
        expires_at: datetime,
        *,
        now: datetime | None = None,
    ) -> int:
        """Register a redacted snapshot/clip file so retention can delete it on time.

        Also sets the incident's ``snapshot_path`` / ``clip_path``. Returns the row id.
        """
        if kind not in ("snapshot", "clip"):
            raise ValueError(f"evidence kind must be 'snapshot' or 'clip', not {kind!r}")
        with self.session() as s:
            incident = s.get(Incident, incident_id)
            if incident is None:
                raise KeyError(f"unknown incident {incident_id!r}")
            setattr(incident, f"{kind}_path", path)
            row = Evidence(
                incident_id=incident_id,
                kind=kind,
                path=path,
                bytes=int(size_bytes),
                created_at=_now(now),
                expires_at=expires_at,
            )
            s.add(row)
            s.flush()
            return row.id

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        with self.read_session() as s:
            row = s.get(Incident, incident_id)
            return None if row is None else IncidentRecord.from_row(row)

    def list_incidents(
        self,
        *,
        state: Literal["open", "ended"] | None = None,
        camera_id: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[IncidentRecord]:
        """Incidents, newest first, optionally filtered."""
        q = select(Incident)
        if state is not None:
            q = q.where(Incident.state == state)
        if camera_id is not None:
            q = q.where(Incident.camera_id == camera_id)
        if type is not None:
            q = q.where(Incident.type == type)
        if since is not None:
            q = q.where(Incident.started_at >= since)
        q = q.order_by(Incident.started_at.desc(), Incident.incident_id).limit(limit).offset(offset)
        with self.read_session() as s:
            return [IncidentRecord.from_row(r) for r in s.scalars(q)]

    def list_events(self, incident_id: str) -> list[dict[str, Any]]:
        """The events of one incident in sequence order, as recorded (``to_dict`` form)."""
        q = select(IncidentEventRow.payload).where(IncidentEventRow.incident_id == incident_id)
        with self.read_session() as s:
            return [dict(p) for p in s.scalars(q.order_by(IncidentEventRow.sequence))]

    # -- cameras --------------------------------------------------------------------

    def upsert_camera_status(
        self,
        camera_id: str,
        *,
        online: bool,
        name: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        last_seen: datetime | None = None,
        reconnects: int | None = None,
        node: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record a camera's health; ``None`` arguments leave the stored value as it is."""
        with self.session() as s:
            row = s.get(Camera, camera_id)
            if row is None:
                row = Camera(id=camera_id, name=name or "", online=online, reconnects=0)
                s.add(row)
            row.online = online
            if name is not None:
                row.name = name
            if lat is not None:
                row.lat = lat
            if lon is not None:
                row.lon = lon
            if last_seen is not None:
                row.last_seen = last_seen
            if reconnects is not None:
                row.reconnects = reconnects
            if node is not None:
                row.node = node
            row.updated_at = _now(now)

    def list_cameras(self) -> list[CameraRecord]:
        with self.read_session() as s:
            return [
                CameraRecord(r.id, r.name, r.lat, r.lon, r.online, r.last_seen, r.reconnects, r.node)
                for r in s.scalars(select(Camera).order_by(Camera.id))
            ]
