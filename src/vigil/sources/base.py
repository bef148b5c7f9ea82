"""What every camera source shares: the protocol, error wording, URL redaction and real-time pacing.

Kept apart from the concrete sources so that they can share helpers without
importing each other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from vigil.core import Frame
from vigil.sources.files import SourceError

Clock = Callable[[], float]


class Selection(IntEnum):
    """What a consumer's ``select(pts)`` wants done with a decoded frame.

    A plain ``bool`` works too (``True`` is :attr:`ANALYSE`, ``False`` is
    :attr:`SKIP`). The difference between the two kinds of kept frames matters
    under overload: a frame that is only kept (for the evidence ring) gives way
    to any newer frame, a frame that is analysed only to a newer analysed one,
    so ring-only frames never crowd out analysis.
    """

    SKIP = 0  # not needed: never converted to an array nor delivered
    ANALYSE = 1  # analysed by the consumer (and kept)
    KEEP = 2  # only kept by the consumer (evidence ring), not analysed


Select = Callable[[float], "bool | Selection"]


@runtime_checkable
class FrameSource(Protocol):
    """One connection attempt to one camera.

    A source is opened cheaply (no I/O) and connects when :meth:`frames` is
    iterated, so that every failure, including "cannot connect", surfaces in one
    place: the iterator raises :class:`SourceError` whose message starts with
    ``camera <id>:``. A source is used once; the supervisor builds a new one for
    each reconnect, which keeps reconnection logic out of the sources.

    Attributes
    ----------
    camera_id : str
        Named in every error and set as ``Frame.source_id``.
    live : bool
        True for streams (RTSP, HTTP): the stream ending is a failure to recover
        from. False for files: ending is the normal end of the data.
    """

    camera_id: str
    live: bool

    def frames(self, select: Select | None = None) -> Iterator[Frame]:
        """Connect and yield decoded frames with stream timestamps (seconds).

        ``select(pts)``, when given, is called once for every decoded frame, in
        order, before the frame is turned into an array; frames it refuses are
        decoded (later frames depend on them) but neither converted nor
        yielded. Conversion to BGR is most of the cost of a frame nobody
        analyses.
        """
        ...

    def close(self) -> None:
        """Ask :meth:`frames` to stop and release the connection; safe from any thread."""
        ...


def redact_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/...``.

    Camera URLs commonly embed credentials, and errors naming the URL reach logs,
    MQTT status topics and the operator API.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def camera_error(camera_id: str, message: str, url: str | None = None) -> SourceError:
    """A :class:`SourceError` whose text names the camera and never shows a password.

    FFmpeg puts the full URL (credentials included) into its messages; any copy
    of ``url`` inside ``message`` is replaced by the redacted form.
    """
    if url:
        message = message.replace(url, redact_url(url))
    return SourceError(f"camera {camera_id}: {message}")


class Pacer:
    """Holds frames back until their timestamp is due, for files played "in real time".

    The first frame anchors stream time to the clock. Waiting happens on
    ``stop`` so that closing a source interrupts a wait at once. When the
    consumer falls more than ``max_lag_s`` behind, the anchor moves instead of
    letting frames burst out to catch up, which is what a live camera would do.
    """

    def __init__(self, stop: threading.Event, clock: Clock = time.monotonic, max_lag_s: float = 1.0) -> None:
        self._stop = stop
        self._clock = clock
        self._max_lag_s = max_lag_s
        self._anchor: tuple[float, float] | None = None  # (clock, pts)

    def wait_for(self, pts: float) -> bool:
        """Block until ``pts`` is due; return False when the source was closed meanwhile."""
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, pts)
            return not self._stop.is_set()
        start, pts0 = self._anchor
        delay = start + (pts - pts0) - now
        if delay < -self._max_lag_s:
            self._anchor = (now, pts)
            return not self._stop.is_set()
        if delay > 0:
            return not self._stop.wait(delay)
        return not self._stop.is_set()
