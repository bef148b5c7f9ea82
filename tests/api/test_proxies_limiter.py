"""Issue 7.6: client addresses come from trusted proxies only; logins are limited per address and per user name,
with expiry and bounded memory; failed logins write a bounded number of audit rows.

Through uvicorn on 127.0.0.1 (the peer address and proxy headers are the point).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import CONFIG, PASSWORD, Env
from tests.web.test_console_real import free_port
from vigil.api import ApiSettings, create_app, start_api_thread
from vigil.config import ConfigError, load_config, load_config_text
from vigil.storage import console


@contextmanager
def serve(env: Env, config_text: str | None = None, **settings: object) -> Iterator[httpx.Client]:
    ctx = env.app.state.vigil  # type: ignore[attr-defined]
    config = ctx.config
    if config_text is not None:
        path = env.config_path.parent / "proxied.yaml"
        path.write_text(config_text)
        config = load_config(path)
    app = create_app(
        config, env.store, None, env.config_path,
        settings=ApiSettings.from_config(config.api, poll_interval_s=0.5, **settings),
    )  # fmt: skip
    handle = start_api_thread(app, "127.0.0.1", free_port())
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{handle.server.config.port}", timeout=10) as client:
            yield client
    finally:
        handle.stop()


def _login(client: httpx.Client, user: str, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/api/auth/login", json={"username": user, "password": password}, headers=headers)


def _sources(env: Env, action: str) -> list[str | None]:
    return [r["source_ip"] for r in console.list_audit(env.store, limit=500, before_id=None, action=action)[0]]


def test_forwarded_for_is_ignored_without_trusted_proxies(env: Env) -> None:
    with serve(env) as client:
        for _ in range(5):
            assert _login(client, "admin", "guess", "198.51.100.9").status_code == 401
        # a forged address does not get around the limit, nor into the audit log
        assert _login(client, "admin", PASSWORD, "203.0.113.1").status_code == 429
        assert _login(client, "admin", PASSWORD).status_code == 429
    assert set(_sources(env, "auth.login_failed")) == {"127.0.0.1"}


PROXIED = CONFIG + "api: {trusted_proxies: [127.0.0.1, '::1'], login_max_failures_per_user: 3}\n"


def test_trusted_proxy_gives_the_client_address(env: Env) -> None:
    with serve(env, PROXIED) as client:
        # the proxy appends the real client; what a client put in front of it is not believed
        assert _login(client, "viewer", PASSWORD, "6.6.6.6, 203.0.113.7").status_code == 200
        for i in range(3):  # one user name from three addresses: the per-user limit counts them all
            assert _login(client, "operator", "guess", f"192.0.2.{i}").status_code == 401
        r = _login(client, "operator", PASSWORD, "192.0.2.200")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert _login(client, "admin", PASSWORD, "192.0.2.201").status_code == 200  # others still log in
    assert _sources(env, "auth.login") == ["192.0.2.201", "203.0.113.7"]
    assert sorted(_sources(env, "auth.login_failed")) == ["192.0.2.0", "192.0.2.1", "192.0.2.2"]


def test_one_address_spraying_user_names_is_limited(env: Env) -> None:
    with serve(env, login_max_failures_per_address=8) as client:
        codes = [_login(client, f"user{i % 4}", "guess").status_code for i in range(8)]
        assert codes == [401] * 8  # four user names, two guesses each: never 5 for one name
        assert _login(client, "viewer", PASSWORD).status_code == 429


def test_failed_logins_write_a_bounded_number_of_audit_rows(env: Env) -> None:
    with serve(env, failed_login_audit_per_minute=5, login_max_failures_per_address=1000) as client:
        for i in range(15):
            assert _login(client, f"nobody{i}", "guess").status_code == 401
    assert len(_sources(env, "auth.login_failed")) == 5


def test_trusted_proxies_config_is_strict(tmp_path: Path) -> None:
    base = CONFIG.replace("${CONFIG_DIR}", str(tmp_path))
    ok = load_config_text(base + "api: {trusted_proxies: [10.0.0.0/8, 192.0.2.5, '::1']}\n")
    assert [str(n) for n in ok.api.trusted_proxies] == ["10.0.0.0/8", "192.0.2.5/32", "::1/128"]
    for bad in ("[proxy.local]", "[10.0.0.1/33]", "[10.0.0.1/8]"):
        with pytest.raises(ConfigError, match=r"api\.trusted_proxies"):
            load_config_text(base + f"api: {{trusted_proxies: {bad}}}\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config_text(base + "api: {trusted_proxy: [10.0.0.1]}\n")


def test_limiter_expires_and_stays_bounded() -> None:
    from vigil.api.limits import FailureWindow, LoginLimiter

    now = [0.0]
    window = FailureWindow(3, 60.0, max_keys=1000, clock=lambda: now[0])
    for i in range(50_000):
        window.fail(f"spray-{i}")
    assert len(window) == 1000  # the oldest are forgotten one by one, never more than max_keys
    for _ in range(3):
        window.fail("target")
    assert window.retry_after("target") == pytest.approx(60.0)
    now[0] = 61.0
    assert window.retry_after("target") == 0.0
    window.fail("fresh")
    assert len(window) == 1  # expired entries are dropped as new failures arrive
    limiter = LoginLimiter(2, 5, 60.0, clock=lambda: now[0])
    limiter.fail("Admin", "a")
    limiter.fail("admin ", "b")
    assert limiter.retry_after("admin", "c") > 0  # one user name, however it is spelt
    limiter.succeeded("admin")
    assert limiter.retry_after("admin", "c") == 0.0
