"""Types that flow through every stage: frames, detections, incident events, box maths and retry timing."""

from vigil.core.backoff import Backoff
from vigil.core.detections import Detections
from vigil.core.events import BBox, IncidentEvent, IncidentState
from vigil.core.frame import Frame, RedactedFrame

__all__ = ["BBox", "Backoff", "Detections", "Frame", "IncidentEvent", "IncidentState", "RedactedFrame"]
