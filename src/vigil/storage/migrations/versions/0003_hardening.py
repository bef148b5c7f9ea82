"""API hardening: roles on API tokens, and audit rows that only the retention purge may delete.

Revision ID: 0003
Revises: 0002
Create Date: 2026-02-01

- ``api_tokens.role``: existing tokens keep what they could do, their creator's role.
- ``audit_log``: a trigger now refuses DELETE too, unless the row is older than an
  ``audit_purge_permit`` row written in the same transaction. Only the retention
  purge writes one (and removes it before committing), so no other code path and no
  hand-typed ``DELETE FROM audit_log`` removes history. On PostgreSQL ``TRUNCATE`` is
  refused as well, and the purge runs as ``vigil_purge_audit(cutoff)``, a
  ``SECURITY DEFINER`` function: a site can then give Vigil's database role no
  DELETE on ``audit_log``, no INSERT on ``audit_purge_permit`` and no ownership of
  the tables (so it cannot drop the triggers either), only EXECUTE on the function.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vigil.storage.db import UTCDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_log rows are deleted only by the retention purge"

_PG_NO_DELETE = f"""
CREATE OR REPLACE FUNCTION vigil_audit_no_delete() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_purge_permit p WHERE OLD.at < p.before_at) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{MESSAGE}';
END;
$$ LANGUAGE plpgsql
"""

_PG_PURGE = """
CREATE OR REPLACE FUNCTION vigil_purge_audit(cutoff timestamptz) RETURNS bigint
SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO audit_purge_permit (before_at) VALUES (cutoff);
    DELETE FROM audit_log WHERE at < cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM audit_purge_permit;
    RETURN n;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=True))
    op.execute("UPDATE api_tokens SET role = (SELECT users.role FROM users WHERE users.id = api_tokens.user_id)")
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("role", existing_type=sa.String(16), nullable=False)
    op.create_table(
        "audit_purge_permit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("before_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_purge_permit")),
    )
    if postgres:
        op.execute(_PG_NO_DELETE)
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION vigil_audit_no_delete()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION vigil_audit_append_only()"
        )
        op.execute(_PG_PURGE)
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            "WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permit WHERE OLD.at < audit_purge_permit.before_at) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS vigil_purge_audit(timestamptz)")
        op.execute("DROP FUNCTION IF EXISTS vigil_audit_no_delete()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_table("audit_purge_permit")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("role")
