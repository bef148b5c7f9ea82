"""The evidence ring keeps the camera's compressed stream, decodes it again only for clips, and reuses detections."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.test_runner_live import camera, cut_clip, wait_for, write_config
from vigil.api.serve import start_for_runner
from vigil.config import load_config
from vigil.core import Detections, Frame
from vigil.detection import ObjectDetectorConfig, build_detector
from vigil.incidents.evidence import EncodedRing, FrameRing
from vigil.pipeline.runner import LiveRunner
from vigil.sources.avsource import AvSource
from vigil.sources.encoded import Encoded, decode_runs, image_unit


def _unit(pts: float, key: bool, size: int = 1000) -> Encoded:
    return Encoded(b"", pts, pts, key, size, codec=None)  # type: ignore[arg-type]


def test_the_ring_keeps_the_pre_roll_from_the_key_frame_before_it() -> None:
    ring = EncodedRing(seconds=2.0, fps=10)
    for i in range(250):  # 10 s at 25 fps, a key frame every second
        ring.push(_unit(i / 25, key=i % 25 == 0))
    newest = 249 / 25
    units = ring.since(newest - 2.0)
    assert units[0].key and units[0].pts <= newest - 2.0  # decodable, and covers the pre-roll
    assert newest - units[0].pts < 2.0 + 1.0 + 1e-9  # ...and not more than one GOP beyond it
    kept = ring.since(-1.0)
    assert kept[0].key and newest - kept[0].pts < 2.0 + 1.0 + 1e-9  # older GOPs are gone
    assert ring.nbytes == sum(u.size for u in kept)


def test_the_ring_is_bounded_in_bytes_and_thins_still_images() -> None:
    ring = EncodedRing(seconds=60.0, fps=10, max_bytes=50_000)
    for i in range(500):
        ring.push(_unit(i / 25, key=i % 25 == 0, size=1000))
    assert ring.nbytes <= 50_000 + 25 * 1000  # at most one GOP over the bound, never unbounded
    images = EncodedRing(seconds=2.0, fps=10)
    kept = sum(images.push(image_unit(b"jpeg", i / 25)) for i in range(100))  # MJPEG at 25 fps
    assert 30 <= kept <= 41  # at most 10 images a second (every 3rd of 25: 8.3)
    assert len(images.since(-1.0)) <= 21


def test_frames_decoded_again_from_the_kept_packets_equal_the_live_ones(tmp_path: Path) -> None:
    """A fresh decoder on the ring's packets gives the frames the camera's reader decoded, bit for bit."""
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 9.0)
    units: list[Encoded] = []
    source = AvSource("cam", str(clip), live=False)
    source.on_encoded = units.append
    live = {round(f.pts, 4): f.image for f in source.frames()}
    assert len(units) == len(live) and sum(u.key for u in units) == 5  # a key frame every second
    start = next(i for i, u in enumerate(units) if u.key and u.pts >= 2.0)
    again = list(decode_runs(units[start:]))
    assert len(again) == len(units) - start
    for pts, image in again:
        assert np.array_equal(image, live[round(pts, 4)])


def test_the_frame_ring_holds_half_the_bytes_of_bgr() -> None:
    ring = FrameRing(seconds=1.0, fps=10)
    image = np.random.default_rng(0).integers(0, 256, (108, 192, 3), dtype=np.uint8)
    for i in range(30):
        ring.push(Frame(image.copy(), "cam", i, i / 25))
    frames = ring.frames()
    assert ring.nbytes == len(frames) * image.nbytes // 2
    back = frames[-1].frame().image.astype(np.int16)
    smooth = np.full((108, 192, 3), 120, np.uint8)
    ring.push(Frame(smooth, "cam", 99, 10.0))
    assert np.abs(ring.frames()[-1].frame().image.astype(np.int16) - 120).max() <= 2  # I420 round trip
    assert back.shape == image.shape


class CountingDetector:
    """The bundled detector, recording a digest of every image it is given."""

    def __init__(self) -> None:
        self.inner = build_detector(ObjectDetectorConfig())
        self.labels = self.inner.labels
        self.digests: list[str] = []
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        with self._lock:
            self.digests += [hashlib.sha1(np.ascontiguousarray(i).tobytes()).hexdigest() for i in images]
        return self.inner.detect_batch(images)

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return self.inner.input_size_for(width, height)


@pytest.mark.slow
def test_evidence_reuses_the_pipelines_detections_and_the_process_has_one_redactor(tmp_path: Path) -> None:
    """No frame reaches the detector twice: evidence gets the detections the pipeline made on it."""
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 14.0)  # one person walks into the zone
    config = load_config(write_config(tmp_path, [camera("cam", str(clip))]))
    detector = CountingDetector()
    runner = LiveRunner(config, detector=detector)
    api = start_for_runner(runner, None, "127.0.0.1", _free_port())
    try:
        assert api.server.config.app.state.vigil.redactor is runner.redactor  # the API's live view uses it too
        assert runner.evidence.redactor is runner.redactor
        runner.start()
        wait_for(lambda: runner.finished(), 120, "the clip to be read")
        api.stop()
        runner.stop()
    finally:
        api.stop()
        runner.stop()
    assert runner.evidence.written >= 2 and runner.evidence.failed == 0  # a snapshot and a clip at least
    repeats = len(detector.digests) - len(set(detector.digests))
    assert repeats == 0, f"{repeats} frames were detected twice"
    detected = runner.cameras["cam"].pipeline.times.detected
    assert len(detector.digests) > detected  # evidence detected frames the pipeline did not analyse
    time.sleep(0.2)
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("vigil-redact", "vigil-evidence"))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("writers", "cores", "expected"), [(None, 1, 1), (None, 2, 1), (None, 6, 3), (None, 64, 4), (7, 2, 7)]
)
def test_clip_writers_follow_the_cores_this_process_may_use(writers, cores, expected, monkeypatch):
    from vigil.config.models import EvidenceConfig

    # A container limited to `cores` CPUs on a bigger host: the affinity counts, not os.cpu_count().
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 96)
    assert EvidenceConfig(writers=writers).resolved_writers() == expected
