"""Health, Prometheus metrics, services and routing, the audit log and the live event stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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


class _StoreCollector:
    """Metrics read from the database at scrape time (they hold for ``vigil serve`` too)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        incidents = CounterMetricFamily("vigil_incidents", "Stored incidents per type.", labels=["type"])
        for kind, n in sorted(console.incident_counts(self.store).items()):
            incidents.add_metric([kind], float(n))
        backlog = GaugeMetricFamily("vigil_delivery_backlog", "Pending deliveries per service.", labels=["target"])
        for target, n in sorted(self.store.pending_counts().items()):
            backlog.add_metric([target], float(n))
        online = GaugeMetricFamily(
            "vigil_camera_online", "1 when the camera delivers frames and they are analysed.", labels=["camera"]
        )
        for cam in self.store.list_cameras():
            online.add_metric([cam.id], float(cam.online))
        yield from (incidents, backlog, online)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format (``prometheus_client``): per-camera counters, latency histograms, store figures."""
    from vigil.pipeline.metrics import RunnerCollector

    ctx = context(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StoreCollector(ctx.store))
    runner = ctx.runner
    if runner is not None:
        histograms = getattr(getattr(runner, "metrics", None), "registry", None)
        registry.register(RunnerCollector(runner.status, histograms))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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
