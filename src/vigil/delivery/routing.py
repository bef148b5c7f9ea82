"""Which services receive an event: the configuration's routing rules, applied.

A rule filters by incident type, minimum severity, camera and zone. The zone is
the one the rule that raised the incident names in ``details["zone"]`` (stopped
vehicle, wrong way, pedestrian, animal, crowd, congestion); a rule's ``zones``
entry is a zone id on any camera or ``camera-id/zone-id``, so a tunnel's zones
can go to the tunnel operator while the same camera's approach road goes to
traffic control.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil.config.models import RoutingRule, ServiceConfig
from vigil.core.events import IncidentEvent


def zone_of(event: IncidentEvent) -> str | None:
    """The zone id an incident was raised in, if its rule names one."""
    zone = event.details.get("zone") if isinstance(event.details, dict) else None
    return zone if isinstance(zone, str) and zone else None


def rule_matches(rule: RoutingRule, event: IncidentEvent) -> bool:
    """True when ``event`` passes the rule's type, severity, camera and zone filters."""
    if "*" not in rule.types and event.type not in rule.types:
        return False
    if event.severity < rule.min_severity:
        return False
    if rule.cameras and event.camera_id not in rule.cameras:
        return False
    if rule.zones:
        zone = zone_of(event)
        return zone is not None and (zone in rule.zones or f"{event.camera_id}/{zone}" in rule.zones)
    return True


def routes_for(
    event: IncidentEvent,
    routing: Sequence[RoutingRule],
    services: Iterable[ServiceConfig | str] | None = None,
) -> list[str]:
    """Service ids that must receive ``event``, in rule order, without repeats.

    Parameters
    ----------
    event : IncidentEvent
    routing : list of RoutingRule
        ``VigilConfig.routing``; every matching rule contributes its services.
    services : list of ServiceConfig or str, optional
        Known services; ids not among them are dropped (the configuration validator
        already refuses those, this guards hand-built configurations).
    """
    known = None if services is None else {s if isinstance(s, str) else s.id for s in services}
    out: list[str] = []
    for rule in routing:
        if rule_matches(rule, event):
            out.extend(s for s in rule.services if s not in out and (known is None or s in known))
    return out
