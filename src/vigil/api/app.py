"""The FastAPI application: JSON API under /api (OpenAPI at /api/openapi.json) plus the web console.

Only ``POST /api/auth/login`` and ``GET /api/health`` (and the console's login
page) answer without authentication; the OpenAPI document and docs need a
session or token like everything else. :mod:`vigil.api.middleware` adds body
limits, security headers and trusted-proxy handling to every route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from vigil import __version__
from vigil.api import docs, middleware, routes_auth, routes_cameras, routes_feeds, routes_incidents, routes_system
from vigil.api.auth import authenticated
from vigil.api.context import ApiContext, ApiSettings, FrameTap
from vigil.api.events import Broadcaster, poll_store
from vigil.config.models import VigilConfig
from vigil.storage.store import Store


def create_app(
    config: VigilConfig,
    store: Store,
    runner: Any | None = None,
    config_path: Path | None = None,
    *,
    settings: ApiSettings | None = None,
    frame_tap: FrameTap | None = None,
    redactor: Any | None = None,
) -> FastAPI:
    """Build the app around an open store.

    Parameters
    ----------
    runner : LiveRunner, optional
        The pipeline in the same process: metrics come from it, and it is the
        frame tap unless ``frame_tap`` is given (a cluster's runner, which has no
        raw frames, gives redacted JPEGs instead). Register
        ``app.state.broadcaster.publish`` as one of its listeners for live
        events; without a runner the store is polled for new events instead.
    config_path : Path, optional
        The YAML file zone edits are written to.
    redactor : Redactor, optional
        Used for live frames; built lazily from ``config.redaction`` if omitted.
    settings : ApiSettings, optional
        Defaults to ``config.api``.
    """
    settings = settings or ApiSettings.from_config(config.api)
    broadcaster = Broadcaster()
    if frame_tap is None and runner is not None and hasattr(runner, "latest"):
        frame_tap = runner
    jpeg_tap = runner if frame_tap is None and runner is not None and hasattr(runner, "redacted_jpeg") else None
    ctx = ApiContext(
        config=config,
        store=store,
        settings=settings,
        broadcaster=broadcaster,
        runner=runner,
        frame_tap=frame_tap,
        jpeg_tap=jpeg_tap,
        config_path=Path(config_path) if config_path is not None else None,
        redactor=redactor,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if runner is None:
            task = asyncio.create_task(poll_store(store, broadcaster, settings.poll_interval_s))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Vigil API",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.vigil = ctx
    app.state.broadcaster = broadcaster
    for module in (routes_auth, routes_incidents, routes_cameras, routes_feeds):
        app.include_router(module.router)
    app.include_router(routes_system.public)
    app.include_router(routes_system.router)

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(authenticated)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(docs.router)
    middleware.install(app, settings)

    try:
        from vigil.web import router as web_router
    except ImportError:
        pass
    else:
        app.include_router(web_router)
    return app
