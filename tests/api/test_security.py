"""Sessions with CSRF, token revocation, login rate limiting, and the append-only audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from tests.api.conftest import PASSWORD, Env
from vigil.storage import accounts, console


def test_cookie_session_and_csrf(env: Env) -> None:
    c = env.client
    r = c.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "operator" and body["role"] == "operator"
    cookies = r.headers.get_list("set-cookie")
    session = next(x for x in cookies if x.startswith("vigil_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict") and "Path=/" in session
    csrf_cookie = next(x for x in cookies if x.startswith("vigil_csrf="))
    assert "HttpOnly" not in csrf_cookie
    assert c.get("/api/auth/me").json() == {"username": "operator", "role": "operator"}
    assert c.post("/api/incidents/inc-01/ack").status_code == 403
    assert c.post("/api/incidents/inc-01/ack", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    ok = c.post("/api/incidents/inc-01/ack", headers={"X-CSRF-Token": body["csrf_token"]})
    assert ok.status_code == 200
    assert c.post("/api/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]}).status_code == 204
    c.cookies.clear()
    assert c.get("/api/auth/me").status_code == 401
    actions = {r["action"] for r in console.list_audit(env.store, limit=50, before_id=None)[0]}
    assert {"auth.login", "auth.logout", "incident.ack"} <= actions


def test_wrong_password_and_disabled_user(env: Env) -> None:
    r = env.client.post("/api/auth/login", json={"username": "viewer", "password": "nope"})
    assert r.status_code == 401
    accounts.set_disabled(env.store, "viewer")
    r = env.client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 401
    assert env.client.get("/api/auth/me", headers=env.auth("viewer")).status_code == 401


def test_login_rate_limit(env: Env) -> None:
    for _ in range(5):
        r = env.client.post("/api/auth/login", json={"username": "admin", "password": "guess"})
        assert r.status_code == 401
    r = env.client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # another username from the same address is not blocked
    assert env.client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


def test_tokens_are_shown_once_and_revocable(env: Env) -> None:
    h = env.auth("admin")
    r = env.client.post("/api/tokens", json={"name": "grafana"}, headers=h)
    assert r.status_code == 201
    token_id, token = r.json()["id"], r.json()["token"]
    listed = env.client.get("/api/tokens", headers=h).json()
    assert any(t["id"] == token_id and t["name"] == "grafana" for t in listed)
    assert token not in env.client.get("/api/tokens", headers=h).text
    bearer = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/api/metrics", headers=bearer).status_code == 200
    assert env.client.delete(f"/api/tokens/{token_id}", headers=h).status_code == 204
    assert env.client.get("/api/metrics", headers=bearer).status_code == 401
    assert env.client.delete(f"/api/tokens/{token_id}", headers=h).status_code == 404
    assert env.client.post("/api/tokens", json={"name": "x"}, headers=env.auth("operator")).status_code == 403


def test_audit_log_is_append_only_and_purged_by_age(env: Env) -> None:
    console.audit(env.store, "test.old", user="u", role="admin", now=datetime.now(UTC) - timedelta(days=400))
    console.audit(env.store, "test.new", user="u", role="admin")
    with pytest.raises(DatabaseError), env.store.session() as s:
        s.execute(sa.text("UPDATE audit_log SET action = 'forged'"))
    assert console.purge_audit(env.store, datetime.now(UTC) - timedelta(days=365)) == 1
    r = env.client.get("/api/audit", params={"action": "test.new"}, headers=env.auth("admin"))
    assert [i["action"] for i in r.json()["items"]] == ["test.new"]
    pages, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        body = env.client.get("/api/audit", params=params, headers=env.auth("admin")).json()
        pages += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(pages) == len(set(pages)) >= 1
    assert env.client.get("/api/audit", params={"cursor": "abc"}, headers=env.auth("admin")).status_code == 400
