"""Several dispatchers on one PostgreSQL outbox (cluster mode): no event is sent twice, none is stranded.

Each dispatcher has its own :class:`Store` (its own engine and connections), as
the nodes of a cluster do, all on one real PostgreSQL server started on loopback.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from tests.delivery.conftest import wait_until
from tests.storage.test_db import PostgresServer, make_event, postgres_server  # noqa: F401 - fixture
from vigil.delivery import Backoff
from vigil.delivery.base import DELIVERED, DeliveryResult
from vigil.delivery.dispatcher import Dispatcher
from vigil.storage import Store
from vigil.storage.records import OutboxItem
from vigil.storage.schema import current_revision, head_revision, migrate


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:  # noqa: F811 - the imported fixture
    """A fresh, empty database on the shared test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


class RecordingSender:
    """Records every send (shared by all dispatchers of a test); a short pause widens the race window."""

    def __init__(self, log: list[tuple[str, str, int]], lock: threading.Lock, pause_s: float = 0.002) -> None:
        self.log = log
        self.lock = lock
        self.pause_s = pause_s
        self.worker = ""

    def start(self) -> None:
        pass

    def send(self, item: OutboxItem) -> DeliveryResult:
        time.sleep(self.pause_s)
        with self.lock:
            self.log.append((self.worker, item.event_id, item.sequence))
        return DELIVERED

    def close(self) -> None:
        pass


def test_two_dispatchers_on_one_postgresql_outbox_never_send_an_event_twice(pg_url: str) -> None:
    incidents, per_incident = 60, 4
    writer = Store(pg_url)
    for i in range(incidents):
        for seq in range(per_incident):
            state = "new" if seq == 0 else ("end" if seq == per_incident - 1 else "update")
            writer.record_event(make_event(f"inc-{i}", seq, state), ["city"])
    sent: list[tuple[str, str, int]] = []
    lock = threading.Lock()
    stores = [Store(pg_url, migrate=False) for _ in range(2)]
    dispatchers = []
    for n, store in enumerate(stores):
        sender = RecordingSender(sent, lock)
        d = Dispatcher(store, "city", sender, poll_s=0.02, batch=5, backoff=Backoff(0.01, 0.05), worker_id=f"node-{n}")
        sender.worker = d.worker_id
        dispatchers.append(d)
    for d in dispatchers:
        d.start()
    try:
        wait_until(lambda: writer.pending_counts() == {}, 60, "every event delivered")
    finally:
        for d in dispatchers:
            d.stop()
        for s in [*stores, writer]:
            s.close()
    counts = Counter(event_id for _, event_id, _ in sent)
    assert len(counts) == incidents * per_incident
    assert [e for e, c in counts.items() if c > 1] == []  # each event sent exactly once
    by_worker = Counter(worker for worker, _, _ in sent)
    assert set(by_worker) == {"node-0", "node-1"}, f"both dispatchers should have taken part: {by_worker}"
    for i in range(incidents):  # each incident's events still arrive in order, whichever node sent them
        seqs = [seq for _, event_id, seq in sent if event_id.startswith(f"inc-{i}-")]
        assert seqs == sorted(seqs)


def test_concurrent_claims_take_disjoint_rows(pg_url: str) -> None:
    writer = Store(pg_url)
    for i in range(40):
        writer.record_event(make_event(f"inc-{i}", 0, "new"), ["city"])
    stores = [Store(pg_url, migrate=False) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    claimed: dict[int, list[int]] = {}

    def claim(n: int) -> None:
        barrier.wait()
        claimed[n] = [item.id for item in stores[n].claim_due("city", 15, worker=f"w{n}", lease_s=60)]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ids = [i for rows in claimed.values() for i in rows]
    assert len(ids) == len(set(ids)) == 40  # every row claimed once, by one worker
    for s in [*stores, writer]:
        s.close()


def test_rows_of_a_dispatcher_that_died_are_taken_over_when_its_lease_ends(pg_url: str) -> None:
    store = Store(pg_url)
    store.record_event(make_event("inc-1", 0, "new"), ["city"])
    now = datetime.now(UTC)
    [held] = store.claim_due("city", 10, now, worker="dead-node", lease_s=30)
    assert store.claim_due("city", 10, now + timedelta(seconds=29), worker="other", lease_s=30) == []
    [taken] = store.claim_due("city", 10, now + timedelta(seconds=31), worker="other", lease_s=30)
    assert taken.event_id == held.event_id
    # The dead node comes back late: it no longer holds the row and cannot settle it.
    assert not store.renew_lease(held.id, "dead-node", 30)
    assert not store.mark_delivered(held.id, worker="dead-node")
    assert store.mark_delivered(taken.id, worker="other")
    assert store.pending_counts() == {}
    store.close()


def test_unattempted_rows_are_released_when_a_dispatcher_stops(pg_url: str) -> None:
    store = Store(pg_url)
    for i in range(3):
        store.record_event(make_event(f"inc-{i}", 0, "new"), ["city"])
    items = store.claim_due("city", 10, worker="a", lease_s=60)
    assert len(items) == 3 and store.claim_due("city", 10, worker="b", lease_s=60) == []
    store.release_leases([item.id for item in items[1:]], "a")
    assert [i.id for i in store.claim_due("city", 10, worker="b", lease_s=60)] == [i.id for i in items[1:]]
    store.close()


def test_nodes_migrating_one_database_at_once_all_succeed(pg_url: str) -> None:
    """Every node opens the store at start-up; the advisory lock makes them migrate one after another."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_node() -> None:
        barrier.wait()
        try:
            migrate(pg_url)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start_node) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a migration hung"
    assert errors == []
    store = Store(pg_url, migrate=False)
    assert current_revision(store.engine) == head_revision()
    store.close()
