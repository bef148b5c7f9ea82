"""Frames from image files and video files (decoded with PyAV)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vigil.core import Frame

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".ts", ".mpg", ".mpeg", ".flv"})


class SourceError(RuntimeError):
    """A source could not be read; the message names the file or camera."""


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def read_image(path: Path | str) -> Frame:
    """Decode an image file into a BGR frame.

    Raises
    ------
    SourceError
        If the file is missing, empty or not a decodable image.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SourceError(f"{path}: not a readable image (corrupt or unsupported format)")
    return Frame(image=image, source_id=path.name, index=0, pts=0.0)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its first video stream."""

    width: int
    height: int
    fps: Fraction
    frames: int  # 0 when the container does not say
    duration_s: float | None
    has_audio: bool


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot open video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise SourceError(f"{path}: contains no video stream")
    return container


def probe_video(path: Path | str) -> VideoInfo:
    """Read a video's size, frame rate and length without decoding it."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=Fraction(rate),
            frames=int(stream.frames or 0),
            duration_s=duration,
            has_audio=bool(container.streams.audio),
        )


def iter_video(
    path: Path | str,
    source_id: str | None = None,
    threads: bool = True,
    select: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    """Decode a video file frame by frame, with timestamps from the stream.

    ``select(pts)``, when given, picks the frames to return; the others are
    decoded (they are needed to decode the next ones) but never converted to
    arrays, which is most of the cost of a frame that is not analysed.

    Raises
    ------
    SourceError
        If the file cannot be opened or decoding fails part-way (the frames
        decoded before the failure have already been yielded).
    """
    path = Path(path)
    sid = source_id or path.name
    container = _open(path)
    try:
        stream = container.streams.video[0]
        if threads:
            stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        index = 0
        try:
            for vframe in container.decode(stream):
                pts = float(vframe.time) if vframe.time is not None else index / rate
                if select is None or select(pts):
                    yield Frame(vframe.to_ndarray(format="bgr24"), sid, index, pts)
                index += 1
        except av.error.FFmpegError as exc:
            raise SourceError(f"{path}: decoding failed after {index} frames ({exc})") from exc
        if index == 0:
            raise SourceError(f"{path}: no decodable video frames")
    finally:
        container.close()
