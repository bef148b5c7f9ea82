"""The incident store on SQLite and on a real PostgreSQL server (same tests, same code).

The PostgreSQL server is Debian's ``postgresql-15``, started by the fixture on
127.0.0.1 in a temporary folder (as the ``postgres`` user when the tests run as
root, since ``initdb`` refuses root) and removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from vigil.core.events import IncidentEvent
from vigil.storage import Store
from vigil.storage.db import Base
from vigil.storage.schema import current_revision, head_revision

# -- helpers shared with test_retention.py ----------------------------------------------------


def make_event(incident: str, seq: int, state: str = "update", **kw: object) -> IncidentEvent:
    base: dict[str, object] = {
        "event_id": f"{incident}-e{seq}",
        "incident_id": incident,
        "sequence": seq,
        "state": state,
        "type": "stopped_vehicle",
        "camera_id": "cam-1",
        "start_s": 10.0,
        "end_s": 20.0 if state == "end" else None,
        "bbox": (1.0, 2.0, 30.0, 40.0),
        "confidence": 0.8,
        "severity": 3,
        "details": {"speed_kmh": 0.0},
    }
    base.update(kw)
    return IncidentEvent(**base)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    candidates = [Path(found)] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    for c in candidates:
        d = Path(c).resolve().parent
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    return None


class PostgresServer:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, trust auth, no fsync."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 30) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=timeout)

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"
        )
        self.resume()

    def resume(self) -> None:
        """Start the (initialised) server: the first time, and again after :meth:`halt`."""
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "20",
                  "-o", opts, "start")  # fmt: skip

    def halt(self) -> None:
        """Stop the server as an outage would (connections cut), keeping its data for :meth:`resume`."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            with contextlib.suppress(subprocess.CalledProcessError):  # already halted
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


def started_postgres() -> PostgresServer:
    """A fresh server, or a skip saying why there cannot be one (the caller stops it)."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql-15)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing")
    server = PostgresServer(bindir)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(server.root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')[-2000:]}")
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = started_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vigil.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield server.url(name)
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


# -- schema ---------------------------------------------------------------------------------------


def test_migrates_to_head_and_matches_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    # Opening again (a restart) is a no-op migration and keeps the data.
    store.record_event(make_event("inc", 0, "new"), ["svc"])
    again = Store(store.database_url)
    assert again.get_incident("inc") is not None
    again.close()


def test_sqlite_wal_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'sub' / 'vigil.db'}")  # parent folder is created
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    store.close()


def test_urls() -> None:
    from vigil.storage.db import make_engine

    assert make_engine("postgresql://vigil:pw@127.0.0.1/vigil").dialect.driver == "psycopg"
    with pytest.raises(ValueError, match="in-memory"):
        make_engine("sqlite://")


def test_sqlite_needs_no_postgres_driver_and_postgres_names_the_extra(tmp_path: Path) -> None:
    """psycopg is the ``[postgres]`` extra: SQLite works without it, PostgreSQL says what to install."""
    code = f"""
import importlib.util, sys
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] == "psycopg" else find_spec(name, *a)
sys.modules["psycopg"] = None  # an import of it fails, as without the extra
from vigil.storage import Store
with Store("sqlite:///{tmp_path / "v.db"}") as store:
    store.upsert_camera_status("cam", online=True)
from vigil.storage.db import make_engine
try:
    make_engine("postgresql://vigil@127.0.0.1/vigil")
except ValueError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "vigil[postgres]" in out.stdout and "storage.database_url" in out.stdout, out.stdout + out.stderr


# -- record_event -----------------------------------------------------------------------------------


def test_record_event_is_idempotent_and_updates_incident(store: Store) -> None:
    new = make_event("inc-1", 0, "new", severity=2)
    assert store.record_event(new, ["fire", "traffic"], snapshot_path="cam-1/inc-1.jpg") is True
    assert store.record_event(new, ["fire", "traffic", "other"]) is False  # same event_id: nothing written
    assert len(store.list_outbox()) == 2
    assert store.pending_counts() == {"fire": 1, "traffic": 1}

    inc = store.get_incident("inc-1")
    assert inc is not None and inc.state == "open" and inc.severity == 2
    assert inc.snapshot_path == "cam-1/inc-1.jpg" and inc.acknowledged_at is None

    store.record_event(make_event("inc-1", 1, "update", severity=4, details={"speed_kmh": 1.5}), ["fire"])
    store.record_event(make_event("inc-1", 2, "end", severity=4), ["fire"])
    inc = store.get_incident("inc-1")
    assert inc is not None
    assert (inc.state, inc.end_s, inc.severity, inc.last_sequence) == ("ended", 20.0, 4, 2)
    assert inc.ended_at is not None and inc.ended_at.tzinfo is not None
    # "traffic" got the new event, so it also gets the rest of this incident.
    assert store.pending_counts() == {"fire": 3, "traffic": 3}
    assert [e["sequence"] for e in store.list_events("inc-1")] == [0, 1, 2]
    assert store.list_events("inc-1")[0] == new.to_dict()
    assert [i.incident_id for i in store.list_incidents(state="ended")] == ["inc-1"]
    assert store.list_incidents(state="open") == []
    assert store.get_incident("nope") is None


