"""Console-side queries: audit log, comments, acknowledge/resolve, paged incident lists.

Pagination is keyset (cursor) based on ``(started_at desc, incident_id desc)``:
unlike offsets it neither repeats nor skips rows when new incidents arrive
while an operator pages through the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text

from vigil.storage.db import AuditEntry, AuditPurgePermit, Incident, IncidentComment, IncidentEventRow
from vigil.storage.store import Store


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


@dataclass(frozen=True)
class IncidentFilter:
    type: str | None = None
    camera_id: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    acknowledged: bool | None = None


def incident_row_dict(row: Incident) -> dict[str, Any]:
    """Every stored field of an incident, including the console columns."""
    return {c.key: getattr(row, c.key) for c in Incident.__mapper__.column_attrs}


def page_incidents(
    store: Store, flt: IncidentFilter, limit: int, after: tuple[datetime, str] | None
) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
    """One page of incidents newest first, and the key to continue after (``None`` at the end)."""
    q = select(Incident)
    if flt.type is not None:
        q = q.where(Incident.type == flt.type)
    if flt.camera_id is not None:
        q = q.where(Incident.camera_id == flt.camera_id)
    if flt.state is not None:
        q = q.where(Incident.state == flt.state)
    if flt.since is not None:
        q = q.where(Incident.started_at >= flt.since)
    if flt.until is not None:
        q = q.where(Incident.started_at < flt.until)
    if flt.acknowledged is not None:
        q = q.where(Incident.acknowledged_at.is_not(None) if flt.acknowledged else Incident.acknowledged_at.is_(None))
    if after is not None:
        at, iid = after
        q = q.where(or_(Incident.started_at < at, and_(Incident.started_at == at, Incident.incident_id < iid)))
    q = q.order_by(Incident.started_at.desc(), Incident.incident_id.desc()).limit(limit + 1)
    with store.read_session() as s:
        rows = [incident_row_dict(r) for r in s.scalars(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = (rows[-1]["started_at"], rows[-1]["incident_id"]) if more and rows else None
    return rows, nxt


def get_incident_row(store: Store, incident_id: str) -> dict[str, Any] | None:
    with store.read_session() as s:
        row = s.get(Incident, incident_id)
        return None if row is None else incident_row_dict(row)


def acknowledge(store: Store, incident_id: str, user: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """Mark an incident acknowledged (the first acknowledgement is kept); ``None`` if unknown."""
    with store.session() as s:
        row = s.get(Incident, incident_id)
        if row is None:
            return None
        if row.acknowledged_at is None:
            row.acknowledged_at = _now(now)
            row.acknowledged_by = user
        return incident_row_dict(row)


def resolve(
    store: Store, incident_id: str, user: str, note: str, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """Record an operator's resolution (implies acknowledgement); ``None`` if unknown."""
    now = _now(now)
    with store.session() as s:
        row = s.get(Incident, incident_id)
        if row is None:
            return None
        if row.acknowledged_at is None:
            row.acknowledged_at, row.acknowledged_by = now, user
        row.resolved_at, row.resolved_by, row.resolution_note = now, user, note
        return incident_row_dict(row)


def add_comment(store: Store, incident_id: str, author: str, body: str, *, now: datetime | None = None) -> dict | None:
    with store.session() as s:
        if s.get(Incident, incident_id) is None:
            return None
        row = IncidentComment(incident_id=incident_id, author=author, text=body, created_at=_now(now))
        s.add(row)
        s.flush()
        return {"id": row.id, "author": row.author, "text": row.text, "created_at": row.created_at}


def list_comments(store: Store, incident_id: str) -> list[dict[str, Any]]:
    q = select(IncidentComment).where(IncidentComment.incident_id == incident_id).order_by(IncidentComment.id)
    with store.read_session() as s:
        return [{"id": c.id, "author": c.author, "text": c.text, "created_at": c.created_at} for c in s.scalars(q)]


def events_after(
    store: Store, after_id: str | None, since: datetime, limit: int = 500
) -> list[tuple[datetime, str, dict]]:
    """Events created at or after ``since`` (for polling), oldest first, as ``(created_at, event_id, payload)``."""
    q = (
        select(IncidentEventRow.created_at, IncidentEventRow.event_id, IncidentEventRow.payload)
        .where(IncidentEventRow.created_at >= since)
        .order_by(IncidentEventRow.created_at, IncidentEventRow.event_id)
        .limit(limit)
    )
    with store.read_session() as s:
        return [(c, e, dict(p)) for c, e, p in s.execute(q) if e != after_id]


def incident_counts(store: Store) -> dict[str, int]:
    """Number of stored incidents per type (for metrics)."""
    with store.read_session() as s:
        return {t: int(n) for t, n in s.execute(select(Incident.type, func.count()).group_by(Incident.type))}


def database_ok(store: Store) -> bool:
    try:
        with store.read_session() as s:
            s.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - health must answer, whatever the database does
        return False


# -- audit log ----------------------------------------------------------------------


def audit(
    store: Store,
    action: str,
    *,
    user: str | None,
    role: str | None,
    target: str | None = None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> int:
    """Append one row to the audit log. There is deliberately no update or delete (see :func:`purge_audit`)."""
    with store.session() as s:
        row = AuditEntry(
            at=_now(now), user=user, role=role, action=action, target=target, source_ip=source_ip, detail=detail or {}
        )
        s.add(row)
        s.flush()
        return row.id


def list_audit(
    store: Store, *, limit: int, before_id: int | None, user: str | None = None, action: str | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Audit rows newest first; returns the rows and the id to continue before (``None`` at the end)."""
    q = select(AuditEntry)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    if user is not None:
        q = q.where(AuditEntry.user == user)
    if action is not None:
        q = q.where(AuditEntry.action == action)
    q = q.order_by(AuditEntry.id.desc()).limit(limit + 1)
    with store.read_session() as s:
        rows = [
            {
                "id": r.id,
                "at": r.at,
                "user": r.user,
                "role": r.role,
                "action": r.action,
                "target": r.target,
                "source_ip": r.source_ip,
                "detail": dict(r.detail or {}),
            }
            for r in s.scalars(q)
        ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def purge_audit(store: Store, older_than: datetime) -> int:
    """Delete audit rows older than ``older_than`` (the audit retention policy); returns how many.

    The database refuses any other DELETE on ``audit_log`` (revision 0003): the purge
    holds an :class:`AuditPurgePermit` for exactly this cutoff inside its own
    transaction, and on PostgreSQL goes through the ``vigil_purge_audit`` function so
    a site may withhold DELETE on the table from Vigil's role altogether.
    """
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            return int(s.execute(text("SELECT vigil_purge_audit(:cutoff)"), {"cutoff": older_than}).scalar() or 0)
        s.add(AuditPurgePermit(before_at=older_than))
        s.flush()
        n = int(s.execute(delete(AuditEntry).where(AuditEntry.at < older_than)).rowcount or 0)  # type: ignore[attr-defined]
        s.execute(delete(AuditPurgePermit))
        return n
