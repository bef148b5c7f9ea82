"""A small in-memory implementation of the console's API contract, for the browser tests and screenshots.

It includes the real ``vigil.web.router`` and implements ``/api/...`` minimally: cookie sessions with a CSRF
token, incidents with events and comments, an SSE stream fed by ``POST /_fake/push``, cameras with a generated
JPEG snapshot and MJPEG live stream, a generated WebM clip (served with Range support), zones with 422
validation, and a paged audit log. Run it by hand with ``python -m tests.web.fake_api --port 8765``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from vigil.web import router as web_router

USERS = {"admin": ("admin-pw", "admin"), "operator": ("operator-pw", "operator"), "viewer": ("viewer-pw", "viewer")}
ZONE_KINDS = {"roadway", "sidewalk", "tracks", "restricted", "crowd-area"}


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def frame_jpeg(label: str, t: float = 0.0, size: tuple[int, int] = (640, 360)) -> bytes:
    """A synthetic 'redacted' camera frame: road-like gradient, lane marks, a moving box, the label."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = np.linspace(40, 90, h, dtype=np.uint8)[:, None, None]
    cv2.fillPoly(
        img, [np.array([[int(w * 0.35), int(h * 0.3)], [int(w * 0.65), int(h * 0.3)], [w, h], [0, h]])], (70, 70, 75)
    )
    for k in range(6):
        y = int(h * 0.35 + k * h * 0.11)
        cv2.line(img, (w // 2, y), (w // 2, y + int(h * 0.05)), (220, 220, 220), 2)
    x = int((t * 60) % w)
    cv2.rectangle(img, (x, int(h * 0.6)), (x + 60, int(h * 0.72)), (30, 140, 220), -1)
    cv2.putText(img, label, (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


def make_clip(path: Path, seconds: float = 2.0, fps: int = 10) -> None:
    """A short VP8/WebM clip (Chromium plays it) of synthetic frames."""
    import av

    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for i in range(int(seconds * fps)):
            bgr = cv2.imdecode(np.frombuffer(frame_jpeg("clip", i / fps, (320, 180)), np.uint8), cv2.IMREAD_COLOR)
            for packet in stream.encode(av.VideoFrame.from_ndarray(bgr, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@dataclass
class FakeState:
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)  # token -> {username, role, csrf}
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    cameras: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)  # mutating calls with their CSRF header
    zone_puts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))


def _incident(iid: str, typ: str, cam: str, severity: int, minutes_ago: float, state: str = "open") -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    ended = state == "ended"
    return {
        "id": iid,
        "type": typ,
        "camera_id": cam,
        "state": state,
        "start_s": 100.0,
        "end_s": 130.0 if ended else None,
        "started_at": _iso(start),
        "ended_at": _iso(start + timedelta(seconds=30)) if ended else None,
        "bbox": [0.4, 0.5, 0.55, 0.7],
        "confidence": 0.87,
        "severity": severity,
        "details": {"lane": "lane-1"},
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_by": None,
        "resolved_at": None,
        "resolution_note": None,
        "snapshot_url": f"/api/incidents/{iid}/snapshot.jpg",
        "clip_url": f"/api/incidents/{iid}/clip.webm",
        "events": [
            {"event_id": f"{iid}-e1", "state": "new", "sequence": 1, "created_at": _iso(start), "severity": severity}
        ]
        + (
            [
                {
                    "event_id": f"{iid}-e2",
                    "state": "end",
                    "sequence": 2,
                    "created_at": _iso(start + timedelta(seconds=30)),
                }
            ]
            if ended
            else []
        ),
        "comments": [],
    }


def create_app(clip_dir: Path | None = None) -> FastAPI:
    app = FastAPI()
    st = FakeState()
    app.state.fake = st
    clip = Path(clip_dir or tempfile.mkdtemp(prefix="vigil-fake-")) / "clip.webm"
    make_clip(clip)

    st.cameras = [
        {
            "id": "ring-north",
            "name": "Ring road north",
            "online": True,
            "reconnects": 0,
            "lat": 52.3790,
            "lon": 4.9000,
            "zones": [
                {
                    "id": "lane-1",
                    "kind": "roadway",
                    "polygon": [[0.35, 0.3], [0.5, 0.3], [0.5, 1], [0, 1]],
                    "direction": [0, 1],
                },
                {
                    "id": "verge",
                    "kind": "sidewalk",
                    "polygon": [[0.7, 0.5], [1, 0.5], [1, 1], [0.85, 1]],
                    "direction": None,
                },
            ],
            "lines": [{"id": "count-1", "points": [[0, 0.8], [1, 0.8]]}],
        },
        {
            "id": "tunnel-a",
            "name": "Tunnel A entrance",
            "online": True,
            "reconnects": 2,
            "node": "node-b/5e1f03aa",  # a cluster node (vigil run --cluster); the others run embedded
            "lat": 52.3712,
            "lon": 4.8871,
            "zones": [],
            "lines": [],
        },
        {
            "id": "metro-3",
            "name": "Metro platform 3",
            "online": False,
            "reconnects": 7,
            "lat": 52.3655,
            "lon": 4.9123,
            "zones": [],
            "lines": [],
        },
        {
            "id": "square",
            "name": "Market square",
            "online": True,
            "reconnects": 1,
            "lat": 52.3731,
            "lon": 4.8932,
            "zones": [],
            "lines": [],
        },
    ]
    now = datetime.now(UTC)
    for c in st.cameras:
        c["last_seen"] = _iso(now - timedelta(seconds=3 if c["online"] else 900))
    for inc in [
        _incident("inc-1", "stopped_vehicle", "ring-north", 3, 12),
        _incident("inc-2", "pedestrian", "tunnel-a", 4, 5),
        _incident("inc-3", "congestion", "square", 2, 40, "ended"),
    ]:
        st.incidents[inc["id"]] = inc
    actions = ["login", "incident.ack", "incident.resolve", "zones.update", "logout"]
    for i in range(120):
        st.audit.append(
            {
                "id": 1000 - i,
                "at": _iso(now - timedelta(minutes=3 * i)),
                "user": ["admin", "operator"][i % 2],
                "role": ["admin", "operator"][i % 2],
                "action": actions[i % 5],
                "target": f"inc-{i % 7}",
                "source_ip": "127.0.0.1",
                "detail": {"n": i},
            }
        )

    def user(request: Request) -> dict[str, str]:
        s = st.sessions.get(request.cookies.get("vigil_session", ""))
        if not s:
            raise HTTPException(401, "not logged in")
        return s

    def mutating(
        request: Request, action: str, target: str, roles: tuple[str, ...] = ("operator", "admin")
    ) -> dict[str, str]:
        s = user(request)
        header = request.headers.get("x-csrf-token")
        st.calls.append({"action": action, "target": target, "csrf": header, "user": s["username"]})
        if header != s["csrf"]:
            raise HTTPException(403, "CSRF token missing or wrong")
        if s["role"] not in roles:
            raise HTTPException(403, "not allowed for this role")
        return s

    @app.post("/api/auth/login")
    async def login(request: Request) -> Response:
        body = await request.json()
        rec = USERS.get(body.get("username", ""))
        if not rec or rec[0] != body.get("password"):
            raise HTTPException(401, "wrong user name or password")
        token, csrf = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        st.sessions[token] = {"username": body["username"], "role": rec[1], "csrf": csrf}
        res = JSONResponse({"username": body["username"], "role": rec[1], "csrf_token": csrf})
        res.set_cookie("vigil_session", token, httponly=True, samesite="strict")
        res.set_cookie("vigil_csrf", csrf, samesite="strict")
        return res

    @app.post("/api/auth/logout")
    def logout(request: Request) -> Response:
        st.sessions.pop(request.cookies.get("vigil_session", ""), None)
        res = Response(status_code=204)
        res.delete_cookie("vigil_session")
        res.delete_cookie("vigil_csrf")
        return res

    @app.get("/api/auth/me")
    def me(request: Request) -> dict[str, str]:
        s = user(request)
        return {"username": s["username"], "role": s["role"]}

    def public(inc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in inc.items() if k not in ("events", "comments")}

    @app.get("/api/incidents")
    def incidents(
        request: Request, type: str = "", camera: str = "", state: str = "", limit: int = 50, cursor: str = ""
    ) -> dict[str, Any]:
        user(request)
        items = sorted(st.incidents.values(), key=lambda i: i["started_at"], reverse=True)
        items = [
            i
            for i in items
            if (not type or i["type"] == type)
            and (not camera or i["camera_id"] == camera)
            and (not state or i["state"] == state)
        ]
        start = int(cursor or 0)
        page = items[start : start + limit]
        return {
            "items": [public(i) for i in page],
            "next_cursor": str(start + limit) if start + limit < len(items) else None,
        }

    def get_incident(iid: str) -> dict[str, Any]:
        if iid not in st.incidents:
            raise HTTPException(404, "no such incident")
        return st.incidents[iid]

    @app.get("/api/incidents/{iid}")
    def incident(request: Request, iid: str) -> dict[str, Any]:
        user(request)
        return get_incident(iid)

    @app.get("/api/incidents/{iid}/snapshot.jpg")
    def incident_snapshot(request: Request, iid: str) -> Response:
        user(request)
        return Response(frame_jpeg(f"{iid} (redacted)"), media_type="image/jpeg")

    @app.get("/api/incidents/{iid}/clip.webm")
    def incident_clip(request: Request, iid: str) -> Response:
        user(request)
        return FileResponse(clip, media_type="video/webm")

    @app.post("/api/incidents/{iid}/ack")
    def ack(request: Request, iid: str) -> dict[str, Any]:
        s = mutating(request, "ack", iid)
        inc = get_incident(iid)
        inc["acknowledged_by"], inc["acknowledged_at"] = s["username"], _iso(datetime.now(UTC))
        return public(inc)

    @app.post("/api/incidents/{iid}/resolve")
    async def resolve(request: Request, iid: str) -> dict[str, Any]:
        s = mutating(request, "resolve", iid)
        inc = get_incident(iid)
        inc["resolved_by"], inc["resolved_at"] = s["username"], _iso(datetime.now(UTC))
        inc["resolution_note"] = (await request.json()).get("note")
        return public(inc)

    @app.post("/api/incidents/{iid}/comments")
    async def comment(request: Request, iid: str) -> dict[str, Any]:
        s = mutating(request, "comment", iid, roles=("viewer", "operator", "admin"))
        inc = get_incident(iid)
        c = {
            "id": len(inc["comments"]) + 1,
            "author": s["username"],
            "text": (await request.json())["text"],
            "created_at": _iso(datetime.now(UTC)),
        }
        inc["comments"].append(c)
        return c

    @app.post("/_fake/push")
    async def push(request: Request) -> dict[str, int]:
        """Test hook: record an incident event and broadcast it on the SSE stream."""
        ev = await request.json()
        iid = ev["incident_id"]
        if iid not in st.incidents:
            st.incidents[iid] = _incident(iid, ev["type"], ev["camera_id"], ev.get("severity", 3), 0)
        inc = st.incidents[iid]
        ev = {"event_id": f"{iid}-e{next(st.seq)}", "id": iid, "started_at": inc["started_at"], **ev}
        if ev.get("state") == "end":
            inc["state"], inc["ended_at"] = "ended", _iso(datetime.now(UTC))
        inc["events"].append(
            {
                "event_id": ev["event_id"],
                "state": ev.get("state", "update"),
                "sequence": len(inc["events"]) + 1,
                "created_at": _iso(datetime.now(UTC)),
            }
        )
        for loop, q in list(st.subscribers):
            loop.call_soon_threadsafe(q.put_nowait, ev)
        return {"subscribers": len(st.subscribers)}

    @app.get("/api/events/stream")
    async def stream(request: Request) -> StreamingResponse:
        user(request)
        q: asyncio.Queue = asyncio.Queue()
        entry = (asyncio.get_running_loop(), q)
        st.subscribers.append(entry)

        async def gen():
            try:
                yield "retry: 2000\n: connected\n\n"
                while not await request.is_disconnected():
                    try:
                        ev = await asyncio.wait_for(q.get(), timeout=1.0)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"id: {ev['event_id']}\ndata: {json.dumps(ev)}\n\n"
            finally:
                st.subscribers.remove(entry)

        return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/api/cameras")
    def cameras(request: Request) -> list[dict[str, Any]]:
        user(request)
        return st.cameras

    def camera(cid: str) -> dict[str, Any]:
        for c in st.cameras:
            if c["id"] == cid:
                return c
        raise HTTPException(404, "no such camera")

    @app.get("/api/cameras/{cid}/snapshot")
    def snapshot(request: Request, cid: str) -> Response:
        user(request)
        c = camera(cid)
        return Response(
            frame_jpeg(c["name"], time.time()), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
        )

    @app.get("/api/cameras/{cid}/live")
    async def live(request: Request, cid: str) -> StreamingResponse:
        user(request)
        c = camera(cid)

        async def gen():
            while not await request.is_disconnected():
                jpg = frame_jpeg(f"{c['name']} LIVE", time.time())
                yield (
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode()
                    + b"\r\n\r\n"
                    + jpg
                    + b"\r\n"
                )
                await asyncio.sleep(0.2)

        return StreamingResponse(gen(), media_type="multipart/x-mixed-replace; boundary=frame")

    @app.put("/api/cameras/{cid}/zones")
    async def put_zones(request: Request, cid: str) -> dict[str, Any]:
        mutating(request, "zones", cid, roles=("admin", "operator"))
        c = camera(cid)
        body = await request.json()
        errors = []
        for i, z in enumerate(body.get("zones", [])):
            if z.get("kind") not in ZONE_KINDS:
                errors.append(
                    {
                        "loc": ["body", "zones", i, "kind"],
                        "msg": f"unknown kind {z.get('kind')!r}",
                        "type": "value_error",
                    }
                )
            poly = z.get("polygon", [])
            if len(poly) < 3:
                errors.append(
                    {
                        "loc": ["body", "zones", i, "polygon"],
                        "msg": "a polygon needs at least 3 points",
                        "type": "value_error",
                    }
                )
            if any(not (0 <= v <= 1) for p in poly for v in p):
                errors.append(
                    {
                        "loc": ["body", "zones", i, "polygon"],
                        "msg": "coordinates must be within 0..1",
                        "type": "value_error",
                    }
                )
        if errors:
            return JSONResponse({"detail": errors}, status_code=422)
        st.zone_puts.append(body)
        c["zones"], c["lines"] = body["zones"], body.get("lines", [])
        return {"zones": c["zones"], "lines": c["lines"]}

    @app.get("/api/audit")
    def audit(request: Request, limit: int = 50, cursor: str = "") -> dict[str, Any]:
        s = user(request)
        if s["role"] != "admin":
            raise HTTPException(403, "admins only")
        start = int(cursor or 0)
        return {
            "items": st.audit[start : start + limit],
            "next_cursor": str(start + limit) if start + limit < len(st.audit) else None,
        }

    app.include_router(web_router)
    return app


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: FastAPI, port: int = 0) -> None:
        import socket

        import uvicorn

        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        cfg = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    with ServerThread(create_app(), args.port) as srv:
        print(f"fake Vigil API on {srv.url} (users: admin/admin-pw, operator/operator-pw, viewer/viewer-pw)")
        with contextlib.suppress(KeyboardInterrupt):
            srv.thread.join()
