"""Webhook delivery: the service's format over HTTP POST, HMAC-signed.

Wire format
-----------
Body: the service's format (:mod:`vigil.delivery.formats`), by default
CloudEvents 1.0 structured JSON (``Content-Type: application/cloudevents+json; charset=utf-8``)::

    {"specversion": "1.0", "id": <event_id>, "source": "/vigil/cameras/<camera_id>",
     "type": "org.vigil.incident.<state>",          # new | update | end
     "subject": <incident_id>, "time": <wall_time, RFC 3339>,
     "datacontenttype": "application/json", "data": IncidentEvent.to_dict()}

or a DATEX II v3 publication (``application/xml``), a CAP 1.2 alert
(``application/cap+xml``) or the bare event JSON.

Headers: ``X-Vigil-Event-Id`` and ``Idempotency-Key`` (both the event id:
delivery is at-least-once, receivers de-duplicate on it), ``X-Vigil-Timestamp``
(Unix seconds of this attempt) and, when the service has a secret,
``X-Vigil-Signature: sha256=<hex>`` where ``<hex>`` is
``HMAC-SHA256(secret, "<X-Vigil-Timestamp>." + raw body)``. Signing the
timestamp with the body lets a receiver reject replays: it checks the signature
and that the timestamp is recent (:func:`verify_signature`, 5 minutes by default).

Responses: 2xx delivered; 408, 429 and 5xx retried (``Retry-After`` honoured);
any other status dead-lettered at once, since repeating the same request cannot
succeed. Connection failures mean the receiver is down (no attempt is charged);
timeouts and broken responses are retried.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from vigil.config.masking import mask_text, mask_url
from vigil.config.models import WebhookTarget
from vigil.delivery.base import DELIVERED, DeliveryResult, Outcome
from vigil.delivery.formats import CloudEventsFormat, Format, FormatContext, to_cloudevent
from vigil.delivery.formats.cloudevents import CLOUDEVENTS_CONTENT_TYPE, TYPE_PREFIX, encode_json
from vigil.storage.records import OutboxItem

log = logging.getLogger(__name__)


class _MaskUrls(logging.Filter):
    """httpx logs each request's full URL at INFO, user info and query included: log its origin only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


if not any(isinstance(f, _MaskUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_MaskUrls())

CONTENT_TYPE = CLOUDEVENTS_CONTENT_TYPE
SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
EVENT_ID_HEADER = "X-Vigil-Event-Id"
RETRYABLE_4XX = frozenset({408, 429})


__all__ = ["CONTENT_TYPE", "TYPE_PREFIX", "WebhookSender", "encode", "sign", "to_cloudevent", "verify_signature"]


def encode(cloudevent: dict[str, Any]) -> bytes:
    return encode_json(cloudevent)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Vigil-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Receiver-side check of a delivery: signature valid and timestamp fresh."""
    if not timestamp or not signature:
        return False
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class WebhookSender:
    """POSTs outbox items to one webhook target.

    Parameters
    ----------
    target : WebhookTarget
    client : httpx.Client, optional
        Injected for tests; by default one pooled client per target.
    format : Format, optional
        What the body is (CloudEvents by default).
    context : FormatContext, optional
        Camera positions and incident history for formats that need them.
    """

    def __init__(
        self,
        target: WebhookTarget,
        *,
        client: httpx.Client | None = None,
        format: Format | None = None,
        context: FormatContext | None = None,
    ) -> None:
        self.target = target
        self.format = format or CloudEventsFormat()
        self.context = context or FormatContext()
        self._client = client
        self._own_client = client is None

    def start(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.target.timeout_s, follow_redirects=False)

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    def request(self, item: OutboxItem, timestamp: str | None = None) -> tuple[dict[str, str], bytes]:
        """Headers and body for one attempt (public so receivers' tests can reuse it)."""
        message = self.format.encode(item.payload, self.context)
        body = message.body
        ts = timestamp or str(int(time.time()))
        headers = dict(self.target.headers)  # ours below win over configured extras
        headers.update(
            {
                "Content-Type": message.content_type,
                EVENT_ID_HEADER: item.event_id,
                "Idempotency-Key": item.event_id,
                TIMESTAMP_HEADER: ts,
            }
        )
        if self.target.secret:
            headers[SIGNATURE_HEADER] = sign(self.target.secret, ts, body)
        return headers, body

    def send(self, item: OutboxItem) -> DeliveryResult:
        if self._client is None:
            self.start()
        assert self._client is not None
        headers, body = self.request(item)
        url = self.target.url
        try:
            response = self._client.post(url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return DeliveryResult(Outcome.UNAVAILABLE, mask_text(f"cannot connect: {exc}", url))
        except httpx.TimeoutException as exc:
            return DeliveryResult(Outcome.RETRY, mask_text(f"timed out after {self.target.timeout_s}s: {exc}", url))
        except httpx.TransportError as exc:
            return DeliveryResult(Outcome.RETRY, mask_text(f"{type(exc).__name__}: {exc}", url))
        status = response.status_code
        if 200 <= status < 300:
            return DELIVERED
        error = mask_text(f"HTTP {status}: {response.text[:300]}", url)
        if status >= 500 or status in RETRYABLE_4XX:
            return DeliveryResult(Outcome.RETRY, error, _retry_after(response))
        # The URL may carry credentials (user info, query, path): logs get its origin only.
        log.warning("webhook %s refused event %s: %s", mask_url(url), item.event_id, mask_text(error, url))
        return DeliveryResult(Outcome.DEAD, error)
