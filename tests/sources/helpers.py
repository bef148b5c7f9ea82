"""Test helpers for sources: tiny clips made with PyAV, a real MJPEG HTTP server, polling."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np


def gray(level: int, h: int = 48, w: int = 64) -> np.ndarray:
    return np.full((h, w, 3), level, np.uint8)


def make_clip(path: Path, frames: int = 10, fps: int = 10, gop: int = 5) -> Path:
    """An H.264 MP4 whose frame i is uniformly gray at level 20*i (so order is visible)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": str(gop), "bf": "0"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(gray(min(20 * i, 250)), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class MjpegServer:
    """``multipart/x-mixed-replace`` JPEG stream from a local ``http.server`` thread.

    Frame i of each connection is gray at level ``(10 * i) % 250``.

    Parameters
    ----------
    frames : int or None
        Parts sent per connection before it closes (None: until the client leaves).
    fps : float
        Pace of the parts.
    content_length : bool
        Send a Content-Length header per part (some cameras do not).
    timestamps : bool
        Send ``X-Timestamp`` per part, as mjpg-streamer does (fake clock: 1000 + i / fps).
    hold_s : float
        Keep the connection open, silent, this long after the last part.
    status : int
        HTTP status to answer (non-200 sends no stream).
    """

    def __init__(
        self,
        frames: int | None = None,
        fps: float = 25.0,
        content_length: bool = True,
        timestamps: bool = False,
        hold_s: float = 0.0,
        status: int = 200,
    ) -> None:
        self.connections = 0
        self._stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.connections += 1
                if status != 200:
                    self.send_error(status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=vigilframe")
                self.end_headers()
                i = 0
                try:
                    while (frames is None or i < frames) and not owner._stop.is_set():
                        _, buf = cv2.imencode(".jpg", gray((10 * i) % 250, 120, 160))
                        body = buf.tobytes()
                        head = b"--vigilframe\r\nContent-Type: image/jpeg\r\n"
                        if content_length:
                            head += b"Content-Length: %d\r\n" % len(body)
                        if timestamps:
                            head += b"X-Timestamp: %.6f\r\n" % (1000 + i / fps)
                        self.wfile.write(head + b"\r\n" + body + b"\r\n")
                        self.wfile.flush()
                        i += 1
                        time.sleep(1 / fps)
                    owner._stop.wait(hold_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@functools.lru_cache(maxsize=4)
def _texture(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.dstack([(xx * 7 + yy * 3) % 256, (xx * 2 + yy * 5) % 256, (xx ^ yy) % 256]).astype(np.uint8)


def moving_picture(i: int, w: int, h: int) -> np.ndarray:
    """Frame ``i`` of a test scene: a fixed texture with a bright square moving across it (every frame differs)."""
    image = _texture(w, h).copy()
    side = max(8, h // 6)
    x0 = (i * max(2, w // 40)) % max(1, w - side)
    image[h // 3 : h // 3 + side, x0 : x0 + side] = 255
    return image


def make_bframe_clip(
    path: Path,
    frames: int = 50,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    bframes: int = 2,
    pyramid: bool = False,
    gop: int = 25,
    picture: Callable[[int, int, int], np.ndarray] = moving_picture,
) -> Path:
    """An H.264 MP4 with ``bframes`` B-frames between reference frames, non-reference unless ``pyramid``.

    B-frames are forced (``b-adapt=0``) so that the frame types do not depend on the content.
    """
    from fractions import Fraction

    params = f"b-adapt=0:b-pyramid={'normal' if pyramid else 'none'}:scenecut=0"
    opts = {"preset": "ultrafast", "crf": "20", "g": str(gop), "bf": str(bframes), "x264-params": params}
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.max_b_frames = bframes
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(picture(i, width, height), format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
