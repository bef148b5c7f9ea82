"""Routes of the operator console.

Every page is a Jinja2 shell; its JS module fetches the JSON API (``/api/...``) and renders the data.
Pages need a session: without the ``vigil_session`` cookie the router redirects to ``/login``
before rendering, and the page JS redirects there too when ``GET /api/auth/me`` answers 401 (expired
or revoked session). Roles are enforced by the API; the console only hides what a role cannot do.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/web/static"
SESSION_COOKIE = "vigil_session"

# Strict policy: no inline script or style, nothing from other origins.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self'; "
    "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

_env = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static"] = lambda name: f"{STATIC_PREFIX}/{name}"

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, *, nav: str = "", **ctx: object) -> Response:
    if template != "login.html" and not request.cookies.get(SESSION_COOKIE):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303, headers=SECURITY_HEADERS)
    html = _env.get_template(template).render(nav=nav, **ctx)
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _page(request, "login.html")


@router.get("/", response_class=HTMLResponse)
def feed_page(request: Request) -> Response:
    return _page(request, "feed.html", nav="feed")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str) -> Response:
    return _page(request, "incident.html", nav="feed", incident_id=incident_id)


@router.get("/cameras", response_class=HTMLResponse)
def cameras_page(request: Request) -> Response:
    return _page(request, "cameras.html", nav="cameras")


@router.get("/cameras/{camera_id}", response_class=HTMLResponse)
def camera_page(request: Request, camera_id: str) -> Response:
    return _page(request, "camera.html", nav="cameras", camera_id=camera_id)


@router.get("/cameras/{camera_id}/zones", response_class=HTMLResponse)
def zones_page(request: Request, camera_id: str) -> Response:
    return _page(request, "zones.html", nav="cameras", camera_id=camera_id)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request) -> Response:
    return _page(request, "map.html", nav="map")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    return _page(request, "audit.html", nav="audit")


@router.get(STATIC_PREFIX + "/{path:path}")
def static_file(path: str) -> Response:
    """Files under static/ only (no directory listing, no path escape)."""
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".js":
        media_type = "text/javascript"
    return FileResponse(target, media_type=media_type, headers={**SECURITY_HEADERS, "Cache-Control": "max-age=300"})
