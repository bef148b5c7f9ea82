"""Bring a database to the schema this version of Vigil expects (Alembic ``upgrade head``).

Run at start-up by :class:`~vigil.storage.store.Store`, so an operator never runs
a separate migration step and an older database is upgraded in place.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from vigil.storage.db import make_engine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock that migrations run under (b"vigilmig" as a 63-bit integer).
MIGRATION_LOCK_KEY = int.from_bytes(b"vigilmig", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations inside the package (no ini file)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision shipped with this version."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, ``None`` for an empty one."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(database: str | Engine) -> str:
    """Upgrade ``database`` (a URL or an engine) to the head revision.

    On PostgreSQL the upgrade runs under a transaction-level advisory lock: every
    node of a cluster opens the store at start-up, and two of them creating the
    same tables at once would fail (or, worse, half-apply a revision). The others
    wait for the lock and then find the schema at head.

    Returns
    -------
    str
        The revision the database is at afterwards.
    """
    engine = make_engine(database) if isinstance(database, str) else database
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            before = MigrationContext.configure(conn).get_current_revision()
            command.upgrade(cfg, "head")
        head = head_revision()
        if before != head:
            log.info("database migrated from %s to %s", before or "empty", head)
        return head
    finally:
        if isinstance(database, str):
            engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Developer entry point: ``python -m vigil.storage.schema {upgrade,revision} ...``."""
    parser = argparse.ArgumentParser(prog="python -m vigil.storage.schema")
    parser.add_argument("--url", default="sqlite:///vigil-data/vigil.db", help="database URL")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("upgrade", help="upgrade to head")
    rev = sub.add_parser("revision", help="write a new revision script")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.cmd == "upgrade":
        migrate(args.url)
    else:
        command.revision(alembic_config(args.url), message=args.message, autogenerate=args.autogenerate)


if __name__ == "__main__":
    main()
