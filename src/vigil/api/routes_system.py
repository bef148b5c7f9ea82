"""Health, Prometheus metrics, services and routing, the audit log and the live event stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from vigil.api.auth import Admin, CurrentUser, Operator, authenticated, stream_guard
from vigil.api.context import context, decode_cursor, encode_cursor
from vigil.api.models import AuditOut, AuditPage, Health, ServicesOut
from vigil.config.masking import public_service
from vigil.storage import console

public = APIRouter(prefix="/api", tags=["system"])
router = APIRouter(prefix="/api", tags=["system"], dependencies=[Depends(authenticated)])


@public.get("/health", response_model=Health)
def health(request: Request) -> Health:
    """Liveness for load balancers: no authentication, no details beyond counts."""
    store = context(request).store
    ok = console.database_ok(store)
    online = sum(1 for c in store.list_cameras() if c.online) if ok else 0
    return Health(status="ok" if ok else "degraded", database=ok, cameras_online=online)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(lines: list[str], name: str, kind: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
    lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lab = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format (0.0.4)."""
    ctx = context(request)
    status: dict[str, Any] = ctx.runner.status() if ctx.runner is not None else {}
    cams = status.get("cameras", {})
    det = status.get("detector", {})
    lines: list[str] = []
    _metric(
        lines,
        "vigil_frames_in_total",
        "counter",
        "Frames decoded per camera.",
        [({"camera": c}, v["frames_in"]) for c, v in cams.items()],
    )
    _metric(
        lines,
        "vigil_frames_dropped_total",
        "counter",
        "Frames dropped per camera.",
        [({"camera": c}, v["dropped"]) for c, v in cams.items()],
    )
    frames = det.get("frames", 0)
    _metric(
        lines,
        "vigil_detector_latency_seconds",
        "gauge",
        "Mean detector time per frame.",
        [({}, round(det.get("busy_s", 0.0) / frames, 6))] if frames else [],
    )
    _metric(
        lines,
        "vigil_incidents_total",
        "counter",
        "Stored incidents per type.",
        [({"type": t}, n) for t, n in sorted(console.incident_counts(ctx.store).items())],
    )
    _metric(
        lines,
        "vigil_delivery_backlog",
        "gauge",
        "Pending deliveries per service.",
        [({"target": t}, n) for t, n in sorted(ctx.store.pending_counts().items())],
    )
    _metric(
        lines,
        "vigil_camera_online",
        "gauge",
        "1 when the camera delivers frames.",
        [({"camera": c.id}, int(c.online)) for c in ctx.store.list_cameras()],
    )
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/services", response_model=ServicesOut)
def services(request: Request, _: Operator) -> ServicesOut:
    """Delivery services and the routing rules, for operators and admins; secrets masked for everyone.

    Viewers (wall screens, observers) do not get this route: which agencies receive
    which incidents, at which addresses, is operational detail they have no task for.
    Operators do, to know who was told about an incident and whom to call when a
    service is down. Nobody gets credentials through the API, admins included (they
    edit the file): URLs show only scheme, host and port, header values are masked,
    and fields not known to be harmless are masked (:mod:`vigil.config.masking`).
    """
    cfg = context(request).config
    return ServicesOut(
        services=[public_service(s) for s in cfg.services],
        routing=[r.model_dump(mode="json") for r in cfg.routing],
    )


@router.get("/audit", response_model=AuditPage, responses={400: {}})
def audit_log(
    request: Request,
    _: Admin,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=512),
    user: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
) -> AuditPage:
    """The audit log, newest first (admins only)."""
    before: int | None = None
    if cursor:
        before = decode_cursor(cursor)
        if not isinstance(before, int) or isinstance(before, bool) or not 0 < before < 2**62:
            raise HTTPException(400, "cursor: not a valid cursor")
    rows, nxt = console.list_audit(context(request).store, limit=limit, before_id=before, user=user, action=action)
    return AuditPage(items=[AuditOut(**r) for r in rows], next_cursor=encode_cursor(nxt) if nxt else None)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 429: {}},
)
async def event_stream(request: Request, principal: CurrentUser) -> StreamingResponse:
    """Server-sent events: one ``data:`` JSON message per incident event (``state`` new/update/end).

    The stream ends (after an ``event: revoked`` message) once the caller's session
    or token is no longer valid: logout, revocation, a disabled user. Streams per
    user are capped (429).
    """
    ctx = context(request)
    lease = ctx.streams.acquire(principal.username)
    if lease is None:
        raise HTTPException(429, "too many open streams for this user; close one first")
    guard = stream_guard(ctx, principal)
    queue = ctx.broadcaster.subscribe()
    keepalive_s = 15.0

    async def messages() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            last = time.monotonic()
            while await guard.allowed():
                try:
                    msg = await asyncio.wait_for(queue.get(), timeout=min(keepalive_s, guard.recheck_s))
                except TimeoutError:
                    if time.monotonic() - last >= keepalive_s:
                        last = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                if not await guard.allowed():
                    break
                last = time.monotonic()
                yield f"id: {msg.get('event_id', '')}\ndata: {json.dumps(msg, default=str)}\n\n"
            yield "event: revoked\ndata: {}\n\n"
        finally:
            ctx.broadcaster.unsubscribe(queue)
            lease.release()

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        background=BackgroundTask(lease.release),
    )
