"""Delivery of incident events to the services that must act (webhooks, MQTT).

Events are read from the store's transactional outbox and delivered
at-least-once; ``event_id`` is the idempotency key in every payload.
"""

from vigil.delivery.base import Backoff, DeliveryResult, Outcome, Sender
from vigil.delivery.dispatcher import DeliveryService, Dispatcher
from vigil.delivery.mqtt import MqttSender
from vigil.delivery.routing import routes_for
from vigil.delivery.webhook import WebhookSender, sign, to_cloudevent, verify_signature

__all__ = [
    "Backoff",
    "DeliveryResult",
    "DeliveryService",
    "Dispatcher",
    "MqttSender",
    "Outcome",
    "Sender",
    "WebhookSender",
    "routes_for",
    "sign",
    "to_cloudevent",
    "verify_signature",
]
