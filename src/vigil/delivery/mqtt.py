"""MQTT delivery (paho-mqtt 2.x, QoS 1).

Topics under the service's ``topic_prefix`` (``vigil`` by default):

- ``<prefix>/events`` and ``<prefix>/events/<type>``: every event in the
  service's format, by default the JSON of ``IncidentEvent.to_dict()``
  (``event_id`` is the idempotency key, ``state`` is new / update / end). An
  event counts as delivered only when the broker has acknowledged (PUBACK) both
  publishes.
- ``<prefix>/cameras/<camera_id>/status``: ``online`` / ``offline``, or ``stalled``
  (frames arrive but analysis is hung or failing, e.g. the detector stopped
  answering), retained.
- ``<prefix>/available``: ``online``, retained, set on every connect; the
  connection's last will sets ``offline`` if Vigil dies or loses the network
  without saying goodbye, and a clean stop sets it too.

paho's network thread reconnects on its own after a broker outage; until then
:meth:`MqttSender.send` reports the broker unavailable so the dispatcher waits
instead of queueing duplicates inside paho.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from vigil.config.models import MqttTarget
from vigil.delivery.base import DELIVERED, DeliveryResult, Outcome
from vigil.delivery.formats import EventFormat, Format, FormatContext
from vigil.storage.records import OutboxItem

log = logging.getLogger(__name__)


def _segment(value: str) -> str:
    """A topic level that cannot split a topic or act as a wildcard."""
    return value.replace("/", "_").replace("+", "_").replace("#", "_") or "_"


class MqttSender:
    """Publishes outbox items and camera status to one broker.

    Parameters
    ----------
    service_id : str
        Used for the derived client id (``vigil-<host>-<service_id>``): stable, so
        a restarted Vigil takes over its old session instead of adding a second one.
    target : MqttTarget
    publish_timeout_s : float
        How long to wait for PUBACKs before the attempt counts as failed.
    reconnect_delay : (int, int)
        paho's reconnect backoff, min and max seconds.
    keepalive_s : int
        MQTT keepalive; the broker publishes the last will after 1.5x this without
        traffic from a Vigil that vanished without closing its connection.
    format : Format, optional
        What each message is (the plain event JSON by default).
    context : FormatContext, optional
        Camera positions and incident history for formats that need them.
    """

    def __init__(
        self,
        service_id: str,
        target: MqttTarget,
        *,
        publish_timeout_s: float = 10.0,
        reconnect_delay: tuple[int, int] = (1, 30),
        keepalive_s: int = 30,
        format: Format | None = None,
        context: FormatContext | None = None,
    ) -> None:
        self.service_id = service_id
        self.format = format or EventFormat()
        self.context = context or FormatContext()
        self.target = target
        self.prefix = target.topic_prefix.rstrip("/")
        self.publish_timeout_s = publish_timeout_s
        self.keepalive_s = keepalive_s
        self.client_id = target.client_id or f"vigil-{socket.gethostname()}-{service_id}"
        self.on_available: Callable[[], None] | None = None  # set by the dispatcher
        self._camera_status: dict[str, str] = {}
        self._lock = threading.Lock()
        self._started = False
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self._client.reconnect_delay_set(*reconnect_delay)
        self._client.will_set(self.topic("available"), "offline", qos=1, retain=True)
        if target.username:
            self._client.username_pw_set(target.username, target.password)
        if target.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def topic(self, *levels: str) -> str:
        return "/".join([self.prefix, *levels])

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def start(self) -> None:
        """Connect in the background; paho retries until the broker answers."""
        if self._started:
            return
        self._started = True
        self._client.connect_async(self.target.host, self.target.port, keepalive=self.keepalive_s)
        self._client.loop_start()

    def close(self, timeout_s: float = 2.0) -> None:
        """Say ``offline`` (the will is not sent on a clean disconnect) and disconnect."""
        if not self._started:
            return
        if self.connected:
            info = self._client.publish(self.topic("available"), "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # best effort while closing
                info.wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self._started = False

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT %s:%s refused the connection: %s", self.target.host, self.target.port, reason)
            return
        log.info("MQTT connected to %s:%s as %s", self.target.host, self.target.port, self.client_id)
        client.publish(self.topic("available"), "online", qos=1, retain=True)
        with self._lock:
            statuses = dict(self._camera_status)
        for camera_id, status in statuses.items():  # retained state may be gone after a broker restart
            client.publish(self.topic("cameras", _segment(camera_id), "status"), status, qos=1, retain=True)
        if self.on_available is not None:
            self.on_available()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connection to %s:%s lost: %s", self.target.host, self.target.port, reason)

    def set_camera_status(self, camera_id: str, status: str | bool) -> None:
        """Publish (retained) and remember a camera's status; re-sent after reconnects.

        ``status`` is ``online``, ``offline`` or ``stalled`` (a bool means online / offline).
        """
        if isinstance(status, bool):
            status = "online" if status else "offline"
        with self._lock:
            self._camera_status[camera_id] = status
        if self.connected:
            self._client.publish(self.topic("cameras", _segment(camera_id), "status"), status, qos=1, retain=True)

    def send(self, item: OutboxItem) -> DeliveryResult:
        if not self.connected:
            return DeliveryResult(Outcome.UNAVAILABLE, "not connected to the MQTT broker")
        payload = self.format.encode(item.payload, self.context).body
        topics = [self.topic("events"), self.topic("events", _segment(str(item.payload.get("type", "unknown"))))]
        infos = [self._client.publish(t, payload, qos=1) for t in topics]
        deadline = time.monotonic() + self.publish_timeout_s
        try:
            for info in infos:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            return DeliveryResult(Outcome.RETRY if self.connected else Outcome.UNAVAILABLE, f"publish failed: {exc}")
        if all(i.is_published() for i in infos):
            return DELIVERED
        if not self.connected:
            return DeliveryResult(Outcome.UNAVAILABLE, "connection lost before the broker acknowledged")
        return DeliveryResult(Outcome.RETRY, f"no PUBACK within {self.publish_timeout_s}s")
