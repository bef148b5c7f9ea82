"""Incidents: filtered, cursor-paged lists; detail; acknowledge, resolve, comment; redacted media."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from vigil.api.auth import CurrentUser, Operator, Principal, audit, authenticated
from vigil.api.context import context, decode_cursor, encode_cursor
from vigil.api.events import public_details, public_event
from vigil.api.models import CommentIn, CommentOut, IncidentDetail, IncidentOut, IncidentPage, ResolveIn
from vigil.storage import console

router = APIRouter(prefix="/api/incidents", tags=["incidents"], dependencies=[Depends(authenticated)])
IncidentId = Annotated[str, PathParam(min_length=1, max_length=64)]


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def incident_out(row: dict[str, Any]) -> IncidentOut:
    iid = row["incident_id"]
    return IncidentOut(
        id=iid,
        bbox=list(row["bbox"] or []),
        details=public_details(row["details"], iid),
        snapshot_url=f"/api/incidents/{iid}/snapshot" if row.get("snapshot_path") else None,
        clip_url=f"/api/incidents/{iid}/clip" if row.get("clip_path") else None,
        **{k: row[k] for k in IncidentOut.model_fields if k in row and k not in ("bbox", "details")},
    )


def _decode_incident_cursor(cursor: str) -> tuple[datetime, str]:
    value = decode_cursor(cursor)
    try:
        at, iid = value
        parsed = _utc(datetime.fromisoformat(at))
        if not isinstance(iid, str) or parsed is None:
            raise ValueError
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, "cursor: not a valid cursor") from exc
    return parsed, iid


@router.get("", response_model=IncidentPage, responses={400: {}})
def list_incidents(
    request: Request,
    type: str | None = Query(None, max_length=64),
    camera: str | None = Query(None, max_length=128),
    state: Literal["open", "ended"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    acknowledged: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=512),
) -> IncidentPage:
    """Newest first (started_at, then id, descending); pass ``next_cursor`` back as ``cursor``."""
    after = _decode_incident_cursor(cursor) if cursor else None
    flt = console.IncidentFilter(type, camera, state, _utc(since), _utc(until), acknowledged)
    rows, nxt = console.page_incidents(context(request).store, flt, limit, after)
    return IncidentPage(
        items=[incident_out(r) for r in rows],
        next_cursor=encode_cursor([nxt[0].isoformat(), nxt[1]]) if nxt else None,
    )


def _get(request: Request, incident_id: str) -> dict[str, Any]:
    row = console.get_incident_row(context(request).store, incident_id)
    if row is None:
        raise HTTPException(404, "incident_id: no such incident")
    return row


@router.get("/{incident_id}", response_model=IncidentDetail, responses={404: {}})
def get_incident(request: Request, incident_id: IncidentId) -> IncidentDetail:
    row = _get(request, incident_id)
    store = context(request).store
    return IncidentDetail(
        **incident_out(row).model_dump(),
        events=[public_event(e) for e in store.list_events(incident_id)],
        comments=[CommentOut(**c) for c in console.list_comments(store, incident_id)],
    )


@router.post("/{incident_id}/ack", response_model=IncidentOut, responses={404: {}})
def acknowledge(request: Request, incident_id: IncidentId, principal: Operator) -> IncidentOut:
    row = console.acknowledge(context(request).store, incident_id, principal.username)
    if row is None:
        raise HTTPException(404, "incident_id: no such incident")
    audit(request, principal, "incident.ack", incident_id)
    return incident_out(row)


@router.post("/{incident_id}/resolve", response_model=IncidentOut, responses={404: {}})
def resolve(
    body: ResolveIn,
    request: Request,
    incident_id: IncidentId,
    principal: Operator,
) -> IncidentOut:
    row = console.resolve(context(request).store, incident_id, principal.username, body.note)
    if row is None:
        raise HTTPException(404, "incident_id: no such incident")
    audit(request, principal, "incident.resolve", incident_id, note=body.note)
    return incident_out(row)


@router.post("/{incident_id}/comments", response_model=CommentOut, status_code=201, responses={404: {}})
def add_comment(
    body: CommentIn,
    request: Request,
    incident_id: IncidentId,
    principal: Operator,
) -> CommentOut:
    comment = console.add_comment(context(request).store, incident_id, principal.username, body.text)
    if comment is None:
        raise HTTPException(404, "incident_id: no such incident")
    audit(request, principal, "incident.comment", incident_id, comment_id=comment["id"])
    return CommentOut(**comment)


def media_file(media_dir: Path, stored: str | None) -> Path:
    """The evidence file for a stored path; 404 if missing, 403 if it lies outside ``media_dir``."""
    if not stored:
        raise HTTPException(404, "no such evidence file")
    p = Path(stored)
    p = (p if p.is_absolute() else media_dir / p).resolve()
    if not p.is_relative_to(media_dir):
        raise HTTPException(403, "evidence path is outside the media folder")
    if not p.is_file():
        raise HTTPException(404, "evidence file no longer exists (retention may have removed it)")
    return p


def _serve(request: Request, incident_id: str, principal: Principal, kind: str, media_type: str) -> FileResponse:
    row = _get(request, incident_id)
    path = media_file(context(request).media_dir, row[f"{kind}_path"])
    audit(request, principal, f"view.{kind}", incident_id, range=request.headers.get("range"))
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, no-store"})


_MEDIA = {200: {}, 206: {}, 403: {}, 404: {}, 416: {}}


@router.get("/{incident_id}/snapshot", response_class=FileResponse, responses=_MEDIA)
def snapshot(request: Request, incident_id: IncidentId, principal: CurrentUser) -> FileResponse:
    """The stored redacted snapshot (JPEG). Every request is audited."""
    return _serve(request, incident_id, principal, "snapshot", "image/jpeg")


@router.get("/{incident_id}/clip", response_class=FileResponse, responses=_MEDIA)
def clip(request: Request, incident_id: IncidentId, principal: CurrentUser) -> FileResponse:
    """The stored redacted clip (MP4) with HTTP Range support. Every request is audited."""
    return _serve(request, incident_id, principal, "clip", "video/mp4")
