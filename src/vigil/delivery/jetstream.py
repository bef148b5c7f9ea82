"""NATS JetStream delivery: a durable, replayable event bus (optional: ``pip install vigil[nats]``).

Subjects: ``<prefix>.incident.<type>.<state>`` (``vigil.incident.collision.new``...),
one per incident type and lifecycle state, so a consumer subscribes to exactly
what it acts on (``vigil.incident.fire.>``, ``vigil.incident.*.new``).

Each event is published to the JetStream stream (``stream``, subjects
``<prefix>.incident.>``) with the header ``Nats-Msg-Id: <event_id>``: the
server stores a second publish of the same event within ``duplicate_window_s``
only once, which covers Vigil re-sending an event whose ack it lost (a restart
or an outage between the server storing it and Vigil recording the delivery).
An event counts as delivered only on the stream's publish ack. With
``manage_stream`` Vigil creates the stream on connect, or updates it to the
configured retention (``max_age_days``, ``max_msgs``, ``max_bytes``,
``storage``, ``replicas``).

nats-py is asyncio; the dispatcher is a thread. The sender runs its own event
loop on a private thread and :meth:`NatsSender.send` waits for each publish.
The client reconnects by itself (forever); until it is connected ``send``
reports the server unavailable, so the dispatcher pauses without charging
attempts, and the reconnect wakes it up again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

from vigil.config.services import NatsTarget
from vigil.delivery.base import DELIVERED, DeliveryResult, Outcome
from vigil.delivery.formats import CloudEventsFormat, Format, FormatContext
from vigil.storage.records import OutboxItem

log = logging.getLogger(__name__)
STREAM_NAME_IN_USE = 10058  # JetStream API error: the stream exists with another configuration


def _token(value: str) -> str:
    """A subject token that cannot split a subject or act as a wildcard."""
    out = "".join("_" if c in ".*> \t\r\n" else c for c in value)
    return out or "_"


def subject(prefix: str, event_type: str, state: str) -> str:
    return f"{prefix}.incident.{_token(event_type)}.{_token(state)}"


class NatsSender:
    """Publishes outbox items to a JetStream stream.

    Parameters
    ----------
    service_id : str
        Part of the connection name (``vigil-<host>-<service_id>``) shown by the server.
    target : NatsTarget
    format : Format, optional
        What each message is (CloudEvents JSON by default).
    context : FormatContext, optional
        Camera positions and incident history for formats that need them.
    reconnect_wait_s : float
        Pause between reconnect attempts.
    """

    def __init__(
        self,
        service_id: str,
        target: NatsTarget,
        *,
        format: Format | None = None,
        context: FormatContext | None = None,
        reconnect_wait_s: float = 1.0,
    ) -> None:
        try:
            import nats  # noqa: F401 - fail early with a clear message
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(f"service {service_id!r} uses NATS: install vigil[nats] (nats-py)") from exc
        self.service_id = service_id
        self.target = target
        self.format = format or CloudEventsFormat()
        self.context = context or FormatContext()
        self.reconnect_wait_s = reconnect_wait_s
        self.on_available: Callable[[], None] | None = None  # set by the dispatcher
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._nc: Any = None
        self._js: Any = None
        self._stream_ready = False
        self._warned = False

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def start(self) -> None:
        """Start the event loop thread and connect in the background (retrying until a server answers)."""
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"vigil-nats-{self.service_id}", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start_connecting(), loop).result(5.0)

    async def _start_connecting(self) -> None:
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _shutdown(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._nc is not None:
            await self._nc.close()

    def close(self, timeout_s: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout_s)
        except Exception as exc:  # noqa: BLE001 - best effort while closing
            log.debug("closing NATS connection of %s: %s", self.service_id, exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        loop.close()
        self._loop = self._thread = self._nc = self._js = None
        self._stream_ready = False

    async def _connect(self) -> None:
        import nats

        options: dict[str, Any] = {
            "name": f"vigil-{socket.gethostname()}-{self.service_id}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,  # also retries the first connect until a server answers
            "reconnect_time_wait": self.reconnect_wait_s,
            "connect_timeout": min(self.target.timeout_s, 5.0),
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        if self.target.user:
            options["user"], options["password"] = self.target.user, self.target.password
        if self.target.token:
            options["token"] = self.target.token
        if any(s.startswith("tls://") for s in self.target.servers):
            options["tls"] = ssl.create_default_context()
        self._nc = await nats.connect(self.target.servers, **options)
        self._js = self._nc.jetstream(timeout=self.target.timeout_s)
        log.info("NATS connected to %s for %s", self._nc.connected_url, self.service_id)
        self._warned = False
        await self._prepare_stream()
        self._notify()

    async def _on_error(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("NATS %s (%s): %s", ", ".join(self.target.servers), self.service_id, exc)
            self._warned = True
        else:
            log.debug("NATS %s: %s", self.service_id, exc)

    async def _on_disconnected(self) -> None:
        log.warning("NATS connection of %s lost; reconnecting", self.service_id)

    async def _on_reconnected(self) -> None:
        log.info("NATS reconnected to %s for %s", self._nc.connected_url, self.service_id)
        self._warned = False
        await self._prepare_stream()
        self._notify()

    def _notify(self) -> None:
        if self.on_available is not None:
            self.on_available()

    async def _prepare_stream(self) -> None:
        """Create the stream or bring it to the configured retention; errors are logged and retried later."""
        if not self.target.manage_stream:
            self._stream_ready = True
            return
        try:
            await self._ensure_stream()
            self._stream_ready = True
        except Exception as exc:  # noqa: BLE001 - JetStream may still be starting after a restart
            self._stream_ready = False
            log.warning("NATS stream %s not ready yet for %s: %s", self.target.stream, self.service_id, exc)

    def stream_config(self) -> Any:
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig

        t = self.target
        return StreamConfig(
            name=t.stream,
            description="Vigil incident events",
            subjects=[f"{t.subject_prefix}.incident.>"],
            retention=RetentionPolicy.LIMITS,
            max_age=t.max_age_days * 86400.0,
            max_msgs=t.max_msgs,
            max_bytes=t.max_bytes,
            storage=StorageType.FILE if t.storage == "file" else StorageType.MEMORY,
            num_replicas=t.replicas,
            duplicate_window=t.duplicate_window_s,
        )

    async def _ensure_stream(self) -> None:
        from nats.js.errors import BadRequestError

        config = self.stream_config()
        try:
            await self._js.add_stream(config)
        except BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
            await self._js.update_stream(config)

    # -- sending ---------------------------------------------------------------------------------------

    def subject_for(self, payload: dict[str, Any]) -> str:
        return subject(self.target.subject_prefix, str(payload.get("type", "unknown")), str(payload.get("state", "_")))

    async def _publish(self, subj: str, body: bytes, headers: dict[str, str]) -> Any:
        if not self._stream_ready:
            await self._ensure_stream()
            self._stream_ready = True
        return await self._js.publish(
            subj, body, timeout=self.target.timeout_s, stream=self.target.stream, headers=headers
        )

    def send(self, item: OutboxItem) -> DeliveryResult:
        import nats.errors as nerr
        from nats.js.errors import APIError, ServiceUnavailableError

        if self._loop is None:
            self.start()
        if not self.connected:
            return DeliveryResult(Outcome.UNAVAILABLE, "not connected to a NATS server")
        message = self.format.encode(item.payload, self.context)
        headers = {"Nats-Msg-Id": item.event_id, "Content-Type": message.content_type}
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(
            self._publish(self.subject_for(item.payload), message.body, headers), self._loop
        )
        try:
            fut.result(self.target.timeout_s * 2 + 1.0)
        except (nerr.NoRespondersError, ServiceUnavailableError) as exc:
            self._stream_ready = False
            return DeliveryResult(Outcome.UNAVAILABLE, f"JetStream stream {self.target.stream} not answering: {exc!r}")
        except (nerr.ConnectionClosedError, nerr.ConnectionReconnectingError, nerr.OutboundBufferLimitError) as exc:
            return DeliveryResult(Outcome.UNAVAILABLE, f"connection lost: {exc!r}")
        except (nerr.TimeoutError, TimeoutError, concurrent.futures.TimeoutError) as exc:
            fut.cancel()
            outcome = Outcome.RETRY if self.connected else Outcome.UNAVAILABLE
            return DeliveryResult(outcome, f"no publish ack within {self.target.timeout_s}s: {exc!r}")
        except APIError as exc:
            return DeliveryResult(Outcome.RETRY, f"JetStream refused the message: {exc}")
        return DELIVERED
