"""One object detector shared by every camera, batching frames across cameras.

Cameras submit frames from their own threads and wait on a future. A single
worker collects what has arrived (up to ``max_batch``, waiting at most
``max_wait_s`` for more) and runs one ``detect_batch`` call, which is how a GPU
gets full batches; on the CPU it keeps the model's threads busy without the
cameras competing for cores. Moving the detector to another machine means
replacing this class with a client that has the same ``submit``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from vigil.core import Detections
from vigil.detection.base import Detector

log = logging.getLogger(__name__)


class DetectorPool:
    """Thread-safe, batching front of a :class:`~vigil.detection.base.Detector`."""

    def __init__(self, detector: Detector, max_batch: int = 8, max_wait_s: float = 0.005) -> None:
        self.detector = detector
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[np.ndarray, Future[Detections]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="vigil-detector", daemon=True)
        self._started = False
        self._lock = threading.Lock()
        self.batches = 0
        self.frames = 0
        self.busy_s = 0.0

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._thread.start()

    def submit(self, image: np.ndarray) -> Future[Detections]:
        """Queue one BGR frame; the future gets its detections (or the detector's error)."""
        self.start()
        future: Future[Detections] = Future()
        self._queue.put((image, future))
        return future

    def detect(self, image: np.ndarray, timeout: float | None = None) -> Detections:
        return self.submit(image).result(timeout)

    def detect_batch(self, images: list[np.ndarray], timeout: float | None = None) -> list[Detections]:
        """Queue several frames at once (one camera's whole frame and detail windows): they share a batch."""
        futures = [self.submit(image) for image in images]
        return [f.result(timeout) for f in futures]

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return self.detector.input_size_for(width, height)

    def stop(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
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
            t0 = time.perf_counter()
            try:
                results = self.detector.detect_batch([image for image, _ in batch])
            except Exception as exc:  # every waiting camera gets the error
                log.exception("detector failed on a batch of %d", len(batch))
                for _, future in batch:
                    future.set_exception(exc)
                continue
            finally:
                self.busy_s += time.perf_counter() - t0
            self.batches += 1
            self.frames += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
