"""Pull feeds for services: DATEX II v3 situations and the CAP 1.2 alerts with their Atom index.

Any authenticated caller may read them; integrations use an API token
(``Authorization: Bearer <token>``, any role). The feeds carry incident
facts and camera positions only, never footage.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam

from vigil.api.auth import authenticated
from vigil.api.context import context
from vigil.delivery.feeds import ATOM_CONTENT_TYPE, cap_alert, cap_atom_index, current_views, datex2_snapshot
from vigil.delivery.formats import FormatContext
from vigil.delivery.formats.cap import CONTENT_TYPE as CAP_CONTENT_TYPE
from vigil.delivery.formats.datex2 import CONTENT_TYPE as DATEX2_CONTENT_TYPE

router = APIRouter(prefix="/api", tags=["feeds"], dependencies=[Depends(authenticated)])
NO_STORE = {"Cache-Control": "no-store"}
IncidentId = Annotated[str, PathParam(min_length=1, max_length=64)]


def _format_context(request: Request) -> FormatContext:
    ctx = context(request)
    return FormatContext.build(ctx.config.cameras, ctx.store)


@router.get(
    "/datex2/situations",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "DATEX II v3 SituationPublication"}},
)
def datex2_situations(request: Request) -> Response:
    """Every current incident as a DATEX II v3 situation (d2:payload, snapshot pull).

    Open incidents are ``active``; those ended within ``feeds.keep_ended_s`` are
    closed (``overallEndTime`` set). Each record is at its latest version.
    """
    ctx = context(request)
    feeds = ctx.config.feeds
    fctx = _format_context(request)
    views = current_views(ctx.store, fctx, feeds.keep_ended_s, feeds.max_items)
    return Response(datex2_snapshot(views, fctx, feeds.datex2), media_type=DATEX2_CONTENT_TYPE, headers=NO_STORE)


@router.get(
    "/cap",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom index of current CAP alerts"}},
)
def cap_index(request: Request) -> Response:
    """An Atom feed of the current CAP alerts, one entry per incident linking to ``/api/cap/{incident_id}``."""
    ctx = context(request)
    feeds = ctx.config.feeds
    fctx = _format_context(request)
    views = current_views(ctx.store, fctx, feeds.keep_ended_s, feeds.max_items)
    body = cap_atom_index(
        views,
        fctx,
        feeds.cap,
        str(request.url_for("cap_index")),
        lambda iid: str(request.url_for("cap_incident_alert", incident_id=iid)),
    )
    return Response(body, media_type=ATOM_CONTENT_TYPE, headers=NO_STORE)


@router.get(
    "/cap/{incident_id}",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}, "description": "CAP 1.2 alert"}, 404: {}},
)
def cap_incident_alert(request: Request, incident_id: IncidentId) -> Response:
    """The CAP 1.2 alert of the incident's latest message (Alert, Update or Cancel)."""
    ctx = context(request)
    body = cap_alert(ctx.store, _format_context(request), incident_id, ctx.config.feeds.cap)
    if body is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    return Response(body, media_type=CAP_CONTENT_TYPE, headers=NO_STORE)
