"""The shared detector's workers: batches side by side, a wedged worker refuses frames, stop ends them all."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from vigil.core import Detections
from vigil.detection import ObjectDetectorConfig
from vigil.pipeline.detector_pool import DetectorPool, DetectorUnavailableError

FRAME = np.zeros((8, 8, 3), np.uint8)


class MeetingDetector:
    """Answers only once ``parties`` calls are inside ``detect_batch`` at the same time (else raises)."""

    labels = ("car",)

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=2.0)
        self.calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        self.calls += 1
        self.barrier.wait()  # BrokenBarrierError after 2 s alone
        return [Detections.empty() for _ in images]

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return width, height


class HangingDetector(MeetingDetector):
    """Hangs while ``gate`` is clear, as a wedged driver does."""

    def __init__(self) -> None:
        super().__init__(1)
        self.gate = threading.Event()

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        self.gate.wait()
        return [Detections.empty() for _ in images]


def test_two_workers_run_two_batches_at_once_and_one_worker_cannot() -> None:
    for workers, meets in ((2, True), (1, False)):
        pool = DetectorPool(MeetingDetector(2), max_batch=1, workers=workers, deadline_s=5.0)
        futures = [pool.submit(FRAME), pool.submit(FRAME)]
        errors = [f.exception(timeout=5.0) for f in futures]
        pool.stop()
        assert (errors == [None, None]) is meets, (workers, errors)
        assert pool.workers == workers


def test_a_wedged_worker_makes_the_pool_refuse_frames_until_it_answers() -> None:
    det = HangingDetector()
    pool = DetectorPool(det, max_batch=1, workers=2, deadline_s=0.2)
    hung = pool.submit(FRAME)
    time.sleep(0.4)  # the hung batch is now past its deadline
    assert pool.stuck_for > 0
    with pytest.raises(DetectorUnavailableError, match="not answered"):
        pool.submit(FRAME)
    det.gate.set()
    assert len(hung.result(timeout=2.0)) == 0
    assert pool.stuck_for == 0
    assert len(pool.detect(FRAME, timeout=2.0)) == 0
    pool.stop()


def test_stop_ends_every_worker() -> None:
    pool = DetectorPool(MeetingDetector(1), workers=3)
    pool.start()
    pool.stop()
    assert not any(t.is_alive() for t in pool._threads)


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="workers"):
        DetectorPool(MeetingDetector(1), workers=0)


@pytest.mark.parametrize(
    ("settings", "cores", "plan"),
    [
        ({}, 2, (2, 1)),  # the CPU: a worker per core, one intra-op thread each
        ({}, 16, (16, 1)),
        ({"workers": 1}, 4, (1, 4)),  # one worker gets every core
        ({"workers": 3}, 8, (3, 2)),
        ({"threads": 2}, 4, (4, 2)),  # explicit threads are kept (oversubscribed on purpose)
        ({"device": "cuda"}, 16, (1, 16)),  # a GPU gains from full batches: one worker
    ],
)
def test_the_pool_plan_shares_the_cores_out(settings: dict, cores: int, plan: tuple[int, int]) -> None:
    assert ObjectDetectorConfig(**settings).pool_plan(cores) == plan
