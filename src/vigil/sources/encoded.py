"""The compressed units of a camera's stream, kept in memory for evidence and decoded only when a clip is cut.

Evidence needs the seconds before an incident. Keeping them as decoded frames
costs 6 MB per 1080p frame (BGR), hundreds of megabytes per camera; keeping the
stream's own packets costs what the camera sends (a few MB for the same
seconds), and the frames are decoded again, by a fresh decoder, only for the
few seconds a clip needs. Sources hand over their units as they read them:
video packets (PyAV: files, RTSP, HTTP streams) from the last key frame on, or
whole images (MJPEG's JPEG parts, image folders), each stamped with the frame's
timestamp on the camera's timeline.

The units, like the raw frames decoded from them, never leave process memory
(privacy invariant 1): they are decoded in memory and every decoded frame goes
through the redaction stage before it is encoded into a clip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


class Codec(Protocol):
    """How to turn a run of units (from a key unit on) back into BGR frames."""

    def decode(self, units: Sequence[Encoded]) -> Iterator[tuple[float, np.ndarray]]: ...


@dataclass(frozen=True, eq=False, slots=True)
class Encoded:
    """One compressed unit: a video packet or a JPEG image.

    Attributes
    ----------
    data : av.Packet or bytes
        The unit as read (a packet keeps its buffer by reference, no copy).
    pts : float or None
        Timestamp of the frame it carries, on the source's timeline (the
        supervisor moves it to the camera's monotonic one); ``None`` when the
        stream does not stamp it.
    raw : float or None
        The packet's own stream time, to recognise the frames decoded from it.
    key : bool
        Decoding can start at this unit.
    size : int
        Bytes held.
    codec : Codec
        Decodes runs of units of this connection.
    """

    data: Any
    pts: float | None
    raw: float | None
    key: bool
    size: int
    codec: Codec

    def at(self, pts: float | None) -> Encoded:
        return replace(self, pts=pts)


EncodedSink = Callable[[Encoded], None]


class VideoCodec:
    """A video stream's decoder parameters (one per connection): decoded with a new PyAV decoder on demand."""

    def __init__(self, name: str, extradata: bytes | None) -> None:
        self.name = name
        self.extradata = extradata or None

    def decode(self, units: Sequence[Encoded]) -> Iterator[tuple[float, np.ndarray]]:
        """BGR frames of ``units`` (which start at a key unit), in display order, with the units' pts.

        A frame whose packet had no pts gets the previous frame's pts plus the
        typical spacing; a unit that cannot be decoded is skipped, as the live
        reader does.
        """
        import av

        ctx = av.CodecContext.create(self.name, "r")
        if self.extradata:
            ctx.extradata = self.extradata
        mono = {round(u.raw, 6): u.pts for u in units if u.raw is not None and u.pts is not None}
        stamped = sorted(p for p in mono.values() if p is not None)
        step = float(np.median(np.diff(stamped))) if len(stamped) > 2 else 0.04
        last: float | None = None
        for unit in [*units, None]:
            try:
                frames = ctx.decode(None if unit is None else unit.data)
            except av.error.FFmpegError as exc:
                log.debug("skipping an undecodable packet while cutting a clip: %s", exc)
                continue
            for vframe in frames:
                t = vframe.time
                pts = mono.get(round(float(t), 6)) if t is not None else None
                if pts is None:
                    if last is None:
                        continue  # an unstamped frame before any stamped one cannot be placed
                    pts = last + step
                if last is not None and pts <= last:
                    continue
                last = pts
                yield pts, vframe.to_ndarray(format="bgr24")


class ImageCodec:
    """Whole images (MJPEG's JPEG parts, the files of an image folder): every unit is a key unit."""

    name = "image"

    def decode(self, units: Sequence[Encoded]) -> Iterator[tuple[float, np.ndarray]]:
        for unit in units:
            if unit.pts is None:
                continue
            image = cv2.imdecode(np.frombuffer(unit.data, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                yield unit.pts, image


IMAGE = ImageCodec()


def image_unit(data: bytes, pts: float) -> Encoded:
    """An encoded image (JPEG, PNG...) as a unit of its own."""
    return Encoded(data, pts, None, True, len(data), IMAGE)


def decode_runs(units: Sequence[Encoded]) -> Iterator[tuple[float, np.ndarray]]:
    """Frames of a sequence of units that may span reconnects (one codec per connection), in order."""
    start = 0
    for i in range(1, len(units) + 1):
        if i == len(units) or units[i].codec is not units[start].codec:
            yield from units[start].codec.decode(units[start:i])
            start = i