def _fail_outbox_inserts(store: Store) -> None:
    with store.engine.begin() as c:
        if store.dialect == "sqlite":
            c.exec_driver_sql(
                "CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox broken'); END"
            )
        else:
            c.exec_driver_sql(
                "CREATE FUNCTION no_outbox() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'outbox broken'; END $$ "
                "LANGUAGE plpgsql"
            )
            c.exec_driver_sql(
                "CREATE TRIGGER no_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION no_outbox()"
            )


def test_record_event_is_one_transaction(store: Store) -> None:
    _fail_outbox_inserts(store)
    with pytest.raises(DBAPIError, match="outbox broken"):
        store.record_event(make_event("inc-2", 0, "new"), ["fire"])
    # Nothing of it was written: no incident, no event, no outbox row.
    assert store.get_incident("inc-2") is None
    assert store.list_events("inc-2") == []
    with store.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM incident_events")).scalar() == 0
    # Without targets there is no outbox insert, so the event is stored.
    assert store.record_event(make_event("inc-3", 0, "new"), []) is True


# -- outbox ---------------------------------------------------------------------------------------------


def test_outbox_keeps_per_incident_order_and_dead_letters(store: Store) -> None:
    now = datetime.now(UTC)
    for e in (make_event("a", 0, "new"), make_event("b", 0, "new"), make_event("a", 1), make_event("a", 2, "end")):
        store.record_event(e, ["svc"], now=now)
    store.record_event(make_event("c", 0, "new"), ["other"], now=now)

    due = store.claim_due("svc", 10, now)
    assert [(i.incident_id, i.sequence) for i in due] == [("a", 0), ("b", 0)]  # a1, a2 wait for a0
    assert due[0].payload["event_id"] == "a-e0" and due[0].attempts == 0

    later = now + timedelta(seconds=30)
    store.mark_retry(due[0].id, "HTTP 503", later)
    store.mark_delivered(due[1].id)
    assert store.claim_due("svc", 10, now + timedelta(seconds=1)) == []  # a0 not due, a1 must not overtake it
    assert store.next_due_at("svc") == later
    retry = store.claim_due("svc", 10, later)
    assert [(i.sequence, i.attempts) for i in retry] == [(0, 1)]

    store.mark_dead(retry[0].id, "HTTP 400: bad")
    assert [i.sequence for i in store.claim_due("svc", 10, later)] == [1]  # dead does not block the rest
    assert store.pending_counts() == {"svc": 2, "other": 1}
    dead = store.list_outbox(status="dead")
    assert [(d.event_id, d.attempts, d.last_error) for d in dead] == [("a-e0", 2, "HTTP 400: bad")]
    store.mark_delivered(dead[0].id)  # a dead item cannot be marked delivered by a stale dispatcher
    assert store.list_outbox(event_id="a-e0")[0].status == "dead"

    assert store.requeue_dead("svc") == 1
    assert [i.sequence for i in store.claim_due("svc", 10, later)] == [0]
    delivered = store.list_outbox(status="delivered")
    assert [d.event_id for d in delivered] == ["b-e0"] and delivered[0].delivered_at is not None


def test_camera_status(store: Store) -> None:
    seen = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    store.upsert_camera_status("cam-1", online=True, name="Tunnel north", lat=48.1, lon=11.5, last_seen=seen)
    store.upsert_camera_status("cam-1", online=False, reconnects=3)
    (cam,) = store.list_cameras()
    assert (cam.name, cam.online, cam.reconnects, cam.lat, cam.last_seen) == ("Tunnel north", False, 3, 48.1, seen)


def test_concurrent_writers_do_not_lock_out(store: Store) -> None:
    """Pipeline threads record while a dispatcher marks deliveries: no 'database is locked'."""
    errors: list[SQLAlchemyError] = []

    def record(worker: int) -> None:
        try:
            for n in range(25):
                store.record_event(make_event(f"w{worker}-{n}", 0, "new"), ["svc"])
        except SQLAlchemyError as exc:
            errors.append(exc)

    def deliver() -> None:
        try:
            for _ in range(60):
                for item in store.claim_due("svc", 20):
                    store.mark_delivered(item.id)
        except SQLAlchemyError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(4)] + [threading.Thread(target=deliver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(store.list_outbox()) == 100
