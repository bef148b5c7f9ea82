"""Events from the cameras to the store, in order, through the local journal, whatever the database does.

Camera threads only append to the :class:`~vigil.storage.journal.EventJournal`
(an fsync'd local write); one writer thread stores the journal's events in
order, with their outbox rows, and then hands each stored event on (delivery
wake-up, listeners, evidence waiting for its incident row). While the database
is down the writer retries with backoff and the events wait in the journal; a
camera never blocks on the database, and no event is lost, reordered or stored
twice. Camera health (online/offline) is kept as the latest value per camera
and written whenever the database takes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from vigil.core import Backoff
from vigil.core.events import IncidentEvent
from vigil.storage import Store
from vigil.storage.journal import EventJournal

log = logging.getLogger(__name__)

TargetsFn = Callable[[IncidentEvent], list[str]]
StoredFn = Callable[[IncidentEvent, list[str], bool], None]


class EventPublisher:
    """The one writer of incident events and camera health into the store.

    Parameters
    ----------
    store : Store
    journal : EventJournal
    targets : callable
        The services an event is queued for (routing).
    on_stored : callable
        ``(event, targets, new)`` after each event is in the store; ``new`` is
        False for an event the store already had (a replay after a crash).
    backoff : Backoff, optional
        Retry delays while the database refuses writes.
    """

    def __init__(
        self,
        store: Store,
        journal: EventJournal,
        targets: TargetsFn,
        on_stored: StoredFn,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self._targets = targets
        self._on_stored = on_stored
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=5.0, jitter=0.25)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._status: dict[str, dict[str, Any]] = {}  # camera id -> fields of its latest health
        self._thread = threading.Thread(target=self._run, name="vigil-publisher", daemon=True)
        self._draining_until: float | None = None
        self.stored = 0
        self.down_since: float | None = None  # monotonic time of the first failed write of an outage
        self.last_error: str | None = None

    # -- producers (any thread) ------------------------------------------------------------

    def publish(self, event: IncidentEvent) -> None:
        """Journal an event durably; it is stored (and delivered) by the writer thread, in order."""
        self.journal.append(event)
        self._wake.set()

    def camera_status(self, camera_id: str, **fields: Any) -> None:
        """Remember a camera's latest health; written at once, or when the database is back."""
        with self._lock:
            self._status.setdefault(camera_id, {}).update(fields)
        self._wake.set()

    @property
    def database_ok(self) -> bool:
        return self.down_since is None

    def status(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "waiting": self.journal.pending_events(),
            "database_ok": self.database_ok,
            "down_s": round(time.monotonic() - self.down_since, 1) if self.down_since is not None else 0.0,
            "last_error": self.last_error,
        }

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Store what the database takes within ``drain_s``; the rest stays in the journal for the next start."""
        self._draining_until = time.monotonic() + drain_s
        self._wake.set()
        self._thread.join(drain_s + 5.0)
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)
        left = self.journal.pending_events()
        if left:
            log.warning("%d incident events wait in %s; they are stored on the next start", left, self.journal.path)
        self.journal.close()

    # -- the writer ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            draining = self._draining_until is not None
            if draining and (time.monotonic() >= self._draining_until or self._idle()):  # type: ignore[operator]
                return
            try:
                wrote = self._write_status()
                batch = self.journal.peek()
                for offset, event in batch:
                    if self._stop.is_set():
                        return
                    if event is not None:
                        self._store(event)
                    self.journal.advance(offset)
            except Exception as exc:  # noqa: BLE001 - the database is down (or refuses): wait and retry
                self._failed(exc)
                delay = self._backoff.next_delay()
                if draining:
                    delay = min(delay, max(0.0, self._draining_until - time.monotonic()))  # type: ignore[operator]
                self._stop.wait(delay)
                continue
            if wrote or batch:
                self._recovered()
            if not batch:
                self._wake.wait(0.5 if not draining else 0.05)
                self._wake.clear()

    def _idle(self) -> bool:
        with self._lock:
            return not self._status and self.journal.pending_bytes == 0

    def _store(self, event: IncidentEvent) -> None:
        targets = self._targets(event)
        new = self.store.record_event(event, targets)
        self.stored += 1
        try:
            self._on_stored(event, targets, new)
        except Exception:  # a listener's bug must not hold the journal back
            log.exception("handling stored event %s failed", event.event_id)

    def _write_status(self) -> bool:
        with self._lock:
            pending, self._status = self._status, {}
        try:
            for camera_id, fields in pending.items():
                self.store.upsert_camera_status(camera_id, **fields)
        except Exception:
            with self._lock:  # keep what was not written, under any newer values
                for camera_id, fields in pending.items():
                    self._status[camera_id] = {**fields, **self._status.get(camera_id, {})}
            raise
        return bool(pending)

    def _failed(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "the database refuses writes (%s); incident events wait in %s", self.last_error, self.journal.path
            )
        elif self._backoff.attempts % 20 == 0:
            log.warning(
                "the database is still down after %.0f s; %d events wait",
                time.monotonic() - self.down_since,
                self.journal.pending_events(),
            )

    def _recovered(self) -> None:
        if self.down_since is not None:
            log.warning("the database is back after %.0f s; waiting events stored", time.monotonic() - self.down_since)
            self.down_since = None
        self._backoff.reset()
