"""The console in headless Chromium against the real API and a running pipeline (no fakes).

A ``LiveRunner`` reads a 20 s cut of the bundled clip in real time (a person walks
into the demo's restricted zone about 5 s in) and the API is served over its
store with :func:`vigil.api.serve.start_for_runner` on 127.0.0.1. An operator
watches the feed while the incident is detected, opens it, plays the redacted
clip and acknowledges it; an administrator then finds both in the audit log.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.test_runner_live import camera, cut_clip, write_config
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, wait_js
from vigil.api.serve import start_for_runner
from vigil.config import load_config
from vigil.pipeline.runner import LiveRunner
from vigil.storage import accounts
from vigil.storage.store import Store

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

USERS = {"admin": ("admin", "admin-pass-1234"), "op": ("operator", "operator-pass-1234")}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def login(page, base: str, user: str, password: str, start: str = "/") -> None:
    page.goto(base + start)
    page.wait_for_url("**/login*")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + start)


@pytest.fixture
def browser_ctx(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (.ci/services-web.sh)")
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
            viewport={"width": 1280, "height": 800},
        )
        ctx.set_default_timeout(10_000)
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)


@pytest.mark.slow
def test_operator_sees_live_incident_plays_clip_acknowledges_and_admin_audits(tmp_path: Path, browser_ctx) -> None:
    t0 = time.monotonic()
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 24.0)
    config_path = write_config(tmp_path, [camera("platform-1", str(clip), realtime=True)])
    (tmp_path / "data").mkdir(exist_ok=True)
    config = load_config(config_path)
    with Store(config.storage.database_url) as store:
        for role, (name, password) in USERS.items():
            accounts.create_user(store, name, password, "operator" if role == "op" else "admin")

    runner = LiveRunner(config)
    handle = start_for_runner(runner, config_path, port=free_port())
    base = f"http://127.0.0.1:{handle.server.config.port}"
    expect = sync_api.expect
    page = browser_ctx.pages[0] if browser_ctx.pages else browser_ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        # The operator's feed is open and live before the pipeline sees anything.
        login(page, base, *USERS["op"])
        expect(page.locator("#live-state")).to_have_text("live")
        expect(page.locator("#incident-rows tr[data-id]")).to_have_count(0)
        page.evaluate("window.__noReload = 42")
        runner.start()

        # The incident the pipeline detects appears without a reload.
        row = page.locator("#incident-rows tr[data-id]").first
        expect(row).to_be_visible(timeout=30_000)
        assert page.evaluate("window.__noReload") == 42, "the feed reloaded"
        incident_id = row.get_attribute("data-id")
        assert incident_id
        expect(row).to_contain_text("platform-1")

        # The clip exists once the post-roll is written.
        clip_url = f"/api/incidents/{incident_id}/clip"
        current = f"fetch('/api/incidents/{incident_id}').then((r) => r.json()).then((d) => d.clip_url)"
        deadline = time.monotonic() + 30
        while page.evaluate(current) != clip_url:
            assert time.monotonic() < deadline, "no clip for the incident"
            time.sleep(0.25)

        row.locator("a").first.click()
        page.wait_for_url(f"**/incidents/{incident_id}")
        expect(page.locator("#clip")).to_have_attribute("src", clip_url)
        expect(page.locator("#snapshot")).to_have_attribute("src", f"/api/incidents/{incident_id}/snapshot")
        wait_js(page, "document.getElementById('snapshot').naturalWidth === 768", 10)
        wait_js(page, "document.getElementById('clip').readyState >= 2", 15)
        page.evaluate("(() => { const v = document.getElementById('clip'); v.muted = true; return v.play(); })()")
        wait_js(page, "document.getElementById('clip').currentTime > 0.5", 10)
        assert page.evaluate("document.getElementById('clip').videoWidth") == 768

        ack = page.locator("#ack-btn")
        expect(ack).to_be_enabled()
        ack.click()
        expect(ack).to_have_text("Acknowledged")
        expect(page.locator("#inc-facts")).to_contain_text("operator")

        # The administrator finds the clip view and the acknowledgement in the audit log.
        browser_ctx.clear_cookies()
        login(page, base, *USERS["admin"], start="/admin/audit")
        rows = page.locator("#audit-rows tr")
        for action in ("incident.ack", "view.clip"):
            hit = rows.filter(has_text=action).filter(has_text=incident_id)
            expect(hit.first).to_be_visible()
            expect(hit.first).to_contain_text("operator")
        assert not problems, problems
    finally:
        handle.stop()
        runner.stop()
    assert not handle.thread.is_alive()
    assert time.monotonic() - t0 < 90
