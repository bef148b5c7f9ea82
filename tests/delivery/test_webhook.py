"""Webhook delivery to a real local HTTP receiver: signatures, CloudEvents, outages, dead letters."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime

from tests.delivery.conftest import SECRET, Receiver, free_port, wait_until
from tests.storage.test_db import make_event
from vigil.config.models import ServiceConfig, WebhookTarget
from vigil.core.events import IncidentEvent
from vigil.delivery import Backoff, DeliveryService, WebhookSender, sign, to_cloudevent, verify_signature
from vigil.storage import Store
from vigil.storage.records import OutboxItem

FAST = {"backoff": Backoff(0.05, 0.4), "outage_backoff": Backoff(0.05, 0.3), "poll_s": 0.2}


def service(receiver: Receiver, max_attempts: int = 1000, **kw: object) -> ServiceConfig:
    target = WebhookTarget(url=receiver.url, secret=SECRET, timeout_s=2, max_attempts=max_attempts, **kw)
    return ServiceConfig(id="city", webhook=target)


def incident_events(n_incidents: int, per_incident: int) -> list[IncidentEvent]:
    """Events of several incidents, interleaved as a pipeline would emit them."""
    out = []
    for seq in range(per_incident):
        state = "new" if seq == 0 else "end" if seq == per_incident - 1 else "update"
        out += [make_event(f"inc{i}", seq, state, camera_id=f"cam-{i}") for i in range(n_incidents)]
    return out


def assert_in_order(arrivals: list[dict]) -> None:
    seqs: dict[str, list[int]] = defaultdict(list)
    for ce in arrivals:
        seqs[ce["subject"]].append(ce["data"]["sequence"])
    for incident, s in seqs.items():
        assert s == sorted(s), f"{incident} arrived out of order: {s}"


def test_cloudevent_and_signature_scheme() -> None:
    event = make_event("inc", 0, "new", camera_id="tunnel-3")
    ce = to_cloudevent(event.to_dict())
    assert ce["specversion"] == "1.0" and ce["id"] == event.event_id and ce["subject"] == "inc"
    assert ce["source"] == "/vigil/cameras/tunnel-3" and ce["type"] == "org.vigil.incident.new"
    assert ce["time"] == event.wall_time and ce["data"] == event.to_dict()

    item = OutboxItem(1, event.event_id, "inc", 0, "svc", 0, event.to_dict(), datetime.now(UTC))
    sender = WebhookSender(WebhookTarget(url="http://127.0.0.1:9/x", secret="k", headers={"X-Vigil-Signature": "no"}))
    headers, body = sender.request(item, timestamp="1700000000")
    assert headers["X-Vigil-Signature"] == sign("k", "1700000000", body)  # configured headers cannot override
    assert verify_signature("k", body, "1700000000", headers["X-Vigil-Signature"], now=1700000100)
    assert not verify_signature("k", body, "1700000000", headers["X-Vigil-Signature"], now=1700001000)  # replay
    assert not verify_signature("other", body, "1700000000", headers["X-Vigil-Signature"], now=1700000100)
    assert not verify_signature("k", body + b" ", "1700000000", headers["X-Vigil-Signature"], now=1700000100)


def test_delivers_everything_through_outages_and_a_restart(store: Store, receiver: Receiver) -> None:
    events = incident_events(n_incidents=4, per_incident=6)
    svc = service(receiver)
    delivery = DeliveryService(store, [svc], **FAST)
    delivery.start()

    for e in events[:8]:
        store.record_event(e, ["city"])
    delivery.wake()
    wait_until(lambda: len(receiver.unique()) == 8, what="first batch")

    # The receiver fails with 503 for a while, then goes away completely.
    receiver.mode = 503
    for e in events[8:12]:
        store.record_event(e, ["city"])
    delivery.wake()
    wait_until(lambda: receiver.requests >= 12, what="503 answers")
    receiver.stop()
    for e in events[12:18]:
        store.record_event(e, ["city"])
    delivery.wake()
    time.sleep(0.5)
    assert delivery.pending_counts() == {"city": 10}

    # Vigil restarts while the receiver is still down...
    delivery.stop()
    store.close()
    store = Store(store.database_url)
    for e in events[18:]:
        store.record_event(e, ["city"])
    receiver.mode = "ok"
    receiver.start()  # ...and the receiver comes back.
    delivery = DeliveryService(store, [svc], **FAST)
    delivery.start()
    try:
        wait_until(lambda: len(receiver.unique()) == len(events), timeout=15, what="every event")
        wait_until(lambda: delivery.pending_counts() == {"city": 0}, what="empty backlog")
    finally:
        delivery.stop()

    assert receiver.problems == []
    arrivals = receiver.unique()
    assert {ce["id"] for ce in arrivals} == {e.event_id for e in events}
    assert_in_order(arrivals)
    assert all(o.status == "delivered" for o in store.list_outbox())
    store.close()


def test_client_error_is_dead_lettered_at_once(store: Store, receiver: Receiver) -> None:
    receiver.mode = 400
    with DeliveryService(store, [service(receiver, max_attempts=5)], **FAST) as delivery:
        store.record_event(make_event("inc", 0, "new"), ["city"])
        delivery.wake()
        wait_until(lambda: store.list_outbox(status="dead") != [], what="dead letter")
    (dead,) = store.list_outbox()
    assert dead.attempts == 1 and dead.last_error is not None and dead.last_error.startswith("HTTP 400")
    assert receiver.requests == 1


def test_server_errors_are_retried_then_dead_lettered(store: Store, receiver: Receiver) -> None:
    receiver.mode = 500
    with DeliveryService(store, [service(receiver, max_attempts=3)], **FAST) as delivery:
        store.record_event(make_event("inc", 0, "new"), ["city"])
        store.record_event(make_event("inc", 1, "end"), ["city"])
        delivery.wake()
        wait_until(lambda: len(store.list_outbox(status="dead")) == 2, what="two dead letters")
    assert [(o.attempts, o.status) for o in store.list_outbox()] == [(3, "dead"), (3, "dead")]
    assert "gave up after 3 attempts: HTTP 500" in (store.list_outbox()[0].last_error or "")
    assert receiver.requests == 6
    # After the receiver is fixed, an operator can resend the dead letters.
    receiver.mode = "ok"
    assert store.requeue_dead("city") == 2
    with DeliveryService(store, [service(receiver)], **FAST):
        wait_until(lambda: len(receiver.unique()) == 2, what="requeued events")
    assert [ce["data"]["sequence"] for ce in receiver.unique()] == [0, 1]


def test_status_classification() -> None:
    import httpx

    from vigil.delivery import Outcome

    event = make_event("inc", 0, "new")
    item = OutboxItem(1, event.event_id, "inc", 0, "svc", 0, event.to_dict(), datetime.now(UTC))

    def outcome(status: int, headers: dict[str, str] | None = None) -> tuple[Outcome, float | None]:
        transport = httpx.MockTransport(lambda _req: httpx.Response(status, headers=headers))
        sender = WebhookSender(WebhookTarget(url="http://receiver.invalid/"), client=httpx.Client(transport=transport))
        result = sender.send(item)
        return result.outcome, result.retry_after_s

    assert outcome(200) == (Outcome.DELIVERED, None) and outcome(204)[0] is Outcome.DELIVERED
    assert outcome(429, {"Retry-After": "7"}) == (Outcome.RETRY, 7.0)
    assert outcome(408)[0] is Outcome.RETRY and outcome(503)[0] is Outcome.RETRY
    assert outcome(400)[0] is Outcome.DEAD and outcome(404)[0] is Outcome.DEAD and outcome(301)[0] is Outcome.DEAD

    refused = WebhookSender(WebhookTarget(url=f"http://127.0.0.1:{free_port()}/", timeout_s=1))
    assert refused.send(item).outcome is Outcome.UNAVAILABLE
    refused.close()
