"""Issue 7.7: the audit log refuses UPDATE, DELETE (and TRUNCATE) from anyone but the retention purge,
on SQLite and PostgreSQL; the token-role migration keeps what existing tokens could do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DatabaseError

from tests.storage.test_db import db_url as db_url  # the fixtures, re-exported for pytest
from tests.storage.test_db import postgres_server as postgres_server
from tests.storage.test_db import store as store
from vigil.config.models import RetentionConfig
from vigil.storage import console
from vigil.storage.db import make_engine
from vigil.storage.retention import run_retention
from vigil.storage.schema import alembic_config
from vigil.storage.store import Store


def test_audit_rows_are_deleted_only_by_the_purge(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    console.audit(store, "old", user="u", role="admin", now=now - timedelta(days=400))
    console.audit(store, "new", user="u", role="admin", now=now)
    statements = [
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'new'",
        "UPDATE audit_log SET user = 'x'",
    ]
    if store.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(DatabaseError), store.session() as s:
            s.execute(sa.text(sql.replace("user", '"user"')))
    with store.read_session() as s:
        assert s.scalar(sa.text("SELECT count(*) FROM audit_log")) == 2
    report = run_retention(store, tmp_path / "media", RetentionConfig(audit_days=365))
    assert report.audit_rows_deleted == 1
    with store.read_session() as s:
        assert [r[0] for r in s.execute(sa.text("SELECT action FROM audit_log"))] == ["new"]
        assert s.scalar(sa.text("SELECT count(*) FROM audit_purge_permit")) == 0  # the permit did not outlive it
    with pytest.raises(DatabaseError), store.session() as s:  # and after the purge, DELETE is refused again
        s.execute(sa.text("DELETE FROM audit_log"))


def test_token_roles_migrate_from_their_creator(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            at = datetime.now(UTC).replace(tzinfo=None)
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, password_hash, role, disabled, created_at) VALUES "
                    "(1, 'ops', 'x', 'operator', false, :at), (2, 'boss', 'x', 'admin', false, :at)"
                ),
                {"at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO api_tokens (name, token_hash, user_id, created_at) VALUES "
                    "('a', 'h1', 1, :at), ('b', 'h2', 2, :at)"
                ),
                {"at": at},
            )
    finally:
        engine.dispose()
    with Store(db_url) as migrated:
        with migrated.read_session() as s:
            roles = dict(s.execute(sa.text("SELECT name, role FROM api_tokens")).all())
        assert roles == {"a": "operator", "b": "admin"}
