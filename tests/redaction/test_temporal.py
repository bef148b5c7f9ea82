"""Temporal redaction: keys, bridging, memory and failure, with scripted detectors."""

import numpy as np

from vigil.core import Detections, Frame
from vigil.redaction import RedactionConfig, Redactor, TemporalRedactor
from vigil.redaction.temporal import bridge


class Scripted:
    """Returns the next scripted list of face boxes per call (None raises)."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def detect(self, image, scale=1.0):
        item = self.script[self.calls]
        self.calls += 1
        if item is None:
            raise RuntimeError("detector failed")
        xyxy = np.array(item, np.float32).reshape(-1, 4)
        return Detections(xyxy, np.ones(len(xyxy)), np.zeros(len(xyxy)), data={"label": np.full(len(xyxy), "face")})


def temporal(script, every=3, memory=2):
    cfg = RedactionConfig.model_validate(
        {
            "heads": {"enabled": False},
            "plates": {"enabled": False},
            "faces": {"pad": (0, 0, 0, 0), "pad_px": (0, 0, 0, 0), "min_long_side": 64},
            "video": {"detect_every": every, "memory": memory},
            "timeout_s": None,
        }
    )
    faces = Scripted(script)
    return TemporalRedactor(Redactor(cfg, face_detector=faces)), faces


def frames(n):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
    return [Frame(image, "cam", i, i / 10) for i in range(n)]


def run(t, fs):
    out = []
    for f in fs:
        out += t.push(f)
    return out + t.flush()


def test_frames_come_out_in_order_and_all_of_them():
    t, faces = temporal([[]] * 5, every=3)
    out = run(t, frames(8))
    assert [f.index for f in out] == list(range(8))
    assert faces.calls == 4  # keys 0, 3, 6 and the flushed last frame 7


def test_frames_between_keys_cover_the_motion_path():
    # the face moves two of its widths between keys 0 and 3
    t, _ = temporal([[[10, 10, 30, 30]], [[50, 10, 70, 30]], [[50, 10, 70, 30]]], every=3)
    out = run(t, frames(4))
    between = out[1].regions.xyxy
    assert len(between) == 1
    x1, y1, x2, y2 = between[0]
    assert x1 <= 10 and x2 >= 70 and y1 <= 10 and y2 >= 30


def test_face_seen_in_only_one_key_is_padded_for_motion():
    regions = bridge(
        Detections(np.array([[10, 10, 30, 30]]), [1], [0], data={"kind": np.array(["face"])}), Detections.empty()
    )
    x1, _, x2, _ = regions.xyxy[0]
    assert x1 < 10 and x2 > 30


def test_memory_keeps_a_missed_face_for_a_limited_number_of_keys():
    box = [[50, 20, 80, 60]]
    t, _ = temporal([box, [], [], [], []], every=1, memory=2)
    out = run(t, frames(5))
    counts = [len(f.regions) for f in out]
    assert counts == [1, 1, 1, 0, 0]


def test_failed_key_obscures_every_frame_that_depends_on_it():
    t, _ = temporal([[], None, [], []], every=3)
    out = run(t, frames(10))
    closed = [f.index for f in out if f.fail_closed]
    # key 3 failed: frames 1-2 (bridged to it), 3 itself and 4-5 (bridged from it)
    assert closed == [1, 2, 3, 4, 5]
    assert t.failed_frames == 5
