"""One object detector shared by every camera, batching frames across cameras, with a deadline.

Cameras submit frames from their own threads and wait on a future. A worker
collects what has arrived (up to ``max_batch``, waiting at most ``max_wait_s``
for more) and runs one ``detect_batch`` call, which is how a GPU gets full
batches. On the CPU several workers (one per core, each session with one
intra-op thread; see :meth:`~vigil.detection.config.ObjectDetectorConfig.pool_plan`)
run frames side by side: measured on 2 cores with the INT8 NanoDet at 416x256,
two single-threaded runs in parallel cost 5.6 ms of wall time per frame and
10.8 ms of CPU, one run on two intra-op threads 7.0 ms and 11.9 ms (13.2 ms at
batch 1: the threads synchronise on every layer of a small model), and a single
worker also spends its time on each batch's pre- and post-processing while the
model waits. The detector's ``detect_batch`` must then be safe to call from
several threads at once, as onnxruntime's ``InferenceSession.run`` is. Moving
the detector to another machine means replacing this class with a client that
has the same ``submit``.

A detector that hangs (a wedged GPU driver, a remote detector that stopped
answering) must not hang the cameras: :meth:`DetectorPool.detect` gives up after
``deadline_s``, and while a batch has been running longer than that, new frames
are refused at once (:class:`DetectorUnavailableError`) instead of queueing behind
it. The cameras report their analysis as stalled (see
:class:`~vigil.sources.CameraSupervisor`) and carry on by themselves when the
detector answers again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

import numpy as np

from vigil.core import Detections
from vigil.detection.base import Detector

log = logging.getLogger(__name__)


class Observer(Protocol):
    """A histogram (``prometheus_client.Histogram``) or anything else that takes observations."""

    def observe(self, amount: float) -> None: ...


class DetectorUnavailableError(RuntimeError):
    """The shared detector did not answer in time, is stuck on an earlier batch, or is too far behind."""


class DetectorPool:
    """Thread-safe, batching front of a :class:`~vigil.detection.base.Detector`.

    Parameters
    ----------
    detector : Detector
    max_batch : int
        Frames per ``detect_batch`` call at most.
    max_wait_s : float
        How long the worker waits for more frames to fill a batch.
    deadline_s : float
        How long :meth:`detect` waits for a frame's detections, and how long a
        batch may run before the detector counts as stuck.
    max_queue : int
        Frames waiting at most; more are refused (the detector is too far behind
        for their detections to be of use).
    latency : Observer, optional
        Gets the seconds from each frame's submission to its detections.
    workers : int
        Batches run at the same time, each in its own thread.
    """

    def __init__(
        self,
        detector: Detector,
        max_batch: int = 8,
        max_wait_s: float = 0.005,
        deadline_s: float = 5.0,
        max_queue: int = 64,
        latency: Observer | None = None,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.detector = detector
        self.labels = detector.labels
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.deadline_s = deadline_s
        self._queue: queue.Queue[tuple[np.ndarray, Future[Detections]] | None] = queue.Queue(max_queue)
        self._threads = [
            threading.Thread(target=self._run, name=f"vigil-detector-{i}", daemon=True) for i in range(workers)
        ]
        self._started = False
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}  # worker -> monotonic start of the batch it is running
        self.batches = 0
        self.frames = 0
        self.busy_s = 0.0
        self.refused = 0
        self.timeouts = 0
        self._latency = latency
        self.failed_batches = 0
        self._logged_failure_at: float | None = None

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                for thread in self._threads:
                    thread.start()

    @property
    def workers(self) -> int:
        return len(self._threads)

    @property
    def stuck_for(self) -> float:
        """Seconds the oldest batch in progress has run beyond :attr:`deadline_s` (0 while the detector keeps up).

        One wedged worker is enough to refuse frames: the others share its
        session and device, and are unlikely to be far behind.
        """
        started = min(tuple(self._running.values()), default=None)  # a copy: workers change it meanwhile
        return 0.0 if started is None else max(0.0, time.monotonic() - started - self.deadline_s)

    def submit(self, image: np.ndarray) -> Future[Detections]:
        """Queue one BGR frame; the future gets its detections (or the detector's error).

        Raises
        ------
        DetectorUnavailableError
            At once, when a batch has been running past the deadline or the queue is full.
        """
        self.start()
        stuck = self.stuck_for
        if stuck > 0:
            self.refused += 1
            raise DetectorUnavailableError(f"the detector has not answered for {self.deadline_s + stuck:.0f} s")
        future: Future[Detections] = Future()
        try:
            self._queue.put_nowait((image, future))
        except queue.Full:
            self.refused += 1
            raise DetectorUnavailableError(f"{self._queue.maxsize} frames already wait for the detector") from None
        return future

    def detect(self, image: np.ndarray, timeout: float | None = None) -> Detections:
        """Detections of one frame, within ``timeout`` (default :attr:`deadline_s`).

        Raises
        ------
        DetectorUnavailableError
            When they do not come in time; the frame is withdrawn if it has not started.
        """
        t0 = time.perf_counter()
        future = self.submit(image)
        wait = self.deadline_s if timeout is None else timeout
        try:
            result = future.result(wait)
        except FutureTimeout:
            future.cancel()  # still queued: the worker skips it
            self.timeouts += 1
            raise DetectorUnavailableError(f"no detections within {wait:g} s") from None
        if self._latency is not None:
            self._latency.observe(time.perf_counter() - t0)
        return result

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Several frames at once (the :class:`~vigil.detection.base.Detector` interface), same deadline."""
        futures = [self.submit(image) for image in images]
        deadline = time.monotonic() + self.deadline_s
        try:
            return [f.result(max(0.0, deadline - time.monotonic())) for f in futures]
        except FutureTimeout:
            for f in futures:
                f.cancel()
            self.timeouts += 1
            raise DetectorUnavailableError(f"no detections within {self.deadline_s:g} s") from None

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return self.detector.input_size_for(width, height)

    def stop(self) -> None:
        """Let the workers finish what they hold; each passes the stop mark on to the next."""
        if self._started:
            try:
                self._queue.put(None, timeout=1.0)
            except queue.Full:  # stuck workers; they are daemon threads
                return
            deadline = time.monotonic() + 5.0
            for thread in self._threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _log_failure(self, size: int) -> None:
        """Inside the ``except``: a traceback for the first failed batch, then at most one a minute."""
        self.failed_batches += 1
        now = time.monotonic()
        if self._logged_failure_at is None or now - self._logged_failure_at >= 60.0:
            log.exception("detector failed on a batch of %d (%d failed batches so far)", size, self.failed_batches)
            self._logged_failure_at = now

    def _run(self) -> None:
        me = threading.get_ident()
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.put(None)  # for the next worker
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            # Frames whose camera gave up waiting are not worth detecting.
            batch = [(image, future) for image, future in batch if future.set_running_or_notify_cancel()]
            if not batch:
                continue
            t0 = time.perf_counter()
            self._running[me] = time.monotonic()
            try:
                results = self.detector.detect_batch([image for image, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting camera gets the error; logged (rate-limited)
                with self._lock:
                    self._log_failure(len(batch))
                for _, future in batch:
                    future.set_exception(exc)
                continue
            finally:
                del self._running[me]
                with self._lock:
                    self.busy_s += time.perf_counter() - t0
            with self._lock:
                self.batches += 1
                self.frames += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
