"""Cameras: status with zones, redacted snapshot, redacted MJPEG live view, zone editing.

Raw frames come from a :class:`~vigil.api.context.FrameTap` (the live pipeline)
and are always passed through the redactor before encoding; if redaction
fails the frame is obscured whole (fail closed), never served raw. In cluster
mode a :class:`~vigil.api.context.JpegTap` gives JPEGs that the camera's group
redacted on its own node (raw frames never cross the network).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from vigil.api.auth import Admin, CurrentUser, audit, authenticated, stream_guard
from vigil.api.context import ApiContext, context
from vigil.api.live import shielded
from vigil.api.models import CameraOut, ZonesIn
from vigil.config.editor import ConfigEditError, save_camera_zones
from vigil.config.loader import ConfigError, load_config_text
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
                node=st.node if st else None,
            )
        )
    return out


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def camera_snapshot(request: Request, camera_id: CameraId, principal: CurrentUser) -> Response:
    """The camera's newest frame, redacted (JPEG). Audited."""
    ctx = context(request)
    _camera(ctx, camera_id)
    jpeg = ctx.live_jpeg(camera_id)
    if jpeg is None:
        raise HTTPException(404, "camera_id: no live frame (is the pipeline running?)")
    audit(request, principal, "view.camera_snapshot", camera_id)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/{camera_id}/live",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}, 404: {}, 429: {}},
)
def camera_live(request: Request, camera_id: CameraId, principal: CurrentUser) -> Response:
    """Redacted MJPEG at a low rate, produced only while someone watches. Audited at start and at the end.

    Each frame is redacted once for all viewers of the camera (:class:`~vigil.api.live.LiveHub`).
    The stream ends once the caller's session or token is no longer valid, and a
    user may hold only ``api.max_streams_per_user`` streams at once (429).
    """
    ctx = context(request)
    _camera(ctx, camera_id)
    if ctx.frame_tap is None and ctx.jpeg_tap is None:
        raise HTTPException(404, "camera_id: no live frames (the pipeline is not running in this process)")
    lease = ctx.streams.acquire(principal.username)
    if lease is None:
        raise HTTPException(429, "too many open streams for this user; close one first")
    guard = stream_guard(ctx, principal)
    audit(request, principal, "view.camera_live", camera_id)
    wait_s = min(1.0, guard.recheck_s)

    def closed(started: float, frames: int) -> None:
        duration = round(time.monotonic() - started, 1)
        reason = "revoked" if guard.revoked else "closed"
        audit(request, principal, "view.camera_live_end", camera_id, duration_s=duration, frames=frames, end=reason)

    async def frames() -> AsyncIterator[bytes]:
        started, sent = time.monotonic(), 0
        try:
            async with ctx.live.watch(camera_id) as viewer:
                while await guard.allowed():
                    jpeg = await viewer.next(wait_s)
                    if jpeg is None:
                        continue
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    sent += 1
                    yield head.encode() + jpeg + b"\r\n"
        finally:
            lease.release()
            await shielded(lambda: closed(started, sent))

    return StreamingResponse(
        frames(),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "private, no-store"},
        background=BackgroundTask(lease.release),
    )


@router.put("/{camera_id}/zones", response_model=CameraOut, responses={404: {}, 409: {}, 413: {}, 422: {}})
def put_zones(body: ZonesIn, request: Request, camera_id: CameraId, principal: Admin) -> CameraOut:
    """Replace a camera's zones and lines in the configuration file (the rest of it is kept as written).

    The file keeps its comments and layout, is replaced atomically after the new
    text has loaded as a valid configuration, and its previous version is kept as
    ``<file>.bak``. Ids are plain names (``[A-Za-z0-9_.-]{1,64}``) and nothing the
    console writes is ever expanded from the environment. The running pipeline
    picks the new zones up on its next start.
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
    path = ctx.config_path
    if path is None:
        raise HTTPException(409, "no configuration file to write (the API was started without one)")

    def check(text: str) -> None:
        loaded = load_config_text(text, str(path), path.parent)
        cam_now = next(c for c in loaded.cameras if c.id == camera_id)
        if (cam_now.zones, cam_now.lines) != (updated.zones, updated.lines):
            raise ConfigEditError("the saved zones would not read back as sent")

    with ctx.config_lock:  # two admins saving at once must not interleave read and write
        try:
            save_camera_zones(path, camera_id, zones, lines, check)
        except ConfigError as exc:
            raise HTTPException(409, f"the file would no longer load: {exc.issues[0]}") from exc
        except (ConfigEditError, OSError) as exc:
            raise HTTPException(409, f"{path.name}: {exc}") from exc
        ctx.config = ctx.config.model_copy(
            update={"cameras": [updated if c.id == camera_id else c for c in ctx.config.cameras]}
        )
    audit(request, principal, "camera.zones", camera_id, zones=len(zones), lines=len(lines))
    return next(c for c in list_cameras(request) if c.id == camera_id)
