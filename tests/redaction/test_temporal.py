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


# -- in-between frames must be vouched for: unchanged, or searched themselves ------------------------------


class BrightSquares:
    """A face detector that 'sees' the checkered squares painted in the image (whatever size it is given)."""

    def __init__(self):
        self.shapes = []

    def detect(self, image, scale=1.0):
        import cv2

        self.shapes.append(image.shape[:2])
        mask = cv2.dilate((image[..., 0] > 200).astype(np.uint8), np.ones((3, 3), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:n]], np.float32).reshape(-1, 4)
        return Detections(xyxy, np.ones(len(xyxy)), np.zeros(len(xyxy)), data={"label": np.full(len(xyxy), "face")})


def squares_redactor(every=3):
    cfg = RedactionConfig.model_validate(
        {
            "heads": {"enabled": False},
            "plates": {"enabled": False},
            "faces": {"pad": (0, 0, 0, 0), "pad_px": (0, 0, 0, 0), "min_long_side": 64},
            "video": {"detect_every": every, "memory": 0},
            "timeout_s": None,
        }
    )
    faces = BrightSquares()
    return TemporalRedactor(Redactor(cfg, face_detector=faces)), faces


CHECKER = (np.indices((20, 20)).sum(axis=0) % 2 * 255).astype(np.uint8)[..., None]


def paint(image, x, y):
    """A 20 px 'face': a black and white checkerboard, which obscuring turns into flat grey."""
    image[y : y + 20, x : x + 20] = CHECKER


def scene(seed, squares=()):
    rng = np.random.default_rng(seed)
    image = rng.integers(40, 120, (240, 320, 3), dtype=np.uint8)
    for x, y in squares:
        paint(image, x, y)
    return image


def uncovered_white(frame):
    """White checker pixels left as they were (obscuring averages them with their black neighbours)."""
    return int((frame.image[..., 0] > 250).sum())


def test_unchanged_frames_between_keys_are_not_searched_again():
    t, faces = squares_redactor()
    image = scene(1, [(100, 100)])
    out = run(t, [Frame(image, "cam", i, i / 10) for i in range(7)])
    assert len(faces.shapes) == 3  # keys 0, 3, 6 only
    assert t.checked_frames == 4 and t.searched_frames == 0
    assert all(uncovered_white(f) == 0 for f in out)


def test_a_face_shown_only_between_two_keys_is_found_and_obscured():
    # a cut: frame 1 shows another scene with a face that neither key 0 nor key 3 has
    t, _faces = squares_redactor()
    images = [scene(1), scene(2, [(150, 60)]), scene(1), scene(1)]
    out = run(t, [Frame(im, "cam", i, i / 10) for i, im in enumerate(images)])
    assert uncovered_white(out[1]) == 0
    assert any(k == "face" for k in out[1].regions.data["kind"])
    assert t.searched_frames == 1 and t.full_searches == 1  # the whole scene changed: searched whole


def test_a_local_change_is_searched_inside_a_window_not_the_whole_frame():
    # the same scene, but a face flashes past close to the lens on frame 2 only
    t, faces = squares_redactor()
    base = scene(3)
    flash = base.copy()
    paint(flash, 200, 30)
    images = [base, base, flash, base]
    out = run(t, [Frame(im, "cam", i, i / 10) for i, im in enumerate(images)])
    assert uncovered_white(out[2]) == 0
    assert t.searched_frames == 1 and t.full_searches == 0
    assert len(faces.shapes) == 3  # keys 0 and 3 searched whole, then frame 2 inside a window
    window = faces.shapes[2]
    assert window[0] * window[1] < 0.25 * 240 * 320


def test_a_failed_search_of_a_changed_frame_obscures_it_whole():
    t, faces = squares_redactor()
    images = [scene(1), scene(2, [(150, 60)]), scene(1), scene(1)]
    calls = {"n": 0}
    real = faces.detect

    def flaky(image, scale=1.0):
        calls["n"] += 1
        if calls["n"] == 3:  # key 0, key 3, then the search of frame 1
            raise RuntimeError("detector failed")
        return real(image, scale)

    faces.detect = flaky
    out = run(t, [Frame(im, "cam", i, i / 10) for i, im in enumerate(images)])
    assert out[1].fail_closed and not out[0].fail_closed and not out[2].fail_closed


class GreenPeople:
    """An object detector that 'sees' a person wherever pure-green-channel pixels are (for the motion tests)."""

    def detect(self, image):
        import cv2

        mask = ((image[..., 1] == 255) & (image[..., 0] == 0)).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, np.ones((3, 3), np.uint8)))
        xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:n]], np.float32).reshape(-1, 4)
        labels = np.full(len(xyxy), "person")
        return Detections(xyxy, np.full(len(xyxy), 0.9), np.zeros(len(xyxy)), data={"label": labels})

    def detect_batch(self, images):
        return [self.detect(im) for im in images]


def walker_redactor():
    cfg = RedactionConfig.model_validate(
        {
            "heads": {"enabled": False},
            "plates": {"enabled": False},
            "faces": {"pad": (0, 0, 0, 0), "pad_px": (0, 0, 0, 0), "min_long_side": 64},
            "video": {"detect_every": 3, "memory": 0},
            "timeout_s": None,
        }
    )
    faces = BrightSquares()
    return TemporalRedactor(Redactor(cfg, face_detector=faces, object_detector=GreenPeople())), faces


def walker(base, x, y=100):
    """A 'person' (green, textured) with a checkered face at its top, at (x, y)."""
    image = base.copy()
    rng = np.random.default_rng(x)
    image[y : y + 90, x : x + 40, 0] = 0
    image[y : y + 90, x : x + 40, 1] = 255
    image[y : y + 90, x : x + 40, 2] = rng.integers(0, 256, (90, 40))
    paint(image, x + 10, y + 2)
    return image


def test_a_person_both_keys_saw_walking_between_them_needs_no_search():
    t, _faces = walker_redactor()
    base = scene(4)
    out = run(t, [Frame(walker(base, x), "cam", i, i / 10) for i, x in enumerate([50, 58, 66, 74])])
    assert t.checked_frames == 2 and t.searched_frames == 0
    assert all(uncovered_white(f) == 0 for f in out)


def test_a_person_only_one_key_saw_makes_the_frames_near_it_searched():
    # the walker is seen at key 0, moves fast, and has gone (behind something) by key 3
    t, _faces = walker_redactor()
    base = scene(5)
    images = [walker(base, 50), walker(base, 90), walker(base, 130), base]
    out = run(t, [Frame(im, "cam", i, i / 10) for i, im in enumerate(images)])
    assert t.searched_frames == 2 and t.full_searches == 0
    assert all(uncovered_white(f) == 0 for f in out)
