"""Where frames come from: files now, cameras later."""

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

__all__ = [
    "IMAGE_EXTENSIONS",
    "SourceError",
    "VideoInfo",
    "is_image_path",
    "is_video_path",
    "iter_video",
    "probe_video",
    "read_image",
]
