"""Issue 7.7 over the real app: body limits, security headers, Secure cookies and HSTS, token roles,
and what answers must not leak (server paths in event details, submitted passwords in 422s).
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.api.conftest import CONFIG, PASSWORD, Env
from tests.storage.test_db import make_event
from tests.web.test_console_real import free_port
from vigil.api import ApiSettings, create_app, start_api_thread
from vigil.config import load_config
from vigil.storage import accounts


@contextmanager
def serve(env: Env, config_text: str | None = None, **settings: object) -> Iterator[str]:
    ctx = env.app.state.vigil  # type: ignore[attr-defined]
    config = ctx.config
    if config_text is not None:
        path = env.config_path.parent / "variant.yaml"
        path.write_text(config_text)
        config = load_config(path)
    app = create_app(
        config, env.store, None, env.config_path,
        settings=ApiSettings.from_config(config.api, poll_interval_s=0.3, **settings),
    )  # fmt: skip
    handle = start_api_thread(app, "127.0.0.1", free_port())
    scheme = "https" if config.api.tls_certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{handle.server.config.port}"
    finally:
        handle.stop()


def _raw(port: int, head: bytes, body: bytes, more: int = 0, timeout: float = 3.0) -> bytes:
    """Send ``head`` and ``body`` (then up to ``more`` bytes of padding) and return what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        sent, answer = 0, b""
        s.settimeout(0.05)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            if sent < more:
                try:
                    s.sendall(b"x" * 65536 if b"chunked" not in head else b"10000\r\n" + b"x" * 65536 + b"\r\n")
                    sent += 65536
                except OSError:
                    pass
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def test_login_body_is_capped_before_it_is_read(env: Env) -> None:
    with serve(env) as base:
        port = int(base.rsplit(":", 1)[1])
        head = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200000000\r\n\r\n"
        )
        t0 = time.monotonic()
        answer = _raw(port, head, b'{"username": "admin", "password": "')
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert time.monotonic() - t0 < 2.0  # answered at once, not after 200 MB
        chunked = b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        chunked += b"Transfer-Encoding: chunked\r\n\r\n"
        answer = _raw(port, chunked, b"", more=4 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        # normal logins still work, and other routes have their own (larger) limit
        ok = httpx.post(base + "/api/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert ok.status_code == 200
        ring = [[round(0.5 + 0.4 * math.cos(k / 600), 6), round(0.5 + 0.4 * math.sin(k / 600), 6)] for k in range(3770)]
        zones = {"zones": [{"id": "fine", "kind": "restricted", "polygon": ring}]}
        assert len(json.dumps(zones)) > 64 * 1024  # a finely drawn zone is above the default limit
        r = httpx.put(base + "/api/cameras/cam-2/zones", json=zones, headers=env.auth("admin"))
        assert r.status_code == 200, r.text[:300]
        r = httpx.post(base + "/api/incidents/inc-01/comments", json={"text": "x" * 70_000}, headers=env.auth("admin"))
        assert r.status_code == 413


def test_api_answers_carry_security_headers(env: Env) -> None:
    with serve(env) as base:
        for path, headers in (("/api/health", {}), ("/api/incidents", {}), ("/api/incidents", env.auth("viewer"))):
            r = httpx.get(base + path, headers=headers)
            h = r.headers
            assert h["x-content-type-options"] == "nosniff", (path, r.status_code)
            assert h["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert h["referrer-policy"] == "no-referrer"
            assert "strict-transport-security" not in h  # plain HTTP
            assert "server" not in h


TRUSTED = CONFIG + "api: {trusted_proxies: [127.0.0.1]}\n"


def _cookies(r: httpx.Response) -> list[str]:
    return r.headers.get_list("set-cookie")


def test_secure_cookies_and_hsts_behind_a_trusted_tls_proxy(env: Env) -> None:
    login = {"username": "viewer", "password": PASSWORD}
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    with serve(env, TRUSTED) as base:
        r = httpx.post(base + "/api/auth/login", json=login, headers=tls)
        assert r.status_code == 200 and len(_cookies(r)) == 2
        assert all("; secure" in c.lower() for c in _cookies(r)), _cookies(r)
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        plain = httpx.post(base + "/api/auth/login", json=login)
        assert not any("secure" in c.lower() for c in _cookies(plain))
        assert "strict-transport-security" not in plain.headers
    with serve(env) as base:  # the same header from an untrusted peer changes nothing
        r = httpx.post(base + "/api/auth/login", json=login, headers=tls)
        assert not any("secure" in c.lower() for c in _cookies(r)) and "strict-transport-security" not in r.headers
    with serve(env, CONFIG + "api: {secure_cookies: true}\n") as base:
        r = httpx.post(base + "/api/auth/login", json=login)
        assert all("; secure" in c.lower() for c in _cookies(r))


def test_secure_cookies_and_hsts_when_serving_tls_directly(env: Env, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    with serve(env, CONFIG + f"api: {{tls_certfile: {cert}, tls_keyfile: {key}}}\n") as base:
        assert base.startswith("https://")
        r = httpx.post(base + "/api/auth/login", json={"username": "viewer", "password": PASSWORD}, verify=False)
        assert r.status_code == 200
        assert all("; secure" in c.lower() for c in _cookies(r))
        assert "max-age=" in r.headers["strict-transport-security"]


def test_docs_are_served_from_this_origin_under_a_strict_csp(env: Env) -> None:
    with serve(env) as base:
        r = httpx.get(base + "/api/docs", headers=env.auth("viewer"))
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
        assert "http" not in r.text and "<script>" not in r.text  # no CDN, no inline script
        for src in (
            "/api/docs/assets/swagger-ui-bundle.js",
            "/api/docs/assets/swagger-ui.css",
            "/web/static/js/api-docs.js",
        ):
            assert src in r.text
            got = httpx.get(base + src, headers=env.auth("viewer"))
            assert got.status_code == 200 and len(got.content) > 200, src
        assert httpx.get(base + "/api/docs").status_code == 401
        assert httpx.get(base + "/api/docs/assets/../../x", headers=env.auth("viewer")).status_code == 404


def test_tokens_have_a_role_at_most_their_creators_and_record_use(env: Env) -> None:
    c, admin = env.client, env.auth("admin")
    made = {}
    for role in ("viewer", "operator"):
        r = c.post("/api/tokens", json={"name": f"{role}-int", "role": role}, headers=admin)
        assert r.status_code == 201 and r.json()["role"] == role, r.text
        made[role] = {"Authorization": f"Bearer {r.json()['token']}"}
    assert c.post("/api/tokens", json={"name": "x", "role": "root"}, headers=admin).status_code == 422
    assert c.get("/api/incidents", headers=made["viewer"]).status_code == 200
    assert c.post("/api/incidents/inc-01/ack", headers=made["viewer"]).status_code == 403
    assert c.post("/api/incidents/inc-01/ack", headers=made["operator"]).status_code == 200
    assert c.get("/api/audit", headers=made["operator"]).status_code == 403
    listed = {t["name"]: t for t in c.get("/api/tokens", headers=admin).json()}
    assert listed["viewer-int"]["role"] == "viewer" and listed["viewer-int"]["last_used_at"] is not None
    assert listed["decoy"]["last_used_at"] is None and listed["decoy"]["role"] == "admin"
    # a token never acts above its creator's current role
    user = accounts.get_user(env.store, "operator")
    assert user is not None
    with pytest.raises(ValueError, match="cannot be above"):
        accounts.create_token(env.store, user, "escalate", "admin")
    with env.store.session() as s:
        s.execute(sa.text("UPDATE users SET role = 'viewer' WHERE username = 'admin'"))
    assert c.get("/api/audit", headers=admin).status_code == 403  # the admin's own token, now a viewer's


def test_event_details_hold_no_server_paths(env: Env) -> None:
    secret_dir = "/srv/vigil-private/media/cam-1"
    details = {"snapshot": f"{secret_dir}/inc-x.jpg", "clip": f"{secret_dir}/inc-x.mp4", "zone": "lane-1"}
    with serve(env) as base:
        h = env.auth("viewer")
        with httpx.stream("GET", base + "/api/events/stream", headers=h, timeout=5) as sse:
            lines = sse.iter_lines()
            assert next(lines).startswith(": connected")
            time.sleep(0.4)
            env.store.record_event(make_event("inc-x", 0, "new", details=details), ["tc"])
            msg = next(json.loads(x[6:]) for x in lines if x.startswith("data: ") and "inc-x" in x)
        detail = httpx.get(base + "/api/incidents/inc-x", headers=h).json()
        listed = httpx.get(base + "/api/incidents", headers=h).text
    for text in (json.dumps(msg), json.dumps(detail), listed):
        assert "/srv/vigil-private" not in text
    assert msg["details"] == {"snapshot": "/api/incidents/inc-x/snapshot", "clip": "/api/incidents/inc-x/clip",
                              "zone": "lane-1"}  # fmt: skip
    assert detail["details"]["clip"] == "/api/incidents/inc-x/clip"
    assert detail["events"][0]["details"]["snapshot"] == "/api/incidents/inc-x/snapshot"


def test_validation_errors_never_echo_what_was_sent(env: Env) -> None:
    for body in ({"password": "hunter2-secret"}, {"username": "a", "password": "hunter2-secret", "x": 1},
                 {"username": "a", "password": "hunter2-secret" * 100}):  # fmt: skip
        r = env.client.post("/api/auth/login", json=body)
        assert r.status_code == 422
        assert "hunter2" not in r.text and all("input" not in e for e in r.json()["detail"]), r.text
        assert r.json()["detail"][0]["loc"][0] == "body"
