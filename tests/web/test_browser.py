"""End-to-end console flow in headless Chromium (Debian's /usr/bin/chromium via Playwright) against the
in-memory fake API (``fake_api.py``) served by uvicorn on 127.0.0.1. Playwright never downloads a browser here.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.fake_api import ServerThread, create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (.ci/services-web.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    app = create_app(tmp_path_factory.mktemp("fake-media"))
    with ServerThread(app) as srv:
        srv.state = app.state.fake
        yield srv


@pytest.fixture
def browser_ctx(tmp_path: Path):
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # fresh user-data-dir per test
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        ctx.set_default_timeout(10_000)
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def wait_js(page, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JS expression with page.evaluate (CDP; wait_for_function would need 'unsafe-eval' under our CSP)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


def login(ctx, server: ServerThread, user: str, password: str, start: str = "/"):
    page = ctx.pages[0] if ctx.pages else ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server.url + start)
    page.wait_for_url("**/login*")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + start)
    return page, problems


def test_feed_live_incident_detail_and_ack(server: ServerThread, browser_ctx) -> None:
    page, problems = login(browser_ctx, server, "operator", "operator-pw")
    expect = sync_api.expect
    # Feed with the open incidents, and the SSE stream connected.
    expect(page.locator("#incident-rows tr")).to_have_count(2)
    expect(page.locator("#live-state")).to_have_text("live")
    assert server.state.subscribers, "the feed did not open /api/events/stream"
    page.evaluate("window.__noReload = 42")

    event = {"incident_id": "inc-live", "state": "new", "type": "collision", "camera_id": "ring-north",
             "severity": 5, "start_s": 12.5}  # fmt: skip
    httpx.post(server.url + "/_fake/push", json=event).raise_for_status()
    row = page.locator('#incident-rows tr[data-id="inc-live"]')
    expect(row).to_be_visible()
    expect(row).to_have_class("incident-row high fresh cue-high")
    expect(page.locator("#incident-rows tr").first).to_have_attribute("data-id", "inc-live")
    assert page.evaluate("window.__noReload") == 42, "the page reloaded"
    # A low-severity update to an existing incident does not add a row or a cue.
    httpx.post(server.url + "/_fake/push", json={**event, "incident_id": "inc-1", "state": "update", "severity": 2})
    expect(page.locator('#incident-rows tr[data-id="inc-1"] .sev')).to_have_text("2")
    expect(page.locator("#incident-rows tr")).to_have_count(3)

    # Detail page: clip, snapshot and timeline.
    row.locator("a.type-link").click()
    page.wait_for_url("**/incidents/inc-live")
    expect(page.locator("#clip")).to_have_attribute("src", "/api/incidents/inc-live/clip.webm")
    expect(page.locator("#snapshot")).to_have_attribute("src", "/api/incidents/inc-live/snapshot.jpg")
    expect(page.locator("#timeline li").first).to_contain_text("new")
    wait_js(page, "document.getElementById('clip').readyState >= 1")  # metadata via Range requests
    expect(page.locator("#clip-status")).to_contain_text("s clip")

    # Acknowledge (htmx hx-post) with the CSRF header from the vigil_csrf cookie.
    ack = page.locator("#ack-btn")
    expect(ack).to_be_visible()
    ack.click()
    expect(ack).to_have_text("Acknowledged")
    expect(ack).to_be_disabled()
    csrf = next(c["value"] for c in browser_ctx.cookies() if c["name"] == "vigil_csrf")
    acks = [c for c in server.state.calls if c["action"] == "ack" and c["target"] == "inc-live"]
    assert acks and acks[-1]["csrf"] == csrf and acks[-1]["user"] == "operator"

    # Comment and resolve through fetch() (JSON bodies, CSRF header too).
    page.fill("#comment-text", "crew on the way")
    page.click("#comment-form button")
    expect(page.locator("#comments")).to_contain_text("crew on the way")
    page.fill("#resolve-note", "towed")
    page.click("#resolve-form button")
    expect(page.locator("#inc-facts")).to_contain_text("towed")
    assert all(c["csrf"] == csrf for c in server.state.calls if c["user"] == "operator")
    assert not problems, problems


def test_viewer_sees_no_operator_controls(server: ServerThread, browser_ctx) -> None:
    page, problems = login(browser_ctx, server, "viewer", "viewer-pw", "/incidents/inc-2")
    expect = sync_api.expect
    expect(page.locator("#timeline li").first).to_be_visible()
    expect(page.locator("#ack-btn")).to_be_hidden()
    expect(page.locator("#resolve-form")).to_be_hidden()
    expect(page.locator(".admin-only")).to_be_hidden()
    page.goto(server.url + "/admin/audit")
    expect(page.locator("#a-forbidden")).to_be_visible()
    assert not problems, problems


def test_cameras_map_zones_and_audit(server: ServerThread, browser_ctx) -> None:
    page, problems = login(browser_ctx, server, "admin", "admin-pw", "/cameras")
    expect = sync_api.expect
    expect(page.locator(".camera-card")).to_have_count(4)
    expect(page.locator(".camera-card.offline")).to_have_count(1)
    expect(page.locator(".camera-card", has_text="Tunnel A")).to_contain_text("node node-b/5e1f03aa")
    wait_js(page, "[...document.querySelectorAll('.thumb')].every((i) => i.complete && i.naturalWidth > 0)")

    # Live view only after Watch; stopping removes the stream.
    page.goto(server.url + "/cameras/tunnel-a")
    expect(page.locator("#live-img")).not_to_have_attribute("src", "/api/cameras/tunnel-a/live")
    page.click("#watch-btn")
    wait_js(page, "document.getElementById('live-img').naturalWidth > 0")
    page.click("#watch-btn")
    assert page.get_attribute("#live-img", "src") is None

    # Map: markers drawn on the canvas, and the accessible list.
    page.goto(server.url + "/map")
    expect(page.locator("#map-list li")).to_have_count(4)
    painted = page.evaluate(
        "(() => { const c = document.getElementById('map'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 180 && d[i] < 80) n++; return n; })()"
    )
    assert painted > 50, "no green (online) markers on the map"

    # Zone editor: existing zones load, a new polygon is drawn and saved normalised.
    page.goto(server.url + "/cameras/ring-north/zones")
    expect(page.locator("#z-list li")).to_have_count(2)
    wait_js(page, "document.getElementById('z-img').naturalWidth > 0")
    box = page.locator("#z-canvas").bounding_box()
    page.click("#z-new")
    for fx, fy in [(0.1, 0.1), (0.3, 0.1), (0.3, 0.25)]:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.click("#z-finish")
    page.select_option("#z-kind", "restricted")
    page.click("#z-save")
    expect(page.locator("#z-saved")).to_be_visible()
    saved = server.state.zone_puts[-1]
    new = next(z for z in saved["zones"] if z["kind"] == "restricted")
    assert len(new["polygon"]) == 3 and all(0 <= v <= 1 for p in new["polygon"] for v in p)
    assert abs(new["polygon"][1][0] - 0.3) < 0.02 and saved["lines"][0]["id"] == "count-1"
    # A 422 from the API is listed next to the form.
    page.route(
        "**/api/cameras/ring-north/zones",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body='{"detail": [{"loc": ["body", "zones", 0, "polygon"], "msg": "self-intersecting", "type": "x"}]}',
        ),
    )
    page.click("#z-save")
    expect(page.locator("#z-errors")).to_contain_text("zones.0.polygon: self-intersecting")
    problems[:] = [p for p in problems if "status of 422" not in p]  # the browser logs the (expected) 422

    # Audit log paging.
    page.goto(server.url + "/admin/audit")
    expect(page.locator("#audit-rows tr")).to_have_count(50)
    page.click("#a-next")
    expect(page.locator("#a-page")).to_have_text("page 2")
    expect(page.locator("#a-prev")).to_be_enabled()
    assert not problems, problems
