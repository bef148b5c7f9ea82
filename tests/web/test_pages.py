"""The console router on its own: pages, redirects, security headers, static files, no external URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.web import CSP, STATIC_DIR, router

WEB_DIR = STATIC_DIR.parent
PAGES = {
    "/": ["incident-rows", "f-type", "f-camera", "f-state", "sound-toggle", "js/feed.js"],
    "/incidents/inc-7": [
        'data-incident-id="inc-7"',
        'id="snapshot"',
        "<video",
        'id="timeline"',
        'id="ack-btn"',
        'hx-post="/api/incidents/inc-7/ack"',
        'id="resolve-form"',
        'id="comment-form"',
    ],
    "/cameras": ["camera-grid", "camera-card", "js/cameras.js"],
    "/cameras/ring-north": ['data-camera-id="ring-north"', 'id="watch-btn"', 'id="live-img"'],
    "/cameras/ring-north/zones": ["z-canvas", "z-kind", "crowd-area", "z-save", "z-errors"],
    "/map": ["<canvas", 'id="map"', "js/map.js"],
    "/admin/audit": ["audit-rows", "a-next", "a-prev"],
}


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def session(client: TestClient) -> TestClient:
    client.cookies.set("vigil_session", "anything")  # the router only checks presence; the API validates it
    return client


@pytest.mark.parametrize(("path", "expected"), PAGES.items())
def test_pages_render(session: TestClient, path: str, expected: list[str]) -> None:
    r = session.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP
    html = r.text
    assert html.startswith("<!doctype html>")
    for needle in [*expected, "vendor/htmx.min.js", "js/common.js", 'id="logout"', "<main"]:
        assert needle in html, (path, needle)
    # Strict CSP: no inline scripts, inline styles or inline event handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_without_session(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    if path != "/":
        assert "next=" in r.headers["location"]


def test_login_page_needs_no_session(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert 'id="login-form"' in r.text and 'type="password"' in r.text and "js/login.js" in r.text
    assert 'id="logout"' not in r.text


def test_ids_are_escaped(session: TestClient) -> None:
    r = session.get('/incidents/"><img src=x>')
    assert r.status_code == 200
    assert "<img src=x>" not in r.text and "&#34;&gt;&lt;img src=x&gt;" in r.text


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("app.css", "text/css"),
        ("js/common.js", "text/javascript"),
        ("js/zones.js", "text/javascript"),
        ("vendor/htmx.min.js", "text/javascript"),
    ],
)
def test_static_files(client: TestClient, name: str, ctype: str) -> None:
    r = client.get(f"/web/static/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(ctype)
    assert r.content == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["../pages.py", "..%2Fpages.py", "js", "missing.js", "/etc/passwd"])
def test_static_does_not_escape(client: TestClient, name: str) -> None:
    assert client.get(f"/web/static/{name}").status_code == 404


def test_every_page_script_exists(session: TestClient) -> None:
    for path in [*PAGES, "/login"]:
        html = (session.get(path)).text
        for src in re.findall(r'(?:src|href)="(/web/static/[^"]+)"', html):
            assert session.get(src).status_code == 200, (path, src)


def _web_files() -> list[Path]:
    return [p for p in WEB_DIR.rglob("*") if p.is_file() and p.suffix in {".html", ".js", ".css", ".py"}]


def test_no_external_urls() -> None:
    """Works offline: nothing in templates or static files points at another host."""
    url = re.compile(r"(?:https?:)?//([A-Za-z0-9.-]+\.[A-Za-z]{2,}|localhost|\d+\.\d+\.\d+\.\d+)")
    offenders = []
    for p in _web_files():
        text = p.read_text(encoding="utf-8")
        for m in re.finditer(r"https?://[^\s\"')>]+", text):
            offenders.append(f"{p.relative_to(WEB_DIR)}: {m.group(0)}")
        if p.suffix in {".html", ".css"}:
            offenders += [f"{p.relative_to(WEB_DIR)}: //{h}" for h in url.findall(text)]
    assert not offenders, offenders


def test_vendored_htmx_has_licence_and_provenance() -> None:
    vendor = STATIC_DIR / "vendor"
    assert "Zero-Clause BSD" in (vendor / "htmx.LICENSE").read_text(encoding="utf-8")
    assert "htmx.org" in (vendor / "README.md").read_text(encoding="utf-8")
