"""Live incident events for the console (server-sent events).

:class:`Broadcaster` is thread-safe: the pipeline's camera threads call
:meth:`Broadcaster.publish` (it is registered as a ``LiveRunner`` listener) and
each connected SSE client gets the event on its own asyncio queue. Without a
pipeline in the process (``vigil serve``), :func:`poll_store` feeds it from the
database instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from vigil.core.events import IncidentEvent
from vigil.storage import console
from vigil.storage.store import Store

log = logging.getLogger(__name__)


#: Keys of an event's ``details`` that the pipeline fills with evidence locations.
MEDIA_KEYS = ("snapshot", "clip")


def public_details(details: dict[str, Any] | None, incident_id: str) -> dict[str, Any]:
    """An event's details as clients see them: evidence as API URLs, never a file location on the server.

    The pipeline records where it wrote the evidence (older databases hold absolute
    paths); clients get ``/api/incidents/{id}/snapshot`` and ``.../clip`` instead,
    which are audited on use.
    """
    out = dict(details or {})
    for key in MEDIA_KEYS:
        if key in out:
            out[key] = f"/api/incidents/{incident_id}/{key}"
    return out


def public_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored or live event payload with :func:`public_details`."""
    iid = str(payload.get("incident_id", ""))
    return payload | {"details": public_details(payload.get("details"), iid)}


def event_message(payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON sent for one event: the event (details made public) plus the incident's id and media URLs."""
    iid = payload.get("incident_id", "")
    return public_event(payload) | {
        "id": iid,
        "snapshot_url": f"/api/incidents/{iid}/snapshot",
        "clip_url": f"/api/incidents/{iid}/clip",
    }


class Broadcaster:
    """Fans incident events out to subscribers; duplicates (same ``event_id``) are sent once."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._queue_size = queue_size

    def publish(self, event: IncidentEvent | dict[str, Any]) -> None:
        """Send an event to every subscriber (callable from any thread)."""
        payload = event.to_dict() if isinstance(event, IncidentEvent) else dict(event)
        with self._lock:
            eid = str(payload.get("event_id", ""))
            if eid:
                if eid in self._seen:
                    return
                self._seen[eid] = None
                if len(self._seen) > 10_000:
                    self._seen.popitem(last=False)
            subs = list(self._subs)
        message = event_message(payload)
        for loop, queue in subs:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._put, queue, message)

    @staticmethod
    def _put(queue: asyncio.Queue[dict[str, Any]], message: dict[str, Any]) -> None:
        if queue.full():  # a slow client loses the oldest event rather than stalling the others
            queue.get_nowait()
        queue.put_nowait(message)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        with self._lock:
            self._subs.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subs = {s for s in self._subs if s[1] is not queue}

    @property
    def subscribers(self) -> int:
        return len(self._subs)


async def poll_store(store: Store, broadcaster: Broadcaster, interval_s: float) -> None:
    """Publish events that other processes wrote to the database (runs until cancelled)."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    last: str | None = None
    while True:
        await asyncio.sleep(interval_s)
        try:
            rows = await run_in_threadpool(console.events_after, store, last, since)
        except Exception:
            log.exception("polling incident events failed")
            continue
        for created_at, event_id, payload in rows:
            broadcaster.publish(payload)
            since, last = created_at, event_id
