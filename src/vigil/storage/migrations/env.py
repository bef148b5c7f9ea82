"""Alembic environment: runs on the connection :func:`vigil.storage.schema.migrate` hands over.

Using the caller's connection (rather than a URL) keeps Vigil's SQLite settings
(WAL, foreign keys, busy timeout) in force during migrations too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from vigil.storage.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them against the database")
run_migrations_online()
