"""Which services receive an event: the configuration's routing rules, applied."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil.config.models import RoutingRule, ServiceConfig
from vigil.core.events import IncidentEvent


def rule_matches(rule: RoutingRule, event: IncidentEvent) -> bool:
    """True when ``event`` passes the rule's type, severity and camera filters."""
    if "*" not in rule.types and event.type not in rule.types:
        return False
    if event.severity < rule.min_severity:
        return False
    return not rule.cameras or event.camera_id in rule.cameras


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
