"""Cameras: status with zones, redacted snapshot, redacted MJPEG live view, zone editing.

Raw frames come from a :class:`~vigil.api.context.FrameTap` (the live pipeline)
and are always passed through the redactor before encoding; if redaction
fails the frame is obscured whole (fail closed), never served raw.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from vigil.api.auth import Admin, CurrentUser, audit, authenticated
from vigil.api.context import ApiContext, context, encode_jpeg
from vigil.api.models import CameraOut, ZonesIn
from vigil.config.models import CameraConfig

router = APIRouter(prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(authenticated)])
CameraId = Annotated[str, PathParam(min_length=1, max_length=128)]
BOUNDARY = "vigilframe"


def _camera(ctx: ApiContext, camera_id: str) -> CameraConfig:
    for cam in ctx.config.cameras:
        if cam.id == camera_id:
            return cam
    raise HTTPException(404, "camera_id: no such camera")


@router.get("", response_model=list[CameraOut])
def list_cameras(request: Request) -> list[CameraOut]:
    """Configured cameras with their last known health (from the database)."""
    ctx = context(request)
    status = {c.id: c for c in ctx.store.list_cameras()}
    out = []
    for cam in ctx.config.cameras:
        st = status.get(cam.id)
        out.append(
            CameraOut(
                id=cam.id,
                name=cam.name,
                online=bool(st and st.online),
                reconnects=st.reconnects if st else 0,
                last_seen=st.last_seen if st else None,
                lat=cam.location.lat if cam.location else None,
                lon=cam.location.lon if cam.location else None,
                zones=[z.model_dump(mode="json") for z in cam.zones],
                lines=[line.model_dump(mode="json") for line in cam.lines],
            )
        )
    return out


def _redacted_jpeg(ctx: ApiContext, camera_id: str) -> bytes | None:
    frame = ctx.frame_tap.latest(camera_id) if ctx.frame_tap is not None else None
    return None if frame is None else encode_jpeg(ctx.redact(frame))


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def camera_snapshot(request: Request, camera_id: CameraId, principal: CurrentUser) -> Response:
    """The camera's newest frame, redacted (JPEG). Audited."""
    ctx = context(request)
    _camera(ctx, camera_id)
    jpeg = _redacted_jpeg(ctx, camera_id)
    if jpeg is None:
        raise HTTPException(404, "camera_id: no live frame (is the pipeline running?)")
    audit(request, principal, "view.camera_snapshot", camera_id)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/{camera_id}/live",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}, 404: {}},
)
def camera_live(request: Request, camera_id: CameraId, principal: CurrentUser) -> Response:
    """Redacted MJPEG at a low rate, produced only while the client stays connected. Audited at start."""
    ctx = context(request)
    _camera(ctx, camera_id)
    if ctx.frame_tap is None:
        raise HTTPException(404, "camera_id: no live frames (the pipeline is not running in this process)")
    audit(request, principal, "view.camera_live", camera_id)
    interval = 1.0 / ctx.settings.live_fps

    async def frames() -> AsyncIterator[bytes]:
        while not await request.is_disconnected():
            jpeg = await run_in_threadpool(_redacted_jpeg, ctx, camera_id)
            if jpeg is not None:
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                yield head.encode() + jpeg + b"\r\n"
            await asyncio.sleep(interval)

    return StreamingResponse(
        frames(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "private, no-store"},
    )


def _write_yaml_atomic(path: Path, data: Any) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@router.put("/{camera_id}/zones", response_model=CameraOut, responses={404: {}, 409: {}, 422: {}})
def put_zones(body: ZonesIn, request: Request, camera_id: CameraId, principal: Admin) -> CameraOut:
    """Replace a camera's zones and lines in the configuration file (the rest of it is kept).

    The running pipeline picks the new zones up on its next start.
    """
    ctx = context(request)
    cam = _camera(ctx, camera_id)
    zones = [z.model_dump(mode="json", exclude_none=True) for z in body.zones]
    lines = [line.model_dump(mode="json", exclude_none=True) for line in body.lines]
    try:
        updated = CameraConfig.model_validate(cam.model_dump(mode="json") | {"zones": zones, "lines": lines})
    except ValidationError as exc:
        detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise HTTPException(422, detail) from exc
    if ctx.config_path is None:
        raise HTTPException(409, "no configuration file to write (the API was started without one)")
    data = yaml.safe_load(ctx.config_path.read_text(encoding="utf-8"))
    entry = next((c for c in data.get("cameras", []) if isinstance(c, dict) and c.get("id") == camera_id), None)
    if entry is None:
        raise HTTPException(409, f"camera {camera_id!r} is not in {ctx.config_path.name}")
    entry["zones"], entry["lines"] = zones, lines
    _write_yaml_atomic(ctx.config_path, data)
    ctx.config = ctx.config.model_copy(
        update={"cameras": [updated if c.id == camera_id else c for c in ctx.config.cameras]}
    )
    audit(request, principal, "camera.zones", camera_id, zones=len(zones), lines=len(lines))
    return next(c for c in list_cameras(request) if c.id == camera_id)
