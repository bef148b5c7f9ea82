"""A supervised camera's health: the status it publishes, and its consumer's failures logged without flooding."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

from vigil.core import Frame
from vigil.sources.base import Clock

log = logging.getLogger(__name__)

State = Literal["connecting", "online", "stalled", "offline", "finished", "stopped"]


@dataclass(frozen=True)
class CameraStatus:
    """A camera's health, as published to listeners (MQTT ``vigil/cameras/<id>/status``, the API).

    Attributes
    ----------
    camera_id : str
        The camera.
    state : str
        ``connecting`` (opening a connection), ``online`` (frames are flowing
        and being analysed), ``stalled`` (frames are flowing, but the consumer
        has not finished an analysed frame for ``stall_timeout_s``: analysis is
        hung or failing), ``offline`` (failed or silent; a reconnect is
        scheduled), ``finished`` (a file without loop reached its end) or
        ``stopped``.
    reconnects : int
        Connection attempts made after the first one.
    last_error : str or None
        The latest failure, naming the camera; kept after recovery for context.
    frames : int
        Frames decoded since start (delivered, dropped, waiting, or refused by ``select``).
    frames_dropped : int
        Frames replaced by a newer one before the consumer took them.
    since : float
        Wall-clock time (``time.time()``) of the last state change.
    analysis_dropped : int
        Of ``frames_dropped``, those that were to be analysed (replaced by a newer analysed frame).
    consumer_errors : int
        Frames the consumer raised on.
    """

    camera_id: str
    state: State
    reconnects: int
    last_error: str | None
    frames: int
    frames_dropped: int
    since: float
    analysis_dropped: int = 0
    consumer_errors: int = 0

    @property
    def online(self) -> bool:
        return self.state == "online"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``online`` included."""
        return {**asdict(self), "online": self.online}



class FailureLog:
    """Logs a failing consumer without flooding: a failure with its traceback, then at most one per ``every_s``.

    At 25 fps a consumer that fails on every frame (or on every other one) would
    otherwise write 25 tracebacks a second; each message counts the failures
    that were not logged since the previous one.
    """

    def __init__(self, camera_id: str, every_s: float, clock: Clock) -> None:
        self.camera_id, self.every_s, self._clock = camera_id, every_s, clock
        self.total = 0
        self._run = 0  # failures in a row
        self._logged_at: float | None = None
        self._unlogged = 0

    def failed(self, frame: Frame) -> None:
        """Call inside the ``except`` block (the traceback is taken from there)."""
        self.total += 1
        self._run += 1
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= self.every_s:
            more = f"; {self._unlogged} more failed since the last report" if self._unlogged else ""
            log.exception(
                "camera %s: processing frame %d failed (%d in a row%s)", self.camera_id, frame.index, self._run, more
            )
            self._logged_at, self._unlogged = now, 0
        else:
            self._unlogged += 1

    def succeeded(self) -> None:
        self._run = 0
