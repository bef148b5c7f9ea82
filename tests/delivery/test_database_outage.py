"""A database outage between a delivery and its bookkeeping does not deliver the event twice."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tests.delivery.conftest import SECRET, Receiver, wait_until
from tests.storage.test_db import make_event
from vigil.config.models import ServiceConfig, WebhookTarget
from vigil.delivery import Backoff, DeliveryService
from vigil.storage import Store


def test_an_event_delivered_as_the_database_goes_down_is_recorded_later_not_resent(
    store: Store, receiver: Receiver, monkeypatch
) -> None:
    service = ServiceConfig(id="city", webhook=WebhookTarget(url=receiver.url, secret=SECRET, timeout_s=2))
    real_mark = store.mark_delivered
    refusals = {"left": 3}  # the database refuses the first three writes after the send

    def flaky_mark(outbox_id: int, now=None, **lease) -> bool:  # type: ignore[no-untyped-def]
        if refusals["left"]:
            refusals["left"] -= 1
            raise OperationalError("UPDATE outbox", {}, Exception("server closed the connection"))
        return real_mark(outbox_id, now, **lease)

    monkeypatch.setattr(store, "mark_delivered", flaky_mark)
    events = [make_event("inc-1", 0, "new"), make_event("inc-1", 1, "end")]
    for event in events:
        store.record_event(event, ["city"])
    fast = {"backoff": Backoff(0.05, 0.3), "outage_backoff": Backoff(0.05, 0.3), "poll_s": 0.1}
    with DeliveryService(store, [service], **fast):
        wait_until(lambda: store.pending_counts() == {}, 15, "both events recorded as delivered")
    assert refusals["left"] == 0
    assert [ce["id"] for ce in receiver.arrivals] == [e.event_id for e in events]  # once each, in order
