"""Fail-closed behaviour of the engine, with stand-in detectors that break on purpose."""

import threading

import numpy as np
import pytest

from tests.conftest import changed_fraction, checkerboard
from vigil.core import Detections, Frame, RedactedFrame
from vigil.redaction import RedactionConfig, RedactionError, Redactor


class BoxFaces:
    """Finds one fixed 'face'; stands in for CenterFace so these tests are about the engine."""

    def __init__(self, box=(40, 30, 80, 80)):
        self.box = box

    def detect(self, image, scale=1.0):
        return Detections(np.array([self.box], np.float32), [0.9], [0], data={"label": np.array(["face"])})


class Broken:
    def detect(self, image, scale=1.0):
        raise RuntimeError("onnxruntime exploded")


class Slow:
    def __init__(self):
        self.release = threading.Event()

    def detect(self, image, scale=1.0):
        self.release.wait(5)
        return Detections.empty()


def config(**kw):
    base = {"heads": {"enabled": False}, "plates": {"enabled": False}, "faces": {"min_long_side": 64}}
    base.update(kw)
    return RedactionConfig.model_validate(base)


def frame():
    return Frame(checkerboard(), "cam-1", 7, 1.5)


def test_found_region_is_obscured_and_rest_untouched():
    f = frame()
    out = Redactor(config(), face_detector=BoxFaces()).redact(f)
    assert isinstance(out, RedactedFrame) and not out.fail_closed
    assert (out.source_id, out.index, out.pts) == ("cam-1", 7, 1.5)
    assert changed_fraction(f.image, out.image, (40, 30, 80, 80)) > 0.95
    assert np.array_equal(out.image[100:], f.image[100:])
    assert out.regions.data["kind"].tolist() == ["face"]


def test_detector_error_obscures_the_whole_frame():
    f = frame()
    out = Redactor(config(), face_detector=Broken()).redact(f)
    assert out.fail_closed
    assert changed_fraction(f.image, out.image, (0, 0, 160, 120)) > 0.9


def test_detector_error_is_raised_as_redaction_error_by_detect_checked():
    with pytest.raises(RedactionError, match="exploded"):
        Redactor(config(), face_detector=Broken()).detect_checked(frame().image)


def test_timeout_and_falling_behind_fail_closed():
    slow = Slow()
    r = Redactor(config(timeout_s=0.2), face_detector=slow)
    f = frame()
    first = r.redact(f)
    second = r.redact(f)  # the first detection is still running: engine is behind
    assert first.fail_closed and second.fail_closed
    assert changed_fraction(f.image, first.image, (0, 0, 160, 120)) > 0.9
    slow.release.set()
    r.close()


def test_obscuring_failure_also_fails_closed(monkeypatch):
    r = Redactor(config(), face_detector=BoxFaces())

    def boom(*a, **k):
        raise MemoryError("no memory for the blur")

    monkeypatch.setattr(r, "apply", boom)
    assert r.redact(frame()).fail_closed


def test_objects_from_upstream_give_head_regions_without_running_a_detector():
    objects = Detections(
        np.array([[60, 10, 100, 110], [0, 0, 20, 20]], np.float32),
        [0.8, 0.9],
        [0, 2],
        data={"label": np.array(["person", "car"], dtype=object)},
    )
    cfg = RedactionConfig.model_validate({"faces": {"enabled": False}, "plates": {"enabled": False}})
    r = Redactor(cfg, object_detector=object())  # type: ignore[arg-type] - never called
    regions = r.find_regions(frame().image, objects)
    assert regions.data["kind"].tolist() == ["head"]
    x1, y1, x2, y2 = regions.xyxy[0]
    assert x1 >= 60 and x2 <= 100 and y1 <= 10 and y2 < 60


def test_face_boxes_are_padded_per_side():
    # CenterFace's boxes start at the brow and stop short of the chin: most padding goes below.
    r = Redactor(config(), face_detector=BoxFaces((40, 30, 80, 80)))
    regions = r.find_regions(frame().image)
    assert regions.data["kind"].tolist() == ["face"]
    x1, y1, x2, y2 = regions.xyxy[0]
    np.testing.assert_allclose([x1, y1, x2, y2], [40 - 4.8 - 1, 30 - 2.5 - 1, 80 + 4.8 + 2, 80 + 10 + 2], atol=1e-4)


def test_padding_must_not_be_negative():
    with pytest.raises(ValueError, match="padding"):
        RedactionConfig.model_validate({"faces": {"pad": (0.1, -0.1, 0.1, 0.1)}})


def test_unsure_person_gets_no_head_box():
    objects = Detections(
        np.array([[60, 10, 100, 110], [0, 10, 40, 110]], np.float32),
        [0.35, 0.45],
        [0, 0],
        data={"label": np.array(["person", "person"], dtype=object)},
    )
    cfg = RedactionConfig.model_validate({"faces": {"enabled": False}, "plates": {"enabled": False}})
    regions = Redactor(cfg, object_detector=object()).find_regions(frame().image, objects)  # type: ignore[arg-type]
    assert len(regions) == 1 and regions.xyxy[0][2] <= 40


class BrokenText:
    def detect(self, image, long_side=960):
        raise RuntimeError("text detector exploded")


def test_text_plate_search_failure_fails_closed():
    from vigil.redaction.plate_text import TextPlateFinder

    objects = Detections(
        np.array([[10, 10, 150, 110]], np.float32), [0.9], [2], data={"label": np.array(["car"], dtype=object)}
    )
    cfg = RedactionConfig.model_validate({"faces": {"enabled": False}, "heads": {"enabled": False}})
    r = Redactor(cfg, object_detector=object(), plate_finder=TextPlateFinder(BrokenText()))  # type: ignore[arg-type]
    f = frame()
    out = r.redact(f, objects)
    assert out.fail_closed
    assert changed_fraction(f.image, out.image, (0, 0, 160, 120)) > 0.9


def test_the_deadline_grows_with_the_frame_so_that_4k_evidence_is_searched_not_obscured_whole(monkeypatch):
    """0.3 s of detection misses a 0.2 s deadline at 1080p; a 4K frame gets four times as long."""
    import time

    from vigil.redaction.engine import Analysis

    r = Redactor(config(timeout_s=0.2), face_detector=BoxFaces())

    def slow_analyse(image, objects=None, windows=None):
        time.sleep(0.3)
        return Analysis(Detections.empty(), Detections.empty())

    monkeypatch.setattr(r, "analyse", slow_analyse)
    with pytest.raises(RedactionError, match=r"longer than 0\.2s"):
        r.analyse_checked(np.zeros((1080, 1920, 3), np.uint8))
    time.sleep(0.2)  # let the late one finish, or the next call is refused as behind
    assert len(r.analyse_checked(np.zeros((2160, 3840, 3), np.uint8)).regions) == 0
    r.close()
