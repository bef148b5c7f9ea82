"""OASIS CAP 1.2: incidents as alerts, for fire brigades, civil protection and other emergency services.

Each incident event is one ``alert`` (namespace ``urn:oasis:names:tc:emergency:cap:1.2``):

- ``identifier`` ``vigil-<event_id>``; ``incidents`` is the incident id, so all
  messages of one incident are grouped;
- ``msgType`` follows the lifecycle: ``new`` -> ``Alert``, ``update`` ->
  ``Update``, ``end`` -> ``Cancel``; updates and the cancel carry ``references``
  to the incident's first alert and to its latest earlier message;
- one ``info`` with ``category``, ``event``, ``urgency`` (``Immediate``, and
  ``Past`` once ended), ``severity`` (from Vigil's 1..5), ``certainty`` (from
  the detection's confidence), ``eventCode`` ``vigil:type``, a headline and
  description, ``parameter`` entries with the incident's ids, and one ``area``
  with the camera's name and a ``circle`` of ``radius_km`` around its position.

Times use CAP's form ``YYYY-MM-DDThh:mm:ss-00:00`` (UTC, no "Z", no fractions).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from vigil.config.services import CapFormat as CapOptions
from vigil.delivery.formats.base import CameraInfo, Format, FormatContext, IncidentView, Message

NS = "urn:oasis:names:tc:emergency:cap:1.2"
CONTENT_TYPE = "application/cap+xml; charset=utf-8"
MSG_TYPE = {"new": "Alert", "update": "Update", "end": "Cancel"}

# incident type -> (CAP categories, event text). Categories: Geo Met Safety Security Rescue Fire Health Env
# Transport Infra CBRNE Other.
EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "collision": (("Transport", "Rescue"), "Road traffic collision"),
    "stopped_vehicle": (("Transport",), "Stopped vehicle on the carriageway"),
    "wrong_way": (("Transport", "Safety"), "Wrong-way driver"),
    "pedestrian": (("Safety", "Transport"), "Person on the roadway or tracks"),
    "animal": (("Safety", "Transport"), "Animal on the roadway"),
    "fire": (("Fire",), "Fire"),
    "smoke": (("Fire",), "Smoke"),
    "crowd": (("Safety",), "Crowd density above limit"),
    "congestion": (("Transport",), "Traffic congestion"),
}
FALLBACK_EVENT = (("Other",), "Incident")
SEVERITY = {1: "Minor", 2: "Minor", 3: "Moderate", 4: "Severe", 5: "Extreme"}


def cap_time(t: datetime) -> str:
    """CAP 1.2 dateTime: UTC written as ``-00:00``, whole seconds."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def identifier(event_id: str) -> str:
    return f"vigil-{event_id}"


def certainty(confidence: float) -> str:
    """``Observed`` for confident, confirmed detections; ``Likely`` and ``Possible`` below."""
    return "Observed" if confidence >= 0.7 else "Likely" if confidence >= 0.4 else "Possible"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _param(info: ET.Element, name: str, value: str) -> None:
    p = _sub(info, "parameter")
    _sub(p, "valueName", name)
    _sub(p, "value", value)


def headline(view: IncidentView, camera: CameraInfo) -> str:
    event = EVENTS.get(view.type, FALLBACK_EVENT)[1]
    prefix = "Ended: " if view.state == "end" else ""
    return f"{prefix}{event} at {camera.label}"[:160]


def alert(view: IncidentView, camera: CameraInfo, options: CapOptions) -> ET.Element:
    """The ``alert`` element of one incident event."""
    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", identifier(view.event_id))
    _sub(root, "sender", options.sender)
    _sub(root, "sent", cap_time(view.at))
    _sub(root, "status", options.status)
    _sub(root, "msgType", MSG_TYPE.get(view.state, "Update"))
    _sub(root, "scope", options.scope)
    if options.scope == "Restricted":
        _sub(root, "restriction", options.restriction)
    if options.addresses:
        _sub(root, "addresses", " ".join(options.addresses))
    if view.earlier:
        refs = [view.earlier[0]] + ([view.earlier[-1]] if len(view.earlier) > 1 else [])
        _sub(root, "references", " ".join(f"{options.sender},{identifier(e)},{cap_time(t)}" for e, t in refs))
    _sub(root, "incidents", view.incident_id)

    categories, event = EVENTS.get(view.type, FALLBACK_EVENT)
    info = _sub(root, "info")
    _sub(info, "language", options.language)
    for category in categories:
        _sub(info, "category", category)
    _sub(info, "event", event)
    _sub(info, "responseType", "AllClear" if view.state == "end" else "Monitor")
    _sub(info, "urgency", "Past" if view.state == "end" else "Immediate")
    _sub(info, "severity", SEVERITY.get(max(1, min(5, view.severity)), "Unknown"))
    _sub(info, "certainty", certainty(view.confidence))
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "vigil:type")
    _sub(code, "value", view.type)
    _sub(info, "onset", cap_time(view.started_at))
    _sub(info, "senderName", options.sender_name)
    _sub(info, "headline", headline(view, camera))
    zone = view.details.get("zone")
    text = f"Detected by Vigil on camera {camera.label} ({camera.id})"
    text += f" in zone {zone}" if zone else ""
    text += f", confidence {view.confidence:.2f}, severity {view.severity} of 5."
    if view.state == "end":
        text += " The incident has ended."
    _sub(info, "description", text)
    if options.web:
        _sub(info, "web", f"{options.web.rstrip('/')}/incidents/{view.incident_id}")
    _param(info, "vigil:incident_id", view.incident_id)
    _param(info, "vigil:event_id", view.event_id)
    _param(info, "vigil:sequence", str(view.sequence))
    _param(info, "vigil:camera_id", view.camera_id)
    if zone:
        _param(info, "vigil:zone", str(zone))
    area = _sub(info, "area")
    _sub(area, "areaDesc", f"Camera {camera.label}")
    if camera.located:
        _sub(area, "circle", f"{camera.lat:.6f},{camera.lon:.6f} {options.radius_km:g}")
    return root


def encode_alert(view: IncidentView, camera: CameraInfo, options: CapOptions) -> bytes:
    return ET.tostring(alert(view, camera, options), encoding="utf-8", xml_declaration=True, default_namespace=NS)


class CapFormat(Format):
    name = "cap"
    options_model = CapOptions

    def encode(self, payload: dict[str, Any], ctx: FormatContext) -> Message:
        view = ctx.view(payload)
        return Message(encode_alert(view, ctx.camera(view.camera_id), self.options), CONTENT_TYPE)
