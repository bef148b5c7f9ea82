"""JSON formats for integrators: CloudEvents 1.0 (structured mode) and the plain incident event.

CloudEvents body (``application/cloudevents+json``)::

    {"specversion": "1.0", "id": <event_id>, "source": "/vigil/cameras/<camera_id>",
     "type": "org.vigil.incident.<state>",          # new | update | end
     "subject": <incident_id>, "time": <wall_time, RFC 3339>,
     "datacontenttype": "application/json", "data": IncidentEvent.to_dict()}

Event body (``application/json``): ``IncidentEvent.to_dict()`` as it is.
"""

from __future__ import annotations

import json
from typing import Any

from vigil.delivery.formats.base import Format, FormatContext, Message

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TYPE_PREFIX = "org.vigil.incident."


def to_cloudevent(payload: dict[str, Any]) -> dict[str, Any]:
    """Wrap an ``IncidentEvent.to_dict()`` payload in a CloudEvents 1.0 envelope."""
    return {
        "specversion": "1.0",
        "id": payload["event_id"],
        "source": f"/vigil/cameras/{payload['camera_id']}",
        "type": TYPE_PREFIX + payload["state"],
        "subject": payload["incident_id"],
        "time": payload["wall_time"],
        "datacontenttype": "application/json",
        "data": payload,
    }


def encode_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class CloudEventsFormat(Format):
    name = "cloudevents"

    def encode(self, payload: dict[str, Any], ctx: FormatContext) -> Message:
        return Message(encode_json(to_cloudevent(payload)), CLOUDEVENTS_CONTENT_TYPE)


class EventFormat(Format):
    name = "event"

    def encode(self, payload: dict[str, Any], ctx: FormatContext) -> Message:
        return Message(encode_json(payload), "application/json; charset=utf-8")
