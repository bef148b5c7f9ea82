"""Camera sources: choose one by URL and decode it with PyAV.

:func:`open_source` maps a :class:`~vigil.config.models.SourceConfig` to one
:class:`~vigil.sources.base.FrameSource`:

- ``rtsp://`` / ``rtsps://`` -> :class:`AvSource` (TCP or UDP transport),
- ``http(s)://`` -> :class:`~vigil.sources.mjpeg.HttpSource` (MJPEG multipart,
  anything else through PyAV),
- ``file://`` or a path to a video file -> :class:`AvSource` (loop, real time),
- a directory (or a single image) -> :class:`~vigil.sources.imagedir.ImageDirSource`.

Sources only read; reconnecting, stall detection across connections and
status reporting belong to :class:`~vigil.sources.supervisor.CameraSupervisor`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from vigil.sources.avsource import AvSource, network_options
from vigil.sources.base import Clock, FrameSource, camera_error, redact_url
from vigil.sources.files import SourceError, is_image_path
from vigil.sources.imagedir import DEFAULT_IMAGE_FPS, ImageDirSource
from vigil.sources.mjpeg import HttpSource

if TYPE_CHECKING:
    from vigil.config.models import SourceConfig


def _local_path(url: str) -> Path:
    if url.lower().startswith("file://"):
        return Path(url2pathname(unquote(urlsplit(url).path)))
    return Path(url).expanduser()


def open_source(
    camera_id: str, cfg: SourceConfig, *, image_fps: float = DEFAULT_IMAGE_FPS, clock: Clock = time.monotonic
) -> FrameSource:
    """Build the source for a camera's configuration, chosen by URL scheme.

    No I/O happens here beyond looking at a local path: connecting is left to
    ``frames()`` so that every failure is reported (and retried) the same way.

    Parameters
    ----------
    camera_id : str
        Named in every error.
    cfg : SourceConfig
        URL, RTSP transport, loop / real time (files), stall timeout, decoding.
    image_fps : float
        Frame rate assumed for a directory of images, which has no timestamps.

    Raises
    ------
    SourceError
        For a URL scheme Vigil does not read (a configuration mistake).
    """
    url = cfg.url.strip()
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("rtsp", "rtsps"):
        return AvSource(
            camera_id,
            url,
            live=True,
            options=network_options(cfg, rtsp=True),
            stall_timeout_s=cfg.stall_timeout_s,
            clock=clock,
            decode=cfg.decode,
        )
    if scheme in ("http", "https"):
        return HttpSource(
            camera_id, url, stall_timeout_s=cfg.stall_timeout_s, options=network_options(cfg, False), decode=cfg.decode
        )
    if scheme not in ("", "file"):
        raise camera_error(
            camera_id,
            f"unsupported URL scheme {scheme!r} in {redact_url(url)}: use rtsp://, rtsps://, http(s)://, "
            "file:// or a path to a video file or image directory",
        )
    path = _local_path(url)
    if path.is_dir() or (path.is_file() and is_image_path(path)):
        return ImageDirSource(camera_id, path, loop=cfg.loop, realtime=cfg.realtime, fps=image_fps, clock=clock)
    return AvSource(
        camera_id, str(path), live=False, loop=cfg.loop, realtime=cfg.realtime, clock=clock, decode=cfg.decode
    )


__all__ = ["AvSource", "FrameSource", "SourceError", "network_options", "open_source"]
