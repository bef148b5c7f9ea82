"""Anonymous per-camera object tracking (ByteTrack-style, motion only)."""

from vigil.tracking.config import TrackerConfig
from vigil.tracking.tracker import Tracker

__all__ = ["Tracker", "TrackerConfig"]
