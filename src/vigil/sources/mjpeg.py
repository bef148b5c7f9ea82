"""HTTP camera streams: MJPEG (``multipart/x-mixed-replace``) parsed here, anything else through PyAV.

MJPEG is read with the standard library rather than FFmpeg's ``mpjpeg``
demuxer because FFmpeg stamps MJPEG frames as if they came at a fixed 25 fps,
which drifts from real time on cameras that send 2-10 frames a second and would
distort every time-based rule. MJPEG has no stream clock; the best timestamp is
the part's ``X-Timestamp`` header when the camera sends one (mjpg-streamer and
others do), otherwise the time the part arrived.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np

from vigil.core import Frame
from vigil.sources.avsource import AvSource
from vigil.sources.base import Clock, Select, camera_error, redact_url
from vigil.sources.encoded import EncodedSink, image_unit
from vigil.sources.files import SourceError

if TYPE_CHECKING:
    from vigil.config.models import DecodeConfig

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024  # a header line or, without Content-Length, a line of body
MAX_PART = 32 * 1024 * 1024  # one JPEG; larger means a broken stream, not a picture
MAX_PREAMBLE_LINES = 64


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)


class HttpSource:
    """An ``http(s)://`` camera stream.

    MJPEG multipart streams are parsed and decoded with OpenCV; any other
    content type (MPEG-TS, FLV, HLS...) is handed to :class:`AvSource` on the
    same URL. ``user:password@`` in the URL is sent as HTTP basic auth.
    Redirects are not followed.

    Parameters
    ----------
    camera_id : str
        Named in errors and set as ``Frame.source_id``.
    url : str
        The stream's URL.
    stall_timeout_s : float
        Socket timeout for connecting and for every read, and the longest time
        without a decodable frame before the stream counts as stalled.
    options : dict, optional
        FFmpeg options for the non-MJPEG fallback.
    """

    live = True

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        stall_timeout_s: float = 10.0,
        options: dict[str, str] | None = None,
        clock: Clock = time.monotonic,
        decode: DecodeConfig | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self._decode = decode
        #: Passed on to PyAV for content types other than MJPEG (see :attr:`AvSource.min_fps`).
        self.min_fps: float | None = None
        self._stall_timeout_s = stall_timeout_s
        self._options = options
        self._clock = clock
        self._closing = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None
        self._delegate: AvSource | None = None
        #: Gets every JPEG part (for the evidence ring); passed on to PyAV for other content types.
        self.on_encoded: EncodedSink | None = None

    def close(self) -> None:
        """Stop reading; shutting the socket down wakes a reader blocked in ``recv``."""
        self._closing.set()
        sock, delegate = self._sock, self._delegate
        if delegate is not None:
            delegate.close()
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def _fail(self, message: str) -> SourceError:
        return camera_error(self.camera_id, message, self.url)

    def _connect(self) -> http.client.HTTPResponse:
        parts = urlsplit(self.url)
        if not parts.hostname:
            raise self._fail(f"no host in URL {redact_url(self.url)}")
        cls = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=self._stall_timeout_s)
        self._conn = conn
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "vigil", "Accept": "multipart/x-mixed-replace, */*"}
        if parts.username is not None:
            creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(creds).decode("ascii")
        try:
            conn.connect()
            # http.client drops conn.sock once an HTTP/1.0 response starts; keep it to shut it down.
            self._sock = conn.sock
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise self._fail(f"cannot connect to {redact_url(self.url)} ({_reason(exc)})") from exc
        if resp.status != 200:
            conn.close()
            raise self._fail(f"{redact_url(self.url)} answered HTTP {resp.status} {resp.reason}")
        return resp

    def frames(self, select: Select | None = None) -> Iterator[Frame]:
        resp = self._connect()
        msg = Message()
        msg["content-type"] = resp.getheader("Content-Type", "")
        try:
            if msg.get_content_type().startswith("multipart/"):
                boundary = msg.get_param("boundary")
                if not isinstance(boundary, str) or not boundary:
                    raise self._fail(f"{redact_url(self.url)}: multipart stream without a boundary")
                yield from self._mjpeg(resp, boundary.strip('"').encode("latin-1"), select)
                if not self._closing.is_set():
                    raise self._fail(f"stream ended: {redact_url(self.url)}")
                return
        finally:
            if self._conn is not None:
                self._conn.close()
        if self._closing.is_set():
            return
        log.debug("camera %s: %s is %s, decoding with PyAV", self.camera_id, redact_url(self.url), msg["content-type"])
        self._delegate = AvSource(
            self.camera_id,
            self.url,
            live=True,
            options=self._options,
            stall_timeout_s=self._stall_timeout_s,
            decode=self._decode,
        )
        self._delegate.on_encoded = self.on_encoded
        self._delegate.min_fps = self.min_fps
        yield from self._delegate.frames(select)

    def _mjpeg(self, resp: http.client.HTTPResponse, boundary: bytes, select: Select | None) -> Iterator[Frame]:
        index = 0
        first_stamp: float | None = None
        last: float | None = None
        last_good = self._clock()
        try:
            for headers, body in _parts(resp, boundary):
                if self._closing.is_set():
                    return
                now = self._clock()
                if now - last_good > self._stall_timeout_s:
                    raise self._fail(f"{redact_url(self.url)}: no decodable JPEG for {self._stall_timeout_s:g} s")
                if not body:
                    continue
                stamp = _header_time(headers)
                stamp = now if stamp is None else stamp
                first_stamp = stamp if first_stamp is None else first_stamp
                pts = stamp - first_stamp
                if last is not None and pts <= last:
                    pts = last + 1e-3
                if self.on_encoded is not None:
                    self.on_encoded(image_unit(body, pts))
                if select is not None and not select(pts):
                    last, last_good = pts, now
                    index += 1
                    continue
                image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
                if image is None:
                    continue
                yield Frame(image, self.camera_id, index, pts)
                last, last_good = pts, self._clock()
                index += 1
        except (OSError, http.client.HTTPException) as exc:
            if self._closing.is_set():
                return
            raise self._fail(f"stream failed after {index} frames: {redact_url(self.url)} ({_reason(exc)})") from exc


def _header_time(headers: dict[str, str]) -> float | None:
    value = headers.get("x-timestamp")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _parts(resp: http.client.HTTPResponse, boundary: bytes) -> Iterator[tuple[dict[str, str], bytes]]:
    """Yield (headers, body) of each part of a multipart stream until it ends.

    Tolerates what real cameras send: a boundary parameter that already starts
    with ``--``, LF instead of CRLF, and parts without Content-Length.
    """
    marks = {b"--" + boundary, boundary}

    def is_mark(line: bytes) -> bool:
        s = line.strip()
        return s in marks or (s.endswith(b"--") and s[:-2] in marks)

    line = resp.readline(MAX_LINE)
    for _ in range(MAX_PREAMBLE_LINES):
        if not line or is_mark(line):
            break
        line = resp.readline(MAX_LINE)
    while line and is_mark(line) and not line.strip().endswith(boundary + b"--"):
        headers: dict[str, str] = {}
        while True:
            line = resp.readline(MAX_LINE)
            if not line:
                return
            if not line.strip():
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        length = headers.get("content-length", "")
        if length.isdigit() and 0 < int(length) <= MAX_PART:
            body = resp.read(int(length))
            if len(body) < int(length):
                return
            line = resp.readline(MAX_LINE)
            while line and not is_mark(line):
                line = resp.readline(MAX_LINE)
        else:
            chunks: list[bytes] = []
            size = 0
            while True:
                line = resp.readline(MAX_LINE)
                if not line or is_mark(line):
                    break
                chunks.append(line)
                size += len(line)
                if size > MAX_PART:
                    raise http.client.HTTPException(f"a part is larger than {MAX_PART} bytes")
            body = b"".join(chunks)
            body = body[:-2] if body.endswith(b"\r\n") else body[:-1] if body.endswith(b"\n") else body
        yield headers, body
