"""``vigil demo`` as a newcomer runs it: one command, then the console in a browser (headless Chromium).

The real command runs in a subprocess on a free port; the test reads the URL and
the operator's credentials from what it prints, logs in, waits for the first
incident the pipeline detects in the looping clip, opens it and plays its
redacted clip, checks the camera page's thumbnail and the map, then stops the
demo with Ctrl-C (SIGINT) and expects a clean exit.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from tests.cli.test_run_cli import Vigil, vigil_procs  # noqa: F401 - fixture
from tests.web.test_browser import CHROMIUM, wait_js
from tests.web.test_console_real import browser_ctx, free_port, login  # noqa: F401 - fixture

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


@pytest.mark.slow
def test_demo_serves_the_console_with_an_incident_and_its_clip(
    tmp_path: Path,
    vigil_procs: list[Vigil],  # noqa: F811
    browser_ctx,  # noqa: F811
) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (.ci/services-web.sh)")
    port = free_port()
    vigil = Vigil(["demo", "-o", str(tmp_path / "demo"), "--port", str(port)], tmp_path)
    vigil_procs.append(vigil)
    url = vigil.wait_line(re.compile(r"^Console: (http://\S+)$"), timeout=60).group(1)
    assert url == f"http://127.0.0.1:{port}/"
    password = vigil.wait_line(re.compile(r"operator account: operator / (\S+)"), timeout=5).group(1)
    base = url.rstrip("/")

    expect = sync_api.expect
    page = browser_ctx.pages[0] if browser_ctx.pages else browser_ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    login(page, base, "operator", password)
    expect(page.locator("#live-state")).to_have_text("live")
    row = page.locator("#incident-rows tr[data-id]").first
    expect(row).to_be_visible(timeout=60_000)
    expect(row).to_contain_text("pedestrian")
    expect(row).to_contain_text("Demo: restricted area by the table")  # the demo camera's name
    incident_id = row.get_attribute("data-id")

    clip_url = f"/api/incidents/{incident_id}/clip"
    current = f"fetch('/api/incidents/{incident_id}').then((r) => r.json()).then((d) => d.clip_url)"
    deadline = time.monotonic() + 40
    while page.evaluate(current) != clip_url:
        assert time.monotonic() < deadline, "no clip for the demo incident"
        time.sleep(0.25)
    row.locator("a").first.click()
    page.wait_for_url(f"**/incidents/{incident_id}")
    expect(page.locator("#clip")).to_have_attribute("src", clip_url)
    wait_js(page, "document.getElementById('clip').readyState >= 2", 15)
    page.evaluate("(() => { const v = document.getElementById('clip'); v.muted = true; return v.play(); })()")
    wait_js(page, "document.getElementById('clip').currentTime > 0.3", 10)
    wait_js(page, "document.getElementById('snapshot').naturalWidth > 0", 10)

    # The camera is online with a redacted thumbnail, and it is on the map.
    cameras = page.request.get(base + "/api/cameras").json()
    assert [(c["id"], c["online"]) for c in cameras] == [("demo-platform", True)]
    assert cameras[0]["lat"] is not None and cameras[0]["lon"] is not None
    thumb = page.request.get(base + "/api/cameras/demo-platform/snapshot")
    assert thumb.status == 200 and thumb.headers["content-type"] == "image/jpeg"
    page.goto(base + "/map")
    expect(page.locator("canvas#map")).to_be_visible()
    expect(page.locator("#map-list li")).to_have_count(1)
    expect(page.locator("#map-list")).to_contain_text("Demo: restricted area by the table")
    assert not problems, problems

    vigil.proc.send_signal(signal.SIGINT)
    assert vigil.finish(timeout=30) == 0, vigil.err
    assert "Traceback" not in vigil.err
    assert any("redacted incident clip(s)" in line for line in vigil.lines)
