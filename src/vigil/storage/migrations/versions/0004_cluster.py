"""Cluster mode: outbox leases for several dispatchers, and the node each camera runs on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- ``outbox.lease_owner`` / ``outbox.lease_until``: a dispatcher claims rows under a
  lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two dispatchers
  never send the same row, and the rows of a dispatcher that died become due again
  when its lease runs out.
- ``cameras.node``: the Ray node (or host) whose group runs the camera, for the
  console and ``vigil cluster status``; empty for the embedded runner.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vigil.storage.db import UTCDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(128), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("node", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("node")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
