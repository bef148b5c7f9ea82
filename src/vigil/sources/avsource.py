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
    from vigil.config.models import DecodeConfig, SourceConfig

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


def analysis_size(width: int, height: int, max_width: int | None) -> tuple[int, int] | None:
    """The (even) size a frame is analysed at when it is wider than ``max_width``; ``None``: its own size."""
    if max_width is None or width <= max_width:
        return None
    w = max_width - max_width % 2
    return w, max(2, round(height * w / width / 2) * 2)


def _describe(exc: Exception, read_timeout_s: float | None) -> str:
    """A short reason for an FFmpeg error; PyAV's own timeout reads as 'Immediate exit requested'."""
    if isinstance(exc, av.error.ExitError):
        return f"no data for {read_timeout_s:g} s (timed out)" if read_timeout_s else "interrupted"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason)


class AvSource:
    """A video file or network stream decoded with PyAV: what analysis needs, on several threads.

    Decoding is most of a camera's cost at 4K, so the source decodes no more
    than it must (see ``decode``): the decoder skips non-reference frames while
    the frames left still come at :attr:`min_fps`, frames nobody selects are
    never converted from YUV, and selected frames wider than the analysis width
    are scaled down in the same pass that converts them to BGR. Evidence does
    not need the skipped frames: clips are decoded afresh, in full, from the
    compressed units handed to :attr:`on_encoded`.

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
    decode : DecodeConfig, optional
        Frame skipping, analysis width, decoder threads and hardware decoding;
        default: decode every frame on the CPU at full size, on FFmpeg's
        automatic thread count.
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
        decode: DecodeConfig | None = None,
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
        self._skip_nonref = decode.skip_nonref if decode is not None else False
        self._max_width = decode.analysis_max_width if decode is not None else None
        self._hwaccel = decode.hwaccel if decode is not None else None
        self._threads = decode.threads if decode is not None else None
        #: The analytic rate the consumer needs (set before ``frames``): non-reference frames are skipped only
        #: while the frames left still come at least this often. ``None``: every frame is decoded.
        self.min_fps: float | None = None
        #: Frames the decoder returned (skipped frames are not counted), over all passes and connections.
        self.decoded = 0
        #: Whether the decoder is skipping non-reference frames right now.
        self.skipping = False

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
        if self._hwaccel is not None:
            from av.codec.hwaccel import HWAccel

            # No software fallback: a camera configured for the GPU that decodes on the CPU would
            # silently take the cores the other cameras were sized for.
            kwargs["hwaccel"] = HWAccel(self._hwaccel, allow_software_fallback=False)
        what = "connect to" if self.live else "open video"
        try:
            container = av.open(self.url, **kwargs)
        except av.error.ExitError as exc:
            raise camera_error(
                self.camera_id, f"cannot {what} {self.url}: timed out after {self._stall_timeout_s + 2.0:g} s", self.url
            ) from exc
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            if self._hwaccel is not None:
                raise self._hwaccel_error(exc) from exc
            raise camera_error(self.camera_id, f"cannot {what} {self.url} ({_describe(exc, None)})", self.url) from exc
        if not container.streams.video:
            container.close()
            raise camera_error(self.camera_id, f"{self.url} contains no video stream", self.url)
        return container

    def _hwaccel_error(self, exc: Exception) -> Exception:
        """The camera asked for a decoding device that FFmpeg cannot open: say which field, no CPU fallback."""
        return camera_error(
            self.camera_id,
            f"source.decode.hwaccel is {self._hwaccel!r} but FFmpeg cannot decode {self.url} on that device "
            f"({_describe(exc, None)}); is a GPU with NVDEC and its driver present? Remove the field to decode "
            "on the CPU",
            self.url,
        )

    def _image(self, vframe: Any) -> tuple[Any, tuple[int, int] | None]:
        """BGR pixels of a selected frame, scaled down to the analysis width in the same pass when it is wider.

        swscale runs on the reader thread (``threads=1``): its automatic slice
        threads cost 0.7-2.1 ms of CPU per 768x432 frame against 0.3 ms on one
        thread, which was faster in wall time too, and 14-21 ms against 12 ms
        for 4K scaled to 1920 px, in about the same wall time (README, Pipeline
        performance).
        """
        size = analysis_size(vframe.width, vframe.height, self._max_width)
        if size is None:
            return vframe.to_ndarray(format="bgr24", threads=1), None
        image = vframe.to_ndarray(width=size[0], height=size[1], format="bgr24", interpolation="AREA", threads=1)
        return image, (vframe.width, vframe.height)

    def _start_skipping(self, stream: Any) -> None:
        """Skip non-reference frames when at most half of the frames are needed (stream rate over analytic rate)."""
        rate = 1.0 / self._interval
        self.skipping = bool(self._skip_nonref and self.min_fps and rate >= 2 * self.min_fps)
        if self.skipping:
            stream.codec_context.skip_frame = "NONREF"

    def _check_gap(self, stream: Any, gap: float) -> None:
        """Stop skipping for this connection once two decoded frames lie further apart than the analytic period.

        The stream then has too few reference frames for the analytic rate (a
        camera's temporal layering, B-frames everywhere): every frame is decoded.
        """
        assert self.min_fps is not None
        if gap > 1.0 / self.min_fps + 1e-3:
            stream.codec_context.skip_frame = "DEFAULT"
            self.skipping = False
            log.info(
                "camera %s: decoded frames %.3f s apart while skipping non-reference frames, more than the analytic "
                "period (%.3f s): decoding every frame",
                self.camera_id,
                gap,
                1.0 / self.min_fps,
            )

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

    def _set_threads(self, stream: Any) -> None:
        """FFmpeg's frame and slice threads, as many as ``decode.threads`` says (default: its automatic count).

        One thread costs less CPU per frame, but FFmpeg's own threads decode
        outside Python's GIL while a one-thread decoder works only when the
        reader thread gets the GIL back: on a loaded box the automatic count
        analysed more frames (README, Pipeline performance).
        """
        if self._threads == 1:
            stream.thread_count = 1
            return
        stream.thread_type = "AUTO"
        if self._threads:
            stream.thread_count = self._threads

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
        self._set_threads(stream)
        self._interval = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
        self._start_skipping(stream)
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
                    if self.skipping and last is not None:
                        self._check_gap(stream, pts - last)
                    last = pts
                    count += 1
                    self.decoded += 1
                    waiting_since = self._clock()
                    if select is not None and not select(pts):
                        continue
                    if pacer is not None and not pacer.wait_for(pts):
                        return last, count
                    image, full_size = self._image(vframe)
                    yield Frame(image, self.camera_id, index + count - 1, pts, full_size)
                    waiting_since = self._clock()
                if self.live and self._clock() - waiting_since > self._stall_timeout_s:
                    raise camera_error(
                        self.camera_id, f"{url}: packets arrive but no frame decoded for {self._stall_timeout_s:g} s"
                    )
        except av.error.FFmpegError as exc:
            if self._closing.is_set():
                return last, count
            if self._hwaccel is not None and count == 0:
                raise self._hwaccel_error(exc) from exc
            raise camera_error(
                self.camera_id,
                f"{'stream' if self.live else 'decoding'} failed after {count} frames: {url} "
                f"({_describe(exc, self._stall_timeout_s if self.live else None)})",
                self.url,
            ) from exc
        if bad:
            log.warning("camera %s: %d undecodable packets skipped in %s", self.camera_id, bad, url)
        return last, count
