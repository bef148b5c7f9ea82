"""Where frames come from: files, and supervised camera streams (RTSP, HTTP MJPEG, files, image folders)."""

from vigil.sources.base import FrameSource, Selection, redact_url
from vigil.sources.files import (
    IMAGE_EXTENSIONS,
    SourceError,
    VideoInfo,
    is_image_path,
    is_video_path,
    iter_video,
    probe_video,
    read_image,
)
from vigil.sources.streams import open_source
from vigil.sources.supervisor import CameraStatus, CameraSupervisor, start_cameras
from vigil.sources.timing import Backoff, MonotonicPts

__all__ = [
    "IMAGE_EXTENSIONS",
    "Backoff",
    "CameraStatus",
    "CameraSupervisor",
    "FrameSource",
    "MonotonicPts",
    "Selection",
    "SourceError",
    "VideoInfo",
    "is_image_path",
    "is_video_path",
    "iter_video",
    "open_source",
    "probe_video",
    "read_image",
    "redact_url",
    "start_cameras",
]
