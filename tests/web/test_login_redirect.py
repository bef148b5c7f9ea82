"""Issue 7.4: after login the console goes only to same-origin addresses, however ``next`` is spelled.

Headless Chromium (Debian's /usr/bin/chromium via Playwright) against the real app on
127.0.0.1; ``localhost`` on the same port is another origin, so an open redirect would
be seen as the page leaving 127.0.0.1.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import PASSWORD, Env
from tests.api.conftest import env as env  # the fixture, re-exported for pytest
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_console_real import free_port
from vigil.api import ApiSettings, create_app, start_api_thread

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (.ci/services-web.sh)", allow_module_level=True)


@pytest.fixture
def base(env: Env) -> Iterator[str]:
    ctx = env.app.state.vigil  # type: ignore[attr-defined]
    app = create_app(ctx.config, env.store, None, env.config_path, settings=ApiSettings(poll_interval_s=0.5))
    handle = start_api_thread(app, "127.0.0.1", free_port())
    try:
        yield f"http://127.0.0.1:{handle.server.config.port}"
    finally:
        handle.stop()


@pytest.fixture
def page(tmp_path: Path):
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        ctx.set_default_timeout(10_000)
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def _login_with_next(page, base: str, raw_next: str) -> str:
    """Log in on ``/login?next=<raw_next>`` (put in the query as written) and return where the page went."""
    login_url = f"{base}/login?next={raw_next}"
    page.goto(login_url)
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    here = urlsplit(base).netloc
    page.wait_for_url(lambda url: urlsplit(url).netloc != here or urlsplit(url).path != "/login")
    page.wait_for_load_state()
    return page.url


def test_next_never_leaves_the_origin(page, base: str) -> None:
    port = urlsplit(base).port
    hostile = [
        f"/%5Clocalhost:{port}/pwned",  # "/\\localhost..." is //localhost... to the URL parser
        f"/%09/localhost:{port}/pwned",  # a tab is dropped: "//localhost..."
        f"/%5C%5Clocalhost:{port}/pwned",
        f"//localhost:{port}/pwned",
        f"http://localhost:{port}/pwned",
        f"%2F%2Flocalhost:{port}/pwned",
        "javascript:alert(1)//pwned",
    ]
    for raw in hostile:
        went = _login_with_next(page, base, raw)
        assert urlsplit(went).netloc == urlsplit(base).netloc, (raw, went)
        assert urlsplit(went).path == "/", (raw, went)
    # a same-origin path, with its query and fragment, is kept
    went = _login_with_next(page, base, "/cameras%3Fview%3Dgrid%23top")
    assert went == f"{base}/cameras?view=grid#top"
