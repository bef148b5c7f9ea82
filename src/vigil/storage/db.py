"""Database schema (SQLAlchemy 2 typed ORM) and engine set-up.

One schema serves SQLite (the default: a single file, nothing to run) and
PostgreSQL (for sites that already operate one). The Alembic migrations in
``vigil/storage/migrations`` create exactly these tables; a test compares them.

SQLite is opened in WAL mode so the console can read while the pipeline and the
dispatchers write, with foreign keys on (SQLite leaves them off by default) and a
busy timeout so a writer waits for another instead of failing at once. Write
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and
then writes can fail with ``SQLITE_BUSY`` without waiting at all, which is the
classic cause of "database is locked" under concurrency.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Passed as an execution option on engines used only to read; SQLite then starts
#: a deferred transaction that never blocks writers.
READ_ONLY = "vigil_read_only"
SQLITE_BUSY_TIMEOUT_MS = 30_000

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zones and gives back naive values; storing UTC and
    re-attaching it on read keeps comparisons (``next_attempt_at <= now``,
    ``expires_at <= now``) correct and identical on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Camera(Base):
    """Last known state of a camera, for the map and the health view."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Added in 0004: the cluster node whose camera group runs the camera (None for the embedded runner).
    node: Mapped[str | None] = mapped_column(String(128))


class Incident(Base):
    """Current state of one incident (the latest of its events wins).

    ``camera_id`` is deliberately not a foreign key: incidents are kept for their
    retention period even when a camera is removed from the configuration.
    """

    __tablename__ = "incidents"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # open | ended
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
    bbox: Mapped[list[float]] = mapped_column(JsonType)
    confidence: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    snapshot_path: Mapped[str | None] = mapped_column(Text)
    clip_path: Mapped[str | None] = mapped_column(Text)
    # Filled by the operator console (a later issue); nullable until then.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_note: Mapped[str | None] = mapped_column(Text)
    # Added in 0002 for the operator console.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class IncidentEventRow(Base):
    """One :class:`~vigil.core.events.IncidentEvent`, as delivered (``payload``)."""

    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "sequence", name="uq_incident_events_incident_sequence"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.incident_id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # new | update | end
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRow(Base):
    """One event still to deliver (or delivered / dead) to one service.

    ``incident_id`` and ``sequence`` are copied from the event so the dispatcher
    can keep per-incident order with one indexed query.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("event_id", "target", name="uq_outbox_event_target"),
        Index("ix_outbox_target_status_due", "target", "status", "next_attempt_at"),
        Index("ix_outbox_target_incident", "target", "incident_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), ForeignKey("incident_events.event_id", ondelete="CASCADE"))
    incident_id: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Added in 0004: the dispatcher that holds the row and until when (see OutboxMixin.claim_due).
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Evidence(Base):
    """A redacted snapshot or clip file kept for an incident until ``expires_at``."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.incident_id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # snapshot | clip
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# -- operator console (revision 0002) --------------------------------------------------


class User(Base):
    """A console/API user. Passwords are stored only as argon2 hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))  # viewer | operator | admin
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A login session; ``id`` is the SHA-256 of the cookie value, never the value itself."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiToken(Base):
    """A bearer token for machines; stored as its SHA-256, shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Added in 0003: what the token may do (viewer | operator | admin), never above its user's role.
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IncidentComment(Base):
    """An operator's note on an incident."""

    __tablename__ = "incident_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.incident_id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One audited action (state change or footage view).

    Append-only: triggers refuse UPDATE, and DELETE of any row not covered by an
    :class:`AuditPurgePermit` of the same transaction (the retention purge).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user: Mapped[str | None] = mapped_column(String(128), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(256))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class AuditPurgePermit(Base):
    """Written and removed inside the retention purge's own transaction: audit rows older than ``before_at``
    may be deleted while it exists. Nothing else may delete audit rows (revision 0003).
    """

    __tablename__ = "audit_purge_permit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    before_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so BEGIN below is ours to choose.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
    finally:
        cur.close()


def _sqlite_begin(conn: Any) -> None:
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``database_url`` with Vigil's connection settings.

    Parameters
    ----------
    database_url : str
        ``sqlite:///path/vigil.db`` or ``postgresql+psycopg://user:pw@host/db``
        (a plain ``postgresql://`` URL also uses psycopg 3). A SQLite file's
        parent folder is created if missing.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.
    """
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # the driver Vigil supports (psycopg 3), not psycopg2
    if url.drivername == "postgresql+psycopg" and importlib.util.find_spec("psycopg") is None:
        raise ValueError(
            "storage.database_url: PostgreSQL needs the psycopg driver, "
            "an optional extra: pip install 'vigil[postgres]'"
        )
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            # Each pooled connection would get its own empty database.
            raise ValueError("in-memory SQLite is not supported; use sqlite:///path/to/vigil.db")
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine
