"""Object and face detectors behind one interface."""

from vigil.detection.base import Detector, build_detector, register_detector
from vigil.detection.config import ObjectDetectorConfig

__all__ = ["Detector", "ObjectDetectorConfig", "build_detector", "register_detector"]
