"""Dispatchers: one thread per service working through its outbox.

Delivery is at-least-once. An event leaves the outbox only when its receiver
acknowledged it (HTTP 2xx, MQTT PUBACK), so a Vigil restart, a receiver outage
or a broker outage loses nothing: whatever is still pending is sent again when
the dispatcher (re)starts or the target comes back. Receivers de-duplicate on
``event_id``.

Per service, at most one event of each incident is in flight, and a later event
never overtakes an earlier one that waits for a retry (see
:meth:`~vigil.storage.store.Store.claim_due`), so each incident's events arrive
in order.

Several dispatchers of one service may share the outbox (cluster mode: one per
node, or spares). Each claims rows under a lease with its own worker id, renews a
lease that runs low before it sends, and settles a row only while it holds it, so
two dispatchers never send the same event; the rows of one that dies are taken
over once its lease ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from vigil.config.models import CameraConfig, ServiceConfig
from vigil.delivery.base import Backoff, DeliveryResult, Outcome, Sender
from vigil.delivery.formats import FormatContext, FormatError, build_format
from vigil.delivery.mqtt import MqttSender
from vigil.delivery.webhook import WebhookSender
from vigil.storage.records import OutboxItem
from vigil.storage.store import Store

log = logging.getLogger(__name__)


class Dispatcher:
    """Delivers one target's outbox with retries, backoff and dead-lettering.

    Parameters
    ----------
    store : Store
    target : str
        Service id (the outbox ``target``).
    sender : Sender
        The transport.
    max_attempts : int
        Failed attempts (the receiver answered with an error or did not confirm)
        after which an event is dead-lettered. Attempts made while the target is
        unreachable are not counted.
    backoff : Backoff
        Delay between attempts of one event.
    outage_backoff : Backoff
        Pause of the whole dispatcher while the target is unreachable; probing with
        one event instead of trying the whole backlog keeps a recovering receiver
        from being flooded with doomed requests.
    poll_s : float
        Longest sleep when idle; :meth:`wake` cuts it short for new events.
    batch : int
        Items claimed per query.
    worker_id : str, optional
        Who holds the leases (default: host, process and a random part, unique per dispatcher).
    lease_s : float
        How long a claimed row stays this dispatcher's; a row is renewed before it is
        sent when less than twice ``send_margin_s`` is left. Rows of a dispatcher that
        died are taken over after at most this long.
    send_margin_s : float
        The longest a send may take (the transport's timeout, with room to spare).
    """

    def __init__(
        self,
        store: Store,
        target: str,
        sender: Sender,
        *,
        max_attempts: int = 10,
        backoff: Backoff | None = None,
        outage_backoff: Backoff | None = None,
        poll_s: float = 5.0,
        batch: int = 50,
        worker_id: str | None = None,
        lease_s: float = 60.0,
        send_margin_s: float = 15.0,
    ) -> None:
        if lease_s <= 2 * send_margin_s:
            raise ValueError(f"dispatcher {target}: lease_s ({lease_s}) must exceed twice send_margin_s")
        self.store = store
        self.target = target
        self.sender = sender
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.outage_backoff = outage_backoff or Backoff(initial_s=1.0, max_s=60.0)
        self.poll_s = poll_s
        self.batch = batch
        self.worker_id = worker_id or default_worker_id()
        self.lease_s = lease_s
        self.send_margin_s = send_margin_s
        self.lost_leases = 0  # rows another dispatcher took over before this one sent them
        self._wake = threading.Event()
        self._available = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outages = 0
        # Delivered, but the database refused to record it (an outage right after the send): recorded as soon
        # as it is back, and not sent again meanwhile, so a database outage does not deliver an event twice.
        self._unrecorded: set[int] = set()
        if hasattr(sender, "on_available"):
            sender.on_available = self._on_available  # type: ignore[attr-defined]

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self.sender.start()
        self._thread = threading.Thread(target=self._run, name=f"vigil-delivery-{self.target}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop after the attempt in progress (does not wait)."""
        self._stop.set()
        self._wake.set()
        self._available.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the attempt in progress (bounded by the transport's timeout) and stop."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("dispatcher %s did not stop within %.1fs", self.target, timeout)
            self._thread = None
        self.sender.close()

    def wake(self) -> None:
        """New events are in the outbox: look now instead of at the next poll."""
        self._wake.set()

    def _on_available(self) -> None:
        self._available.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except SQLAlchemyError:
                log.exception("dispatcher %s: database error; retrying in %.1fs", self.target, self.poll_s)
                self._stop.wait(self.poll_s)

    def _step(self) -> None:
        self._wake.clear()
        for outbox_id in sorted(self._unrecorded):
            self.store.mark_delivered(outbox_id, worker=self.worker_id)
            self._unrecorded.discard(outbox_id)
        now = datetime.now(UTC)
        claimed_at = time.monotonic()
        items = self.store.claim_due(self.target, self.batch, now, worker=self.worker_id, lease_s=self.lease_s)
        if not items:
            self._wake.wait(self._idle_wait(now))
            return
        for i, item in enumerate(items):
            if self._stop.is_set():
                self._release(items[i:])
                return
            if time.monotonic() - claimed_at > self.lease_s - 2 * self.send_margin_s:
                if not self.store.renew_lease(item.id, self.worker_id, self.lease_s):
                    self.lost_leases += 1
                    log.warning("dispatcher %s: lease on %s ran out before sending; left to others", self.target,
                                item.event_id)  # fmt: skip
                    continue
                claimed_at = time.monotonic()
            result = self._attempt(item)
            if result.outcome is Outcome.UNAVAILABLE:
                self.store.mark_retry(
                    item.id, result.error or "unavailable", now, count_attempt=False, worker=self.worker_id
                )
                self._release(items[i + 1 :])
                self._pause(result)
                return
            self._outages = 0
            self._settle(item, result)

    def _release(self, items: Sequence[OutboxItem]) -> None:
        """Give back claimed rows not attempted (stopping, the target is down): none waits out the lease."""
        if items:
            self.store.release_leases([item.id for item in items], self.worker_id)

    def _idle_wait(self, now: datetime) -> float:
        due = self.store.next_due_at(self.target)
        if due is None:
            return self.poll_s
        return min(self.poll_s, max(0.01, (due - now).total_seconds()))

    def _attempt(self, item: OutboxItem) -> DeliveryResult:
        try:
            return self.sender.send(item)
        except FormatError as exc:
            # The format cannot express this event (e.g. no camera position): resending cannot help.
            return DeliveryResult(Outcome.DEAD, f"cannot encode event: {exc}")
        except Exception as exc:
            # A transport bug must not kill the thread (and with it all deliveries).
            log.exception("dispatcher %s: sending %s failed", self.target, item.event_id)
            return DeliveryResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}")

    def _settle(self, item: OutboxItem, result: DeliveryResult) -> None:
        if result.outcome is Outcome.DELIVERED:
            try:
                held = self.store.mark_delivered(item.id, worker=self.worker_id)
            except SQLAlchemyError:
                self._unrecorded.add(item.id)
                raise
            if not held:
                self.lost_leases += 1
                log.warning("dispatcher %s: %s was delivered after its lease ran out", self.target, item.event_id)
            log.debug("delivered %s to %s", item.event_id, self.target)
            return
        error = result.error or result.outcome.value
        attempts = item.attempts + 1
        if result.outcome is Outcome.DEAD or attempts >= self.max_attempts:
            if result.outcome is not Outcome.DEAD:
                error = f"gave up after {attempts} attempts: {error}"
            self.store.mark_dead(item.id, error, worker=self.worker_id)
            log.error("event %s dead-lettered for %s: %s", item.event_id, self.target, error)
            return
        delay = self.backoff.delay(attempts)
        if result.retry_after_s is not None:
            delay = max(delay, min(result.retry_after_s, self.backoff.max_s))
        self.store.mark_retry(item.id, error, datetime.now(UTC) + timedelta(seconds=delay), worker=self.worker_id)
        log.info("event %s to %s failed (%s); retry %d in %.1fs", item.event_id, self.target, error, attempts, delay)

    def _pause(self, result: DeliveryResult) -> None:
        self._outages += 1
        pause = self.outage_backoff.delay(self._outages)
        if self._outages == 1:
            log.warning("%s unavailable (%s); pausing deliveries", self.target, result.error)
        self._available.clear()
        self._available.wait(pause)


def default_worker_id() -> str:
    """A dispatcher's lease owner name: readable (host and process) and unique (a random part)."""
    return f"{socket.gethostname()[:64]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


SenderFactory = Callable[[ServiceConfig], Sender]


def _nats_sender(service: ServiceConfig, **kw: object) -> Sender:
    from vigil.delivery.jetstream import NatsSender  # nats-py is optional (vigil[nats])

    assert service.nats is not None
    return NatsSender(service.id, service.nats, **kw)  # type: ignore[arg-type]


# transport name -> builder(service, format=..., context=...); the service's format is chosen by name.
TRANSPORTS: dict[str, Callable[..., Sender]] = {
    "webhook": lambda service, **kw: WebhookSender(service.webhook, **kw),
    "mqtt": lambda service, **kw: MqttSender(service.id, service.mqtt, **kw),
    "nats": _nats_sender,
}


def default_sender(service: ServiceConfig, context: FormatContext | None = None) -> Sender:
    """The transport of ``service`` with its format; ``context`` gives formats camera positions and history."""
    fmt = build_format(service.format_name, service.format)
    return TRANSPORTS[service.transport](service, format=fmt, context=context or FormatContext())


class DeliveryService:
    """All dispatchers of a Vigil instance.

    Parameters
    ----------
    store : Store
    services : list of ServiceConfig
        ``VigilConfig.services``; one dispatcher (thread) each.
    sender_factory : callable, optional
        Builds a transport for a service (tests tune timeouts through it).
    cameras : list of CameraConfig, optional
        ``VigilConfig.cameras``: positions and names for the DATEX II and CAP formats.
    **dispatcher_kwargs
        ``backoff``, ``outage_backoff``, ``poll_s``, ``batch`` for every dispatcher;
        ``max_attempts`` comes from each service's target.
    """

    def __init__(
        self,
        store: Store,
        services: Sequence[ServiceConfig],
        *,
        sender_factory: SenderFactory | None = None,
        cameras: Sequence[CameraConfig] = (),
        **dispatcher_kwargs: object,
    ) -> None:
        self.store = store
        self.services = list(services)
        self.context = FormatContext.build(cameras, store)
        self.dispatchers: dict[str, Dispatcher] = {}
        for service in self.services:
            sender = sender_factory(service) if sender_factory else default_sender(service, self.context)
            self.dispatchers[service.id] = Dispatcher(
                store,
                service.id,
                sender,
                max_attempts=service.target.max_attempts,
                **dispatcher_kwargs,  # type: ignore[arg-type]
            )

    def start(self) -> None:
        """Start every dispatcher; pending items from before a restart go out first."""
        for d in self.dispatchers.values():
            d.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all dispatchers; they wind down in parallel, so this takes one timeout at most."""
        for d in self.dispatchers.values():
            d.request_stop()
        for d in self.dispatchers.values():
            d.stop(timeout)

    def __enter__(self) -> DeliveryService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self, targets: Sequence[str] | None = None) -> None:
        """Deliver newly recorded events now (all targets, or only ``targets``)."""
        for service_id, d in self.dispatchers.items():
            if targets is None or service_id in targets:
                d.wake()

    def publish_camera_status(self, camera_id: str, status: str | bool) -> None:
        """Tell the transports that publish camera health (MQTT, retained topic): ``online``, ``offline`` or
        ``stalled``."""
        for d in self.dispatchers.values():
            publish = getattr(d.sender, "set_camera_status", None)
            if publish is not None:
                publish(camera_id, status)

    def pending_counts(self) -> dict[str, int]:
        """Backlog per configured service, zeros included (for metrics)."""
        counts = self.store.pending_counts()
        return {service_id: counts.get(service_id, 0) for service_id in self.dispatchers}
