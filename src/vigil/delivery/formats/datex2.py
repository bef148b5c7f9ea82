"""DATEX II v3: incidents as situation records of a SituationPublication, for traffic management centres.

Each incident is one ``sit:situation`` (id ``vigil-<incident_id>``) holding one
situation record (id ``vigil-<incident_id>-1``) whose type follows
:data:`RECORDS`. Every event of the incident is a new *version* of that record:
``version`` is ``sequence + 1`` (1 for ``new``, then 2, 3... for updates and
the end). The record is located by a ``loc:PointLocation`` at the camera's
latitude/longitude, its source is the camera (``videoProcessingMonitoringStation``).
While the incident is open its validity is ``active``; the ``end`` event closes
it: ``definedByValidityTimeSpec`` with ``overallEndTime`` set to the end.

The document root is ``d2:payload`` (namespace ``http://datex2.eu/schema/3/d2Payload``)
of type ``sit:SituationPublication``, ``modelBaseVersion="3"``. A push carries
the one situation of the event; the pull endpoint (``GET /api/datex2/situations``)
carries every current situation at its latest version.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from vigil.config.services import Datex2Format as Datex2Options
from vigil.delivery.formats.base import CameraInfo, Format, FormatContext, FormatError, IncidentView, Message

NS = {
    "d2": "http://datex2.eu/schema/3/d2Payload",
    "com": "http://datex2.eu/schema/3/common",
    "sit": "http://datex2.eu/schema/3/situation",
    "loc": "http://datex2.eu/schema/3/locationReferencing",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
CONTENT_TYPE = "application/xml; charset=utf-8"

# incident type -> (record xsi:type, the element that says what it is, its value). Types not listed
# (none today) become a GeneralObstruction of type "other".
RECORDS: dict[str, tuple[str, str, str]] = {
    "collision": ("Accident", "accidentType", "collision"),
    "stopped_vehicle": ("VehicleObstruction", "vehicleObstructionType", "vehicleStuck"),
    "wrong_way": ("VehicleObstruction", "vehicleObstructionType", "vehicleOnWrongCarriageway"),
    "pedestrian": ("GeneralObstruction", "obstructionType", "peopleOnRoadway"),
    "animal": ("AnimalPresenceObstruction", "animalPresenceType", "animalsOnTheRoad"),
    "fire": ("EnvironmentalObstruction", "environmentalObstructionType", "seriousFire"),
    "smoke": ("EnvironmentalObstruction", "environmentalObstructionType", "smokeOrFumes"),
    "crowd": ("DisturbanceActivity", "disturbanceActivityType", "crowd"),
    "congestion": ("AbnormalTraffic", "abnormalTrafficType", "queuingTraffic"),
}
FALLBACK_RECORD = ("GeneralObstruction", "obstructionType", "other")
# Vigil severity 1..5 -> DATEX II SeverityEnum.
SEVERITY = {1: "lowest", 2: "low", 3: "medium", 4: "high", 5: "highest"}
# Records derived from Obstruction / Activity have these optional elements before their own.
_OBSTRUCTIONS = {"VehicleObstruction", "GeneralObstruction", "AnimalPresenceObstruction", "EnvironmentalObstruction"}

for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _q(tag: str) -> str:
    prefix, _, local = tag.partition(":")
    return f"{{{NS[prefix]}}}{local}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, _q(tag), {(_q(k.replace("__", ":")) if "__" in k else k): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def _text(parent: ET.Element, tag: str, text: str, lang: str) -> None:
    """A com:MultilingualString element."""
    values = _sub(_sub(parent, tag), "com:values")
    _sub(values, "com:value", text[:1024], lang=lang)


def probability(confidence: float) -> str:
    """probabilityOfOccurrence: confirmed detections with a high score are ``certain``."""
    return "certain" if confidence >= 0.7 else "probable" if confidence >= 0.3 else "riskOf"


def description(view: IncidentView, camera: CameraInfo) -> str:
    parts = [f"Vigil camera {camera.label}: {view.type.replace('_', ' ')}"]
    if zone := view.details.get("zone"):
        parts.append(f"in zone {zone}")
    parts.append(f"(confidence {view.confidence:.2f})")
    return " ".join(parts)


def situation(view: IncidentView, camera: CameraInfo, options: Datex2Options) -> ET.Element:
    """The ``sit:situation`` element of one incident at one version."""
    if not camera.located:
        raise FormatError(
            f"DATEX II needs the position of camera {view.camera_id!r}: add location: {{lat, lon}} to its configuration"
        )
    sev = SEVERITY.get(max(1, min(5, view.severity)), "unknown")
    sit = ET.Element(_q("sit:situation"), {"id": f"vigil-{view.incident_id}"})
    _sub(sit, "sit:overallSeverity", sev)
    _sub(sit, "sit:situationVersionTime", _time(view.at))
    header = _sub(sit, "sit:headerInformation")
    _sub(header, "com:confidentiality", options.confidentiality)
    _sub(header, "com:informationStatus", options.information_status)

    xsi_type, element, value = RECORDS.get(view.type, FALLBACK_RECORD)
    rec = _sub(
        sit,
        "sit:situationRecord",
        id=f"vigil-{view.incident_id}-1",
        version=str(view.version),
        xsi__type=f"sit:{xsi_type}",
    )
    _sub(rec, "sit:situationRecordCreationTime", _time(view.started_at))
    _sub(rec, "sit:situationRecordObservationTime", _time(view.at))
    _sub(rec, "sit:situationRecordVersionTime", _time(view.at))
    _sub(rec, "sit:probabilityOfOccurrence", probability(view.confidence))
    _sub(rec, "sit:severity", sev)
    source = _sub(rec, "sit:source")
    _sub(source, "com:sourceIdentification", camera.id)
    if camera.name:
        _text(source, "com:sourceName", camera.name, options.lang)
    _sub(source, "com:sourceType", "videoProcessingMonitoringStation")
    validity = _sub(rec, "sit:validity")
    _sub(validity, "com:validityStatus", "definedByValidityTimeSpec" if view.ended_at else "active")
    spec = _sub(validity, "com:validityTimeSpecification")
    _sub(spec, "com:overallStartTime", _time(view.started_at))
    if view.ended_at is not None:
        _sub(spec, "com:overallEndTime", _time(view.ended_at))
    comment = _sub(rec, "sit:nonGeneralPublicComment")
    _text(comment, "sit:comment", description(view, camera), options.lang)
    _sub(comment, "sit:commentType", "description")
    where = _sub(rec, "sit:locationReference", xsi__type="loc:PointLocation")
    coords = _sub(_sub(where, "loc:pointByCoordinates"), "loc:pointCoordinates")
    _sub(coords, "loc:latitude", f"{camera.lat:.6f}")
    _sub(coords, "loc:longitude", f"{camera.lon:.6f}")
    _specific(rec, xsi_type, element, value, view)
    return sit


def _specific(rec: ET.Element, xsi_type: str, element: str, value: str, view: IncidentView) -> None:
    """The record type's own elements, in schema order (the optional ones Vigil knows come first)."""
    if xsi_type in _OBSTRUCTIONS and view.type in ("stopped_vehicle", "wrong_way"):
        _sub(rec, "sit:numberOfObstructions", "1")
    _sub(rec, f"sit:{element}", value)
    if xsi_type == "AbnormalTraffic":
        vehicles = view.details.get("vehicles")
        if isinstance(vehicles, int) and vehicles >= 0:
            _sub(rec, "sit:numberOfVehiclesWaiting", str(vehicles))


def publication(
    items: Iterable[tuple[IncidentView, CameraInfo]], options: Datex2Options, now: datetime | None = None
) -> bytes:
    """A ``d2:payload`` SituationPublication of the given incidents (each at its view's version)."""
    root = ET.Element(
        _q("d2:payload"),
        {_q("xsi:type"): "sit:SituationPublication", "lang": options.lang, "modelBaseVersion": "3"},
    )
    _sub(root, "com:publicationTime", _time(now or datetime.now(UTC)))
    creator = _sub(root, "com:publicationCreator")
    _sub(creator, "com:country", options.country)
    _sub(creator, "com:nationalIdentifier", options.national_identifier)
    for view, camera in items:
        root.append(situation(view, camera, options))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


class Datex2Format(Format):
    name = "datex2"
    options_model = Datex2Options

    def encode(self, payload: dict[str, Any], ctx: FormatContext) -> Message:
        view = ctx.view(payload)
        return Message(publication([(view, ctx.camera(view.camera_id))], self.options), CONTENT_TYPE)
