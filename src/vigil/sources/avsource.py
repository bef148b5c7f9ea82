"""A video file or network stream decoded with PyAV (RTSP, HTTP streams other than MJPEG, files)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import av

from vigil.core import Frame
from vigil.sources.base import Clock, Pacer, Select, camera_error, redact_url
from vigil.sources.encoded import Encoded, EncodedSink, VideoCodec

if TYPE_CHECKING:
    from vigil.config.models import SourceConfig

log = logging.getLogger(__name__)

#: How long FFmpeg may read a network stream to find its parameters. Its default
#: (5 s) delays every (re)connect; RTSP H.264 carries its parameters in the SDP,
#: so half a second is plenty.
ANALYZE_DURATION_US = 500_000


def network_options(cfg: SourceConfig, rtsp: bool) -> dict[str, str]:
    """FFmpeg demuxer options for a network stream.

    Why these and not others:

    - ``timeout`` (microseconds; FFmpeg >= 5 names it so for RTSP, it was
      ``stimeout`` before, and it is the socket I/O timeout for HTTP) bounds
      every blocking socket read, so a dead server cannot hang the reader.
    - ``analyzeduration`` shortens probing on each connect.
    - ``fflags=nobuffer`` is deliberately NOT set: it throws away the packets
      read while probing, which include the first key frame, so decoding only
      starts at the next key frame (measured: 4.8 s later on a 60-frame GOP).
    - ``flags=low_delay`` is not set either: it is a decoder flag that breaks
      frame order on streams with B-frames, for a gain of a frame or two.
    """
    opts = {"timeout": str(int(cfg.stall_timeout_s * 1_000_000)), "analyzeduration": str(ANALYZE_DURATION_US)}
    if rtsp:
        opts["rtsp_transport"] = cfg.transport
    return opts


def _describe(exc: Exception, read_timeout_s: float | None) -> str:
    """A short reason for an FFmpeg error; PyAV's own timeout reads as 'Immediate exit requested'."""
    if isinstance(exc, av.error.ExitError):
        return f"no data for {read_timeout_s:g} s (timed out)" if read_timeout_s else "interrupted"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason)


