"""One supervised reader per camera: reconnects, stall watchdog, monotonic timestamps, status.

Each :class:`CameraSupervisor` owns three threads. The *reader* opens the
source, decodes every frame (a decoder that falls behind a live stream only
falls further behind) and reconnects with exponential backoff when the source
fails. The *dispatcher* hands frames to the consumer; when the consumer is
slower than the camera, only the newest frames wait and the others are counted
as dropped, so analytics always see the present, and a frame that is only kept
for evidence never replaces one that is to be analysed. The *watchdog* reports a
camera ``offline`` as soon as no frame has come for ``stall_timeout_s`` (even
while the reader is still blocked inside FFmpeg), and ``stalled`` when the
consumer has not finished an analysed frame for as long (a hung detector): it
is a thread of its own so that neither a blocked reader nor a blocked consumer
can silence it. Nothing one camera does (an exception, a hang) reaches another
camera's threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vigil.core import Frame
from vigil.sources.base import Clock, FrameSource, Selection
from vigil.sources.encoded import Encoded, EncodedSink
from vigil.sources.files import SourceError
from vigil.sources.health import CameraStatus, FailureLog, State
from vigil.sources.streams import open_source
from vigil.sources.timing import Backoff, MonotonicPts

if TYPE_CHECKING:
    from vigil.config.models import CameraConfig, SourceConfig

log = logging.getLogger(__name__)

Opener = Callable[[str, "SourceConfig"], FrameSource]


class CameraSupervisor:
    """Reads one camera for as long as it runs, whatever the camera does.

    Parameters
    ----------
    camera_id : str
        Used in errors, logs, statuses and as ``Frame.source_id``.
    cfg : SourceConfig
        URL, transport, loop / real time, ``stall_timeout_s``, ``max_backoff_s``.
    on_frame : callable
        Called with each delivered :class:`Frame`, on this camera's dispatcher
        thread. Frames carry a per-camera index (decode order, gaps where frames
        were dropped) and monotonic ``pts`` in seconds. Exceptions are counted
        and logged (the first of a run with its traceback, then at most one a
        minute); on analysed frames they also count as the consumer not
        finishing, which turns the camera ``stalled`` after ``stall_timeout_s``.
    on_status : callable, optional
        Called with a :class:`CameraStatus` whenever the state or error changes.
        Must be quick and thread-safe; exceptions are logged.
    clock : callable
        Monotonic seconds, for stall and health timing.
    opener : callable, optional
        ``(camera_id, cfg) -> FrameSource``; :func:`open_source` by default.
    block_when_busy : bool, optional
        Wait for a slow consumer instead of dropping frames. Default: wait for
        files read as fast as possible (nothing is gained by dropping), drop
        for live streams and real-time files.
    healthy_after_s : float
        A connection that delivers frames this long resets the backoff.
    backoff : Backoff, optional
        Reconnect delays; from 0.5 s up to ``cfg.max_backoff_s``, less up to a quarter, by default.
    select : callable, optional
        ``select(pts) -> bool | Selection`` on the monotonic timestamp of every
        decoded frame (e.g. the analytic-rate gate); refused frames are decoded
        but never converted to arrays nor delivered, and are not counted as
        dropped. :attr:`Selection.KEEP` marks a frame the consumer only keeps
        (not analysed): it yields to any newer frame when the consumer is busy.
    log_every_s : float
        Least time between two logged tracebacks of a consumer that keeps failing.
    on_encoded : callable, optional
        Gets the compressed units (packets, JPEG images) of sources that hand
        them over, on the reader thread, with ``pts`` on the same monotonic
        timeline as the frames (for the evidence ring; must be quick).
    min_fps : float, optional
        The analytic rate: given to sources that can thin their decoding
        (skip non-reference frames) as the rate they must still deliver.
    analysed_backlog : int
        Analysed frames that may wait for a busy consumer; a newer one then
        replaces the oldest. One wait would drop a frame each time one analysis
        runs over the frame interval, which a shared detector's queue does now
        and then at full load (measured: 12 cameras on 2 cores lost 10% of their
        analysed frames with 25% of the CPU idle); two absorb that and keep
        analysis at most three frame intervals behind the camera (0.6 s at 5 fps).
    """

    def __init__(
        self,
        camera_id: str,
        cfg: SourceConfig,
        on_frame: Callable[[Frame], None],
        on_status: Callable[[CameraStatus], None] | None = None,
        *,
        clock: Clock = time.monotonic,
        opener: Opener | None = None,
        block_when_busy: bool | None = None,
        healthy_after_s: float = 10.0,
        backoff: Backoff | None = None,
        select: Callable[[float], bool | Selection] | None = None,
        log_every_s: float = 60.0,
        on_encoded: EncodedSink | None = None,
        min_fps: float | None = None,
        analysed_backlog: int = 2,
    ) -> None:
        if analysed_backlog < 1:
            raise ValueError(f"analysed_backlog must be at least 1, got {analysed_backlog}")
        self.camera_id = camera_id
        self._backlog = analysed_backlog
        self._min_fps = min_fps
        self.cfg = cfg
        self._on_frame = on_frame
        self._on_status = on_status
        self._clock = clock
        self._opener: Opener = opener or open_source
        self._block_when_busy = block_when_busy
        self._healthy_after_s = healthy_after_s
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=cfg.max_backoff_s, jitter=0.25)
        self._select = select
        self._gated: tuple[float, Selection] | None = None
        self._online_since: float | None = None
        self._cond = threading.Condition()
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        # At most analysed_backlog analysed frames wait, and a newer kept one (see _offer).
        self._pending: deque[tuple[Frame, Selection]] = deque()
        self._pts = MonotonicPts()
        self._source: FrameSource | None = None
        self._threads: list[threading.Thread] = []
        self._reader_done = self._dispatch_done = self._finished = False
        self._state: State = "connecting"  # of the source; "stalled" is derived (see _public_state)
        self._reconnects = self._frames = self._dropped = self._analysis_dropped = 0
        self._last_error: str | None = None
        self._since = time.time()
        self._last_progress = clock()
        # Consumer health: when the frame in hand was given, and since when analysed frames fail.
        self._busy_since: float | None = None
        self._failing_since: float | None = None
        self._stalled = False
        self._failures = FailureLog(camera_id, log_every_s, clock)
        self._last_decoded: tuple[float, float] | None = None  # (pts, clock) of the newest decoded frame
        self._on_encoded = on_encoded
        # Units are moved to the monotonic timeline by the offset of the connection's frames; until its first
        # frame is decoded that offset is unknown, so they wait here.
        self._pts_delta: float | None = None
        self._early_units: list[Encoded] = []

    # -- public -------------------------------------------------------------

    @property
    def status(self) -> CameraStatus:
        with self._cond:
            return self._snapshot()

    @property
    def frames_dropped(self) -> int:
        return self._dropped

    def clock_of(self, pts: float) -> float:
        """The ``clock`` time at which the frame at ``pts`` was decoded, for end-to-end latencies.

        Exact for the newest frame; older ones are placed by stream time before
        it, which holds for live streams and real-time files.
        """
        last = self._last_decoded
        if last is None:
            return self._clock()
        newest_pts, at = last
        return at - max(0.0, newest_pts - pts)

    def start(self) -> None:
        """Start the reader, dispatcher and watchdog threads (daemons: they never hold up interpreter exit)."""
        if self._threads:
            raise RuntimeError(f"camera {self.camera_id}: supervisor already started")
        self._last_progress = self._clock()
        self._publish()
        loops = (("read", self._read_loop), ("dispatch", self._dispatch_loop), ("watch", self._watch_loop))
        for name, target in loops:
            t = threading.Thread(target=target, name=f"vigil-{name}-{self.camera_id}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading and delivering; return False if a thread did not end within ``timeout``.

        A reader blocked inside FFmpeg ends within about ``stall_timeout_s``; it
        is a daemon thread, so even then it cannot keep the process alive.
        """
        self._stop.set()
        with self._cond:
            source = self._source
            self._pending.clear()
            self._cond.notify_all()
        if source is not None:
            source.close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._state not in ("stopped", "finished"):
            self._set_state("stopped")
        return not any(t.is_alive() for t in self._threads)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until a finite source (a file without loop) has been delivered; True when done."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    # -- status ---------------------------------------------------------------

    def _public_state(self) -> State:
        return "stalled" if self._stalled and self._state == "online" else self._state

    def _snapshot(self) -> CameraStatus:
        return CameraStatus(
            self.camera_id,
            self._public_state(),
            self._reconnects,
            self._last_error,
            self._frames,
            self._dropped,
            self._since,
            self._analysis_dropped,
            self._failures.total,
        )

    def _set_stalled(self, stalled: bool, reason: str | None = None) -> None:
        """Analysis hung or failing (``True``), or working again; published when it changes the state."""
        with self._cond:
            if stalled == self._stalled or (self._stop.is_set() and stalled):
                return
            before = self._public_state()
            self._stalled = stalled
            if self._public_state() != before:
                self._since = time.time()
        if stalled:
            log.warning("camera %s: analysis stalled: %s", self.camera_id, reason)
        else:
            log.info("camera %s: analysis running again", self.camera_id)
        self._publish()

    def _set_state(self, state: State, error: str | None = None) -> None:
        with self._cond:
            if self._stop.is_set() and state != "stopped":
                return  # a late report from a thread that is shutting down
            changed = state != self._state or (error is not None and error != self._last_error)
            if not changed:
                return
            if state != self._state:
                self._state, self._since = state, time.time()
            if error is not None:
                self._last_error = error
        if state == "offline":
            log.warning("camera %s offline: %s", self.camera_id, error)
        else:
            log.info("camera %s %s", self.camera_id, state)
        self._publish()

    def _publish(self) -> None:
        if self._on_status is None:
            return
        with self._publish_lock:  # listeners see statuses in order, one at a time
            status = self.status
            try:
                self._on_status(status)
            except Exception:  # a broken listener must not stop the camera
                log.exception("camera %s: status listener failed", self.camera_id)

    # -- reader ---------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            first = True
            while not self._stop.is_set():
                if not first:
                    with self._cond:
                        self._reconnects += 1
                    self._set_state("connecting")
                first = False
                try:
                    if self._read_once():
                        return
                    # A live source that just stops; keep the watchdog's reason if it closed it.
                    error = None if self._state == "offline" else f"camera {self.camera_id}: stream ended"
                except SourceError as exc:
                    error = str(exc)
                except Exception as exc:  # one camera's bug must not end its supervision
                    log.exception("camera %s: unexpected error in source", self.camera_id)
                    error = f"camera {self.camera_id}: unexpected error: {exc!r}"
                if self._stop.is_set():
                    return
                delay = self._backoff.next_delay()
                self._set_state("offline", error)
                log.info("camera %s: reconnecting in %.1f s", self.camera_id, delay)
                if self._stop.wait(delay):
                    return
        finally:
            with self._cond:
                self._reader_done = True
                self._cond.notify_all()

    def _read_once(self) -> bool:
        """Read one connection; True when a finite source ended normally."""
        source = self._opener(self.camera_id, self.cfg)
        with self._cond:
            self._source = source
        block = self._block_when_busy
        if block is None:
            block = not source.live and not self.cfg.realtime
        self._pts.new_connection()
        self._online_since = None
        self._gated = None
        self._pts_delta, self._early_units = None, []
        if self._on_encoded is not None and hasattr(source, "on_encoded"):
            source.on_encoded = self._encoded  # type: ignore[attr-defined]
        if self._min_fps is not None and hasattr(source, "min_fps"):
            source.min_fps = self._min_fps  # type: ignore[attr-defined]
        frames = source.frames(select=self._gate)
        try:
            if self._stop.is_set():
                return False
            for frame in frames:
                # A source that ignores ``select`` still gets its bookkeeping here.
                gated, self._gated = self._gated, None
                pts, selection = gated if gated is not None else (self._decoded(frame.pts), Selection.ANALYSE)
                self._offer(replace(frame, source_id=self.camera_id, index=self._frames - 1, pts=pts), selection, block)
                if self._stop.is_set():
                    return False
        finally:
            frames.close()  # runs the source's cleanup (closes the container) on this thread
            source.close()
            with self._cond:
                self._source = None
        if source.live:
            return False
        self._finished = True
        return True

    def _gate(self, raw_pts: float) -> bool:
        """The ``select`` given to sources: every decoded frame passes here, selected or not."""
        pts = self._decoded(raw_pts)
        choice = Selection.ANALYSE if self._select is None else self._select(pts)
        selection = Selection.ANALYSE if choice is True else Selection(int(choice))
        self._gated = (pts, selection) if selection else None
        return bool(selection)

    def _decoded(self, raw_pts: float) -> float:
        """Per decoded frame: liveness, health, count; returns the monotonic pts."""
        now = self._clock()
        if self._state != "online":
            self._set_state("online")
        if self._online_since is None:
            self._online_since = now
        elif now - self._online_since >= self._healthy_after_s and self._backoff.attempts:
            self._backoff.reset()
        with self._cond:
            self._frames += 1
            self._last_progress = now
            pts = self._pts(raw_pts, now)
            self._last_decoded = (pts, now)
        if self._on_encoded is not None:
            first = self._pts_delta is None
            self._pts_delta = pts - raw_pts
            if first and self._early_units:
                early, self._early_units = self._early_units, []
                for unit in early:
                    self._encoded(unit)
        return pts

    def _encoded(self, unit: Encoded) -> None:
        """A source's unit, on the reader thread: stamped on the monotonic timeline and handed on."""
        if self._pts_delta is None:
            if len(self._early_units) < 2000:  # a connection that never decodes a frame must not grow this
                self._early_units.append(unit)
            return
        pts = None if unit.pts is None else unit.pts + self._pts_delta
        try:
            self._on_encoded(unit.at(pts))  # type: ignore[misc]
        except Exception:
            log.exception("camera %s: the evidence ring refused a unit", self.camera_id)

    def _offer(self, frame: Frame, selection: Selection, block: bool) -> None:
        """Hand a frame to the dispatcher: wait for it (``block``), or replace what is waiting.

        Replacing: a waiting frame that is only kept gives way to any newer
        frame; waiting analysed frames stay, up to ``analysed_backlog`` of them
        with this one, and the oldest gives way beyond that. So at most the
        backlog of analysed frames and one newer kept frame wait, in pts order,
        and overload thins the evidence ring before it costs any analysis.
        """
        with self._cond:
            if block:
                while self._pending and not self._stop.is_set():
                    self._cond.wait(0.25)
                    self._last_progress = self._clock()  # waiting on the consumer is not a stall
            elif self._pending:
                analysed = [p for p in self._pending if p[1] is Selection.ANALYSE]
                room = self._backlog - (selection is Selection.ANALYSE)
                kept = analysed[-room:] if room > 0 else []
                self._dropped += len(self._pending) - len(kept)
                self._analysis_dropped += len(analysed) - len(kept)
                self._pending = deque(kept)
            self._pending.append((frame, selection))
            self._cond.notify_all()

    # -- dispatcher -----------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._stop.is_set() and not self._reader_done:
                        self._cond.wait()
                    if self._stop.is_set() or (self._reader_done and not self._pending):
                        break
                    frame, selection = self._pending.popleft()
                    self._busy_since = self._clock()
                    self._cond.notify_all()
                self._consume(frame, selection)
        finally:
            with self._cond:
                self._dispatch_done = True
                self._cond.notify_all()
        if self._finished and not self._stop.is_set():
            self._set_state("finished")

    def _consume(self, frame: Frame, selection: Selection) -> None:
        """Give one frame to the consumer and keep its health: ``stalled`` is judged on analysed frames only."""
        try:
            self._on_frame(frame)
        except Exception:  # noqa: BLE001 - a failing consumer must not stop the camera; FailureLog logs it
            self._failures.failed(frame)
            ok = False
        else:
            ok = True
        with self._cond:
            self._busy_since = None
            if selection is Selection.ANALYSE:
                if ok:
                    self._failing_since = None
                elif self._failing_since is None:
                    self._failing_since = self._clock()
        if ok:
            self._failures.succeeded()
            if selection is Selection.ANALYSE and self._stalled:
                self._set_stalled(False)

    # -- watchdog -------------------------------------------------------------------

    def _watch_loop(self) -> None:
        """Is the source silent (offline), or the consumer hung or failing (stalled)?

        It wakes at least every quarter second, and exactly when the silence
        reaches ``stall_timeout_s``, so it reports before FFmpeg's own read
        timeout (of the same length) ends the connection with a vaguer error.
        """
        timeout = self.cfg.stall_timeout_s
        tick = min(0.25, timeout / 4)
        wait = tick
        while not self._stop.wait(wait):
            with self._cond:
                if self._dispatch_done:
                    return
                now = self._clock()
                online = self._state == "online"
                silent = online and now - self._last_progress > timeout
                wait = min(tick, self._last_progress + timeout - now + 1e-3) if online and not silent else tick
                wait = max(wait, 1e-3)
                source = self._source
                busy, failing = self._busy_since, self._failing_since
            if silent:
                self._set_state("offline", f"camera {self.camera_id}: no frame for {timeout:g} s")
                if source is not None and source.live:
                    source.close()  # ask the reader to give up this connection and reconnect
            if busy is not None and now - busy > timeout:
                self._set_stalled(True, f"a frame has been in analysis for {now - busy:.0f} s")
            elif failing is not None and now - failing > timeout:
                self._set_stalled(True, f"every analysed frame failed for {now - failing:.0f} s")


def start_cameras(
    cameras: Iterable[CameraConfig],
    on_frame: Callable[[Frame], None],
    on_status: Callable[[CameraStatus], None] | None = None,
    **kwargs: Any,
) -> dict[str, CameraSupervisor]:
    """Start a supervisor for every enabled camera; each runs independently of the others."""
    sups: dict[str, CameraSupervisor] = {}
    for cam in cameras:
        if cam.enabled:
            sups[cam.id] = CameraSupervisor(cam.id, cam.source, on_frame, on_status, **kwargs)
            sups[cam.id].start()
    return sups
