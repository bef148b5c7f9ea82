"""NATS JetStream delivery against a real nats-server on loopback: acks, dedup by event id, retention, restarts."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from tests.delivery.conftest import NatsServer, wait_until
from tests.delivery.test_webhook import incident_events
from vigil.config.models import ServiceConfig
from vigil.config.services import NatsTarget
from vigil.delivery import Backoff, DeliveryService
from vigil.storage import Store
from vigil.storage.db import OutboxRow

nats = pytest.importorskip("nats", reason="nats-py is not installed (pip install -e .[nats])")
from vigil.delivery.jetstream import NatsSender, subject  # noqa: E402 - needs nats-py

FAST = {"backoff": Backoff(0.05, 0.3), "outage_backoff": Backoff(0.05, 0.3), "poll_s": 0.2}


def test_subjects_are_one_per_type_and_state_and_cannot_be_wildcards() -> None:
    assert subject("vigil", "stopped_vehicle", "new") == "vigil.incident.stopped_vehicle.new"
    assert subject("city.a", "fire", "end") == "city.a.incident.fire.end"
    assert subject("vigil", "a.b*>", "") == "vigil.incident.a_b__._"


def _service(server: NatsServer, **kw: Any) -> ServiceConfig:
    target = NatsTarget(**{"servers": [server.url], "max_age_days": 1, "duplicate_window_s": 120, "timeout_s": 2, **kw})
    return ServiceConfig(id="bus", nats=target)


def _fast_sender(service: ServiceConfig) -> NatsSender:
    assert service.nats is not None
    return NatsSender(service.id, service.nats, reconnect_wait_s=0.2)


async def _consume(url: str, want: int, timeout: float = 3.0) -> list[dict[str, Any]]:
    """Fetch up to ``want`` messages from the durable consumer ``ops`` and ack each (waiting for the server)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe("vigil.incident.>", durable="ops", stream="VIGIL")
        got: list[dict[str, Any]] = []
        while len(got) < want:
            try:
                msgs = await sub.fetch(want - len(got), timeout=timeout)
            except nats.errors.TimeoutError:
                break
            for m in msgs:
                got.append({"subject": m.subject, "headers": dict(m.headers or {}), "body": json.loads(m.data)})
                await m.ack_sync()
        return got
    finally:
        await nc.close()


async def _stream_info(url: str) -> Any:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().stream_info("VIGIL")
    finally:
        await nc.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["restart", "crash"])
def test_consumer_gets_every_event_exactly_once_through_a_server_restart(
    store: Store, nats_server: NatsServer, stop_signal: int
) -> None:
    events = incident_events(n_incidents=3, per_incident=8)
    first, second = events[:12], events[12:]  # sequences 0-3 before the restart, 4-7 after
    service = _service(nats_server)
    with DeliveryService(store, [service], sender_factory=_fast_sender, **FAST) as delivery:
        for e in first:
            store.record_event(e, ["bus"])
        delivery.wake()
        wait_until(lambda: store.pending_counts() == {}, 15, "first batch acked by JetStream")
        seen = asyncio.run(_consume(nats_server.url, 100, timeout=1.0))
        assert [m["body"]["id"] for m in seen] == [e.event_id for e in first]

        # The server goes down (a clean restart, or a crash); Vigil keeps recording. Three delivered events are also
        # put back in the queue, as if Vigil had crashed after JetStream stored them but before it
        # recorded the delivery: they are sent again and must not reach the consumer twice.
        nats_server.stop(stop_signal)
        delivered = [o.id for o in store.list_outbox(status="delivered")][:3]
        with store.session() as s:
            s.execute(update(OutboxRow).where(OutboxRow.id.in_(delivered)).values(status="pending"))
        for e in second:
            store.record_event(e, ["bus"])
        delivery.wake()
        wait_until(lambda: store.pending_counts() == {"bus": 15}, 5, "events queued while the server is down")
        wait_until(lambda: any(o.last_error for o in store.list_outbox(status="pending")), 5, "a failed attempt")
        assert store.pending_counts() == {"bus": 15}
        nats_server.start()
        wait_until(lambda: store.pending_counts() == {}, 20, "backlog delivered after the restart")

    rest = asyncio.run(_consume(nats_server.url, 100, timeout=1.0))
    assert [m["body"]["id"] for m in rest] == [e.event_id for e in second]  # no repeat, no loss, in order
    for m, e in zip(seen + rest, events, strict=True):
        assert m["subject"] == f"vigil.incident.{e.type}.{e.state}"
        assert m["headers"]["Nats-Msg-Id"] == e.event_id
        assert m["headers"]["Content-Type"].startswith("application/cloudevents+json")
        assert m["body"]["type"] == f"org.vigil.incident.{e.state}" and m["body"]["data"]["event_id"] == e.event_id
    # The outage charged no attempts: each event was acked on its first counted try.
    assert {o.attempts for o in store.list_outbox() if o.id not in delivered} == {1}

    info = asyncio.run(_stream_info(nats_server.url))
    assert info.state.messages == len(events)  # the re-sent three were dropped as duplicates by Nats-Msg-Id
    assert info.config.subjects == ["vigil.incident.>"]
    assert info.config.max_age == pytest.approx(86400.0)
    assert info.config.duplicate_window == pytest.approx(120.0)
    assert getattr(info.config.storage, "value", info.config.storage) == "file"


def test_retention_is_applied_to_an_existing_stream(store: Store, nats_server: NatsServer) -> None:
    for max_age_days, max_msgs in ((1.0, -1), (0.5, 1000)):
        sender = _fast_sender(_service(nats_server, max_age_days=max_age_days, max_msgs=max_msgs))
        sender.start()
        try:
            wait_until(lambda s=sender: s.connected and s._stream_ready, 10, "stream prepared")
        finally:
            sender.close()
        info = asyncio.run(_stream_info(nats_server.url))
        assert info.config.max_age == pytest.approx(max_age_days * 86400)
        assert info.config.max_msgs == max_msgs


def test_unreachable_server_pauses_without_charging_attempts(store: Store) -> None:
    from tests.delivery.conftest import free_port

    service = ServiceConfig(id="bus", nats=NatsTarget(servers=[f"nats://127.0.0.1:{free_port()}"], timeout_s=1))
    with DeliveryService(store, [service], sender_factory=_fast_sender, **FAST) as delivery:
        store.record_event(incident_events(1, 1)[0], ["bus"])
        delivery.wake()
        wait_until(lambda: bool(store.list_outbox()[0].last_error), 5, "an attempt")
    (row,) = store.list_outbox()
    assert row.status == "pending" and row.attempts == 0
    assert "not connected" in (row.last_error or "")
    assert row.next_attempt_at <= datetime.now(UTC)
