"""Writers for redacted images and videos.

They accept only :class:`~vigil.core.RedactedFrame`: a raw
:class:`~vigil.core.Frame` is refused with a ``TypeError``, so no code path can
write unredacted pixels by mistake.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vigil.core import RedactedFrame


def _require_redacted(frame: object) -> RedactedFrame:
    if not isinstance(frame, RedactedFrame):
        raise TypeError(f"refusing to write {type(frame).__name__}: only RedactedFrame may leave memory")
    return frame


def write_image(path: Path | str, frame: RedactedFrame, jpeg_quality: int = 95) -> Path:
    """Encode a redacted frame to ``path`` (format from the extension), atomically."""
    frame = _require_redacted(frame)
    path = Path(path)
    ext = path.suffix.lower() or ".jpg"
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, frame.image, params)
    if not ok:
        raise ValueError(f"{path}: cannot encode image as {ext}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)
    return path


class VideoWriter:
    """H.264 MP4 writer for redacted frames (PyAV/libx264); audio is never written.

    Odd frame sizes are cropped by one pixel to the even size H.264 4:2:0 needs.
    Timestamps follow the frames' ``pts`` so variable frame rate survives.
    """

    def __init__(self, path: Path | str, fps: Fraction | float, crf: int = 23, preset: str = "veryfast") -> None:
        self.path = Path(path)
        self._fps = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream("libx264", rate=self._fps)
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}
        self._stream.codec_context.time_base = 1 / self._fps
        self._size: tuple[int, int] | None = None
        self._last_pts = -1
        self.frames = 0

    def write(self, frame: RedactedFrame) -> None:
        frame = _require_redacted(frame)
        h, w = frame.image.shape[:2]
        if self._size is None:
            self._size = (w - w % 2, h - h % 2)
            self._stream.width, self._stream.height = self._size
        ew, eh = self._size
        image = np.ascontiguousarray(frame.image[:eh, :ew])
        vf = av.VideoFrame.from_ndarray(image, format="bgr24")
        pts = max(self._last_pts + 1, round(frame.pts * self._fps))
        vf.pts = pts
        self._last_pts = pts
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None  # type: ignore[assignment]

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
