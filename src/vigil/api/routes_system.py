"""Health, Prometheus metrics, services and routing, the audit log and the live event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.api.auth import Admin, authenticated
from vigil.api.context import context, decode_cursor, encode_cursor
from vigil.api.models import AuditOut, AuditPage, Health, ServicesOut
from vigil.storage import console

public = APIRouter(prefix="/api", tags=["system"])
router = APIRouter(prefix="/api", tags=["system"], dependencies=[Depends(authenticated)])
SECRET_KEYS = ("secret", "password", "token", "key", "credential")


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


def mask(value: Any, key: str = "") -> Any:
    """A copy of a config value with secrets replaced by ``***``."""
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if value is not None and any(s in key.lower() for s in SECRET_KEYS):
        return "***"
    return value


@router.get("/services", response_model=ServicesOut)
def services(request: Request) -> ServicesOut:
    """Delivery services (secrets masked) and the routing rules."""
    cfg = context(request).config
    return ServicesOut(
        services=[mask(s.model_dump(mode="json")) for s in cfg.services],
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


@router.get("/events/stream", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def event_stream(request: Request) -> StreamingResponse:
    """Server-sent events: one ``data:`` JSON message per incident event (``state`` new/update/end)."""
    broadcaster = context(request).broadcaster
    queue = broadcaster.subscribe()

    async def messages() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    msg = await asyncio.wait_for(queue.get(), timeout=15.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"id: {msg.get('event_id', '')}\ndata: {json.dumps(msg, default=str)}\n\n"
        finally:
            broadcaster.unsubscribe(queue)

    return StreamingResponse(
        messages(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
