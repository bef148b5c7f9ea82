"""Types that flow through every stage: frames, detections and box maths."""

from vigil.core.detections import Detections
from vigil.core.frame import Frame, RedactedFrame

__all__ = ["Detections", "Frame", "RedactedFrame"]
