"""Incidents: what rules observe, and the lifecycle events sent to services."""

from vigil.incidents.types import IncidentEvent, IncidentState, Signal

__all__ = ["IncidentEvent", "IncidentState", "Signal"]