class AvSource:
    """A video file or network stream decoded with PyAV; every frame is decoded.

    Parameters
    ----------
    camera_id : str
        Named in errors and set as ``Frame.source_id``.
    url : str
        Path or URL as FFmpeg understands it.
    live : bool
        Network stream: the end of the stream is an error, and no frame for
        ``stall_timeout_s`` while packets still arrive is an error too.
    options : dict, optional
        FFmpeg demuxer options (see :func:`network_options`).
    loop, realtime : bool
        Files only: start again at the end (timestamps carry on, they do not
        restart at 0), and pace frames at their timestamps.
    stall_timeout_s : float
        Read timeout for network streams (also given to PyAV, which interrupts
        FFmpeg's blocking calls past it).
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        live: bool,
        options: dict[str, str] | None = None,
        loop: bool = False,
        realtime: bool = False,
        stall_timeout_s: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.live = live
        self._options = dict(options or {})
        self._loop = loop and not live
        self._realtime = realtime and not live
        self._stall_timeout_s = stall_timeout_s
        self._clock = clock
        self._closing = threading.Event()
        self._interval = 1.0 / 25  # frame duration, from the stream once it is open
        #: Gets every packet read (for the evidence ring), stamped on the frames' timeline; set before ``frames``.
        self.on_encoded: EncodedSink | None = None

    def close(self) -> None:
        """Ask :meth:`frames` to stop at its next packet; the container is closed by the reader."""
        self._closing.set()

    def _resolve(self) -> None:
        """Fail with a readable reason for an unknown host; FFmpeg only says 'Input/output error'."""
        try:
            host = urlsplit(self.url).hostname
        except ValueError as exc:
            raise camera_error(self.camera_id, f"malformed URL {self.url} ({exc})", self.url) from exc
        if not host:
            raise camera_error(self.camera_id, f"no host in URL {self.url}", self.url)
        try:
            socket.getaddrinfo(host, None)
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            message = f"cannot resolve host {host!r} of {self.url} ({reason})"
            raise camera_error(self.camera_id, message, self.url) from exc

    def _open(self) -> Any:
        if not self.live and not Path(self.url).is_file():
            raise camera_error(self.camera_id, f"no such file: {self.url}")
        if self.live:
            self._resolve()
        kwargs: dict[str, Any] = {"mode": "r", "container_options": self._options}
        if self.live:
            kwargs["timeout"] = (self._stall_timeout_s + 2.0, self._stall_timeout_s)
        what = "connect to" if self.live else "open video"
        try:
            container = av.open(self.url, **kwargs)
        except av.error.ExitError as exc:
            raise camera_error(
                self.camera_id, f"cannot {what} {self.url}: timed out after {self._stall_timeout_s + 2.0:g} s", self.url
            ) from exc
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise camera_error(self.camera_id, f"cannot {what} {self.url} ({_describe(exc, None)})", self.url) from exc
        if not container.streams.video:
            container.close()
            raise camera_error(self.camera_id, f"{self.url} contains no video stream", self.url)
        return container

    def frames(self, select: Select | None = None) -> Iterator[Frame]:
        pacer = Pacer(self._closing, self._clock) if self._realtime else None
        offset: float | None = None
        index = 0
        while not self._closing.is_set():
            container = self._open()
            try:
                last_pts, count = yield from self._decode(container, offset, index, pacer, select)
            finally:
                container.close()
            if count == 0 and not self._closing.is_set():
                raise camera_error(self.camera_id, f"no decodable video frames in {self.url}", self.url)
            if self.live and not self._closing.is_set():
                raise camera_error(self.camera_id, f"stream ended: {self.url}", self.url)
            if not self._loop or last_pts is None:
                return
            index += count
            offset = last_pts + self._interval
            log.debug("camera %s: looping %s, timestamps continue at %.3f s", self.camera_id, self.url, offset)

    def _decode(
        self, container: Any, offset: float | None, index: int, pacer: Pacer | None, select: Select | None
    ) -> Iterator[Frame]:
        """Yield one container's frames; return (last pts, frames decoded).

        Timestamps are the stream's own. With ``offset`` (a second or later
        loop pass) they are shifted so that this pass starts at ``offset``,
        carrying on from the previous pass whatever the file's first timestamp
        (MPEG-TS starts at 1.4 s, for one).
        """
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self._interval = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
        last: float | None = None
        first_raw: float | None = None
        first_packet: float | None = None  # stands in for first_raw until the first frame is decoded
        count = bad = 0
        waiting_since = self._clock()
        url = redact_url(self.url)
        sink = self.on_encoded
        codec = VideoCodec(stream.codec_context.name, stream.codec_context.extradata) if sink else None
        try:
            for packet in container.demux(stream):
                if self._closing.is_set():
                    break
                if sink is not None and packet.size:
                    raw = float(packet.pts * packet.time_base) if packet.pts is not None else None
                    if raw is not None and first_packet is None:
                        first_packet = raw if offset is not None else 0.0
                    base = first_raw if first_raw is not None else first_packet
                    at = raw - base + (offset or 0.0) if raw is not None and base is not None else None
                    sink(Encoded(packet, at, raw, bool(packet.is_keyframe), packet.size, codec))  # type: ignore[arg-type]
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    # A damaged packet (UDP loss, a corrupt file region): the decoder
                    # recovers at the next key frame, so skip rather than reconnect.
                    bad += 1
                    log.debug("camera %s: skipped an undecodable packet (%s)", self.camera_id, exc)
                    decoded = []
                for vframe in decoded:
                    t = vframe.time
                    if t is not None:
                        if first_raw is None:
                            first_raw = float(t) if offset is not None else 0.0
                        pts = float(t) - first_raw + (offset or 0.0)
                    else:  # RTSP often leaves the first frame unstamped
                        pts = last + self._interval if last is not None else (offset or 0.0)
                    if last is not None and pts <= last:
                        pts = last + self._interval
                    last = pts
                    count += 1
                    waiting_since = self._clock()
                    if select is not None and not select(pts):
                        continue
                    if pacer is not None and not pacer.wait_for(pts):
                        return last, count
                    yield Frame(vframe.to_ndarray(format="bgr24"), self.camera_id, index + count - 1, pts)
                    waiting_since = self._clock()
                if self.live and self._clock() - waiting_since > self._stall_timeout_s:
                    raise camera_error(
                        self.camera_id, f"{url}: packets arrive but no frame decoded for {self._stall_timeout_s:g} s"
                    )
        except av.error.FFmpegError as exc:
            if self._closing.is_set():
                return last, count
            raise camera_error(
                self.camera_id,
                f"{'stream' if self.live else 'decoding'} failed after {count} frames: {url} "
                f"({_describe(exc, self._stall_timeout_s if self.live else None)})",
                self.url,
            ) from exc
        if bad:
            log.warning("camera %s: %d undecodable packets skipped in %s", self.camera_id, bad, url)
        return last, count
