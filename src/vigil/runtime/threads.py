"""Native thread pools of the libraries the analysis calls: one thread per caller, since the callers are many.

OpenCV splits each call (a resize, a blur, a colour conversion) over its own
pool, one thread per core. Vigil calls it from many threads at once: a camera's
pipeline each, the detector's workers, the evidence writers. The splitting then
costs CPU for nothing: on 2 cores, a camera's typical OpenCV work on a 1080p
frame took 16.1-16.7 ms of CPU with the pool against 12.0-12.6 ms without it,
and less wall time too with three cameras at once (6.1-6.7 against 8.2-8.6
ms); `vigil analyze` of car-detection took 35.5-37.5 against 39.0-40.8 ms of
CPU per analysed frame (three alternating runs each), and `vigil eval` of the
labelled clips 54.0-57.4 against 58.6-58.9 ms (two each; 2026-12-03). Three
live 4K cameras, which saturate both cores either way, analysed as many frames
with it as without (3.83 against 3.81 fps per camera). The outputs are the
same (``tests/runtime/test_threads.py``). The setting is process-wide, so the
process's owner makes it (:class:`~vigil.pipeline.runner.LiveRunner`,
``vigil analyze``, ``vigil eval``).
"""

from __future__ import annotations

import cv2


def limit_native_threads(opencv: int = 1) -> None:
    """Give OpenCV ``opencv`` threads per call (1: the calling thread alone)."""
    cv2.setNumThreads(opencv)
