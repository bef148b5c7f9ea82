"""One OpenCV thread per caller: the pictures OpenCV makes do not depend on its thread count."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vigil.core.images import components
from vigil.runtime.threads import limit_native_threads


@pytest.fixture
def opencv_threads():
    before = cv2.getNumThreads()
    yield
    cv2.setNumThreads(before)


def scene(h: int = 1080, w: int = 1920) -> tuple[np.ndarray, np.ndarray]:
    """A textured colour frame and a binary mask of many blobs (so that labelling has work to split)."""
    rng = np.random.default_rng(7)
    image = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), np.uint8), (0, 0), 2)
    mask = (cv2.GaussianBlur(rng.random((h, w), np.float32), (0, 0), 4) > 0.5).astype(np.uint8) * 255
    return image, mask


def opencv_work(image: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """The kinds of OpenCV calls the pipeline makes on every analysed frame (gate, fire, stationary, letterbox)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    acc = grey.astype(np.float32)
    cv2.accumulateWeighted(cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32), acc, 0.1)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    grana = components(mask)  # the algorithm the pipeline uses
    return [
        cv2.resize(image, (416, 234), interpolation=cv2.INTER_LINEAR),
        cv2.resize(image, (480, 270), interpolation=cv2.INTER_AREA),
        cv2.cvtColor(image, cv2.COLOR_BGR2HSV),
        cv2.blur(grey, (9, 9)),
        cv2.dilate(mask, np.ones((5, 5), np.uint8)),
        cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)),
        cv2.absdiff(grey, cv2.blur(grey, (3, 3))),
        cv2.Laplacian(grey, cv2.CV_16S),
        cv2.pyrDown(image),
        acc,
        np.array([n]),
        labels,
        stats,
        centroids,
        grana[1],
        grana[2],
    ]


def test_opencv_gives_the_same_pictures_on_one_thread_as_on_many(opencv_threads) -> None:
    image, mask = scene()
    cv2.setNumThreads(4)
    many = opencv_work(image, mask)
    assert many[10][0] > 50  # many blobs: the labelling is split when threads allow
    limit_native_threads()
    assert cv2.getNumThreads() == 1
    one = opencv_work(image, mask)
    for i, (a, b) in enumerate(zip(many, one, strict=True)):
        assert a.shape == b.shape and np.array_equal(a, b), f"result {i} differs with one thread"


def test_vigil_analyze_and_the_live_runner_run_opencv_on_one_thread(tmp_path, opencv_threads) -> None:
    from tests.sources.helpers import make_clip
    from vigil.config import load_config_text
    from vigil.pipeline.analyze import analyze_video
    from vigil.pipeline.runner import LiveRunner

    clip = make_clip(tmp_path / "c.mp4", frames=10, fps=10)
    config = load_config_text(
        f'cameras: [{{id: cam, source: {{url: "{clip}"}}, analytic_fps: 5}}]\n'
        f'storage: {{database_url: "sqlite:///{tmp_path}/v.db", media_dir: "{tmp_path}/media"}}'
    )
    cv2.setNumThreads(4)
    analyze_video(clip, config)
    assert cv2.getNumThreads() == 1
    cv2.setNumThreads(4)
    runner = LiveRunner(config)
    runner.start()
    runner.stop()
    assert cv2.getNumThreads() == 1
