"""Issue 7.7: /api/docs renders the vendored Swagger UI in headless Chromium under the strict CSP,
loading nothing from another origin (the console must work offline and trust no CDN).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.api.conftest import PASSWORD, Env
from tests.api.conftest import env as env  # the fixture, re-exported for pytest
from tests.web.test_browser import CHROMIUM, wait_js
from tests.web.test_login_redirect import base as base
from tests.web.test_login_redirect import page as page

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
if not CHROMIUM.exists():
    pytest.skip("Debian chromium is not installed at /usr/bin/chromium (.ci/services-web.sh)", allow_module_level=True)


def test_swagger_ui_renders_offline_under_the_csp(page, base: str) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    foreign: list[str] = []
    here = urlsplit(base).netloc
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).netloc not in (here, "") else None)
    page.goto(base + "/login?next=%2Fapi%2Fdocs")
    page.fill("#username", "operator")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/api/docs")
    title = page.locator(".swagger-ui .info .title")
    sync_api.expect(title).to_contain_text("Vigil API")
    wait_js(page, "document.querySelectorAll('.opblock').length > 20")  # the operations are listed
    assert page.evaluate("typeof window.SwaggerUIBundle") == "function"
    assert not foreign, foreign
    csp = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert not csp, csp


def test_docs_need_a_session(page, base: str, env: Env) -> None:  # type: ignore[no-untyped-def]
    r = page.goto(base + "/api/docs")
    assert r is not None and r.status == 401
